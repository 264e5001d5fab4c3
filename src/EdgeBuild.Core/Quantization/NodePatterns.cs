using EdgeBuild.Ir;

namespace EdgeBuild.Quantization;

/// <summary>
/// Glob patterns on node names (<c>*</c> any run of characters, <c>?</c> one character, everything else
/// literal, case-sensitive as ONNX names are). Nodes without a name are matched by their first output's name.
/// </summary>
public sealed class NodePatterns
{
    private readonly string[] patterns;

    public NodePatterns(IEnumerable<string> patterns) =>
        this.patterns = patterns.Select(p => p.Trim()).Where(p => p.Length > 0).ToArray();

    public bool IsEmpty => patterns.Length == 0;

    public bool Matches(Node node)
    {
        if (patterns.Length == 0) return false;
        string name = NameOf(node);
        foreach (var p in patterns)
            if (Glob(p, name)) return true;
        return false;
    }

    /// <summary>The name reports use for a node: its own, or its first output's when it has none.</summary>
    public static string NameOf(Node node) =>
        node.Name.Length > 0 ? node.Name : node.Outputs.FirstOrDefault(o => o is not null)?.Name ?? node.OpType;

    /// <summary>Iterative wildcard match with backtracking to the last <c>*</c> (linear in practice, no regex).</summary>
    public static bool Glob(string pattern, string text)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t])) { p++; t++; }
            else if (p < pattern.Length && pattern[p] == '*') { star = p++; mark = t; }
            else if (star >= 0) { p = star + 1; t = ++mark; }
            else return false;
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }
}
