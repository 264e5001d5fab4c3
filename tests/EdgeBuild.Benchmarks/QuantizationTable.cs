using System.Diagnostics;
using System.Globalization;
using EdgeBuild.Ir;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Quantization;
using EdgeBuild.Session;
using EdgeBuild.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Benchmarks;

/// <summary>
/// The quantization acceptance table: per model x precision, size ratio, single-thread latency ratio to the
/// optimized FP32 model (interleaved run by run, one photo), the task-metric loss against FP32 on held-out
/// photos (never used to calibrate), the worst output SQNR, and calibration + quantization time. The "no rules" and
/// "bias corr" rows switch the post-training rules (bias correction, affine-input placement) off and on one at a time
/// beside the default static INT8 (Percentile, both on), so their effect is read in one run. The zoo's models
/// (MODELS-zoo.md) take what <see cref="ZooModelInputs"/> makes (speech frames, mel windows, sentences, face crops,
/// photos: the first inputs held out, the next ones calibrate); the "Auto" row is the Precision=Auto search under the
/// same budget with the default output floors, its artifact raced like the others.
///
///   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- quantize-table [--models a,b] [--variants a,b] [--runs N] [--held-out N] [--calibration N]
/// </summary>
internal static class QuantizationTable
{
    public static int Run(string[] args, string data)
    {
        string? Arg(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var ids = Arg("--models")?.Split(',') ?? ["eye-state", "face-detect-rfb320", "face-landmark68", "face-embedding", "resnet18-features", "ocr-det-ppocrv4", .. ZooModelInputs.Ids];
        int runs = int.Parse(Arg("--runs") ?? "30", CultureInfo.InvariantCulture);
        int heldOutCount = int.Parse(Arg("--held-out") ?? "30", CultureInfo.InvariantCulture);
        int calibrationCount = int.Parse(Arg("--calibration") ?? "16", CultureInfo.InvariantCulture);
        var variants = new (string Name, QuantizeOptions Options, double? Budget)[]
        {
            ("FP16", new QuantizeOptions { Mode = QuantizationMode.Fp16 }, null),
            ("INT8 dynamic", new QuantizeOptions { Mode = QuantizationMode.Int8Dynamic }, null),
            ("INT8 MinMax", new QuantizeOptions { Mode = QuantizationMode.Int8Static, Calibrator = CalibratorKind.MinMax }, null),
            ("INT8 no rules", new QuantizeOptions { Mode = QuantizationMode.Int8Static, BiasCorrection = false, AffineInputPlacement = false }, null),
            ("INT8 bias corr", new QuantizeOptions { Mode = QuantizationMode.Int8Static, AffineInputPlacement = false }, null),
            ("INT8 placement", new QuantizeOptions { Mode = QuantizationMode.Int8Static, BiasCorrection = false }, null),
            ("INT8 Percentile", new QuantizeOptions { Mode = QuantizationMode.Int8Static, Calibrator = CalibratorKind.Percentile }, null),
            ("INT8 +equalization", new QuantizeOptions { Mode = QuantizationMode.Int8Static, CrossLayerEqualization = true }, null),
            ("INT8 act-equal", new QuantizeOptions { Mode = QuantizationMode.Int8Static, ActivationEqualization = true }, null),
            ("INT8 Entropy", new QuantizeOptions { Mode = QuantizationMode.Int8Static, Calibrator = CalibratorKind.Entropy }, null),
            ("Mixed (1 %)", new QuantizeOptions { Mode = QuantizationMode.Int8Static, Calibrator = CalibratorKind.Percentile }, 1.0),
            (AutoVariant, new QuantizeOptions { Mode = QuantizationMode.Int8Static }, 1.0),
        };
        if (Arg("--variants")?.Split(',') is { } only) variants = variants.Where(v => only.Any(o => v.Name.Contains(o, StringComparison.OrdinalIgnoreCase))).ToArray();
        Console.WriteLine($"cpu: {File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim()}; ORT 1 thread; latency {runs} interleaved runs; {heldOutCount} held-out inputs; up to {calibrationCount} calibration inputs");
        Console.WriteLine($"| model | precision | size | latency | task metric | loss % | worst SQNR dB | kept FP32 | quantize s |");
        Console.WriteLine($"|---|---|---|---|---|---|---|---|---|");
        foreach (var id in ids)
        {
            var model = OnnxImporter.Load(Path.Combine(data, "models", id + ".onnx"));
            var (task, heldOutData, calibrationData) = Inputs(id, model, data, heldOutCount, calibrationCount);
            OptimizationPipeline.Run(model, new OptimizeOptions());
            byte[] fp32 = OnnxExporter.ToBytes(model);
            Console.WriteLine($"| {id} | FP32 | {fp32.Length / 1048576.0:F2} MiB | 1.00 | - | 0 | - | - | - |");
            foreach (var (name, options, budget) in variants)
            {
                try
                {
                    var clock = Stopwatch.StartNew();
                    if (name == AutoVariant)
                    {
                        var auto = AutoPrecisionSearch.Run(fp32, options, calibrationData, heldOutData, task, budget!.Value,
                            a => AccuracyGate.Judge(id, "Auto", a, budget.Value, new OutputFloors(), null));
                        byte[] chosen = OnnxExporter.ToBytes(auto.Model);
                        double autoSeconds = clock.Elapsed.TotalSeconds;
                        var autoAccuracy = AccuracyEvaluator.Compare(fp32, chosen, heldOutData, task);
                        var autoKept = auto.Layers.Where(l => l.Precision != "Int8").ToList();
                        Console.WriteLine(FormattableString.Invariant(
                            $"| {id} | Auto: {auto.Choice} | {(double)chosen.Length / fp32.Length:F2}x | {LatencyRatio(fp32, chosen, heldOutData, runs):F2} | {autoAccuracy.Metric} {autoAccuracy.Value:G4} | {autoAccuracy.LossPercent:F2} | {WorstSqnr(autoAccuracy):F1} | {autoKept.Count} of {auto.Layers.Count} | {autoSeconds:F1} |"));
                        continue;
                    }
                    var q = OnnxImporter.Parse(fp32);
                    var report = ModelQuantizer.Quantize(q, options, options.Mode == QuantizationMode.Int8Static ? calibrationData : null);
                    byte[] bytes = OnnxExporter.ToBytes(q);
                    var accuracy = AccuracyEvaluator.Compare(fp32, bytes, heldOutData, task);
                    var kept = new List<string>();
                    if (budget is double b && accuracy.LossPercent > b)
                    {
                        var search = MixedPrecisionSearch.Run(fp32, options, calibrationData, heldOutData, task, b);
                        kept = search.KeptInFp32.Select(k => k.Node).ToList();
                        bytes = OnnxExporter.ToBytes(search.Model);
                        accuracy = search.Accuracy;
                    }
                    double seconds = clock.Elapsed.TotalSeconds;
                    double ratio = LatencyRatio(fp32, bytes, heldOutData, runs);
                    Console.WriteLine(FormattableString.Invariant(
                        $"| {id} | {name}{(report.ActivationEqualized > 0 ? $" ({report.ActivationEqualized} groups equalized)" : "")} | {(double)bytes.Length / fp32.Length:F2}x | {ratio:F2} | {accuracy.Metric} {accuracy.Value:G4} | {accuracy.LossPercent:F2} | {WorstSqnr(accuracy):F1} | {(kept.Count == 0 ? "-" : kept.Count + ": " + string.Join(" ", kept.Take(4)))} | {seconds:F1} |"));
                }
                catch (Exception e) when (e is Diagnostics.EdgeBuildException or OnnxRuntimeException or InvalidOperationException)
                {
                    Console.WriteLine($"| {id} | {name} | failed: {e.Message.Split('\n')[0]} ||||||");
                }
            }
        }
        return 0;
    }

    /// <summary>
    /// A real model's task and its held-out and calibration inputs: the zoo's as <see cref="ZooModelInputs"/> makes them
    /// (the first ones held out; the input shapes they need applied to <paramref name="model"/>), the others' photos.
    /// </summary>
    public static (TaskKind Task, ICalibrationDataSource HeldOut, ICalibrationDataSource Calibration) Inputs(string id, Ir.Model model, string data, int heldOutCount, int calibrationCount)
    {
        if (ZooModelInputs.Ids.Contains(id))
        {
            var zoo = ZooModelInputs.Build(id, data);
            InputShapes.Apply(model, zoo.Shapes);
            return (zoo.Task, new SampleList(zoo.Inputs.Take(heldOutCount).ToList()), new SampleList(zoo.Inputs.Skip(heldOutCount).Take(calibrationCount).ToList()));
        }
        var spec = RealModelSpec.Get(id);
        var (calibration, heldOut) = Photos(spec, data, heldOutCount, calibrationCount);
        return (BenchmarkModel.TaskOf(id), new RealModelSamples(spec, heldOut, data), new RealModelSamples(spec, calibration, data));
    }

    /// <summary>Held-out photos are the model's own groups; calibration photos come after them, then from other groups.</summary>
    public static (List<string> Calibration, List<string> HeldOut) Photos(RealModelSpec spec, string data, int heldOutCount, int calibrationCount)
    {
        var own = spec.Photos(data, 1000);
        var heldOut = own.Take(heldOutCount).ToList();
        var others = Directory.GetFiles(Path.Combine(data, "photos"), "*", SearchOption.AllDirectories)
            .Where(p => !p.Contains("stylized", StringComparison.Ordinal)).Order(StringComparer.Ordinal);
        var calibration = own.Skip(heldOutCount).Concat(others.Except(own)).Take(calibrationCount).ToList();
        return (calibration, heldOut);
    }

    private const string AutoVariant = "Auto (1 %)";

    private static double WorstSqnr(AccuracyReport accuracy) => accuracy.Outputs.Select(o => o.SqnrDb).Where(d => !double.IsNaN(d)).DefaultIfEmpty(double.NaN).Min();

    /// <summary>Median candidate over median FP32 latency on the first held-out input (every input of the model fed), interleaved run by run.</summary>
    private static double LatencyRatio(byte[] fp32, byte[] candidate, ICalibrationDataSource inputs, int runs)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var a = new InferenceSession(fp32, options);
        using var b = new InferenceSession(candidate, options);
        var feed = inputs.Samples().First();
        string[] names = [.. a.InputNames];
        var values = names.Select(n => OrtTensors.ToOrtValue(feed[n])).ToArray();
        try
        {
            var ta = new List<double>();
            var tb = new List<double>();
            for (int r = 0; r < runs + 5; r++)
            {
                double da = Time(a, names, values), db = Time(b, names, values);
                if (r >= 5) { ta.Add(da); tb.Add(db); }
            }
            return Median(tb) / Median(ta);
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    private static double Time(InferenceSession s, string[] names, OrtValue[] values)
    {
        var sw = Stopwatch.StartNew();
        using var runOptions1 = new RunOptions(); // held in a local: an inline RunOptions can be finalized mid-Run
        using var outs = s.Run(runOptions1, names, values, s.OutputNames);
        return sw.Elapsed.TotalMilliseconds;
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s[s.Length / 2];
    }

}
