using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using EdgeBuild.Runtime.Updates;

namespace EdgeBuild.Runtime;

/// <summary>
/// The runtime's instruments on the meter <c>EdgeBuild.Runtime</c> (docs/lifecycle.md): readable with dotnet-counters
/// and OpenTelemetry. Every measurement carries <c>edgebuild.model.name</c> and <c>edgebuild.model.version</c>.
/// </summary>
public static class EdgeRuntimeMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "EdgeBuild.Runtime";

    private static readonly Meter Meter = new(MeterName, typeof(EdgeRuntimeMetrics).Assembly.GetName().Version?.ToString(3));

    /// <summary>
    /// Bucket boundaries in seconds, 100 µs to 10 s: edge models run in about 0.1 to 100 ms, where the default
    /// OpenTelemetry boundaries (0, 5, 10, 25 ... in whatever unit) would put every run in one bucket.
    /// </summary>
    public static IReadOnlyList<double> DurationBuckets { get; } =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary><c>edgebuild.inference.duration</c> (s): the time of each successful run inside ONNX Runtime.</summary>
    public static Histogram<double> Duration { get; } = Meter.CreateHistogram<double>("edgebuild.inference.duration", "s",
        "Duration of model runs inside ONNX Runtime", tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    /// <summary><c>edgebuild.inference.count</c>: successful runs.</summary>
    public static Counter<long> Count { get; } = Meter.CreateCounter<long>("edgebuild.inference.count", "{run}", "Successful model runs");

    /// <summary><c>edgebuild.inference.errors</c>: runs ONNX Runtime failed.</summary>
    public static Counter<long> Errors { get; } = Meter.CreateCounter<long>("edgebuild.inference.errors", "{run}", "Model runs that threw");

    /// <summary>
    /// <c>edgebuild.shadow.runs</c>: shadow runs by outcome (<c>edgebuild.shadow.outcome</c>: agree, disagree, error), tagged with
    /// the candidate's version (<c>edgebuild.shadow.version</c>). The agreement rate is agree / all.
    /// </summary>
    public static Counter<long> ShadowRuns { get; } = Meter.CreateCounter<long>("edgebuild.shadow.runs", "{run}", "Shadow runs of a candidate version, by agreement with the live one");

    /// <summary><c>edgebuild.model.updates</c>: update checks by outcome (<c>edgebuild.update.outcome</c>: installed, unchanged, refused, failed, rolled_back).</summary>
    public static Counter<long> Updates { get; } = Meter.CreateCounter<long>("edgebuild.model.updates", "{check}", "Update checks and rollbacks, by outcome");

    private static readonly ConcurrentDictionary<ModelUpdater, byte> Updaters = new();

    internal static void Track(ModelUpdater updater) => Updaters.TryAdd(updater, 0);

    internal static void Untrack(ModelUpdater updater) => Updaters.TryRemove(updater, out _);

    /// <summary>
    /// <c>edgebuild.output.psi</c>: each float output's population stability index against the statistics its package recorded
    /// on held-out data, over the recent window (tag <c>edgebuild.output.name</c>). Observed when read, never on Run.
    /// </summary>
    public static ObservableGauge<double> OutputPsi { get; } = Meter.CreateObservableGauge("edgebuild.output.psi", () => Readings(r => r.Psi), "1",
        "Population stability index of a model output against its package's held-out statistics");

    /// <summary><c>edgebuild.output.mean</c>: each float output's mean over the recent window (output units).</summary>
    public static ObservableGauge<double> OutputMean { get; } = Meter.CreateObservableGauge("edgebuild.output.mean", () => Readings(r => r.Mean), null,
        "Mean of a model output's values over the recent runs");

    /// <summary><c>edgebuild.output.std</c>: each float output's standard deviation over the recent window (output units).</summary>
    public static ObservableGauge<double> OutputStd { get; } = Meter.CreateObservableGauge("edgebuild.output.std", () => Readings(r => r.Std), null,
        "Standard deviation of a model output's values over the recent runs");

    private static IEnumerable<Measurement<double>> Readings(Func<OutputDriftReading, double> value)
    {
        foreach (var updater in Updaters.Keys)
        {
            var active = updater.Current;
            if (active.Drift is not { } drift) continue;
            foreach (var r in drift.Read())
                yield return new Measurement<double>(value(r), new KeyValuePair<string, object?>("edgebuild.model.name", active.Description.Name),
                    new KeyValuePair<string, object?>("edgebuild.model.version", active.Version), new KeyValuePair<string, object?>("edgebuild.output.name", r.Output));
        }
    }
}
