using System.Diagnostics;
using System.Text.Json;
using EdgeBuild.Compile;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Quantization;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Targets.Tflite;
using EdgeBuild.Targets.Tflite.Schema;
using Tensor = EdgeBuild.Ir.Tensor;
using EdgeBuild.Session;

namespace EdgeBuild.Tests.Support;

/// <summary>
/// Google's TFLite interpreter as the judge of the .tflite files we write: the project's own runner,
/// build/tflite-runner/tflite-runner (LiteRT.js pinned by version and integrity, installed with npm ci on first use;
/// $TFLITE_REF names another tool with the same interface), one process per run, inputs and outputs as .npy files.
/// No xunit here: the benchmarks use it too.
/// </summary>
public static class TfliteRef
{
    private static readonly Lock ReadyLock = new();
    private static (string Tool, string? Problem)? ready;

    /// <summary>The project's runner in a checkout.</summary>
    public static string Runner(string repoRoot) => Path.Combine(repoRoot, "build", "tflite-runner", "tflite-runner");

    /// <summary>The tool to start: $TFLITE_REF when set, else the project's runner; null when the file is not there.</summary>
    public static string? Tool(string repoRoot)
    {
        string path = Environment.GetEnvironmentVariable("TFLITE_REF") is { Length: > 0 } env ? env : Runner(repoRoot);
        return File.Exists(path) ? path : null;
    }

    /// <summary>
    /// The tool with its runtime installed (`install`, once per process), or why it cannot run here: the runner's
    /// own one-line error, which names what to install when Node.js or npm is missing.
    /// </summary>
    public static (string Tool, string? Problem) Ready(string repoRoot)
    {
        lock (ReadyLock)
        {
            return ready ??= Install(repoRoot);
        }
    }

    private static (string, string?) Install(string repoRoot)
    {
        string? tool = Tool(repoRoot);
        if (tool is null)
        {
            return Environment.GetEnvironmentVariable("TFLITE_REF") is { Length: > 0 } env
                ? ("", $"TFLITE_REF={env}: no such file")
                : ("", $"{Runner(repoRoot)} is missing from the checkout");
        }
        try
        {
            var (exit, _, stderr) = Exec(tool, ["install"]);
            return exit == 0 ? (tool, null) : (tool, $"{tool} install failed (exit {exit}): {stderr.Trim()}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (tool, $"cannot start {tool} (it needs bash): {e.Message}");
        }
    }

    public static (int Exit, string Stdout, string Stderr) Exec(string tool, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(true);
            throw new TimeoutException($"{tool} {string.Join(' ', args)} did not finish in 3 minutes");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>`info MODEL --tensors` as JSON.</summary>
    public static JsonDocument Info(string tool, string model)
    {
        var (exit, stdout, stderr) = Exec(tool, ["info", model, "--tensors"]);
        if (exit != 0) throw new InvalidOperationException($"{tool} info failed ({exit}): {stderr.Trim()}");
        return JsonDocument.Parse(stdout);
    }

    /// <summary>Runs the model on named inputs (TFLite layout and type); returns every output by signature name.</summary>
    public static Dictionary<string, Tensor> Run(string tool, string model, IReadOnlyDictionary<string, Tensor> inputs, string dir)
    {
        Directory.CreateDirectory(dir);
        var args = new List<string> { "run", model };
        int i = 0;
        foreach (var (name, tensor) in inputs)
        {
            string file = Path.Combine(dir, $"input{i++}.npy");
            NpyFile.Write(file, tensor);
            args.Add("--input");
            args.Add($"{name}={file}");
        }
        string outDir = Path.Combine(dir, "out");
        args.Add("--out");
        args.Add(outDir);
        var (exit, stdout, stderr) = Exec(tool, args);
        if (exit != 0) throw new InvalidOperationException($"{tool} run failed ({exit}): {stderr.Trim()}");
        using var json = JsonDocument.Parse(stdout);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var o in json.RootElement.GetProperty("outputs").EnumerateArray())
            result[o.GetProperty("name").GetString()!] = NpyFile.Read(Path.Combine(outDir, o.GetProperty("file").GetString()!));
        return result;
    }
}

/// <summary>A real model converted to TFLite the way the compile step does it, and run in the reference interpreter on photos.</summary>
public static class TfliteHarness
{
    /// <summary>The fixed input shape a spec feeds, for models whose ONNX input has dynamic dims.</summary>
    public static IReadOnlyDictionary<string, long[]> ShapesFor(RealModelSpec spec, Model model)
    {
        var input = model.Graph.Inputs.First(v => v.Name == spec.InputName);
        if (input.TensorType?.Shape is { IsStatic: true }) return new Dictionary<string, long[]>();
        long[] dims = spec.Nhwc ? [1, spec.Height, spec.Width, spec.Channels] : [1, spec.Channels, spec.Height, spec.Width];
        return new Dictionary<string, long[]> { [spec.InputName] = dims };
    }

    /// <summary>The optimized float model as the compile step makes it (shapes fixed first where the input is dynamic).</summary>
    public static Model OptimizedFloat(string modelPath, RealModelSpec spec)
    {
        var model = OnnxImporter.Load(modelPath);
        InputShapes.Apply(model, ShapesFor(spec, model));
        OptimizationPipeline.Run(model, new OptimizeOptions());
        return model;
    }

    /// <summary>Calibration ranges as CompileSession.Calibration(symmetric: false) computes them (Percentile).</summary>
    public static IReadOnlyDictionary<string, TensorRange> Ranges(Model floatModel, ICalibrationDataSource calibration, CalibratorKind calibrator = CalibratorKind.Percentile) =>
        CalibrationTable.Compute(OnnxImporter.Parse(OnnxExporter.ToBytes(floatModel)), calibration,
            new QuantizeOptions { Calibrator = calibrator, SymmetricActivations = false }).Ranges;

    public static (byte[] Bytes, TfliteResult Result) Convert(Model floatModel, TflitePrecision precision, IReadOnlyDictionary<string, TensorRange>? ranges = null,
        TfliteIoLayout layout = TfliteIoLayout.Nhwc, bool int8Io = false, IReadOnlySet<string>? floatNodes = null)
    {
        var copy = OnnxImporter.Parse(OnnxExporter.ToBytes(floatModel));
        var result = TfliteConverter.Convert(copy, new TfliteOptions(precision, layout, int8Io, ranges, "EdgeBuild tests", floatNodes));
        return (TflWriter.Write(result.Model), result);
    }

    /// <summary>ONNX-layout inputs as the .tflite file takes them (transposed by each input's permutation).</summary>
    /// <remarks>int64 ONNX inputs (token ids, a sample rate) are int32 in the file: narrowed here, as an app feeding it would.</remarks>
    public static Dictionary<string, Tensor> ToTflite(IReadOnlyDictionary<string, Tensor> inputs, TfliteResult result) =>
        result.Io.Where(io => io.IsInput).ToDictionary(io => io.Name, io => Layout.Transpose(Narrow(inputs[io.Name], io.ElementType), io.Perm));

    private static Tensor Narrow(Tensor t, string elementType) =>
        t.ElementType == DataType.Int64 && elementType == "int32"
            ? Tensor.FromSpan<int>(DataType.Int32, t.Dims, t.ToInt64s().Select(v => checked((int)v)).ToArray())
            : t;

    /// <summary>TFLite outputs back in the ONNX layout, by ONNX output name.</summary>
    public static Dictionary<string, Tensor> FromTflite(IReadOnlyDictionary<string, Tensor> outputs, TfliteResult result) =>
        result.Io.Where(io => !io.IsInput).ToDictionary(io => io.Name, io => Layout.Transpose(outputs[io.Name], Layout.Inverse(io.Perm)));

    /// <summary>Runs every sample through LiteRT (a few processes at a time); outputs in ONNX layout, in sample order.</summary>
    public static List<IReadOnlyDictionary<string, Tensor>> RunAll(string tool, byte[] tflite, TfliteResult result, IReadOnlyList<IReadOnlyDictionary<string, Tensor>> samples, string workDir)
    {
        Directory.CreateDirectory(workDir);
        string model = Path.Combine(workDir, "model.tflite");
        File.WriteAllBytes(model, tflite);
        var outputs = new IReadOnlyDictionary<string, Tensor>[samples.Count];
        Parallel.For(0, samples.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount) }, i =>
        {
            var raw = TfliteRef.Run(tool, model, ToTflite(samples[i], result), Path.Combine(workDir, $"sample{i}"));
            outputs[i] = FromTflite(raw, result);
        });
        return outputs.ToList();
    }

    /// <summary>Runs a converted model once in LiteRT (in a temporary folder); outputs in ONNX layout by ONNX name.</summary>
    public static Dictionary<string, Tensor> RunOnce(string tool, TfliteResult result, IReadOnlyDictionary<string, Tensor> inputs)
    {
        string work = Directory.CreateTempSubdirectory("edgebuild-tflite-run-").FullName;
        try
        {
            string model = Path.Combine(work, "model.tflite");
            File.WriteAllBytes(model, TflWriter.Write(result.Model));
            return FromTflite(TfliteRef.Run(tool, model, ToTflite(inputs, result), work), result);
        }
        finally { Directory.Delete(work, recursive: true); }
    }

    /// <summary>|a - b| / |a| over all elements: every element counts, not only the one rounding hits hardest.</summary>
    public static double RelativeErrorNorm(Tensor reference, Tensor candidate)
    {
        float[] e = reference.ToFloats(), a = candidate.ToFloats();
        double noise = 0, signal = 0;
        for (int i = 0; i < e.Length; i++) { noise += (double)(e[i] - a[i]) * (e[i] - a[i]); signal += (double)e[i] * e[i]; }
        return Math.Sqrt(noise / signal);
    }

    /// <summary>The operators of one builtin kind, in file order.</summary>
    public static IEnumerable<TflOperator> Operators(TflModel model, BuiltinOperator op) =>
        model.Operators.Where(o => model.OperatorCodes[o.OpcodeIndex].Code == op);

    /// <summary>Per output: max |a - b| over the samples / max |reference| over the samples.</summary>
    public static Dictionary<string, double> MaxRelativeError(IReadOnlyList<IReadOnlyDictionary<string, Tensor>> reference, IReadOnlyList<IReadOnlyDictionary<string, Tensor>> candidate)
    {
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var name in reference[0].Keys)
        {
            double diff = 0, max = 0;
            for (int i = 0; i < reference.Count; i++)
            {
                var a = reference[i][name].ToFloats();
                var b = candidate[i][name].ToFloats();
                if (a.Length != b.Length) throw new InvalidOperationException($"output '{name}': {a.Length} vs {b.Length} values");
                for (int k = 0; k < a.Length; k++)
                {
                    max = Math.Max(max, Math.Abs(a[k]));
                    diff = Math.Max(diff, Math.Abs((double)a[k] - b[k]));
                }
            }
            result[name] = max == 0 ? diff : diff / max;
        }
        return result;
    }

    /// <summary>The reference: the original FP32 ONNX model in ONNX Runtime.</summary>
    public static List<IReadOnlyDictionary<string, Tensor>> RunOnnx(string modelPath, IEnumerable<IReadOnlyDictionary<string, Tensor>> samples)
    {
        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = 1, LogSeverityLevel = Microsoft.ML.OnnxRuntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(modelPath, options);
        var result = new List<IReadOnlyDictionary<string, Tensor>>();
        foreach (var sample in samples)
        {
            var names = sample.Keys.ToArray();
            var values = names.Select(n => OrtTensors.ToOrtValue(sample[n])).ToArray();
            try
            {
                using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
                var outputNames = session.OutputNames.ToArray();
                using var outputs = session.Run(runOptions, names, values, outputNames);
                var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
                int k = 0;
                foreach (var o in outputs) d[outputNames[k++]] = OrtTensors.ToTensor(o)!;
                result.Add(d);
            }
            finally
            {
                foreach (var v in values) v.Dispose();
            }
        }
        return result;
    }
}
