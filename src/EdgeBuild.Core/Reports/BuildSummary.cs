using System.Globalization;
using EdgeBuild.Compile;
using EdgeBuild.Session;

namespace EdgeBuild.Reports;

/// <summary>
/// The one line per model a build prints at normal verbosity: the precision deployed (and what Auto chose), nodes, each
/// artifact's size, the gated P99 with its interval and what it measured, the accuracy loss with its interval and
/// verdict, and every budget's outcome. Details stay in report.md and at -v:d.
/// </summary>
public static class BuildSummary
{
    /// <summary>The prefix that marks the line in the compiler's output; the MSBuild task shows it at high importance.</summary>
    public const string Prefix = "summary: ";

    public static string Line(ModelManifest m)
    {
        var inv = CultureInfo.InvariantCulture;
        var parts = new List<string>();
        var q = m.Quantization;
        string precision = m.Options.Precision == Precision.Auto && q is not null ? $"Auto chose {q.Chosen}" : m.Options.Precision.ToString();
        if (q?.Share is { } share && m.Options.Precision != Precision.Fp32)
        {
            int total = share.Layers.Values.Sum();
            precision += string.Create(inv, $" ({share.Layers.GetValueOrDefault("Int8")}/{total} layers INT8)");
        }
        if (q?.Report.RangeKeptFp32.Count is int ranged and > 0)
            precision += string.Create(inv, $", {ranged} node(s) FP32 by the FP16 range rule");
        parts.Add(precision);
        parts.Add(string.Create(inv, $"{m.NodesAfter} nodes"));
        parts.Add(string.Join(", ", m.Artifacts.Select(a => $"{a.Path} {Size(a.Bytes)}")));
        if (m.Measurement is { } measured)
        {
            foreach (var a in measured.Artifacts)
            {
                if (a.Result is { } r)
                    parts.Add(string.Create(inv, $"{a.Path}{(a.Device is null ? "" : " on " + a.Device)} P99 {r.GateP99Ms.Value:F3} ms [{r.GateP99Ms.Low:F3}, {r.GateP99Ms.High:F3}] ({r.GateClock}; {r.Conditions})"));
            }
            parts.Add(measured.Budgets.Count == 0
                ? "no latency, fps, memory or size budget"
                : "budgets: " + string.Join(", ", measured.Budgets.Select(b => string.Create(inv, $"{b.Budget}={b.Limit:G} {b.Status}"))));
        }
        else parts.Add("not measured");
        if (q?.Accuracy is { } accuracy && !(q.Auto is { Choice: "Fp32" }))
        {
            string verdict = q.Judgement is { } j ? j.Verdict.ToString().ToLowerInvariant() : "not judged";
            string budget = m.Options.MaxAccuracyLoss is double b ? string.Create(inv, $", MaxAccuracyLoss {b:G}") : "";
            parts.Add(string.Create(inv, $"loss {accuracy.LossPercent:F2} % [{accuracy.Loss.Low:F2}, {accuracy.Loss.High:F2}] on {accuracy.Samples} held-out ({verdict}{budget})"));
        }
        return $"{m.Name}: {string.Join("; ", parts)}";
    }

    private static string Size(long bytes) => bytes >= 1 << 20
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:F1} MiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KiB");
}
