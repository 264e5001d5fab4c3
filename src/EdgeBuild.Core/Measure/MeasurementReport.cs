namespace EdgeBuild.Measure;

/// <summary>One artifact's measurement in a compile: the figures, or why there are none on this machine.</summary>
public sealed record ArtifactMeasurement(string Path, string Target, string Precision, string Key, BenchResult? Result, string? Unavailable, double? AccuracyLossPercent)
{
    /// <summary>The device it was measured on (<see cref="IMeasuringDevice.Description"/>); null: this machine.</summary>
    public string? Device { get; init; }
}

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
}
