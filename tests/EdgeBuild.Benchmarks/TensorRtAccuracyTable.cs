using System.Diagnostics;
using System.Globalization;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Quantization;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Targets.TensorRt;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Benchmarks;

/// <summary>
/// The TensorRT kit's accuracy acceptance: the .trt.onnx (TensorRT's Q/DQ placement, symmetric int8, made by the same
/// call as the kit writer) run on the CPU in ONNX Runtime against the optimized FP32 model, next to the ONNX INT8
/// artifact (asymmetric, ORT placement), with the same calibration photos, calibrator and task metric on held-out photos.
/// ONNX Runtime's CPU kernels stand in for TensorRT here: the numbers say what the quantization costs, not what an engine
/// on a GPU computes (its FP16 layers, fusions and kernels are not simulated).
///
///   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- tensorrt-table [--models a,b] [--held-out N] [--calibration N] [--calibrator Percentile]
/// </summary>
internal static class TensorRtAccuracyTable
{
    public static int Run(string[] args, string data)
    {
        string? Arg(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var ids = Arg("--models")?.Split(',') ?? ["eye-state", "face-detect-rfb320", "face-landmark68", "face-embedding", "resnet18-features", "ocr-det-ppocrv4"];
        int heldOutCount = int.Parse(Arg("--held-out") ?? "30", CultureInfo.InvariantCulture);
        int calibrationCount = int.Parse(Arg("--calibration") ?? "16", CultureInfo.InvariantCulture);
        var calibrator = Enum.Parse<CalibratorKind>(Arg("--calibrator") ?? "Percentile");
        Console.WriteLine($"cpu: {File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim()}; " +
            $"{heldOutCount} held-out photos; up to {calibrationCount} calibration photos; calibrator {calibrator}");
        Console.WriteLine("| model | task metric (.trt.onnx) | ONNX INT8 loss % | .trt.onnx loss % | .trt.onnx Q/DQ pairs | INT8 layers | Mixed (1 %): layers kept FP32 | ONNX loss % | .trt.onnx loss % | s |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var id in ids)
        {
            var spec = RealModelSpec.Get(id);
            var task = BenchmarkModel.TaskOf(id);
            var model = OnnxImporter.Load(Path.Combine(data, "models", id + ".onnx"));
            OptimizationPipeline.Run(model, new OptimizeOptions());
            byte[] fp32 = OnnxExporter.ToBytes(model);
            var (calibration, heldOut) = QuantizationTable.Photos(spec, data, heldOutCount, calibrationCount);
            var heldOutData = new RealModelSamples(spec, heldOut, data);
            var calibrationData = new RealModelSamples(spec, calibration, data);
            var clock = Stopwatch.StartNew();

            var onnxInt8 = OnnxImporter.Parse(fp32);
            ModelQuantizer.Quantize(onnxInt8, new QuantizeOptions { Calibrator = calibrator }, calibrationData);
            var onnxAccuracy = AccuracyEvaluator.Compare(fp32, OnnxExporter.ToBytes(onnxInt8), heldOutData, task);

            var table = CalibrationTable.Compute(OnnxImporter.Parse(fp32), calibrationData, new QuantizeOptions { Calibrator = calibrator, SymmetricActivations = true });
            var network = OnnxImporter.Parse(fp32);
            var report = TensorRtTargetWriter.QuantizeForTensorRt(network, table, []);
            var trtAccuracy = AccuracyEvaluator.Compare(fp32, OnnxExporter.ToBytes(network), heldOutData, task);
            int pairs = network.Graph.Nodes.Count(n => n.OpType == "QuantizeLinear");

            // Precision=Mixed with MaxAccuracyLoss=1, as the build does it: the search returns layers of the ONNX artifact to FP32,
            // the kit keeps the same ones in float and, still over the budget, searches on its own network from there.
            string mixed = "- | - | -";
            if (onnxAccuracy.LossPercent > 1)
            {
                var search = MixedPrecisionSearch.Run(fp32, new QuantizeOptions { Calibrator = calibrator }, calibrationData, heldOutData, task, 1.0);
                var kept = search.KeptInFp32.Select(k => k.Node).ToList();
                var mixedNetwork = OnnxImporter.Parse(fp32);
                TensorRtTargetWriter.QuantizeForTensorRt(mixedNetwork, table, kept);
                var mixedAccuracy = AccuracyEvaluator.Compare(fp32, OnnxExporter.ToBytes(mixedNetwork), heldOutData, task);
                int keptByKit = 0;
                if (mixedAccuracy.LossPercent > 1)
                {
                    var own = MixedPrecisionSearch.Run(fp32, TensorRtTargetWriter.QuantizeOptionsFor(table, kept), calibrationData, heldOutData, task, 1.0);
                    keptByKit = own.KeptInFp32.Count;
                    mixedAccuracy = own.Accuracy;
                }
                mixed = FormattableString.Invariant($"{kept.Count}{(keptByKit > 0 ? $" + {keptByKit} by the kit" : "")} | {search.Accuracy.LossPercent:F2} | {mixedAccuracy.LossPercent:F2}");
            }
            Console.WriteLine(FormattableString.Invariant(
                $"| {id} | {trtAccuracy.Metric} {trtAccuracy.Value:G4} | {onnxAccuracy.LossPercent:F2} | {trtAccuracy.LossPercent:F2} | {pairs} | {report.Layers.Count(l => l.Precision == "Int8")}/{report.Layers.Count} | {mixed} | {clock.Elapsed.TotalSeconds:F0} |"));
        }
        return 0;
    }
}
