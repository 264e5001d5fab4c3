using System.Diagnostics;
using System.Globalization;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Quantization;
using EdgeBuild.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Tensor = EdgeBuild.Ir.Tensor;



/// <summary>
/// The quantization engine on the pinned real models: every mode against the optimized FP32 model. Latency is
/// ONNX Runtime with 1 intra-op thread, ENABLE_ALL, every variant timed in the same round on the same input
/// (order rotated each round), so all see the same machine load.
/// </summary>
internal static class QuantizeBenchmark
{
    private static readonly (string Label, QuantizeOptions? Options, bool NeedsData)[] Variants =
    [
        ("FP32", null, false),
        ("FP16", new QuantizeOptions { Mode = QuantizationMode.Fp16 }, false),
        ("INT8 dynamic", new QuantizeOptions { Mode = QuantizationMode.Int8Dynamic }, false),
        ("INT8 MinMax", new QuantizeOptions { Calibrator = CalibratorKind.MinMax }, true),
        ("INT8 Percentile", new QuantizeOptions { Calibrator = CalibratorKind.Percentile }, true),
        ("INT8 Entropy", new QuantizeOptions { Calibrator = CalibratorKind.Entropy }, true),
    ];

    public static int Run(string data, int runs, int calibration, string[] ids, bool fusions)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription.Trim()}, .NET {Environment.Version}");
        Console.WriteLine($"cpu: {File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim()}");
        Console.WriteLine($"calibration: {calibration} photos; output SQNR on 3 other photos; latency: ONNX Runtime 1 thread, ENABLE_ALL, {runs} timed rounds after 3 warm-up, variants interleaved");
        Console.WriteLine($"{"model",-19} {"variant",-16} {"size",6} {"calib s",8} {"total s",8} {"worst dB",9} {"out dB",7} {"p50 ms",8} {"p50 x",6} {"mean x",7}  fused by ORT");
        foreach (var id in ids)
        {
            var spec = RealModelSpec.Get(id);
            var photos = spec.Photos(data, calibration + 3);
            var calib = new RealModelSamples(spec, photos.Take(calibration), data);
            var held = new RealModelSamples(spec, photos.Skip(calibration), data).Inputs;

            var model = OnnxImporter.Load(Path.Combine(data, "models", id + ".onnx"));
            OptimizationPipeline.Run(model, new OptimizeOptions());
            byte[] fp32 = OnnxExporter.ToBytes(model);

            var rows = new List<(string Label, byte[] Bytes, QuantizationReport? Report, double OutDb, string Fused)>();
            foreach (var (label, options, needsData) in Variants)
            {
                if (options is null)
                {
                    rows.Add((label, fp32, null, double.PositiveInfinity, fusions ? Fused(fp32) : ""));
                    continue;
                }
                var copy = OnnxImporter.Parse(fp32);
                var report = ModelQuantizer.Quantize(copy, options, needsData ? calib : null);
                byte[] bytes = OnnxExporter.ToBytes(copy);
                rows.Add((label, bytes, report, OutputSqnr(fp32, bytes, spec.InputName, held), fusions ? Fused(bytes) : ""));
            }

            var times = Latency(rows.Select(r => r.Bytes).ToList(), spec.InputName, held[0], runs);
            double baseP50 = P50(times[0]), baseMean = times[0].Average();
            for (int i = 0; i < rows.Count; i++)
            {
                var (label, bytes, report, outDb, fused) = rows[i];
                double? worst = report?.Layers.Where(l => l.Sqnr is not null).Select(l => l.Sqnr!.Value).DefaultIfEmpty(double.NaN).Min();
                Console.WriteLine($"{id,-19} {label,-16} {bytes.Length / (double)fp32.Length,6:F3} {Seconds(report?.CalibrationTime),8} {Seconds(report?.TotalTime),8} " +
                    $"{(worst is double w && !double.IsNaN(w) ? w.ToString("F1", CultureInfo.InvariantCulture) : "-"),9} {(double.IsPositiveInfinity(outDb) ? "-" : outDb.ToString("F1", CultureInfo.InvariantCulture)),7} " +
                    $"{P50(times[i]),8:F2} {P50(times[i]) / baseP50,6:F3} {times[i].Average() / baseMean,7:F3}  {fused}");
            }
        }
        Console.WriteLine($"peak RSS (VmHWM, whole process) {PeakRssMiB():F0} MiB");
        return 0;
    }

    private static string Seconds(TimeSpan? t) => t is { } v ? v.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture) : "-";

    private static SessionOptions LatencyOptions() => new()
    {
        IntraOpNumThreads = 1,
        InterOpNumThreads = 1,
        ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
    };

    private static List<double>[] Latency(IReadOnlyList<byte[]> models, string inputName, Tensor input, int runs)
    {
        var options = models.Select(_ => LatencyOptions()).ToList();
        var sessions = models.Select((m, i) => new InferenceSession(m, options[i])).ToList();
        using var x = OrtTensors.ToOrtValue(input);
        var times = models.Select(_ => new List<double>()).ToArray();
        try
        {
            for (int r = 0; r < 3 + runs; r++)
                for (int k = 0; k < sessions.Count; k++)
                {
                    int v = (r + k) % sessions.Count;
                    var s = sessions[v];
                    long t0 = Stopwatch.GetTimestamp();
                    using var runOptions2 = new RunOptions(); // held in a local: an inline RunOptions can be finalized mid-Run
                    using (var outs = s.Run(runOptions2, [inputName], [x], s.OutputNames)) { }
                    double ms = (Stopwatch.GetTimestamp() - t0) * 1000.0 / Stopwatch.Frequency;
                    if (r >= 3) times[v].Add(ms);
                }
        }
        finally
        {
            foreach (var s in sessions) s.Dispose();
            foreach (var o in options) o.Dispose();
        }
        return times;
    }

    private static double P50(List<double> xs)
    {
        var sorted = xs.Order().ToArray();
        return sorted[(sorted.Length - 1) / 2];
    }

    /// <summary>SQNR in dB of all outputs together, quantized against FP32, over the held-out inputs.</summary>
    private static double OutputSqnr(byte[] fp32, byte[] quantized, string inputName, IReadOnlyList<Tensor> inputs)
    {
        using var o1 = LatencyOptions();
        using var o2 = LatencyOptions();
        using var a = new InferenceSession(fp32, o1);
        using var b = new InferenceSession(quantized, o2);
        double signal = 0, noise = 0;
        foreach (var input in inputs)
        {
            using var x = OrtTensors.ToOrtValue(input);
            using var runOptions3 = new RunOptions(); // held in a local: an inline RunOptions can be finalized mid-Run
            using var ra = a.Run(runOptions3, [inputName], [x], a.OutputNames);
            using var runOptions4 = new RunOptions(); // held in a local: an inline RunOptions can be finalized mid-Run
            using var rb = b.Run(runOptions4, [inputName], [x], b.OutputNames);
            for (int k = 0; k < ra.Count; k++)
            {
                var fa = OrtTensors.ToTensor(ra[k])!.ToFloats();
                var fb = OrtTensors.ToTensor(rb[k])!.ToFloats();
                for (int i = 0; i < fa.Length; i++)
                {
                    signal += (double)fa[i] * fa[i];
                    noise += ((double)fa[i] - fb[i]) * ((double)fa[i] - fb[i]);
                }
            }
        }
        return noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(signal / noise);
    }

    /// <summary>The op counts of the graph ONNX Runtime actually runs (its optimized model, saved by a debug session).</summary>
    private static string Fused(byte[] model)
    {
        string path = Path.Combine(Path.GetTempPath(), $"edgebuild-ort-optimized-{Environment.ProcessId}.onnx");
        try
        {
            using (var o = LatencyOptions())
            {
                o.OptimizedModelFilePath = path;
                using var s = new InferenceSession(model, o);
            }
            var proto = EdgeBuild.Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            var counts = proto.Graph.Node.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
            string[] interesting = ["QLinearConv", "QLinearMatMul", "QGemm", "QLinearAdd", "QLinearMul", "QLinearConcat", "QLinearGlobalAveragePool", "QLinearAveragePool",
                "QLinearSigmoid", "QLinearLeakyRelu", "QLinearSoftmax", "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "ConvInteger", "QuantizeLinear", "DequantizeLinear", "Conv", "ConvTranspose", "Cast"];
            return string.Join(" ", interesting.Where(counts.ContainsKey).Select(k => $"{k}:{counts[k]}"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static double PeakRssMiB()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        return double.NaN;
    }
}
