using System.CommandLine;
using EdgeBuild.Compile;
using EdgeBuild.Diagnostics;
using EdgeBuild.Measure;
using EdgeBuild.Session;

namespace EdgeBuild.Cli;

/// <summary>
/// The measurement options of <c>compile</c> (mirroring the EdgeModel metadata MinFps, MaxMemoryMB, MaxSizeMB and the
/// EdgeBuildMeasure properties) and of <c>bench</c>, and their translation into <see cref="MeasureSettings"/>.
/// </summary>
internal sealed class MeasureOptionSet
{
    public Option<bool> NoMeasure { get; } = new("--no-measure") { Description = "Do not measure the artifacts (no budgets besides MaxAccuracyLoss, no baseline check)" };
    public Option<double?> MinFps { get; } = new("--min-fps") { Description = "Fewest single-stream frames per second" };
    public Option<double?> MaxMemoryMB { get; } = new("--max-memory-mb") { Description = "Most memory the model may need while running, in MB" };
    public Option<double?> MaxSizeMB { get; } = new("--max-size-mb") { Description = "Largest artifact, in MB" };
    public Option<double?> Seconds { get; } = new("--measure-seconds") { Description = "Time cap of the latency phase per artifact (default 6)" };
    public Option<int?> Threads { get; } = new("--threads") { Description = "ONNX Runtime intra-op threads while measuring (default 1)" };
    public Option<int?> BatchSize { get; } = new("--batch-size") { Description = "Requests padded into one batch for the batched throughput (default 8; 0 skips it)" };
    public Option<bool> Remeasure { get; } = new("--remeasure") { Description = "Measure again even when the measurement cache has the artifact" };
    public Option<string?> Cache { get; } = new("--measure-cache") { Description = "Measurement cache folder (default $EDGEBUILD_MEASURE_CACHE or ~/.cache/edgebuild/measurements)" };
    public Option<string?> Baseline { get; } = new("--baseline") { Description = "Baseline file (default: <model>.edgebaseline.json beside the model, when it exists)" };
    public Option<double?> LatencyTolerance { get; } = new("--latency-tolerance") { Description = "Allowed growth of the normalized P99 against the baseline, percent (default 10)" };
    public Option<double?> AccuracyTolerance { get; } = new("--accuracy-tolerance") { Description = "Allowed accuracy drop against the baseline, points (default 0.2)" };
    public Option<double?> SizeTolerance { get; } = new("--size-tolerance") { Description = "Allowed size growth against the baseline, percent (default 1)" };
    public Option<bool> UpdateBaseline { get; } = new("--update-baseline") { Description = "Write the baseline from this compile's measurement instead of comparing (what 'edgebuild baseline update' does)" };

    public Option<string?> Device { get; } = new("--device") { Description = "Measure on this device (edgebuild device add; docs/devices.md): budgets are judged there; several names separated by ',' or ';' are measured in parallel, each judged" };
    public Option<string?> Runner { get; } = DeviceCommands.RunnerOption();

    public IEnumerable<Option> All => [NoMeasure, MinFps, MaxMemoryMB, MaxSizeMB, Seconds, Threads, BatchSize, Remeasure, Cache, Baseline, LatencyTolerance, AccuracyTolerance, SizeTolerance, UpdateBaseline, Device, Runner];

    /// <summary>The bench options from the command line (shared by compile and bench).</summary>
    public BenchOptions Bench(ParseResult parse)
    {
        var b = new BenchOptions();
        if (parse.GetValue(Seconds) is double s) b = b with { TimeCapSeconds = Positive("--measure-seconds", s) };
        if (parse.GetValue(Threads) is int t) b = b with { Threads = (int)Positive("--threads", t) };
        if (parse.GetValue(BatchSize) is int n) b = b with { BatchSize = n >= 0 ? n : throw Invalid("--batch-size", $"{n} is not a batch size (0 skips batching)") };
        return b;
    }

    public CompileOptions Apply(CompileOptions options, ParseResult parse)
    {
        if (parse.GetValue(NoMeasure) && parse.GetValue(UpdateBaseline))
            throw Invalid("--update-baseline", "a baseline is a measurement; it cannot be written with --no-measure");
        return options with
        {
            Measurement = new MeasureSettings
            {
                Enabled = !parse.GetValue(NoMeasure),
                MinFps = Budget("MinFps", parse.GetValue(MinFps)),
                MaxMemoryMB = Budget("MaxMemoryMB", parse.GetValue(MaxMemoryMB)),
                MaxSizeMB = Budget("MaxSizeMB", parse.GetValue(MaxSizeMB)),
                Bench = Bench(parse),
                Devices = DeviceNames(parse.GetValue(Device))
                    .Select(name => new Devices.DeviceMeasurer(Devices.DeviceStore.ForUser().Get(name), DeviceCommands.RunnerSource(parse.GetValue(Runner))))
                    .ToList<Measure.IMeasuringDevice>(),
                Remeasure = parse.GetValue(Remeasure),
                CacheDirectory = parse.GetValue(Cache),
                BaselinePath = parse.GetValue(Baseline),
                LatencyTolerancePercent = Tolerance("--latency-tolerance", parse.GetValue(LatencyTolerance)),
                AccuracyTolerancePoints = Tolerance("--accuracy-tolerance", parse.GetValue(AccuracyTolerance)),
                SizeTolerancePercent = Tolerance("--size-tolerance", parse.GetValue(SizeTolerance)),
                UpdateBaseline = parse.GetValue(UpdateBaseline),
            },
        };
    }

    /// <summary>The names of <c>--device a,b</c> (or <c>a;b</c>, as MSBuild's Device="a;b" metadata arrives), each once, in order.</summary>
    private static IEnumerable<string> DeviceNames(string? value) =>
        (value ?? "").Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal);

    private static double? Budget(string name, double? value) =>
        value is null or (> 0 and < double.PositiveInfinity) ? value : throw Invalid(name, $"{value} is not a positive number");

    private static double? Tolerance(string name, double? value) =>
        value is null or (>= 0 and < double.PositiveInfinity) ? value : throw Invalid(name, $"{value} is not a tolerance >= 0");

    private static double Positive(string name, double value) =>
        value is > 0 and < double.PositiveInfinity ? value : throw Invalid(name, $"{value} is not a positive number");

    private static EdgeBuildException Invalid(string option, string message) => new(DiagnosticCodes.InvalidCompileOption, option, message);
}
