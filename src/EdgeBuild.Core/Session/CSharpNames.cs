using System.Text;

namespace EdgeBuild.Session;

/// <summary>C# identifiers derived from model and tensor names (the rules docs/manifest.md states).</summary>
public static class CSharpNames
{
    private static readonly HashSet<string> Keywords =
    [
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const", "continue",
        "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern", "false", "finally",
        "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface", "internal", "is", "lock", "long",
        "namespace", "new", "null", "object", "operator", "out", "override", "params", "private", "protected", "public",
        "readonly", "ref", "return", "sbyte", "sealed", "short", "sizeof", "stackalloc", "static", "string", "struct", "switch",
        "this", "throw", "true", "try", "typeof", "uint", "ulong", "unchecked", "unsafe", "ushort", "using", "virtual", "void",
        "volatile", "while", "__arglist", "__makeref", "__reftype", "__refvalue",
    ];

    /// <summary>Words of a name: runs of letters and digits, split at non-identifier characters and lower-to-upper case changes.</summary>
    private static List<string> Words(string name)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        char previous = '\0';
        foreach (char c in name)
        {
            if (!char.IsLetterOrDigit(c) || c > 127)
            {
                if (current.Length > 0) { words.Add(current.ToString()); current.Clear(); }
            }
            else
            {
                if (current.Length > 0 && char.IsUpper(c) && char.IsLower(previous)) { words.Add(current.ToString()); current.Clear(); }
                current.Append(c);
            }
            previous = c;
        }
        if (current.Length > 0) words.Add(current.ToString());
        return words;
    }

    private static string Capitalize(string w) => w.Length == 0 ? w : char.ToUpperInvariant(w[0]) + w[1..];

    /// <summary>PascalCase type name: "face-detect-rfb320" -> "FaceDetectRfb320"; a leading digit gets "Model".</summary>
    public static string TypeName(string name)
    {
        var s = string.Concat(Words(name).Select(Capitalize));
        if (s.Length == 0) return "Model";
        return char.IsDigit(s[0]) ? "Model" + s : s;
    }

    /// <summary>camelCase parameter name: "input:0" -> "input0", "softmax_0.tmp_0" -> "softmax0Tmp0"; keywords get "Value".</summary>
    public static string ParameterName(string name)
    {
        var words = Words(name);
        if (words.Count == 0) return "tensor";
        var s = char.ToLowerInvariant(words[0][0]) + words[0][1..] + string.Concat(words.Skip(1).Select(Capitalize));
        if (char.IsDigit(s[0])) s = "t" + s;
        return Keywords.Contains(s) ? s + "Value" : s;
    }

    /// <summary>Parameter names for all tensors, unique (later duplicates get 2, 3, ...).</summary>
    public static IReadOnlyList<string> UniqueParameterNames(IEnumerable<string> names)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<string>();
        foreach (var n in names)
        {
            string baseName = ParameterName(n), candidate = baseName;
            for (int i = 2; !used.Add(candidate); i++) candidate = baseName + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            result.Add(candidate);
        }
        return result;
    }

    /// <summary>C#'s reserved keywords (Roslyn's list: NameRuleTests in the generator tests compares them).</summary>
    public static IReadOnlyCollection<string> ReservedKeywords => Keywords;

    public static bool IsKeyword(string s) => Keywords.Contains(s);

    public static bool IsValidIdentifier(string s) =>
        s.Length > 0 && (char.IsLetter(s[0]) || s[0] == '_') && s.All(c => char.IsLetterOrDigit(c) || c == '_') && !Keywords.Contains(s);

    public static bool IsValidNamespace(string s) => s.Length == 0 || s.Split('.').All(IsValidIdentifier);
}
