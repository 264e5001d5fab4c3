using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using EdgeBuild.Quantization.Calibration;

namespace EdgeBuild.Compile;

/// <summary>What quantizing one model did: the engine's report, accuracy against FP32, and the layers a budget sent back to float.</summary>
public sealed record QuantizeStepResult(
    Model Model,
    QuantizationReport Report,
    AccuracyReport? Accuracy,
    IReadOnlyList<string> CalibrationFiles,
    IReadOnlyList<string> HeldOutFiles,
    IReadOnlyList<LayerSensitivity> KeptInFloat,
    int Attempts);

/// <summary>
/// The quantization step shared by <c>edgebuild compile</c> (Precision metadata) and <c>edgebuild quantize</c>:
/// choose the calibration and held-out photos, run the engine, measure the loss against the FP32 model, and
/// for Precision=Mixed (or Int8 with MaxAccuracyLoss) return the least robust layers to FP32 until the loss
/// is within the budget. A budget that cannot be met is EB3007.
/// </summary>
public static class QuantizeStep
{
    public static QuantizationMode ModeOf(Precision precision) => precision switch
    {
        Precision.Fp16 => QuantizationMode.Fp16,
        Precision.Int8Dynamic => QuantizationMode.Int8Dynamic,
        _ => QuantizationMode.Int8Static,
    };

    /// <summary>The engine settings a compile's options ask for (mode Int8Static; callers set another).</summary>
    public static QuantizeOptions EngineOptions(CompileOptions options) => new()
    {
        Calibrator = options.Calibrator,
        Percentile = options.Percentile,
        MovingAverage = options.MovingAverage,
        KeepFp16 = options.KeepFp16,
        KeepFp32 = options.KeepFp32,
        MinCalibrationSamples = options.MinCalibrationSamples,
    };

    /// <summary>Quantizes a copy of <paramref name="model"/> (optimized FP32, left as it is) and reports.</summary>
    public static QuantizeStepResult Run(Model model, CompileOptions options, Action<string>? progress = null)
    {
        var mode = ModeOf(options.Precision);
        byte[] fp32 = OnnxExporter.ToBytes(model);

        var (calibration, heldOut) = CalibrationSplit.Of(options);
        if (mode == QuantizationMode.Int8Static && calibration.Count == 0)
            throw new EdgeBuildException(DiagnosticCodes.NotEnoughCalibrationSamples, "Calibration",
                $"precision {options.Precision} needs calibration images or .npy files (Calibration metadata, --calibration)");
        var data = calibration.Count > 0 && mode == QuantizationMode.Int8Static
            ? new FileCalibrationSource(model, calibration, options.Preprocessing, options.MinCalibrationSamples)
            : null;
        var evaluation = heldOut.Count > 0 ? new FileCalibrationSource(model, heldOut, options.Preprocessing) : null;
        var task = options.Task == TaskKind.Auto ? AccuracyEvaluator.Infer(model) : options.Task;

        var quantizeOptions = EngineOptions(options) with { Mode = mode };
        var quantized = OnnxImporter.Parse(fp32);
        var report = ModelQuantizer.Quantize(quantized, quantizeOptions, data, progress);
        AccuracyReport? accuracy = null;
        if (evaluation is not null)
        {
            progress?.Invoke($"measuring accuracy against FP32 on {evaluation.Count} held-out samples ({task})");
            accuracy = AccuracyEvaluator.Compare(fp32, OnnxExporter.ToBytes(quantized), evaluation, task);
        }

        IReadOnlyList<LayerSensitivity> kept = [];
        int attempts = 1;
        bool budgeted = options.MaxAccuracyLoss is double && (options.Precision == Precision.Mixed || options.Precision == Precision.Int8);
        if (budgeted && data is not null && evaluation is not null && accuracy is not null && accuracy.LossPercent > options.MaxAccuracyLoss!.Value)
        {
            progress?.Invoke($"loss {accuracy.LossPercent:F2} % is over the budget of {options.MaxAccuracyLoss} %: measuring each layer's sensitivity");
            var search = MixedPrecisionSearch.Run(fp32, quantizeOptions, data, evaluation, task, options.MaxAccuracyLoss.Value, progress);
            quantized = search.Model;
            report = search.Report;
            accuracy = search.Accuracy;
            kept = search.KeptInFp32;
            attempts = search.Quantizations;
        }
        if (options.MaxAccuracyLoss is double budget && accuracy is not null && accuracy.LossPercent > budget)
            throw new EdgeBuildException(DiagnosticCodes.AccuracyBudgetExceeded, "MaxAccuracyLoss",
                $"{options.Precision} loses {accuracy.LossPercent:F2} % against FP32 ({accuracy.Metric} {accuracy.Value:G4}), over the budget of {budget} %" +
                (kept.Count > 0 ? $" even with {kept.Count} layer(s) in FP32" : "") +
                $"; least robust layers: {string.Join(", ", report.Layers.Where(l => l.Sqnr is not null).OrderBy(l => l.Sqnr).Take(5).Select(l => FormattableString.Invariant($"{l.Node} {l.Sqnr:F1} dB")))}");
        return new QuantizeStepResult(quantized, report, accuracy, calibration, heldOut, kept, attempts);
    }
}
