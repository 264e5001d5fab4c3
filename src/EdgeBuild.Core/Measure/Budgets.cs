using System.Globalization;
using EdgeBuild.Diagnostics;

namespace EdgeBuild.Measure;

/// <summary>Error or warning.</summary>
public enum FindingSeverity { Warning, Error }

/// <summary>One budget or baseline outcome: printed as <c>error|warning EBnnnn: subject: message. help</c>.</summary>
public sealed record Finding(FindingSeverity Severity, DiagnosticDescriptor Descriptor, string Subject, string Message)
{
    /// <summary>The line a user sees (the same shape as <see cref="EdgeBuildException.Format"/>).</summary>
    public string Format() => $"{(Severity == FindingSeverity.Error ? "error" : "warning")} {Descriptor.Code}: {Subject}: {Message}. {Descriptor.Help}";
}

/// <summary>A budget set on the item, with what was measured against it.</summary>
public sealed record BudgetOutcome(string Artifact, string Budget, double Limit, string Unit, double? Measured, double? Low, double? High, string Status);

/// <summary>
/// The budget rules (docs/measurement.md). Noise decides the shape: a budget fails only when the whole 95 % interval
/// is on the wrong side of it (so a noisy run does not fail a build whose true P99 fits); when the interval contains
/// the budget, or the value is within 10 % of it, the build warns (EB5006).
/// </summary>
public static class Budgets
{
    /// <summary>Fraction of a budget inside which a passing value still warns.</summary>
    public const double Margin = 0.10;

    /// <summary>
    /// Checks every budget of one measured artifact; <paramref name="hint"/> (may be null) is appended to latency and fps
    /// errors.
    /// </summary>
    public static (List<Finding> Findings, List<BudgetOutcome> Outcomes) Check(string subject, BenchResult r, double? latencyBudgetMs, double? minFps,
        double? maxMemoryMB, double? maxSizeMB, string? hint)
    {
        var findings = new List<Finding>();
        var outcomes = new List<BudgetOutcome>();
        string context = r.Conditions;
        string tryText = hint is null ? "" : $"; {hint}";

        if (latencyBudgetMs is double budget)
        {
            var p = r.GateP99Ms;
            string wall = r.CpuP99Ms is null ? "" : Invariant($"; wall-clock P99 {r.P99Ms.Value:F3} ms with other processes' load");
            string measured = Invariant($"P99 {p.Value:F3} ms [95 % CI {p.Low:F3}, {p.High:F3}] ({r.GateClock}{wall}; {context})");
            string status = Upper(findings, subject, DiagnosticCodes.LatencyBudgetExceeded, p.Value, p.Low, p.High, budget,
                Invariant($"{measured} is above LatencyBudgetMs={budget:G}{tryText}"),
                Invariant($"{measured} against LatencyBudgetMs={budget:G}"));
            outcomes.Add(new BudgetOutcome(r.Artifact, "LatencyBudgetMs", budget, "ms", p.Value, p.Low, p.High, status));
        }
        if (minFps is double fps)
        {
            var f = r.Fps;
            string measured = Invariant($"{f.Value:F1} fps single-stream [95 % CI {f.Low:F1}, {f.High:F1}] ({context})");
            string status;
            if (f.High < fps)
            {
                findings.Add(new Finding(FindingSeverity.Error, DiagnosticCodes.FpsBudgetNotMet, subject, Invariant($"{measured} is below MinFps={fps:G}{tryText}")));
                status = "fail";
            }
            else if (f.Low < fps || f.Value < fps * (1 + Margin))
            {
                findings.Add(new Finding(FindingSeverity.Warning, DiagnosticCodes.NearBudget, subject, Invariant($"{measured} against MinFps={fps:G}")));
                status = "near";
            }
            else status = "pass";
            outcomes.Add(new BudgetOutcome(r.Artifact, "MinFps", fps, "fps", f.Value, f.Low, f.High, status));
        }
        if (maxMemoryMB is double memory)
        {
            double m = r.Memory.ModelMB;
            string status = Upper(findings, subject, DiagnosticCodes.MemoryBudgetExceeded, m, m, m, memory,
                Invariant($"the model needs {m:F1} MB while running ({r.Memory.Method}; process peak {r.Memory.PeakRssMB:F1} MB), above MaxMemoryMB={memory:G}"),
                Invariant($"the model needs {m:F1} MB while running, against MaxMemoryMB={memory:G}"));
            outcomes.Add(new BudgetOutcome(r.Artifact, "MaxMemoryMB", memory, "MB", m, null, null, status));
        }
        if (maxSizeMB is double size)
        {
            double mb = r.Bytes / 1048576.0;
            string status = Upper(findings, subject, DiagnosticCodes.SizeBudgetExceeded, mb, mb, mb, size,
                Invariant($"{r.Artifact} is {mb:F3} MB ({r.Bytes} bytes), above MaxSizeMB={size:G}"),
                Invariant($"{r.Artifact} is {mb:F3} MB against MaxSizeMB={size:G}"));
            outcomes.Add(new BudgetOutcome(r.Artifact, "MaxSizeMB", size, "MB", mb, null, null, status));
        }
        return (findings, outcomes);
    }

    /// <summary>An upper bound: error when even the interval's low end is above it; warning when the interval contains it or the value is within the margin.</summary>
    private static string Upper(List<Finding> findings, string subject, DiagnosticDescriptor error, double value, double low, double high, double budget,
        string errorText, string nearText)
    {
        if (low > budget)
        {
            findings.Add(new Finding(FindingSeverity.Error, error, subject, errorText));
            return "fail";
        }
        if (high > budget || value > budget * (1 - Margin))
        {
            findings.Add(new Finding(FindingSeverity.Warning, DiagnosticCodes.NearBudget, subject,
                value > budget ? nearText + " is above it, but its 95 % interval reaches below it" : nearText + " is within 10 % of it"));
            return "near";
        }
        return "pass";
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
