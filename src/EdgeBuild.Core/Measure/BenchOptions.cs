namespace EdgeBuild.Measure;

/// <summary>How one artifact is measured (docs/measurement.md). The defaults keep a build's measurement under 15 s per model.</summary>
public sealed record BenchOptions
{
    /// <summary>ONNX Runtime intra-op threads, fixed so figures compare across runs (1: the least noisy on shared machines).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>The latency phase stops here even when the P99 interval is still wide (the result says "time cap").</summary>
    public double TimeCapSeconds { get; init; } = 6;

    /// <summary>The latency phase stops early once the P99's 95 % interval is within this fraction of it (0.05: ±5 %).</summary>
    public double TargetRelativeHalfWidth { get; init; } = 0.05;

    /// <summary>The latency phase also stops once the P99's interval is narrower than this many milliseconds either side (10 µs precision is plenty for a budget in milliseconds).</summary>
    public double TargetAbsoluteHalfWidthMs { get; init; } = 0.01;

    /// <summary>Fewest timed runs before the stop rule is asked (1000: at least ten runs lie above the P99).</summary>
    public int MinRuns { get; init; } = 1000;

    /// <summary>Warm-up before timing: at least 2 runs and this long (or 500 runs, whichever comes first).</summary>
    public double WarmupSeconds { get; init; } = 0.3;

    /// <summary>Requests padded into one batch for the batched-throughput figure (the article's batching); 0 or 1 skips it.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>How long the batched-throughput phase runs.</summary>
    public double BatchSeconds { get; init; } = 0.5;

    /// <summary>Interleave the fixed reference workload (normalized figures); off only in tests of the mechanics.</summary>
    public bool Reference { get; init; } = true;

    /// <summary>Seconds of model runs per interleaving block; the reference gets a quarter of that after each block.</summary>
    public double BlockSeconds { get; init; } = 0.05;

    /// <summary>The options as a stable string: part of the measurement cache key.</summary>
    public string CacheKey() => FormattableString.Invariant(
        $"threads={Threads};cap={TimeCapSeconds};hw={TargetRelativeHalfWidth};abs={TargetAbsoluteHalfWidthMs};min={MinRuns};warm={WarmupSeconds};batch={BatchSize};bs={BatchSeconds};ref={Reference};block={BlockSeconds}");
}
