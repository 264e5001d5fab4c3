namespace EdgeBuild.Measure;

/// <summary>How much worse than the baseline a metric may get before the build fails (docs/measurement.md).</summary>
public sealed record RegressionTolerances
{
    /// <summary>Allowed growth of the normalized P99, in percent.</summary>
    public double LatencyPercent { get; init; } = 10;

    /// <summary>
    /// The smallest P99 growth reported, in reference units (one run of the reference workload): the tail of a model that
    /// runs for tens of microseconds moves by that much with cache and interrupt noise alone.
    /// </summary>
    public double LatencyFloorUnits { get; init; } = 1;

    /// <summary>Allowed drop of the accuracy metric, in percentage points.</summary>
    public double AccuracyPoints { get; init; } = 0.2;

    /// <summary>Allowed growth of the artifact's size, in percent.</summary>
    public double SizePercent { get; init; } = 1;
}

/// <summary>The measurement part of a compile: on or off, budgets besides LatencyBudgetMs, cache, baseline.</summary>
public sealed record MeasureSettings
{
    /// <summary>False: no measurement, no budget or baseline check (EdgeBuildMeasure=false, --no-measure).</summary>
    public bool Enabled { get; init; } = true;
    public double? MinFps { get; init; }
    public double? MaxMemoryMB { get; init; }
    public double? MaxSizeMB { get; init; }
    public BenchOptions Bench { get; init; } = new();

    /// <summary>
    /// Measure there instead of on this machine (<c>--device</c>, docs/devices.md); empty: here. Several devices are
    /// measured in parallel, each judged against the budgets; the first is the baseline's machine.
    /// </summary>
    public IReadOnlyList<IMeasuringDevice> Devices { get; init; } = [];

    /// <summary>Where measurements are cached; null: <see cref="MeasurementCache.DefaultDirectory"/>.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Measure again even when the cache has this artifact (the cache is refreshed).</summary>
    public bool Remeasure { get; init; }

    /// <summary>The baseline file; null: <c>&lt;model&gt;.edgebaseline.json</c> beside the model when it exists.</summary>
    public string? BaselinePath { get; init; }

    /// <summary>Write the baseline from this measurement (<c>edgebuild baseline update</c>) instead of comparing with it.</summary>
    public bool UpdateBaseline { get; init; }

    /// <summary>Overrides of the baseline file's tolerances (null fields keep the file's, then the defaults).</summary>
    public double? LatencyTolerancePercent { get; init; }
    public double? AccuracyTolerancePoints { get; init; }
    public double? SizeTolerancePercent { get; init; }
}
