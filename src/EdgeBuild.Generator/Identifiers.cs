using System.Globalization;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis.CSharp;

namespace EdgeBuild.Generator;

/// <summary>C# identifier rules as Roslyn states them, and the name conversions the generator makes.</summary>
internal static class Identifiers
{
    /// <summary>A valid identifier as written without '@' (keywords included: they can be escaped).</summary>
    public static bool IsIdentifier(string name) => name.Length > 0 && name[0] != '@' && SyntaxFacts.IsValidIdentifier(name);

    public static bool IsKeyword(string name) => SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None;

    /// <summary>How the identifier is written in code: keywords get '@'.</summary>
    public static string Escape(string name) => IsKeyword(name) ? "@" + name : name;

    /// <summary>
    /// A valid type name: an identifier, not a keyword, and not only lower-case ASCII letters (CS8981
    /// warns such names may become keywords, which fails a build with warnings as errors).
    /// </summary>
    public static bool IsTypeName(string name) => IsIdentifier(name) && !IsKeyword(name) && !name.All(c => c >= 'a' && c <= 'z');

    /// <summary>Identifiers, not keywords, joined by dots; or empty for the global namespace.</summary>
    public static bool IsNamespace(string name) =>
        name.Length == 0 || name.Split('.').All(part => IsIdentifier(part) && !IsKeyword(part));

    /// <summary>The first letter upper-cased: <c>softmax0Tmp0</c> to <c>Softmax0Tmp0</c>.</summary>
    public static string Pascal(string identifier) =>
        identifier.Length == 0 ? identifier : char.ToUpperInvariant(identifier[0]) + identifier.Substring(1);

    /// <summary>
    /// A camelCase parameter name for a symbolic dimension: words are runs of letters and digits,
    /// joined with their first letters upper-cased after the first (<c>batch_size</c> to <c>batchSize</c>,
    /// <c>N</c> to <c>n</c>); a leading digit gets the prefix <c>d</c>.
    /// </summary>
    public static string CamelCase(string text)
    {
        var words = new StringBuilder();
        bool newWord = false;
        foreach (char c in text)
        {
            if (!char.IsLetterOrDigit(c))
            {
                newWord = words.Length > 0;
                continue;
            }
            words.Append(newWord ? char.ToUpperInvariant(c) : words.Length == 0 ? char.ToLowerInvariant(c) : c);
            newWord = false;
        }
        string result = words.ToString();
        if (result.Length == 0) return "dim";
        if (char.IsDigit(result[0])) result = "d" + result;
        return IsIdentifier(result) ? result : "dim";
    }

    /// <summary><paramref name="name"/>, or the first of name2, name3, ... that <paramref name="isFree"/> accepts.</summary>
    public static string Unique(string name, System.Func<string, bool> isFree)
    {
        if (isFree(name)) return name;
        for (int i = 2; ; i++)
        {
            string candidate = name + i.ToString(CultureInfo.InvariantCulture);
            if (isFree(candidate)) return candidate;
        }
    }
}
