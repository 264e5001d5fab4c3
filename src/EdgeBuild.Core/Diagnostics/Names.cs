using System.Globalization;
using System.Text;

namespace EdgeBuild.Diagnostics;

/// <summary>
/// Names taken from a model (value, node, file names) as they may appear in a diagnostic: a model can carry
/// newlines, escape sequences or NUL in any name, and an error must stay one line a terminal and MSBuild read as written.
/// </summary>
public static class Names
{
    /// <summary>Control characters as \n, \t, \0 or \uXXXX.</summary>
    public static string Escape(string? text)
    {
        if (string.IsNullOrEmpty(text)) return text ?? "";
        if (!text.Any(NeedsEscape)) return text;
        var sb = new StringBuilder(text.Length + 8);
        foreach (char c in text)
        {
            if (!NeedsEscape(c)) { sb.Append(c); continue; }
            sb.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '\0' => "\\0",
                _ => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
            });
        }
        return sb.ToString();
    }

    /// <summary>Control characters, and the line and paragraph separators some terminals break lines at.</summary>
    private static bool NeedsEscape(char c) => char.IsControl(c) || c is '\u2028' or '\u2029';
}
