using System.Text.RegularExpressions;

namespace EdgeBuild.MSBuild;

/// <summary>What one line of the compiler's output is.</summary>
internal enum ToolLineKind { Error, Warning, Progress, StackTrace, Summary, Other }

/// <summary>One classified line: for errors and warnings the code (may be empty), origin file and message.</summary>
internal sealed class ToolLine
{
    public ToolLine(ToolLineKind kind, string code, string origin, string message)
    {
        Kind = kind;
        Code = code;
        Origin = origin;
        Message = message;
    }

    public ToolLineKind Kind { get; }
    public string Code { get; }
    /// <summary>The file the tool named before the diagnostic (<c>file(line,col): error ...</c>), or empty.</summary>
    public string Origin { get; }
    public string Message { get; }
}

/// <summary>
/// The table of output patterns of <c>edgebuild compile</c> (the CLI contract): first match wins.
/// <list type="bullet">
/// <item><c>error EB1002: &lt;subject&gt;: &lt;message&gt;. &lt;help&gt;</c> (what the CLI prints)</item>
/// <item><c>file(line,col): error EBnnnn: message</c> (canonical compiler form, kept for future tools)</item>
/// <item><c>warning: &lt;file&gt;: &lt;text&gt;</c>, <c>warning EBnnnn: ...</c></item>
/// <item><c>edgebuild: ...</c> progress (the task passes -q, so only from future verbose modes)</item>
/// <item><c>summary: &lt;Name&gt;: ...</c> the one line per model shown at normal verbosity (Reports.BuildSummary)</item>
/// <item>stack frames and "Unhandled exception" lines: never shown to the user at normal verbosity</item>
/// </list>
/// </summary>
internal static class ToolOutput
{
    private static readonly (Regex Pattern, ToolLineKind Kind)[] Patterns =
    [
        (new Regex(@"^\s*(?:(?<origin>[^\s].*?)\((?<line>\d+)(?:,(?<col>\d+))?(?:,\d+,\d+)?\)\s*:\s*)?(?<kind>error|warning)\s+(?<code>EB[0-9A-Z]+)\s*:\s*(?<text>.*)$",
            RegexOptions.CultureInvariant), ToolLineKind.Error),
        (new Regex(@"^\s*warning\s*:\s*(?<text>.*)$", RegexOptions.CultureInvariant), ToolLineKind.Warning),
        (new Regex(@"^edgebuild: (?<text>.*)$", RegexOptions.CultureInvariant), ToolLineKind.Progress),
        (new Regex(@"^summary: (?<text>.*)$", RegexOptions.CultureInvariant), ToolLineKind.Summary),
        (new Regex(@"^(?:\s+at \S|\s*--- End of |Unhandled exception\.|\s*---> )", RegexOptions.CultureInvariant), ToolLineKind.StackTrace),
    ];

    public static ToolLine Classify(string line)
    {
        foreach (var (pattern, kind) in Patterns)
        {
            var m = pattern.Match(line);
            if (!m.Success) continue;
            if (kind == ToolLineKind.Error)
            {
                var actual = m.Groups["kind"].Value == "error" ? ToolLineKind.Error : ToolLineKind.Warning;
                string origin = m.Groups["origin"].Success ? m.Groups["origin"].Value.Trim() : "";
                if (m.Groups["line"].Success && origin.Length > 0)
                    origin += "(" + m.Groups["line"].Value + (m.Groups["col"].Success ? "," + m.Groups["col"].Value : "") + ")";
                return new ToolLine(actual, m.Groups["code"].Value, origin, m.Groups["text"].Value.Trim());
            }
            return new ToolLine(kind, "", "", m.Groups["text"].Success ? m.Groups["text"].Value.Trim() : line);
        }
        return new ToolLine(ToolLineKind.Other, "", "", line);
    }
}
