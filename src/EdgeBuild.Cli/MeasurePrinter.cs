using System.Globalization;
using EdgeBuild.Measure;
using EdgeBuild.Reports;

namespace EdgeBuild.Cli;

/// <summary>The lines a compile prints about its measurement: one per artifact, the report, and a written baseline.</summary>
internal static class MeasurePrinter
{
    public static void Print(MeasurementReport m, string outputDirectory, TextWriter o)
    {
        foreach (var a in m.Artifacts)
        {
            if (a.Result is not { } r)
            {
                o.WriteLine($"  {a.Path}: not measured on this machine ({a.Unavailable})");
                continue;
            }
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {a.Path}{(a.MeasuredInputs is { } inputs ? $" at input {inputs}" : "")}: P50 {r.P50Ms.Value:F3} ms, P99 {r.GateP99Ms.Format(" ms")} ({r.GateClock}; wall-clock {r.P99Ms.Value:F3} ms), {r.Fps.Value:F1} fps, {r.Memory.ModelMB:F1} MB, {r.Runs} runs on {r.Threads} thread(s){(r.NormalizedP99 is { } n ? $", normalized P99 {n.Value:F3}" : "")}"));
        }
        o.WriteLine($"  report: {Path.GetFullPath(Path.Combine(outputDirectory, ModelReport.HtmlName))}");
        if (m.BaselineWritten is { } baseline) o.WriteLine($"baseline written: {baseline} (commit it next to the model)");
    }
}
