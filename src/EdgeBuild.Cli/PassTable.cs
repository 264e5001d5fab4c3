using System.Globalization;
using EdgeBuild.Passes;

namespace EdgeBuild.Cli;

/// <summary>The pass table of <c>edgebuild optimize --report</c>.</summary>
internal static class PassTable
{
    public static void Print(OptimizationReport report, TextWriter w)
    {
        var rows = new List<string[]> { new[] { "pass", "time ms", "nodes", "changes" } };
        foreach (var p in report.Passes)
            rows.Add([p.Name, p.Time.TotalMilliseconds.ToString("F1", CultureInfo.InvariantCulture), $"{p.NodesBefore} -> {p.NodesAfter}", p.Summary]);
        TextTable.Write(rows, w);
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{report.Rounds} round(s), {report.Total.TotalMilliseconds:F1} ms"));
    }
}

/// <summary>Left-aligned plain-text columns (stable output for tests and logs); the first row is the header.</summary>
internal static class TextTable
{
    public static void Write(IReadOnlyList<string[]> rows, TextWriter w)
    {
        // Every column is named: a reader of the log should not have to guess what a column is.
        if (rows.Count == 0 || rows[0].Any(string.IsNullOrWhiteSpace))
            throw new ArgumentException("a table needs a header row with a name for every column", nameof(rows));
        int cols = rows.Max(r => r.Length);
        var widths = Enumerable.Range(0, cols).Select(c => rows.Max(r => c < r.Length ? r[c].Length : 0)).ToArray();
        for (int i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            w.WriteLine(string.Join("  ", r.Select((cell, c) => c == r.Length - 1 ? cell : cell.PadRight(widths[c]))).TrimEnd());
            if (i == 0) w.WriteLine(string.Join("  ", widths.Select(x => new string('-', x))));
        }
    }
}
