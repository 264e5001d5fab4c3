using EdgeBuild.Ir;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Quantization.Operators;
using EdgeBuild.Quantization.Operators.TensorRt;
using P = EdgeBuild.Onnx.Proto;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Quantization;

/// <summary>What static quantization did, for the report.</summary>
internal sealed record StaticResult(QdqPlan Plan, Dictionary<Value, Value> Dequantized, List<IReadOnlyDictionary<string, Tensor>> Samples, TimeSpan CalibrationTime);

/// <summary>
/// INT8 static quantization in QDQ format, in ORT's order: (a) every node, in topological order, goes through its
/// quantizer from <see cref="QuantizerRegistry"/>, which only marks tensors; (b) the float model runs over the
/// calibration data with the marked tensors as outputs and the calibrator gives each a range; (c) the Q/DQ nodes
/// are inserted once (<see cref="QdqInserter"/>).
/// </summary>
internal static class StaticQuantizer
{
    public static StaticResult Quantize(Model model, P.ModelProto floatModel, IReadOnlyList<TensorCapture.InputSpec> inputs, QuantizeOptions options,
        ICalibrationDataSource? data, Func<Node, bool> eligible, int keepSamples, Action<string>? progress, CancellationToken ct)
    {
        var graph = model.Graph;
        var plan = new QdqPlan(graph, options);
        foreach (var node in graph.Nodes.ToList())
        {
            ct.ThrowIfCancellationRequested();
            // A node folded away by an earlier quantizer (Relu into its Conv) is gone.
            if (node.Graph != graph || !eligible(node)) continue;
            var quantizer = options.Placement == QdqPlacement.TensorRt ? TensorRtQuantizerRegistry.For(node) : QuantizerRegistry.For(node);
            if (quantizer.Mark(node, plan)) plan.QuantizedNodes.Add(node);
        }

        var tensors = plan.Activations.Where(m => m.Fixed is null && m.SameAs is null && m.RescaleOf is null).Select(m => m.CalibrationName).Distinct(StringComparer.Ordinal).ToList();
        var started = System.Diagnostics.Stopwatch.StartNew();
        IReadOnlyDictionary<string, TensorRange> ranges;
        List<IReadOnlyDictionary<string, Tensor>> samples;
        if (options.CalibratedRanges is { } shared)
        {
            // The build calibrated every activation once; taking its ranges keeps this artifact's scales identical to the others'.
            ranges = shared;
            samples = data is null ? [] : data.Samples().Take(keepSamples).ToList();
        }
        else
        {
            progress?.Invoke($"calibrating {tensors.Count} tensors with {options.Calibrator}");
            (ranges, samples) = CalibrationRunner.Run(floatModel, inputs, tensors, data!, CalibratorFactory.Create(options),
                Math.Max(1, options.MinCalibrationSamples), keepSamples, progress, ct);
        }
        var calibrationTime = started.Elapsed;

        progress?.Invoke("inserting QuantizeLinear/DequantizeLinear");
        // An artifact for ONNX Runtime keeps its weights where the x86 int8 kernels cannot saturate on any CPU; TensorRT
        // accumulates in int32 and takes the full range.
        int weightMax = options.Placement == QdqPlacement.OnnxRuntime ? QuantMath.SaturationFreeWeightMax : 127;
        var dequantized = QdqInserter.Insert(plan, ranges, weightMax);
        return new StaticResult(plan, dequantized, samples, calibrationTime);
    }
}
