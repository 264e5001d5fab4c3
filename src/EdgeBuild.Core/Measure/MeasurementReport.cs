namespace EdgeBuild.Measure;

/// <summary>One artifact's measurement in a compile: the figures, or why there are none on this machine.</summary>
public sealed record ArtifactMeasurement(string Path, string Target, string Precision, string Key, BenchResult? Result, string? Unavailable, double? AccuracyLossPercent);

/// <summary>The baseline part of a compile's measurement: which file, what was compared, and the outcome.</summary>
public sealed record BaselineSummary(string File, string MachineId, bool SameMachine, bool SameModel, RegressionTolerances Tolerances,
    IReadOnlyList<BaselineComparison> Rows, IReadOnlyList<BaselineHistoryEntry> History);

/// <summary>What the measurement step of a compile found (written into the manifest's metrics and the reports).</summary>
public sealed record MeasurementReport(
    MachineFingerprint Machine,
    BenchOptions Options,
    IReadOnlyList<ArtifactMeasurement> Artifacts,
    IReadOnlyList<BudgetOutcome> Budgets,
    BaselineSummary? Baseline,
    IReadOnlyList<Finding> Findings)
{
    /// <summary>The baseline file this compile wrote (<c>baseline update</c>), or null.</summary>
    public string? BaselineWritten { get; init; }

    /// <summary>
    /// The manifest's metrics: machine, threads, and per artifact the measured figures (or why none), then the budget
    /// outcomes. Only cached-or-measured values go in, so a cache hit writes the same bytes.
    /// </summary>
    public void WriteMetrics(System.Text.Json.Utf8JsonWriter w)
    {
        w.WritePropertyName("machine");
        System.Text.Json.JsonSerializer.Serialize(w, Machine, MeasureJson.Options);
        w.WriteNumber("threads", Options.Threads);
        w.WriteString("referenceWorkload", ReferenceWorkload.Name);
        w.WriteStartArray("artifacts");
        foreach (var a in Artifacts)
        {
            w.WriteStartObject();
            w.WriteString("path", a.Path);
            w.WriteString("target", a.Target);
            w.WriteString("precision", a.Precision);
            w.WriteString("key", a.Key);
            if (a.Result is { } r)
            {
                w.WriteBoolean("measured", true);
                w.WriteNumber("bytes", r.Bytes);
                w.WriteNumber("sessionLoadMs", Math.Round(r.SessionLoadMs, 3));
                w.WriteNumber("runs", r.Runs);
                w.WriteString("stopReason", r.StopReason);
                Estimate(w, "p50Ms", r.P50Ms);
                Estimate(w, "p90Ms", r.P90Ms);
                Estimate(w, "p99Ms", r.P99Ms);
                w.WriteNumber("maxMs", Math.Round(r.MaxMs, 4));
                Estimate(w, "fps", r.Fps);
                if (r.Batched.ItemsPerSecond is double ips) w.WriteNumber("batchedItemsPerSecond", Math.Round(ips, 2));
                else w.WriteNull("batchedItemsPerSecond");
                w.WriteNumber("batchSize", r.Batched.BatchSize);
                w.WriteNumber("memoryMB", Math.Round(r.Memory.ModelMB, 2));
                w.WriteNumber("peakRssMB", Math.Round(r.Memory.PeakRssMB, 2));
                if (r.Memory.Arena is { } arena)
                {
                    w.WriteNumber("arenaMB", Math.Round(arena.AllocatedMB, 3));
                    w.WriteNumber("arenaMaxInUseMB", Math.Round(arena.MaxInUseMB, 3));
                }
                if (r.NormalizedP50 is { } n50) Estimate(w, "normalizedP50", n50);
                if (r.NormalizedP99 is { } n99) Estimate(w, "normalizedP99", n99);
            }
            else
            {
                w.WriteBoolean("measured", false);
                w.WriteString("unavailable", a.Unavailable);
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("budgets");
        foreach (var b in Budgets)
        {
            w.WriteStartObject();
            w.WriteString("artifact", b.Artifact);
            w.WriteString("budget", b.Budget);
            w.WriteNumber("limit", b.Limit);
            if (b.Measured is double v) w.WriteNumber("measured", Math.Round(v, 4));
            w.WriteString("status", b.Status);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void Estimate(System.Text.Json.Utf8JsonWriter w, string name, Estimate e)
    {
        w.WriteStartObject(name);
        w.WriteNumber("value", Math.Round(e.Value, 4));
        w.WriteNumber("low", Math.Round(e.Low, 4));
        w.WriteNumber("high", Math.Round(e.High, 4));
        w.WriteEndObject();
    }
}
