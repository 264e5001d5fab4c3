using System.CommandLine;
using EdgeBuild.Compile;
using EdgeBuild.Measure;
using EdgeBuild.Quantization;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Session;

namespace EdgeBuild.Cli;

/// <summary>
/// The quantization and image-preprocessing options shared by <c>compile</c> and <c>quantize</c> (they mirror
/// the EdgeModel metadata of the same names), and their translation into <see cref="CompileOptions"/>.
/// </summary>
internal sealed class QuantizationOptionSet
{
    public Option<string[]> Calibration { get; } = new("--calibration") { Description = "Calibration images or .npy files: files, folders or wildcards, ** for any folders below (\"photos/**/*.jpg\"; repeatable)", AllowMultipleArgumentsPerToken = true };
    public Option<string[]> Evaluation { get; } = new("--eval") { Description = "Held-out images for the accuracy check (default: every 4th calibration file)", AllowMultipleArgumentsPerToken = true };
    public Option<string> Calibrator { get; } = new("--calibrator") { Description = "MinMax, Percentile or Entropy", DefaultValueFactory = _ => "Percentile" };
    public Option<double> Percentile { get; } = new("--percentile") { Description = "Percentile calibrator's percentile", DefaultValueFactory = _ => 99.999 };
    public Option<bool> MovingAverage { get; } = new("--moving-average") { Description = "MinMax calibrator: moving average (constant 0.01) of each sample's extremes" };
    public Option<string?> KeepFp16 { get; } = new("--keep-fp16") { Description = "Node-name patterns (* and ?, ';'-separated) kept in FP16" };
    public Option<string?> KeepFp32 { get; } = new("--keep-fp32") { Description = "Node-name patterns (* and ?, ';'-separated) kept in FP32" };
    public Option<string> Task { get; } = new("--task") { Description = "Auto, Classification, Detection, Regression, Embedding or Generic (the accuracy metric)", DefaultValueFactory = _ => "Auto" };
    public Option<int> MinCalibration { get; } = new("--min-calibration") { Description = "Fewest calibration samples accepted", DefaultValueFactory = _ => 8 };
    public Option<string?> Mean { get; } = new("--mean") { Description = "Per-channel mean subtracted after scaling, e.g. 127.5,127.5,127.5" };
    public Option<string?> Std { get; } = new("--std") { Description = "Per-channel divisor, e.g. 128,128,128" };
    public Option<float> Scale { get; } = new("--scale") { Description = "Factor applied to 0..255 pixels first", DefaultValueFactory = _ => 1f };
    public Option<string> ChannelOrder { get; } = new("--channel-order") { Description = "Rgb, Bgr or Gray", DefaultValueFactory = _ => "Rgb" };
    public Option<string> Resize { get; } = new("--resize") { Description = "Stretch, Letterbox or CenterCrop", DefaultValueFactory = _ => "Stretch" };
    public Option<string> Layout { get; } = new("--layout") { Description = "Auto, Nchw or Nhwc", DefaultValueFactory = _ => "Auto" };
    public Option<double> MinSqnrDb { get; } = new("--min-sqnr-db") { Description = "Lowest output SQNR against FP32 on the held-out samples, in dB", DefaultValueFactory = _ => new OutputFloors().MinSqnrDb };
    public Option<double> MinCosine { get; } = new("--min-cosine") { Description = "Lowest mean output cosine against FP32 on the held-out samples", DefaultValueFactory = _ => new OutputFloors().MinCosine };

    public IEnumerable<Option> All => [Calibration, Evaluation, Calibrator, Percentile, MovingAverage, KeepFp16, KeepFp32, Task, MinCalibration, Mean, Std, Scale, ChannelOrder, Resize, Layout, MinSqnrDb, MinCosine];

    private static double CheckPercentile(double p) => p is > 0 and <= 100 ? p
        : throw new Diagnostics.EdgeBuildException(Diagnostics.DiagnosticCodes.InvalidCompileOption, "Percentile", $"{p} is not a percentile in (0, 100]");

    public static IReadOnlyList<string> Split(string? s) => s is null ? [] : s.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public CompileOptions Apply(CompileOptions options, ParseResult parse) => options with
    {
        Calibration = parse.GetValue(Calibration) ?? [],
        Evaluation = parse.GetValue(Evaluation) ?? [],
        Calibrator = CompileOptions.ParseEnum<CalibratorKind>("Calibrator", parse.GetValue(Calibrator)!),
        Percentile = CheckPercentile(parse.GetValue(Percentile)),
        MovingAverage = parse.GetValue(MovingAverage),
        KeepFp16 = (parse.GetValue(KeepFp16) ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        KeepFp32 = (parse.GetValue(KeepFp32) ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        Task = CompileOptions.ParseEnum<TaskKind>("Task", parse.GetValue(Task)!),
        MinCalibrationSamples = parse.GetValue(MinCalibration),
        OutputFloors = new OutputFloors { MinSqnrDb = parse.GetValue(MinSqnrDb), MinCosine = parse.GetValue(MinCosine) },
        Preprocessing = new ImagePreprocessing
        {
            Mean = parse.GetValue(Mean) is { } m ? ImagePreprocessing.ParseFloats("Mean", m) : [0f],
            Std = parse.GetValue(Std) is { } s ? ImagePreprocessing.ParseFloats("Std", s) : [1f],
            Scale = parse.GetValue(Scale),
            ChannelOrder = CompileOptions.ParseEnum<ChannelOrder>("ChannelOrder", parse.GetValue(ChannelOrder)!),
            Resize = CompileOptions.ParseEnum<ResizePolicy>("Resize", parse.GetValue(Resize)!),
            Layout = CompileOptions.ParseEnum<ImageLayout>("Layout", parse.GetValue(Layout)!),
        },
    };
}
