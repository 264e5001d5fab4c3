using System.Globalization;
using System.Net;
using System.Text;
using EdgeBuild.Measure;

namespace EdgeBuild.Reports;

/// <summary>
/// report.html: one self-contained page (inline CSS, inline SVG plots, one small inline script that sorts tables),
/// with no network access, so it opens from a CI artifact or an email attachment.
/// </summary>
public static class HtmlReport
{
    private static readonly string[] Palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

    public static string Render(ModelReportData d)
    {
        var s = new StringBuilder();
        s.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>EdgeBuild report: ").Append(E(d.Name)).Append("</title>\n<style>\n")
         .Append("body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}table{border-collapse:collapse;margin:8px 0 16px}")
         .Append("th,td{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}th{background:#f3f3f3;cursor:pointer}td:first-child,th:first-child{text-align:left}")
         .Append(".pass{background:#dff5df}.near,.warn{background:#fff3cd}.fail,.error{background:#f8d7da}.warning{background:#fff3cd}.badge{padding:2px 10px;border-radius:4px;font-weight:bold}")
         .Append("svg{background:#fff;border:1px solid #ddd;margin:4px 8px 16px 0}.note{color:#666;font-size:12px}code{background:#f5f5f5;padding:1px 4px}\n</style></head>\n<body>\n");
        s.Append(Inv($"<h1>{E(d.Name)} <span class=\"badge {d.Status}\">{d.Status.ToUpperInvariant()}</span></h1>\n"));
        s.Append(Inv($"<p><code>{E(d.SourceFile)}</code> ({ModelReport.Bytes(d.SourceBytes)}, sha256 {E(d.SourceSha256[..Math.Min(12, d.SourceSha256.Length)])}…), precision {E(d.Precision)}, targets {E(string.Join(", ", d.Targets))}, execution provider {E(d.ExecutionProvider)}; {d.Macs:N0} MACs.</p>\n"));
        s.Append(Inv($"<p class=\"note\">Measured on {E(d.Machine.Describe())} (machine {E(d.Machine.Id)}); {d.Bench.Threads} ONNX Runtime thread(s); warm-up, then runs until the P99's 95 % interval is within ±{d.Bench.TargetRelativeHalfWidth * 100:G} % or {d.Bench.TimeCapSeconds:G} s; reference workload <code>{E(d.ReferenceWorkload)}</code> interleaved.</p>\n"));

        if (d.Findings.Count > 0)
        {
            s.Append("<h2>Findings</h2>\n<table id=\"findings\"><tr><th>severity</th><th>code</th><th>subject</th><th>message</th></tr>\n");
            foreach (var f in d.Findings)
                s.Append(Inv($"<tr class=\"{f.Severity}\"><td>{f.Severity}</td><td>{f.Code}</td><td>{E(f.Subject)}</td><td style=\"text-align:left\">{E(f.Message)}</td></tr>\n"));
            s.Append("</table>\n");
        }

        if (d.Accuracy is { } accuracy)
        {
            s.Append(Inv($"<h2>Accuracy against FP32 <span class=\"badge {(accuracy.Verdict == "met" ? "pass" : accuracy.Verdict == "missed" ? "fail" : "warn")}\">{E(accuracy.Verdict)}</span></h2>\n<ul>\n"));
            foreach (var line in ModelReport.AccuracyLines(accuracy)) s.Append("<li>").Append(E(line)).Append("</li>\n");
            s.Append("</ul>\n<p class=\"note\">Met: the whole 95 % interval is on the good side of the limit; unproven: it contains the limit; missed: it is wholly on the wrong side. Top-1 agreement uses the Wilson score interval, the other figures a seeded bootstrap over the held-out samples.</p>\n");
        }
        if (d.RangeKeptFp32.Count > 0)
        {
            s.Append(Inv($"<h2>Kept in FP32 by the FP16 range rule ({d.RangeKeptFp32.Count})</h2>\n<table id=\"range\"><tr><th>node</th><th>op</th><th>why</th></tr>\n"));
            foreach (var f in d.RangeKeptFp32) s.Append("<tr><td>").Append(E(f.Node)).Append("</td><td>").Append(E(f.OpType)).Append("</td><td style=\"text-align:left\">").Append(E(f.Reason)).Append("</td></tr>\n");
            s.Append("</table>\n");
        }

        s.Append("<h2>Budgets</h2>\n");
        if (d.Budgets.Count == 0) s.Append("<p class=\"note\">No budgets set (LatencyBudgetMs, MinFps, MaxMemoryMB, MaxSizeMB).</p>\n");
        else
        {
            s.Append("<table id=\"budgets\"><tr><th>budget</th><th>artifact</th><th>limit</th><th>measured</th><th>95 % CI</th><th>status</th></tr>\n");
            foreach (var b in d.Budgets)
                s.Append(Inv($"<tr class=\"{b.Status}\"><td>{b.Budget}</td><td>{E(b.Artifact)}</td><td>{b.Limit:G} {b.Unit}</td><td>{b.Measured:F3} {b.Unit}</td><td>{(b.Low is double lo ? Inv($"{lo:F3} – {b.High:F3}") : "exact")}</td><td>{b.Status}</td></tr>\n"));
            s.Append("</table>\n");
        }

        s.Append("<h2>Artifacts</h2>\n<table id=\"artifacts\"><tr><th>artifact</th><th>size</th><th>P50 ms wall</th><th>P90 ms wall</th><th>P99 ms wall [95 % CI]</th><th>P99 ms CPU time [95 % CI]</th><th>max ms</th><th>fps</th><th>batched items/s</th><th>load ms</th><th>memory MB</th><th>normalized P99</th><th>runs</th><th>accuracy loss %</th><th>measured at</th></tr>\n");
        foreach (var a in d.Artifacts)
        {
            if (a.Result is not { } r)
            {
                s.Append(Inv($"<tr class=\"warn\"><td>{E(a.Label)}</td><td>{ModelReport.Bytes(a.Bytes)}</td><td colspan=\"13\" style=\"text-align:left\">not measured on this machine: {E(a.Unavailable ?? "")}</td></tr>\n"));
                continue;
            }
            s.Append(Inv($"<tr><td>{E(a.Label)}</td><td>{ModelReport.Bytes(a.Bytes)}</td><td>{r.P50Ms.Value:F3}</td><td>{r.P90Ms.Value:F3}</td><td>{r.P99Ms.Value:F3} [{r.P99Ms.Low:F3}, {r.P99Ms.High:F3}]</td><td>{(r.CpuP99Ms is { } c ? Inv($"{c.Value:F3} [{c.Low:F3}, {c.High:F3}]") : "n/a")}</td><td>{r.MaxMs:F3}</td><td>{r.Fps.Value:F1}</td>"));
            s.Append(Inv($"<td title=\"{E(r.Batched.Note ?? "")}\">{(r.Batched.ItemsPerSecond is double b ? Inv($"{b:F1} (batch {r.Batched.BatchSize})") : "n/a")}</td><td>{r.SessionLoadMs:F1}</td><td title=\"{E(r.Memory.ArenaNote)}\">{r.Memory.ModelMB:F1} (peak RSS {r.Memory.PeakRssMB:F0}{(r.Memory.Arena is { } arena ? Inv($"; arena {arena.AllocatedMB:F1}, at most {arena.MaxInUseMB:F1} in use") : "")})</td>"));
            s.Append(Inv($"<td>{(r.NormalizedP99 is { } n ? Inv($"{n.Value:F3} [{n.Low:F3}, {n.High:F3}]") : "n/a")}</td><td>{r.Runs} ({r.StopReason})</td><td>{(a.AccuracyLossPercent is double loss ? loss.ToString("F3", CultureInfo.InvariantCulture) : "n/a")}</td><td style=\"text-align:left\">{E(r.Conditions)}</td></tr>\n"));
        }
        s.Append("</table>\n<p class=\"note\">Budgets use the CPU-time P99 when there is one (other processes' preemption excluded), else the wall clock. Normalized figures are latency divided by the reference workload's median in the block measured right after it (reference units): they compare across runs and machines. Memory: the model's share of the resident set while running (MB), the process's peak, and ONNX Runtime's CPU arena (reserved, most in use) read through its AllocatorGetStats.</p>\n");

        s.Append("<h2>Latency histogram</h2>\n");
        int i = 0;
        foreach (var a in d.Artifacts.Where(a => a.Result is not null))
            s.Append(Histogram(a.Label, a.Result!, d.Budgets.FirstOrDefault(b => b.Budget == "LatencyBudgetMs" && (b.Artifact == a.Label || b.Artifact == a.Path))?.Limit, Palette[i++ % Palette.Length]));

        s.Append("<h2>P99 across builds</h2>\n").Append(History(d));

        s.Append("<h2>Size breakdown</h2>\n").Append(SizeBars(d.Size));

        s.Append("<h2>Device estimates</h2>\n<p class=\"note\">Estimates, not measurements. Latency: roofline lower bound max(2·MACs / dense peak at the artifact's precision, bytes moved / bandwidth); energy: the device's rated power × that latency, where the vendor publishes a power figure. A device that does not run an artifact's precision has no row. ")
         .Append(Inv($"Bytes moved: {d.BytesMoved:N0} (weights once, every activation written and read once). Formulas and sources: docs/measurement.md.</p>\n"));
        s.Append("<table id=\"devices\"><tr><th>artifact</th><th>device</th><th>precision</th><th>compute ms</th><th>memory ms</th><th>latency ≥ ms</th><th>bound</th><th>energy mJ</th><th>W at 30 fps</th><th>&lt; 5 W</th><th>source</th></tr>\n");
        foreach (var a in d.Artifacts)
            foreach (var e in a.Devices)
            {
                var p = d.DeviceProfiles.FirstOrDefault(x => x.Name == e.Device);
                string source = string.Join("; ", new[] { p?.At(e.Precision)?.Source, p?.BandwidthSource, p?.PowerSource, p?.Note }.Where(t => t is { Length: > 0 }));
                string verdict = e.Within5W switch { true => "pass", false => "fail", null => "" };
                s.Append(Inv($"<tr class=\"{verdict}\"><td>{E(a.Path)}</td><td>{E(e.Device)}</td><td>{e.Precision}</td><td>{e.ComputeMs:F4}</td><td>{e.MemoryMs:F4}</td><td>{e.LatencyMs:F4}</td><td>{e.Bound}</td><td>{ModelReport.Optional(e.EnergyMj)}</td><td>{ModelReport.Optional(e.PowerWAt30Fps)}</td><td>{e.Within5W switch { true => "yes", false => "no", null => "n/a" }}</td><td style=\"text-align:left\" title=\"{E(e.Formula)}\">{E(source)}</td></tr>\n"));
            }
        s.Append("</table>\n");

        if (d.Offload.Count > 0)
        {
            s.Append("<h2>Offload estimates per device profile</h2>\n<p class=\"note\">Estimates, not measurements: which layers each device's runtime would leave to the CPU, judged before anything is deployed by the runtime's published operator list (source per row), with the roofline latency and energy at each precision the device runs. Profiles and rules: docs/devices.md.</p>\n");
            s.Append("<table id=\"offload\"><tr><th>device</th><th>runtime</th><th>precision</th><th>layers on the accelerator</th><th>fall back to the CPU (estimate)</th><th>roofline ms (estimate)</th><th>energy mJ (estimate)</th><th>source</th></tr>\n");
            foreach (var o in d.Offload)
            {
                string placed = o.NotJudged is not null ? "?" : Inv($"{o.Layers - o.FallBack.Count} of {o.Layers}");
                string fallBack = o.NotJudged is not null ? "not judged: " + E(o.NotJudged)
                    : o.FallBack.Count == 0 ? "none"
                    : Inv($"<details><summary>{o.FallBack.Count} layer(s), to {E(o.FallsBackTo)}</summary>") + string.Join("<br>", o.FallBack.Select(l => $"{E(l.Node)} ({E(l.Op)} as {E(l.Builtins)}): {E(l.Reason)}")) + "</details>";
                string verdict = o.NotJudged is not null ? "" : o.FallBack.Count == 0 ? "pass" : "fail";
                s.Append(Inv($"<tr class=\"{verdict}\"><td>{E(o.Device)}</td><td>{E(o.RuntimeName)}</td><td>{o.Precision}</td><td>{placed}</td><td style=\"text-align:left\">{fallBack}</td><td>{(o.Estimate is { } e ? e.LatencyMs.ToString("F4", CultureInfo.InvariantCulture) : "n/a")}</td><td>{ModelReport.Optional(o.Estimate?.EnergyMj)}</td><td style=\"text-align:left\">{E(o.Source)}</td></tr>\n"));
            }
            s.Append("</table>\n");
        }

        if (d.Auto is { } auto)
        {
            s.Append("<h2>Precision choice (Auto)</h2>\n<p>").Append(E(auto.Summary)).Append("</p>\n");
            s.Append("<table id=\"auto\"><tr><th>candidate</th><th>P50 ms</th><th>ratio to FP32</th><th>95 % CI</th></tr>\n");
            foreach (var r in auto.Race)
                s.Append(Inv($"<tr class=\"{(r.Name.StartsWith("FP32", StringComparison.Ordinal) ? "" : r.RatioHigh < auto.FasterBelow ? "pass" : "fail")}\"><td>{E(r.Name)}</td><td>{r.P50Ms:F3}</td><td>{r.Ratio:F3}</td><td>[{r.RatioLow:F3}, {r.RatioHigh:F3}]</td></tr>\n"));
            s.Append("</table>\n<p class=\"note\">").Append(E(auto.Conditions)).Append(Inv($". A quantized candidate ships only when its whole interval is under {auto.FasterBelow:F3}: 1 less the A/A band's larger deviation from 1.</p>\n"));
        }
        bool timed = d.Layers.Any(l => l.Why is not null);
        s.Append(Inv($"<h2>Layers ({d.Layers.Count})</h2>\n<table id=\"layers\"><tr><th>layer</th><th>op</th><th>output shape</th><th>MACs</th><th>params</th><th>precision</th><th>SQNR dB</th>{(timed ? "<th>FP32 µs</th><th>INT8 µs</th><th>why</th>" : "")}</tr>\n"));
        foreach (var l in d.Layers)
            s.Append(Inv($"<tr><td>{E(l.Node)}</td><td>{E(l.Op)}</td><td>{E(l.OutputShape)}</td><td>{(l.Macs is long m ? m.ToString("N0", CultureInfo.InvariantCulture) : "?")}</td><td>{l.Parameters:N0}</td><td>{E(l.Precision)}</td><td>{(l.SqnrDb is double q ? q.ToString("F1", CultureInfo.InvariantCulture) : "")}</td>"))
             .Append(timed ? Inv($"<td>{(l.Fp32Microseconds is double f ? f.ToString("F1", CultureInfo.InvariantCulture) : "fused")}</td><td>{(l.Int8Microseconds is double i8 ? i8.ToString("F1", CultureInfo.InvariantCulture) : "fused")}</td><td style=\"text-align:left\">{E(l.Why ?? "")}</td>") : "").Append("</tr>\n");
        s.Append("</table>\n");

        // The only script: click a header to sort its table. It marks the page as rendered so a headless test can tell.
        s.Append("""
<script>
(function () {
  document.querySelectorAll('table').forEach(function (table) {
    var headers = table.querySelectorAll('tr:first-child th');
    headers.forEach(function (th, col) {
      th.addEventListener('click', function () {
        var rows = Array.prototype.slice.call(table.querySelectorAll('tr')).slice(1);
        var key = function (r) { var t = r.children[col] ? r.children[col].textContent : ''; var n = parseFloat(t.replace(/,/g, '')); return isNaN(n) ? t : n; };
        var asc = th.dataset.asc !== 'true';
        rows.sort(function (a, b) { var x = key(a), y = key(b); return (x > y ? 1 : x < y ? -1 : 0) * (asc ? 1 : -1); });
        th.dataset.asc = asc;
        rows.forEach(function (r) { table.appendChild(r); });
      });
    });
  });
  document.body.setAttribute('data-rendered', document.querySelectorAll('svg').length + ' plots');
})();
</script>
</body></html>

""");
        return s.ToString();
    }

    private static string Histogram(string title, BenchResult r, double? budget, string color)
    {
        const int W = 560, H = 240, L = 50, B = 40, T = 24, R = 16;
        var h = r.Histogram;
        int max = Math.Max(1, h.Counts.Max());
        double lo = h.StartMs, hi = h.StartMs + h.WidthMs * h.Counts.Count;
        double top = Math.Max(hi, budget is double bb && bb < hi * 1.5 ? bb * 1.02 : hi);
        double X(double ms) => L + (ms - lo) / (top - lo) * (W - L - R);
        double Y(double count) => H - B - count / max * (H - B - T);
        var s = new StringBuilder();
        s.Append(Inv($"<svg class=\"plot histogram\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\"><title>latency histogram of {E(title)}</title>"));
        s.Append(Inv($"<text x=\"{L}\" y=\"16\" font-size=\"13\">{E(title)}: {r.Runs} runs, wall clock (slower runs in the last bar)</text>"));
        for (int i = 0; i < h.Counts.Count; i++)
        {
            double x0 = X(lo + i * h.WidthMs), x1 = X(lo + (i + 1) * h.WidthMs);
            s.Append(Inv($"<rect x=\"{x0:F1}\" y=\"{Y(h.Counts[i]):F1}\" width=\"{Math.Max(0.5, x1 - x0 - 0.5):F1}\" height=\"{H - B - Y(h.Counts[i]):F1}\" fill=\"{color}\"><title>{lo + i * h.WidthMs:F3}–{lo + (i + 1) * h.WidthMs:F3} ms: {h.Counts[i]}</title></rect>"));
        }
        Axes(s, W, H, L, B, T, R);
        for (int k = 0; k <= 4; k++)
        {
            double ms = lo + (top - lo) * k / 4;
            s.Append(Inv($"<text x=\"{X(ms):F1}\" y=\"{H - B + 16}\" font-size=\"11\" text-anchor=\"middle\">{ms:G4}</text>"));
        }
        s.Append(Inv($"<text x=\"{W / 2}\" y=\"{H - 6}\" font-size=\"11\" text-anchor=\"middle\">latency (ms)</text><text x=\"12\" y=\"{T + 10}\" font-size=\"11\">{max}</text>"));
        Marker(s, X(r.P50Ms.Value), T, H - B, "#333", "P50");
        Marker(s, X(Math.Min(r.P99Ms.Value, top)), T, H - B, "#d62728", "P99");
        if (budget is double bud && bud <= top) Marker(s, X(bud), T, H - B, "#000", "budget");
        s.Append("</svg>\n");
        return s.ToString();
    }

    private static string History(ModelReportData d)
    {
        // Points: each baseline update in the history, then this build; one line per artifact key, in reference units when every point has them.
        var keys = d.Artifacts.Where(a => a.Result is not null).Select(a => a.Key).ToList();
        var series = new List<(string Key, List<(string Label, double Value)> Points)>();
        bool normalized = d.Artifacts.All(a => a.Result?.NormalizedP99 is not null) && (d.Baseline?.History ?? []).All(h => h.Artifacts.All(p => p.NormalizedP99 is not null));
        foreach (var key in keys)
        {
            var points = new List<(string, double)>();
            foreach (var h in d.Baseline?.History ?? [])
                if (h.Artifacts.FirstOrDefault(p => p.Key == key) is { } p) points.Add((h.RecordedUtc, normalized ? p.NormalizedP99!.Value : p.P99Ms));
            var r = d.Artifacts.First(a => a.Key == key).Result!;
            points.Add(("this build", normalized ? r.NormalizedP99!.Value : r.P99Ms.Value));
            series.Add((key, points));
        }
        if (series.Count == 0) return "<p class=\"note\">Nothing measured.</p>\n";
        string unit = normalized ? "P99 (reference units)" : "P99 (ms)";
        const int W = 560, H = 240, L = 60, B = 40, T = 24, R = 16;
        int n = series.Max(x => x.Points.Count);
        double max = series.SelectMany(x => x.Points).Max(p => p.Value) * 1.15;
        double X(int i) => L + (n == 1 ? (W - L - R) / 2.0 : i * (W - L - R) / (double)(n - 1));
        double Y(double v) => H - B - v / max * (H - B - T);
        var s = new StringBuilder();
        s.Append(Inv($"<svg class=\"plot history\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\"><title>P99 across builds</title>"));
        s.Append(Inv($"<text x=\"{L}\" y=\"16\" font-size=\"13\">{unit}: baseline updates, then this build</text>"));
        Axes(s, W, H, L, B, T, R);
        for (int k = 0; k <= 4; k++) s.Append(Inv($"<text x=\"{L - 6}\" y=\"{Y(max * k / 4) + 4:F1}\" font-size=\"11\" text-anchor=\"end\">{max * k / 4:G3}</text>"));
        int c = 0;
        foreach (var (key, points) in series)
        {
            string color = Palette[c++ % Palette.Length];
            s.Append("<polyline fill=\"none\" stroke=\"").Append(color).Append("\" stroke-width=\"2\" points=\"")
             .Append(string.Join(" ", points.Select((p, i) => Inv($"{X(i):F1},{Y(p.Value):F1}")))).Append("\"/>");
            for (int i = 0; i < points.Count; i++)
                s.Append(Inv($"<circle cx=\"{X(i):F1}\" cy=\"{Y(points[i].Value):F1}\" r=\"4\" fill=\"{color}\"><title>{E(key)} {E(points[i].Label)}: {points[i].Value:G4}</title></circle>"));
            s.Append(Inv($"<text x=\"{L + 8}\" y=\"{T + 14 * c}\" font-size=\"11\" fill=\"{color}\">{E(key)}</text>"));
        }
        if (d.Baseline is { } bl)
        {
            var limit = bl.Rows.FirstOrDefault(r => r.Metric == "normalizedP99");
            if (limit is not null && normalized)
                s.Append(Inv($"<line x1=\"{L}\" x2=\"{W - R}\" y1=\"{Y(limit.LimitValue):F1}\" y2=\"{Y(limit.LimitValue):F1}\" stroke=\"#d62728\" stroke-dasharray=\"4 3\"/><text x=\"{W - R - 4}\" y=\"{Y(limit.LimitValue) - 4:F1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#d62728\">tolerance</text>"));
        }
        s.Append("</svg>\n");
        if (d.Baseline is null) s.Append("<p class=\"note\">No baseline yet: <code>edgebuild baseline update</code> records one (and each update adds a point here).</p>\n");
        return s.ToString();
    }

    private static string SizeBars(IReadOnlyList<ReportSizePart> parts)
    {
        long total = Math.Max(1, parts.Sum(p => p.Bytes));
        const int W = 560, Row = 22, L = 200;
        int h = 20 + Row * parts.Count;
        var s = new StringBuilder();
        s.Append(Inv($"<svg class=\"plot size\" width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\"><title>size breakdown</title>"));
        for (int i = 0; i < parts.Count; i++)
        {
            double w = (W - L - 150) * (double)parts[i].Bytes / total;
            double y = 10 + i * Row;
            s.Append(Inv($"<text x=\"{L - 6}\" y=\"{y + 14}\" font-size=\"12\" text-anchor=\"end\">{E(parts[i].Part)}</text><rect x=\"{L}\" y=\"{y}\" width=\"{Math.Max(1, w):F1}\" height=\"{Row - 6}\" fill=\"{Palette[i % Palette.Length]}\"/>"));
            s.Append(Inv($"<text x=\"{L + w + 6:F1}\" y=\"{y + 14}\" font-size=\"12\">{ModelReport.Bytes(parts[i].Bytes)} ({100.0 * parts[i].Bytes / total:F1} %)</text>"));
        }
        s.Append("</svg>\n");
        return s.ToString();
    }

    private static void Axes(StringBuilder s, int w, int h, int l, int b, int t, int r) =>
        s.Append(Inv($"<line x1=\"{l}\" y1=\"{h - b}\" x2=\"{w - r}\" y2=\"{h - b}\" stroke=\"#333\"/><line x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{h - b}\" stroke=\"#333\"/>"));

    private static void Marker(StringBuilder s, double x, int top, int bottom, string color, string label) =>
        s.Append(Inv($"<line x1=\"{x:F1}\" y1=\"{top}\" x2=\"{x:F1}\" y2=\"{bottom}\" stroke=\"{color}\" stroke-dasharray=\"3 2\"/><text x=\"{x + 3:F1}\" y=\"{top + 10}\" font-size=\"11\" fill=\"{color}\">{label}</text>"));

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
