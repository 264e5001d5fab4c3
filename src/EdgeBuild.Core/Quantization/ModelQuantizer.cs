using System.Diagnostics;
using EdgeBuild.Analysis;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Quantization.Operators;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Quantization;

/// <summary>
/// The quantization engine's entry point: rewrites an optimized float32 model in place to FP16, INT8 dynamic or
/// INT8 static (QDQ), honouring KeepFp16/KeepFp32 node patterns, and reports per compute layer the precision it
/// got and, when data is given, the SQNR of its output. See docs/quantization.md.
/// </summary>
public static class ModelQuantizer
{
    /// <summary>QDQ with per-channel weights (DequantizeLinear's axis) needs opset 13; older models are converted first.</summary>
    public const long MinQdqOpset = 13;

    /// <summary>Samples the SQNR comparison runs on (the first ones of the data): enough to rank layers, cheap to run.</summary>
    public const int SqnrSamples = 3;

    public static QuantizationReport Quantize(Model model, QuantizeOptions options, ICalibrationDataSource? data, Action<string>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        Validate(options, data);
        var total = Stopwatch.StartNew();
        long bytesBefore = OnnxExporter.ToProto(model).CalculateSize();
        var keepFp32 = new NodePatterns(options.KeepFp32);
        var keepFp16 = new NodePatterns(options.KeepFp16);
        var graph = model.Graph;

        if (options.Mode != QuantizationMode.Fp16 && model.DefaultOpset < MinQdqOpset)
        {
            progress?.Invoke($"converting opset {model.DefaultOpset} to {MinQdqOpset}");
            OptimizationPipeline.Run(model, new OptimizeOptions { TargetOpset = MinQdqOpset }, OptimizationPipeline.Select(["opset-conversion"]), cancellationToken: ct);
        }
        ShapeInference.ClearInferred(graph);
        ShapeInference.Infer(model);
        graph.SortTopologically();
        // Before the float reference is taken, so every comparison sees the equalized float model (which computes the same).
        if (options is { Mode: QuantizationMode.Int8Static, CrossLayerEqualization: true, CalibratedRanges: null })
        {
            int pairs = CrossLayerEqualization.Apply(graph);
            progress?.Invoke($"cross-layer equalization: {pairs} Conv pair(s)");
        }
        // The statistics of the model as given: what a later quantization of the same float model may take back (Mixed, Auto).
        PostTrainingStatistics? givenStatistics = null;
        int activationEqualized = 0;
        if (options is { Mode: QuantizationMode.Int8Static, ActivationEqualization: true, CalibratedRanges: null, Placement: QdqPlacement.OnnxRuntime } && data is { Count: > 0 })
        {
            givenStatistics = options.Statistics ?? PostTrainingStatistics.Measure(model, data, QuantMath.SaturationFreeWeightMax, options.BiasCorrection, true, progress, ct);
            activationEqualized = ActivationEqualization.Apply(graph, givenStatistics);
            progress?.Invoke($"activation equalization: {activationEqualized} affine -> activation -> layer group(s)");
            // A rescaled model has other weight shifts and channel ranges than the measured one: the static quantizer
            // measures its own then (one more pass over the data); an unchanged one reuses the measurement.
            options = options with { Statistics = activationEqualized > 0 ? null : givenStatistics };
        }
        // Static quantization and the SQNR measurement run the model; nothing else here does.
        if (options.Mode == QuantizationMode.Int8Static || data is not null)
        {
            MemoryCeiling.Check(model, "Calibration");
            ComputeCeiling.Check(model, "Calibration");
        }

        int nodesBefore = graph.Nodes.Count;
        var computeNodes = graph.Nodes.Where(QuantizerRegistry.IsComputeOp).Select(n => (Node: n, Output: n.Outputs[0]?.Name ?? "")).ToList();
        var floatModel = OnnxExporter.ToProto(model);
        var inputs = TensorCapture.InputsOf(model);

        var precision = new Dictionary<Node, string>();
        // Where each layer's output is read in the float and the quantized model. The quantized side is held as a Value:
        // TakeOverFloatNames below may rename it (a DequantizeLinear taking the name of the float tensor it replaced).
        var observed = new Dictionary<Node, (string Float, Value? Dequantized, string Quantized)>();
        int quantized;
        var calibrationTime = TimeSpan.Zero;
        List<IReadOnlyDictionary<string, Tensor>>? samples = null;
        StaticResult? staticResult = null;
        IReadOnlyList<Fp16RangeFinding> rangeKept = [];
        bool IntEligible(Node n) => !keepFp32.Matches(n) && !keepFp16.Matches(n);

        switch (options.Mode)
        {
            case QuantizationMode.Fp16:
            {
                progress?.Invoke("converting to float16");
                var fp16 = Fp16Converter.Convert(model, n => !keepFp32.Matches(n), options.KeepIoFp32, options.ValueExtremes, options.Fp16RangeRule);
                rangeKept = fp16.RangeKept;
                foreach (var (n, output) in computeNodes)
                {
                    precision[n] = fp16.Fp16Nodes.Contains(n) ? "Fp16" : "Fp32";
                    observed[n] = (output, null, output);
                }
                quantized = fp16.Fp16Nodes.Count;
                break;
            }
            case QuantizationMode.Int8Dynamic:
            {
                progress?.Invoke("quantizing weights (int8 dynamic)");
                var rewritten = DynamicQuantizer.Quantize(model, IntEligible);
                var fp16 = ConvertKeptFp16(model, keepFp16, keepFp32, options, progress, ref rangeKept);
                foreach (var (n, output) in computeNodes)
                {
                    precision[n] = rewritten.ContainsKey(n) ? "Int8" : fp16.Contains(n) ? "Fp16" : "Fp32";
                    observed[n] = (output, null, rewritten.TryGetValue(n, out var y) ? y.Name : output);
                }
                quantized = rewritten.Count + fp16.Count;
                break;
            }
            case QuantizationMode.Int8Static:
            {
                var result = StaticQuantizer.Quantize(model, floatModel, inputs, options, data, IntEligible, SqnrSamples, progress, ct);
                staticResult = result;
                calibrationTime = result.CalibrationTime;
                samples = result.Samples;
                var fp16 = ConvertKeptFp16(model, keepFp16, keepFp32, options, progress, ref rangeKept);
                foreach (var (n, output) in computeNodes)
                {
                    if (result.Plan.QuantizedNodes.Contains(n))
                    {
                        precision[n] = "Int8";
                        string floatName = result.Plan.ObservedName.GetValueOrDefault(n, output);
                        // The node's (possibly renamed) output value, and the DequantizeLinear that stands for it.
                        var value = n.Outputs[0];
                        observed[n] = (floatName, value is not null && result.Dequantized.TryGetValue(value, out var dq) ? dq : null, floatName);
                    }
                    else
                    {
                        precision[n] = fp16.Contains(n) ? "Fp16" : "Fp32";
                        observed[n] = (output, null, output);
                    }
                }
                quantized = result.Plan.QuantizedNodes.Count + fp16.Count;
                break;
            }
            default:
                throw new EdgeBuildException(DiagnosticCodes.InvalidQuantizeOption, "Mode", $"unknown quantization mode {options.Mode}");
        }

        RemoveUnusedInitializers(graph);
        TakeOverFloatNames(graph);
        ShapeInference.ClearInferred(graph);
        ShapeInference.Infer(model);
        graph.SortTopologically();

        if (samples is null && data is not null && data.Count > 0)
            samples = data.Samples().Take(SqnrSamples).ToList();
        Dictionary<string, double>? sqnr = null;
        if (samples is { Count: > 0 })
        {
            progress?.Invoke($"measuring SQNR per layer on {samples.Count} sample{(samples.Count == 1 ? "" : "s")}");
            // A layer whose quantized output no longer exists under any name (its DequantizeLinear merged away) has no SQNR.
            var present = graph.Nodes.SelectMany(n => n.Outputs).Where(o => o is not null).Select(o => o!.Name).ToHashSet(StringComparer.Ordinal);
            var layers = computeNodes.Select(c => new ObservedLayer(Key(c.Node), observed[c.Node].Float, observed[c.Node].Dequantized?.Name ?? observed[c.Node].Quantized))
                .Where(l => present.Contains(l.QuantizedTensor)).ToList();
            sqnr = SqnrMeasurement.Measure(floatModel, OnnxExporter.ToProto(model), inputs, layers, samples, ct);
        }

        var report = computeNodes.Select(c => new LayerQuantization(Key(c.Node), c.Node.OpType, precision[c.Node],
            sqnr is not null && sqnr.TryGetValue(Key(c.Node), out var db) ? db : null)).ToList();
        long bytesAfter = OnnxExporter.ToProto(model).CalculateSize();
        return new QuantizationReport(options.Mode, quantized, nodesBefore - quantized, report, calibrationTime, total.Elapsed, bytesBefore, bytesAfter)
        {
            Statistics = givenStatistics ?? staticResult?.Statistics,
            ActivationEqualized = activationEqualized,
            BiasCorrected = staticResult?.BiasCorrected ?? 0,
            KeptFloatForPlacement = staticResult?.KeptFloat ?? [],
            RangeKeptFp32 = rangeKept,
        };
    }

    private static string Key(Node n) => NodePatterns.NameOf(n);

    /// <summary>KeepFp16 nodes in the int8 modes (KeepFp32 wins where both match): float16 with Casts around; returns the nodes converted.</summary>
    private static IReadOnlySet<Node> ConvertKeptFp16(Model model, NodePatterns keepFp16, NodePatterns keepFp32, QuantizeOptions options,
        Action<string>? progress, ref IReadOnlyList<Fp16RangeFinding> rangeKept)
    {
        if (keepFp16.IsEmpty) return new HashSet<Node>();
        progress?.Invoke("converting KeepFp16 nodes to float16");
        var result = Fp16Converter.Convert(model, n => keepFp16.Matches(n) && !keepFp32.Matches(n), keepIoFp32: true, options.ValueExtremes, options.Fp16RangeRule);
        rangeKept = result.RangeKept;
        return result.Fp16Nodes;
    }

    /// <summary>The float weights that quantized copies replaced.</summary>
    private static void RemoveUnusedInitializers(Graph graph)
    {
        foreach (var v in graph.Initializers.ToList())
            if (!v.IsUsed && !v.IsGraphInput) graph.RemoveInitializer(v);
    }

    /// <summary>
    /// A dequantized weight takes the name of the float weight it replaced once that is gone: the Conv reads "W"
    /// as before, and the name is not stored twice with a suffix (bytes that count in a small model).
    /// </summary>
    private static void TakeOverFloatNames(Graph graph)
    {
        foreach (var n in graph.Nodes)
        {
            if (n.OpType != "DequantizeLinear" || n.Input(0)?.Initializer is null || n.Outputs[0] is not { } output) continue;
            if (!output.Name.EndsWith(QdqInserter.DequantizedSuffix, StringComparison.Ordinal)) continue;
            string original = output.Name[..^QdqInserter.DequantizedSuffix.Length];
            if (original.Length > 0 && graph.UniqueName(original) == original) graph.Rename(output, original);
        }
    }

    private static void Validate(QuantizeOptions options, ICalibrationDataSource? data)
    {
        if (!(options.Percentile > 0 && options.Percentile <= 100))
            throw new EdgeBuildException(DiagnosticCodes.InvalidQuantizeOption, "Percentile", $"{options.Percentile} is not a percentile in (0, 100]");
        if (options.MinCalibrationSamples < 1)
            throw new EdgeBuildException(DiagnosticCodes.InvalidQuantizeOption, "MinCalibrationSamples", $"{options.MinCalibrationSamples} is less than 1");
        if (!Enum.IsDefined(options.Mode))
            throw new EdgeBuildException(DiagnosticCodes.InvalidQuantizeOption, "Mode", $"unknown quantization mode {options.Mode}");
        if (options.Placement == QdqPlacement.TensorRt && !options.SymmetricActivations)
            throw new EdgeBuildException(DiagnosticCodes.InvalidQuantizeOption, "Placement", "TensorRT placement needs symmetric int8 activations (SymmetricActivations)");
        if (!Enum.IsDefined(options.Calibrator))
            throw new EdgeBuildException(DiagnosticCodes.InvalidQuantizeOption, "Calibrator", $"unknown calibrator {options.Calibrator}");
        if (options.Mode == QuantizationMode.Int8Static && options.CalibratedRanges is null)
        {
            int have = data?.Count ?? 0;
            if (data is null || have < options.MinCalibrationSamples)
                throw new EdgeBuildException(DiagnosticCodes.NotEnoughCalibrationSamples, "calibration data",
                    data is null
                        ? "int8 static quantization needs calibration data and none was given"
                        : $"int8 static quantization needs at least {options.MinCalibrationSamples} calibration sample{(options.MinCalibrationSamples == 1 ? "" : "s")}; the data source has {have}");
        }
    }
}
