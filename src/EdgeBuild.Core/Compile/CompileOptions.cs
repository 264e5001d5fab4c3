using EdgeBuild.Diagnostics;

namespace EdgeBuild.Compile;

/// <summary>Numeric precision of the deployed model (the EdgeModel item's Precision metadata).</summary>
public enum Precision { Fp32, Fp16, Int8, Int8Dynamic, Mixed }

/// <summary>Artifact formats (the EdgeModel item's Targets metadata).</summary>
public enum TargetKind { Onnx, TensorRT, TFLite }

/// <summary>Where the deployed model runs by default (the EdgeModel item's ExecutionProvider metadata).</summary>
public enum ExecutionProviderKind { Cpu, Cuda, TensorRT }

/// <summary>Everything <c>edgebuild compile</c> is told; mirrors the EdgeModel item metadata one to one.</summary>
public sealed record CompileOptions
{
    /// <summary>The generated class's name; null: the model file's name in PascalCase.</summary>
    public string? Name { get; init; }
    public string Namespace { get; init; } = "";
    public Precision Precision { get; init; } = Precision.Fp32;
    public IReadOnlyList<TargetKind> Targets { get; init; } = [TargetKind.Onnx];
    public ExecutionProviderKind ExecutionProvider { get; init; } = ExecutionProviderKind.Cpu;
    public IReadOnlyList<string> Calibration { get; init; } = [];
    public double? LatencyBudgetMs { get; init; }
    public double? MaxAccuracyLoss { get; init; }
    public long? TargetOpset { get; init; }
    /// <summary>Passes to run (null: the whole pipeline).</summary>
    public IReadOnlyList<string>? Passes { get; init; }
    public IReadOnlyList<string> SkipPasses { get; init; } = [];

    /// <summary>Held-out files for the accuracy check (empty: every 4th calibration file is held out).</summary>
    public IReadOnlyList<string> Evaluation { get; init; } = [];
    public Quantization.Calibration.ImagePreprocessing Preprocessing { get; init; } = new();
    public Quantization.CalibratorKind Calibrator { get; init; } = Quantization.CalibratorKind.Percentile;
    public double Percentile { get; init; } = 99.999;

    /// <summary>MinMax calibrator: moving average of each sample's extremes instead of the overall ones.</summary>
    public bool MovingAverage { get; init; }
    /// <summary>Node-name glob patterns kept in FP16 / FP32 when quantizing to INT8.</summary>
    public IReadOnlyList<string> KeepFp16 { get; init; } = [];
    public IReadOnlyList<string> KeepFp32 { get; init; } = [];
    public Measure.TaskKind Task { get; init; } = Measure.TaskKind.Auto;
    public int MinCalibrationSamples { get; init; } = 8;
    /// <summary>Measurement, the budgets besides LatencyBudgetMs, and the baseline (docs/measurement.md).</summary>
    public Measure.MeasureSettings Measurement { get; init; } = new();

    /// <summary>The TensorRT kit's settings (used when Targets has TensorRT).</summary>
    public Targets.TensorRt.TensorRtSettings TensorRt { get; init; } = new();

    /// <summary>Parses an enum value case-insensitively, or throws EB6001 naming the option and the allowed values.</summary>
    public static T ParseEnum<T>(string option, string value) where T : struct, Enum
    {
        if (Enum.TryParse<T>(value.Trim(), ignoreCase: true, out var result) && Enum.IsDefined(result) && !int.TryParse(value, out _))
            return result;
        throw new EdgeBuildException(DiagnosticCodes.InvalidCompileOption, option,
            $"'{value}' is not a valid {option} (valid: {string.Join(", ", Enum.GetNames<T>())})");
    }
}
