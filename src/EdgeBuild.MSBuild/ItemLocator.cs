using System.Text;
using System.Text.RegularExpressions;
using System.Xml;

namespace EdgeBuild.MSBuild;

/// <summary>Where an item is written: the project file that defines it and the element's line and column (0: unknown).</summary>
internal readonly struct ItemLocation
{
    public ItemLocation(string file, int line, int column)
    {
        File = file;
        Line = line;
        Column = column;
    }

    public string File { get; }
    public int Line { get; }
    public int Column { get; }
}

/// <summary>
/// Finds the <c>&lt;EdgeModel Include="..."&gt;</c> element an item came from, so errors point at the line a user
/// wrote. MSBuild gives tasks no item locations, so this reads the defining project file with line information and
/// matches each Include against the item's spec: exactly, then as a wildcard pattern; when nothing matches and the
/// file has one such element, that one; otherwise the file alone (no line). Only called when there is an error.
/// </summary>
internal static class ItemLocator
{
    /// <param name="projectFile">The file that defines the item (the item's DefiningProjectFullPath).</param>
    /// <param name="itemType">The element name, <c>EdgeModel</c>.</param>
    /// <param name="escapedItemSpec">The item's spec in MSBuild's escaped form (as in the project file: <c>%3B</c> for a literal ';').</param>
    public static ItemLocation Find(string projectFile, string itemType, string escapedItemSpec)
    {
        if (string.IsNullOrEmpty(projectFile)) return new ItemLocation("", 0, 0);
        try
        {
            var candidates = new List<(string Include, int Line, int Column)>();
            var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, IgnoreComments = true };
            using (var reader = XmlReader.Create(projectFile, settings))
            {
                var info = (IXmlLineInfo)reader;
                while (reader.Read())
                {
                    if (reader.NodeType != XmlNodeType.Element || reader.LocalName != itemType) continue;
                    // MSBuild reports element locations at the '<'; XmlReader's position is the name's first character.
                    int line = info.LineNumber, column = Math.Max(1, info.LinePosition - 1);
                    string? include = reader.GetAttribute("Include");
                    if (include is not null) candidates.Add((include, line, column));
                }
            }

            string spec = Normalize(escapedItemSpec);
            foreach (var exact in new[] { true, false })
            {
                foreach (var (include, line, column) in candidates)
                {
                    foreach (var part in include.Split(';'))
                    {
                        string segment = Normalize(part.Trim());
                        if (segment.Length == 0) continue;
                        bool match = exact
                            ? string.Equals(segment, spec, StringComparison.Ordinal)
                            : string.Equals(segment, spec, StringComparison.OrdinalIgnoreCase) || (IsPattern(segment) && Glob.IsMatch(Unescape(segment), Unescape(spec)));
                        if (match) return new ItemLocation(projectFile, line, column);
                    }
                }
            }
            if (candidates.Count == 1) return new ItemLocation(projectFile, candidates[0].Line, candidates[0].Column);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or XmlException or ArgumentException or NotSupportedException)
        {
            // The location is a courtesy: an unreadable file still gets the error, without a line.
        }
        return new ItemLocation(projectFile, 0, 0);
    }

    private static string Normalize(string path)
    {
        string p = path.Replace('\\', '/');
        while (p.StartsWith("./", StringComparison.Ordinal)) p = p.Substring(2);
        return p;
    }

    private static bool IsPattern(string s) => s.IndexOf('*') >= 0 || s.IndexOf('?') >= 0;

    /// <summary>Undoes MSBuild's <c>%XX</c> escaping (the inverse of <c>$([MSBuild]::Escape(...))</c>).</summary>
    public static string Unescape(string escaped)
    {
        if (escaped.IndexOf('%') < 0) return escaped;
        var sb = new StringBuilder(escaped.Length);
        for (int i = 0; i < escaped.Length; i++)
        {
            if (escaped[i] == '%' && i + 2 < escaped.Length && IsHex(escaped[i + 1]) && IsHex(escaped[i + 2]))
            {
                sb.Append((char)Convert.ToInt32(escaped.Substring(i + 1, 2), 16));
                i += 2;
            }
            else sb.Append(escaped[i]);
        }
        return sb.ToString();
    }

    private static bool IsHex(char c) => c is >= '0' and <= '9' or >= 'a' and <= 'f' or >= 'A' and <= 'F';
}

/// <summary>MSBuild-style wildcards over '/'-separated paths: <c>**</c> any folders, <c>*</c> and <c>?</c> within one name.</summary>
internal static class Glob
{
    public static bool IsMatch(string pattern, string path) =>
        ToRegex(pattern).IsMatch(path.Replace('\\', '/'));

    /// <summary>File systems on Windows and macOS ignore case by default; MSBuild's globbing does too.</summary>
    public static Regex ToRegex(string pattern) => GlobPattern.ToRegex(pattern.Replace('\\', '/'), ignoreCase: true);
}
