using System.Diagnostics;
using System.Globalization;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Quantization;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Session;
using EdgeBuild.Tests.Support;
using Microsoft.ML.OnnxRuntime;

namespace EdgeBuild.Benchmarks;

/// <summary>
/// What the FP16 range rule changes on every real model (MODELS.md and MODELS-zoo.md): the optimized model converted to
/// FP16 without the rule, with the constant rules only (no calibration data), and with the ranges measured on the
/// calibration inputs; per variant the nodes kept in FP32, the held-out inputs on which an output went infinite or NaN
/// where FP32's is finite, and the worst output SQNR against FP32 (finite outputs only). Also the largest activation
/// magnitude of the model, which is what an overflow margin would be judged against.
///
///   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- fp16-range-table [--models a,b] [--held-out 30] [--calibration 16]
/// (a zoo id with "@int16" feeds its inputs times 32768: 16-bit PCM values, as openWakeWord's Python package feeds audio)
/// </summary>
internal static class Fp16RangeTable
{
    public static int Run(string[] args, string data)
    {
        string? Arg(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var ids = Arg("--models")?.Split(',') ??
            ["eye-state", "face-detect-rfb320", "face-landmark68", "face-embedding", "blazeface-front128", "blazeface-back256", "resnet18-preprocess",
             "resnet18-features", "ocr-angle-cls", "ocr-det-ppocrv4", .. ZooModelInputs.Ids];
        int heldOutCount = int.Parse(Arg("--held-out") ?? "30", CultureInfo.InvariantCulture);
        int calibrationCount = int.Parse(Arg("--calibration") ?? "16", CultureInfo.InvariantCulture);
        Console.WriteLine($"{heldOutCount} held-out, {calibrationCount} calibration inputs; ONNX Runtime {OrtEnv.Instance().GetVersionString()}; load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        Console.WriteLine("| model | largest activation |x| (tensor) | no rule: non-finite inputs, worst SQNR dB | constants only: kept, non-finite, SQNR | with ranges: kept, non-finite, SQNR | nodes kept (why) | range pass s |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var id in ids)
        {
            try
            {
                // "model@int16": the model's zoo inputs times 32768, as openWakeWord's Python package feeds its front end
                // (16-bit PCM values as floats), where the web package feeds [-1, 1].
                string file = id.Split('@')[0];
                float scale = id.EndsWith("@int16", StringComparison.Ordinal) ? 32768f : 1f;
                var model = OnnxImporter.Load(Path.Combine(data, "models", file + ".onnx"));
                var (task, heldOut, calibration) = QuantizationTable.Inputs(file, model, data, heldOutCount, calibrationCount);
                if (scale != 1f) (heldOut, calibration) = (Scaled(heldOut, scale), Scaled(calibration, scale));
                OptimizationPipeline.Run(model, new OptimizeOptions());
                byte[] fp32 = OnnxExporter.ToBytes(model);
                var clock = Stopwatch.StartNew();
                var extremes = ValueExtremesCollector.Measure(model, calibration);
                double seconds = clock.Elapsed.TotalSeconds;
                var largest = extremes.MaxBy(e => e.Value.AbsMax);

                string Variant(QuantizeOptions options, out IReadOnlyList<Fp16RangeFinding> kept)
                {
                    var q = OnnxImporter.Parse(fp32);
                    var report = ModelQuantizer.Quantize(q, options, null);
                    kept = report.RangeKeptFp32;
                    byte[] bytes = OnnxExporter.ToBytes(q);
                    int nonFinite = NonFiniteOutputCheck.Run(fp32, bytes, heldOut.Samples(), heldOut.Count).Select(o => o.Inputs).DefaultIfEmpty(0).Max();
                    var accuracy = AccuracyEvaluator.Compare(fp32, bytes, heldOut, task);
                    double worst = accuracy.Outputs.Select(o => o.SqnrDb).Where(d => !double.IsNaN(d)).DefaultIfEmpty(double.NaN).Min();
                    return FormattableString.Invariant($"{nonFinite}/{heldOut.Count}, {AccuracyEvaluator.FormatDb(worst)}");
                }

                string none = Variant(new QuantizeOptions { Mode = QuantizationMode.Fp16, Fp16RangeRule = false }, out _);
                string constants = Variant(new QuantizeOptions { Mode = QuantizationMode.Fp16 }, out var constantKept);
                string ranged = Variant(new QuantizeOptions { Mode = QuantizationMode.Fp16, ValueExtremes = extremes }, out var rangeKept);
                Console.WriteLine(FormattableString.Invariant(
                    $"| {id} | {largest.Value.AbsMax:G4} ({largest.Key}) | {none} | {constantKept.Count}, {constants} | {rangeKept.Count}, {ranged} | {(rangeKept.Count == 0 ? "-" : string.Join("; ", rangeKept.Select(f => $"{f.Node} {f.OpType}: {f.Reason}")))} | {seconds:F1} |"));
            }
            catch (Exception e) when (e is Diagnostics.EdgeBuildException or OnnxRuntimeException or InvalidOperationException)
            {
                Console.WriteLine($"| {id} | failed: {e.Message.Split('\n')[0]} ||||||");
            }
        }
        return 0;
    }

    /// <summary>Every float input of every sample times <paramref name="scale"/>.</summary>
    private static SampleList Scaled(ICalibrationDataSource source, float scale) =>
        new(source.Samples().Select(sample => (IReadOnlyDictionary<string, Ir.Tensor>)sample.ToDictionary(kv => kv.Key,
            kv => kv.Value.ElementType == Ir.DataType.Float ? Ir.Tensor.FromFloats(kv.Value.Dims, kv.Value.ToFloats().Select(v => v * scale).ToArray()) : kv.Value)).ToList());
}
