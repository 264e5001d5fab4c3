using EdgeBuild.Analysis;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;

namespace EdgeBuild.Quantization.Calibration;

/// <summary>
/// Calibrated ranges of every float32 activation of a float model (graph inputs and node outputs), computed once
/// per build and shared by the targets that quantize (TFLite INT8, the TensorRT kit), so every artifact of a model
/// is quantized from the same data by the same calibrator.
/// </summary>
public sealed class CalibrationTable
{
    private CalibrationTable(CalibratorKind calibrator, bool symmetric, int samples, IReadOnlyDictionary<string, TensorRange> ranges,
        IReadOnlyDictionary<string, ValueExtremes> extremes, PostTrainingStatistics? statistics)
    {
        Statistics = statistics;
        Calibrator = calibrator;
        Symmetric = symmetric;
        Samples = samples;
        Ranges = ranges;
        Extremes = extremes;
    }

    public CalibratorKind Calibrator { get; }

    /// <summary>Whether ranges were chosen for symmetric quantization (zero point 0; the Entropy calibrator searches |x|).</summary>
    public bool Symmetric { get; }

    /// <summary>How many calibration samples the ranges come from.</summary>
    public int Samples { get; }

    /// <summary>Range by tensor name.</summary>
    public IReadOnlyDictionary<string, TensorRange> Ranges { get; }

    /// <summary>
    /// The unclipped extremes of the same tensors, collected in the same pass: the FP16 range rule's input
    /// (<see cref="Fp16RangeRule"/>) for layers kept in float16 next to int8 ones, so no build runs its data twice.
    /// </summary>
    public IReadOnlyDictionary<string, ValueExtremes> Extremes { get; }

    /// <summary>
    /// The post-training rules' statistics (bias shifts, affine channel ranges) of the same float model, collected in
    /// the same pass when <see cref="Compute"/> was asked for them; null otherwise.
    /// </summary>
    public PostTrainingStatistics? Statistics { get; }

    /// <summary>max(|min|, |max|) of a tensor's range: the amax of symmetric quantization (scale = amax / 127).</summary>
    public float AbsMax(string tensor) => Ranges[tensor] is var r ? Math.Max(Math.Abs(r.Min), Math.Abs(r.Max)) : 0f;

    /// <summary>
    /// Runs <paramref name="floatModel"/> (not changed) over <paramref name="data"/> and calibrates every float32 activation.
    /// With <paramref name="statistics"/> (and options whose rules read them, <see cref="PostTrainingStatistics.WantedBy"/>)
    /// the same runs also collect the post-training statistics: one pass over the data instead of two, each a full run of
    /// the model (on a 5 MB line detector at 320x320, 16 samples, about 5 s of a 2-core machine).
    /// </summary>
    public static CalibrationTable Compute(Model floatModel, ICalibrationDataSource data, QuantizeOptions options, Action<string>? progress = null,
        CancellationToken ct = default, bool statistics = false)
    {
        ArgumentNullException.ThrowIfNull(floatModel);
        ArgumentNullException.ThrowIfNull(data);
        MemoryCeiling.Check(floatModel, "Calibration");
        ComputeCeiling.Check(floatModel, "Calibration");
        var inputs = TensorCapture.InputsOf(floatModel);
        var tensors = ValueExtremesCollector.FloatActivations(floatModel, inputs);
        var calibrator = CalibratorFactory.Create(options);
        var extremes = new ValueExtremesCollector();
        var floatInputs = inputs.Where(i => i.Type == DataType.Float).Select(i => i.Name).ToList();
        var collector = statistics && PostTrainingStatistics.WantedBy(options)
            ? PostTrainingStatistics.Collector.Prepare(floatModel, QuantMath.SaturationFreeWeightMax, options.BiasCorrection, options.AffineInputPlacement)
            : null;
        int count = 0;
        // The collector's copy computes the same activations, with the weight-error layers beside them.
        using var capture = new TensorCapture(OnnxExporter.ToProto(collector?.Model ?? floatModel), inputs, [.. tensors, .. collector?.Wanted ?? []]);
        var names = capture.Outputs;
        var activationSet = tensors.ToHashSet(StringComparer.Ordinal);
        // Positions of the activations among the fetched tensors: the weight-error outputs are no activations to calibrate.
        var activations = Enumerable.Range(0, names.Count).Where(i => activationSet.Contains(names[i])).ToArray();
        var activationNames = activations.Select(i => names[i]).ToList();
        progress?.Invoke($"calibrating {activationNames.Count + floatInputs.Count} tensors with {options.Calibrator}" + (collector is null ? "" : $", {collector.Describe()}"));
        foreach (var sample in data.Samples())
        {
            ct.ThrowIfCancellationRequested();
            foreach (var input in floatInputs)
                if (sample.TryGetValue(input, out var t) && t.ElementType == DataType.Float)
                    CalibrationRunner.Collect(calibrator, extremes, input, t.AsSpan<float>());
            collector?.CollectInputs(sample);
            capture.Run(sample, count, outputs =>
            {
                var activationOutputs = activations.Length == outputs.Count ? outputs : activations.Select(i => outputs[i]).ToList();
                CalibrationRunner.Collect(calibrator, extremes, activationNames, activationOutputs, ct);
                collector?.Collect(names, outputs, ct);
            }, ct);
            count++;
            progress?.Invoke($"calibrating {count}/{Math.Max(data.Count, count)}");
        }
        if (count < options.MinCalibrationSamples)
            throw new Diagnostics.EdgeBuildException(Diagnostics.DiagnosticCodes.NotEnoughCalibrationSamples, "calibration data",
                $"calibration needs at least {options.MinCalibrationSamples} sample{(options.MinCalibrationSamples == 1 ? "" : "s")}; the data source gave {count}");
        return new CalibrationTable(options.Calibrator, options.SymmetricActivations, count, calibrator.ComputeRanges(), extremes.Result(), collector?.Result());
    }
}
