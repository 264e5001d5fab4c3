namespace EdgeBuild.MSBuild;

/// <summary>The task's copy of the core's identifier rule (CSharpNames in EdgeBuild.Core, which the task cannot reference).</summary>
internal static class Identifiers
{
    /// <summary>
    /// Letters, digits and '_', not starting with a digit: CSharpNames.IsValidIdentifier without the keyword list, which
    /// the compiler applies (ClassNameTests keeps the two in step).
    /// </summary>
    public static bool IsIdentifier(string s) =>
        s.Length > 0 && (char.IsLetter(s[0]) || s[0] == '_') && s.All(c => char.IsLetterOrDigit(c) || c == '_');
}
