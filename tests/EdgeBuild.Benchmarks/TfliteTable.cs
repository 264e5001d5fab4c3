using System.Diagnostics;
using System.Globalization;
using EdgeBuild.Diagnostics;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using EdgeBuild.Targets.Tflite;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Benchmarks;

/// <summary>
/// The TFLite acceptance table: per real model and precision, whether it converts, the max relative error of the
/// .tflite file run in LiteRT against ONNX Runtime on the original FP32 model (max |a-b| / max |ref| per output,
/// worst output) over held-out photos, its size, and for Int8 the task-metric loss against FP32 (AccuracyEvaluator,
/// as the ONNX INT8 artifact is measured) next to that of the ONNX INT8 (QDQ) model calibrated on the same photos.
///
///   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- tflite [--models a,b] [--photos 20] [--calibration 8] [--precisions Fp32,Fp16,Int8] [--calibrator Percentile] [--budget 1]
///
/// With --budget, each model gets a Mixed row as well, as Precision=Mixed with MaxAccuracyLoss builds it: the ONNX budget
/// search (MixedPrecisionSearch) returns layers to FP32 until the ONNX artifact is within the budget, and every node that
/// artifact computes in float (QdqFloatNodes: the kept layers, a Softmax on dequantized logits, ...) is a float node of
/// the .tflite file, which is then measured the same way.
/// </summary>
public static class TfliteTable
{
    public static int Run(string[] args, string data, string root)
    {
        string? Arg(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var ids = Arg("--models")?.Split(',') ?? RealModelSpec.All.Select(s => s.Id).ToArray();
        int photoCount = int.Parse(Arg("--photos") ?? "20", CultureInfo.InvariantCulture);
        int calibrationCount = int.Parse(Arg("--calibration") ?? "8", CultureInfo.InvariantCulture);
        var precisions = (Arg("--precisions") ?? "Fp32,Fp16,Int8").Split(',').Select(p => Enum.Parse<TflitePrecision>(p, true)).ToArray();
        var calibrator = Enum.Parse<CalibratorKind>(Arg("--calibrator") ?? "Percentile", true);
        double? budget = Arg("--budget") is { } b ? double.Parse(b, CultureInfo.InvariantCulture) : null;
        var (tool, problem) = TfliteRef.Ready(root);
        if (problem is not null) throw new InvalidOperationException($"TFLite reference interpreter unavailable: {problem}");
        string work = Directory.CreateTempSubdirectory("edgebuild-tflite-table-").FullName;

        Console.WriteLine($"TFLite reference: {tool}; {photoCount} held-out photos per model, Int8 calibrated on {calibrationCount} others ({calibrator}, asymmetric)");
        Console.WriteLine("| model | precision | converts | ops (TRANSPOSE) | max rel error vs ORT | size | size ratio | task metric loss (TFLite) | ONNX artifact at the same precision |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var id in ids)
        {
            var spec = RealModelSpec.Get(id);
            string path = Path.Combine(data, "models", id + ".onnx");
            long onnxBytes = new FileInfo(path).Length;
            var photos = spec.Photos(data, calibrationCount + photoCount);
            var calibration = new RealModelSamples(spec, photos.Take(calibrationCount), data);
            var eval = new RealModelSamples(spec, photos.Skip(calibrationCount), data);
            var samples = eval.Samples().ToList();
            var reference = TfliteHarness.RunOnnx(path, samples);
            var floatModel = TfliteHarness.OptimizedFloat(path, spec);
            var task = id switch
            {
                "face-embedding" or "resnet18-features" => TaskKind.Embedding,
                "face-landmark68" => TaskKind.Regression,
                _ => AccuracyEvaluator.Infer(floatModel),
            };
            long fp32Bytes = 0;
            IReadOnlySet<string>? floatNodes = null;
            int keptLayers = 0;
            byte[]? mixedOnnx = null;
            IReadOnlyDictionary<string, Quantization.Calibration.TensorRange>? int8Ranges = null;
            var rows = precisions.Select(p => (Precision: p, Mixed: false)).ToList();
            for (int r = 0; r < rows.Count; r++)
            {
                var (precision, mixed) = rows[r];
                string row = $"| {id} | {(mixed ? F($"Mixed ({budget} %)") : precision.ToString())} |";
                try
                {
                    var clock = Stopwatch.StartNew();
                    // One calibration per model: the Int8 and Mixed rows share it, as the build's targets do.
                    var ranges = precision == TflitePrecision.Int8 ? int8Ranges ??= TfliteHarness.Ranges(floatModel, calibration, calibrator) : null;
                    var (bytes, result) = TfliteHarness.Convert(floatModel, precision, ranges, floatNodes: mixed ? floatNodes : null);
                    if (precision == TflitePrecision.Fp32) fp32Bytes = bytes.Length;
                    var outputs = TfliteHarness.RunAll(tool, bytes, result, samples, Path.Combine(work, $"{id}-{precision}"));
                    var errors = TfliteHarness.MaxRelativeError(reference, outputs);
                    var worst = errors.MaxBy(e => e.Value);
                    string size = precision == TflitePrecision.Fp32
                        ? F($"{bytes.Length / (double)onnxBytes:F3} x ONNX file ({bytes.Length / (double)OnnxExporter.ToBytes(floatModel).Length:F3} x optimized ONNX)")
                        : fp32Bytes > 0 ? F($"{bytes.Length / (double)fp32Bytes:F3} x fp32 .tflite") : "";
                    string loss = "", onnxLoss = "";
                    if (precision == TflitePrecision.Fp16)
                    {
                        var q = OnnxImporter.Parse(OnnxExporter.ToBytes(floatModel));
                        ModelQuantizer.Quantize(q, new QuantizeOptions { Mode = QuantizationMode.Fp16 }, null);
                        string fp16Path = Path.Combine(work, $"{id}-fp16.onnx");
                        File.WriteAllBytes(fp16Path, OnnxExporter.ToBytes(q));
                        var onnxErrors = TfliteHarness.MaxRelativeError(reference, TfliteHarness.RunOnnx(fp16Path, samples));
                        onnxLoss = F($"ONNX FP16 max rel error {onnxErrors.Values.Max():E2}");
                    }
                    if (precision == TflitePrecision.Int8)
                    {
                        byte[] original = File.ReadAllBytes(path);
                        var q = OnnxImporter.Parse(mixed ? mixedOnnx! : OnnxExporter.ToBytes(floatModel));
                        if (!mixed) ModelQuantizer.Quantize(q, new QuantizeOptions { Calibrator = calibrator }, calibration);
                        AccuracyReport report, onnxReport;
                        if (id.StartsWith("blazeface", StringComparison.Ordinal))
                        {
                            // Raw anchor logits and regressors: judged as the faces they decode to (Detection F1).
                            float inputSize = spec.Height;
                            string onnxPath = Path.Combine(work, $"{id}-int8.onnx");
                            File.WriteAllBytes(onnxPath, OnnxExporter.ToBytes(q));
                            var onnxOutputs = TfliteHarness.RunOnnx(onnxPath, samples);
                            IReadOnlyDictionary<string, Ir.Tensor> D(IReadOnlyDictionary<string, Ir.Tensor> o) => BlazeFace.AsDetections(o, inputSize);
                            var refD = reference.Select(D).ToList();
                            report = AccuracyEvaluator.Compare(["boxes", "scores"], refD, outputs.Select(D).ToList(), TaskKind.Detection);
                            onnxReport = AccuracyEvaluator.Compare(["boxes", "scores"], refD, onnxOutputs.Select(D).ToList(), TaskKind.Detection);
                        }
                        else
                        {
                            report = AccuracyEvaluator.Compare(original, eval, outputs, task);
                            onnxReport = AccuracyEvaluator.Compare(original, OnnxExporter.ToBytes(q), eval, task);
                        }
                        loss = F($"{report.LossPercent:F2} % ({report.Task}: {report.Metric} {report.Value:G4})");
                        onnxLoss = F($"ONNX INT8 loss {onnxReport.LossPercent:F2} %") + (mixed ? F($", {keptLayers} layer(s) kept by the budget, {floatNodes!.Count} node(s) in float") : "");
                        if (!mixed && budget is double limit)
                        {
                            // The build's search, on the same photos: calibration for ranges, the held-out ones for the loss.
                            // Precision=Mixed keeps in float what the ONNX artifact computes in float (its kept layers included).
                            var search = MixedPrecisionSearch.Run(OnnxExporter.ToBytes(floatModel), new QuantizeOptions { Calibrator = calibrator }, calibration, eval, task, limit);
                            floatNodes = QdqFloatNodes.Of(search.Model);
                            mixedOnnx = OnnxExporter.ToBytes(search.Model);
                            keptLayers = search.KeptInFp32.Count;
                            rows.Insert(r + 1, (precision, true));
                        }
                    }
                    int ops = result.Model.Operators.Count;
                    string all = args.Contains("--all-outputs") ? " [" + string.Join(", ", errors.Select(e => F($"{e.Key} {e.Value:E2}"))) + "]" : "";
                    row += F($" yes | {ops} ({result.Transposes}) | {worst.Value:E2} ({worst.Key}){all} | {bytes.Length / 1024.0:F1} KiB | {size} | {loss} | {onnxLoss} |");
                }
                catch (EdgeBuildException e)
                {
                    row += $" no: {e.Code} {e.Message} | | | | | | |";
                }
                catch (Exception e)
                {
                    row += $" FAILED: {e.GetType().Name}: {e.Message.Split('\n')[0]} | | | | | | |";
                }
                Console.WriteLine(row);
            }
        }
        Directory.Delete(work, recursive: true);
        return 0;
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
