using EdgeBuild.Ir;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Quantization.Operators;
using EdgeBuild.Quantization.Operators.TensorRt;
using P = EdgeBuild.Onnx.Proto;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Quantization;

/// <summary>What static quantization did, for the report.</summary>
internal sealed record StaticResult(QdqPlan Plan, Dictionary<Value, Value> Dequantized, List<IReadOnlyDictionary<string, Tensor>> Samples, TimeSpan CalibrationTime)
{
    /// <summary>The statistics the post-training rules used (null when none ran).</summary>
    public PostTrainingStatistics? Statistics { get; init; }
    public int BiasCorrected { get; init; }
    public IReadOnlyList<string> KeptFloat { get; init; } = [];
}

/// <summary>
/// INT8 static quantization in QDQ format, in ORT's order: (a) every node, in topological order, goes through its
/// quantizer from <see cref="QuantizerRegistry"/>, which only marks tensors; (b) the float model runs over the
/// calibration data with the marked tensors as outputs and the calibrator gives each a range; (c) the Q/DQ nodes
/// are inserted once (<see cref="QdqInserter"/>). Around the marking, the post-training rules for ONNX Runtime
/// placement: before it, <see cref="AffineInputPlacement"/> keeps float the tensors it should not quantize; after it,
/// <see cref="BiasCorrection"/> corrects the biases of the marked layers (both from <see cref="PostTrainingStatistics"/>).
/// </summary>
internal static class StaticQuantizer
{
    public static StaticResult Quantize(Model model, P.ModelProto floatModel, IReadOnlyList<TensorCapture.InputSpec> inputs, QuantizeOptions options,
        ICalibrationDataSource? data, Func<Node, bool> eligible, int keepSamples, Action<string>? progress, CancellationToken ct)
    {
        var graph = model.Graph;
        // An artifact for ONNX Runtime keeps its weights where the x86 int8 kernels cannot saturate on any CPU; TensorRT
        // accumulates in int32 and takes the full range.
        int weightMax = options.Placement == QdqPlacement.OnnxRuntime ? QuantMath.SaturationFreeWeightMax : 127;
        // TensorRT's kit fuses its own biases and is quantized without data here: the rules serve ONNX Runtime placement.
        bool rules = options.Placement == QdqPlacement.OnnxRuntime && (options.BiasCorrection || options.AffineInputPlacement);
        var statistics = !rules ? null : options.Statistics
            ?? (data is { Count: > 0 } ? PostTrainingStatistics.Measure(model, data, weightMax, options.BiasCorrection, options.AffineInputPlacement, progress, ct) : null);
        // The names the statistics know the layers by, before marking renames outputs (a folded Relu's name moves to its Conv).
        var keys = graph.Nodes.ToDictionary(n => n, NodePatterns.NameOf);
        var plan = new QdqPlan(graph, options);
        var keptFloat = options.AffineInputPlacement && statistics is not null ? AffineInputPlacement.Apply(plan, statistics) : [];
        foreach (var node in graph.Nodes.ToList())
        {
            ct.ThrowIfCancellationRequested();
            // A node folded away by an earlier quantizer (Relu into its Conv) is gone.
            if (node.Graph != graph || !eligible(node)) continue;
            var quantizer = options.Placement == QdqPlacement.TensorRt ? TensorRtQuantizerRegistry.For(node) : QuantizerRegistry.For(node);
            if (quantizer.Mark(node, plan)) plan.QuantizedNodes.Add(node);
        }

        int corrected = options.BiasCorrection && statistics is not null ? BiasCorrection.Apply(plan, statistics, keys) : 0;
        if (corrected > 0) progress?.Invoke($"bias correction: {corrected} layer(s)");

        var tensors = plan.Activations.Where(m => m.Fixed is null && m.SameAs is null && m.RescaleOf is null).Select(m => m.CalibrationName).Distinct(StringComparer.Ordinal).ToList();
        IReadOnlyDictionary<string, TensorRange> ranges;
        List<IReadOnlyDictionary<string, Tensor>> samples;
        // Only a calibration of its own counts here: given ranges cost the caller, whose report states them (QuantizeStep).
        var calibrationTime = TimeSpan.Zero;
        if (options.CalibratedRanges is { } shared)
        {
            // The build calibrated every activation once; taking its ranges keeps this artifact's scales identical to the others'.
            ranges = shared;
            samples = data is null ? [] : data.Samples().Take(keepSamples).ToList();
        }
        else
        {
            var started = System.Diagnostics.Stopwatch.StartNew();
            progress?.Invoke($"calibrating {tensors.Count} tensors with {options.Calibrator}");
            (ranges, samples) = CalibrationRunner.Run(floatModel, inputs, tensors, data!, CalibratorFactory.Create(options),
                Math.Max(1, options.MinCalibrationSamples), keepSamples, progress, ct);
            calibrationTime = started.Elapsed;
        }

        progress?.Invoke("inserting QuantizeLinear/DequantizeLinear");
        var dequantized = QdqInserter.Insert(plan, ranges, weightMax);
        return new StaticResult(plan, dequantized, samples, calibrationTime) { Statistics = statistics, BiasCorrected = corrected, KeptFloat = keptFloat };
    }
}
