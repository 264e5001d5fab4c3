using EdgeBuild.Diagnostics;
using EdgeBuild.Quantization;

namespace EdgeBuild.Session;

/// <summary>
/// Numeric precision of the deployed model (the EdgeModel item's Precision metadata). Auto chooses per layer between
/// INT8 and FP32 by measured latency under MaxAccuracyLoss (default 1 %), never slower than FP32.
/// </summary>
public enum Precision { Fp32, Fp16, Int8, Int8Dynamic, Mixed, Auto }

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
    /// <summary>Output SQNR and cosine floors against FP32 that every quantized artifact is held to (MinSqnrDb, MinCosine).</summary>
    public OutputFloors OutputFloors { get; init; } = new();
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
    public TaskKind Task { get; init; } = TaskKind.Auto;
    public int MinCalibrationSamples { get; init; } = 8;
    /// <summary>Measurement, the budgets besides LatencyBudgetMs, and the baseline (docs/measurement.md).</summary>
    public Measure.MeasureSettings Measurement { get; init; } = new();

    /// <summary>The TensorRT kit's settings (used when Targets has TensorRT).</summary>
    public TensorRtSettings TensorRt { get; init; } = new();

    /// <summary>Fixed shapes for inputs with dynamic dims (--shape NAME=1,3,480,640), applied before optimization.</summary>
    public IReadOnlyDictionary<string, long[]> Shapes { get; init; } = new Dictionary<string, long[]>();

    /// <summary>TFLite target: rank-4 inputs and outputs in NHWC (default) or as in the ONNX model (NCHW, one TRANSPOSE at each).</summary>
    public TfliteIoLayout TfliteLayout { get; init; } = TfliteIoLayout.Nhwc;

    /// <summary>TFLite target at Int8: int8 model inputs and outputs instead of float ones.</summary>
    public bool TfliteInt8Io { get; init; }

    /// <summary>Parses "NAME=1,3,480,640" entries (';'-separated, or one per element) into <see cref="Shapes"/> (EB4105 when malformed).</summary>
    public static IReadOnlyDictionary<string, long[]> ParseShapes(IEnumerable<string> entries)
    {
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var entry in entries.SelectMany(e => e.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            int eq = entry.LastIndexOf('=');
            long[]? dims = null;
            if (eq > 0)
            {
                var parts = entry[(eq + 1)..].Split([',', 'x'], StringSplitOptions.TrimEntries);
                if (parts.All(p => long.TryParse(p, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long d) && d > 0))
                    dims = parts.Select(p => long.Parse(p, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            }
            if (dims is null)
                throw new EdgeBuildException(DiagnosticCodes.InvalidShapeOption, "Shapes", $"'{entry}' is not NAME=D1,D2,... with positive dims (e.g. x=1,3,480,640)");
            shapes[entry[..eq].Trim()] = dims;
        }
        return shapes;
    }

    /// <summary>Parses an enum value case-insensitively, or throws EB6001 naming the option and the allowed values.</summary>
    public static T ParseEnum<T>(string option, string value) where T : struct, Enum
    {
        if (Enum.TryParse<T>(value.Trim(), ignoreCase: true, out var result) && Enum.IsDefined(result) && !int.TryParse(value, out _))
            return result;
        throw new EdgeBuildException(DiagnosticCodes.InvalidCompileOption, option,
            $"'{value}' is not a valid {option} (valid: {string.Join(", ", Enum.GetNames<T>())})");
    }
}
