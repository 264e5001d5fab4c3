// Wildcards as MSBuild and the calibration arguments read them. Compiled into the core (EdgeBuild.Onnx, beside RealPath) and, as a
// linked source file, into the MSBuild task (netstandard2.0, no project references), like EdgeModelOptionTable.cs.
using System.Text;
using System.Text.RegularExpressions;

#if EDGEBUILD_TASK
namespace EdgeBuild.MSBuild;
#else
namespace EdgeBuild.Onnx;
#endif

/// <summary>A wildcard pattern over '/'-separated paths: <c>**/</c> any folders (a trailing <c>**</c> everything below), <c>*</c> and <c>?</c> within one name.</summary>
public static class GlobPattern
{
    /// <summary>The pattern as an anchored regular expression; <paramref name="ignoreCase"/> for file systems that ignore case.</summary>
    public static Regex ToRegex(string pattern, bool ignoreCase)
    {
        var sb = new StringBuilder("^");
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '*' && i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
                bool slash = i + 2 < pattern.Length && pattern[i + 2] == '/';
                sb.Append(slash ? "(?:[^/]*/)*" : ".*");
                i += slash ? 2 : 1;
            }
            else if (c == '*') sb.Append("[^/]*");
            else if (c == '?') sb.Append("[^/]");
            else sb.Append(Regex.Escape(c.ToString()));
        }
        sb.Append('$');
        return new Regex(sb.ToString(), RegexOptions.CultureInvariant | (ignoreCase ? RegexOptions.IgnoreCase : RegexOptions.None));
    }
}
