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
        IReadOnlyDictionary<string, ValueExtremes> extremes)
    {
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

    /// <summary>max(|min|, |max|) of a tensor's range: the amax of symmetric quantization (scale = amax / 127).</summary>
    public float AbsMax(string tensor) => Ranges[tensor] is var r ? Math.Max(Math.Abs(r.Min), Math.Abs(r.Max)) : 0f;

    /// <summary>Runs <paramref name="floatModel"/> (not changed) over <paramref name="data"/> and calibrates every float32 activation.</summary>
    public static CalibrationTable Compute(Model floatModel, ICalibrationDataSource data, QuantizeOptions options, Action<string>? progress = null, CancellationToken ct = default)
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
        int count = 0;
        using var capture = new TensorCapture(OnnxExporter.ToProto(floatModel), inputs, tensors);
        var names = capture.Outputs;
        progress?.Invoke($"calibrating {names.Count + floatInputs.Count} tensors with {options.Calibrator}");
        foreach (var sample in data.Samples())
        {
            ct.ThrowIfCancellationRequested();
            foreach (var input in floatInputs)
                if (sample.TryGetValue(input, out var t) && t.ElementType == DataType.Float)
                {
                    calibrator.Collect(input, t.AsSpan<float>());
                    extremes.Collect(input, t.AsSpan<float>());
                }
            capture.Run(sample, count, outputs =>
            {
                CalibrationRunner.Collect(calibrator, names, outputs, ct);
                extremes.CollectAll(names, outputs, ct);
            }, ct);
            count++;
            progress?.Invoke($"calibrating {count}/{Math.Max(data.Count, count)}");
        }
        if (count < options.MinCalibrationSamples)
            throw new Diagnostics.EdgeBuildException(Diagnostics.DiagnosticCodes.NotEnoughCalibrationSamples, "calibration data",
                $"calibration needs at least {options.MinCalibrationSamples} sample{(options.MinCalibrationSamples == 1 ? "" : "s")}; the data source gave {count}");
        return new CalibrationTable(options.Calibrator, options.SymmetricActivations, count, calibrator.ComputeRanges(), extremes.Result());
    }
}
