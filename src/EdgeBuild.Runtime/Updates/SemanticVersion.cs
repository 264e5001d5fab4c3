using System.Globalization;

namespace EdgeBuild.Runtime.Updates;

/// <summary>A model package's version, <c>MAJOR.MINOR.PATCH</c> (digits only): ordered, so downgrades can be told apart.</summary>
public readonly record struct SemanticVersion(int Major, int Minor, int Patch) : IComparable<SemanticVersion>
{
    /// <summary>Parses <c>1.2.0</c>.</summary>
    /// <exception cref="FormatException">Not three dot-separated non-negative integers.</exception>
    public static SemanticVersion Parse(string text)
    {
        if (TryParse(text, out var v)) return v;
        throw new FormatException($"'{text}' is not a version: use MAJOR.MINOR.PATCH, three numbers (1.2.0)");
    }

    public static bool TryParse(string? text, out SemanticVersion version)
    {
        version = default;
        var parts = text?.Split('.');
        if (parts is not { Length: 3 }) return false;
        var n = new int[3];
        for (int i = 0; i < 3; i++)
            if (parts[i].Length == 0 || parts[i].Length > 9 || !parts[i].All(char.IsAsciiDigit) || !int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out n[i]))
                return false;
        version = new SemanticVersion(n[0], n[1], n[2]);
        return true;
    }

    public int CompareTo(SemanticVersion other) =>
        Major != other.Major ? Major.CompareTo(other.Major) : Minor != other.Minor ? Minor.CompareTo(other.Minor) : Patch.CompareTo(other.Patch);

    public static bool operator <(SemanticVersion a, SemanticVersion b) => a.CompareTo(b) < 0;
    public static bool operator >(SemanticVersion a, SemanticVersion b) => a.CompareTo(b) > 0;
    public static bool operator <=(SemanticVersion a, SemanticVersion b) => a.CompareTo(b) <= 0;
    public static bool operator >=(SemanticVersion a, SemanticVersion b) => a.CompareTo(b) >= 0;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}.{Patch}");

    /// <summary>This runtime's version (the assembly's informational version, without any build suffix).</summary>
    public static SemanticVersion Runtime { get; } = ParseRuntime();

    private static SemanticVersion ParseRuntime()
    {
        string? info = typeof(SemanticVersion).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion;
        string core = (info ?? "0.0.0").Split('+', '-')[0];
        return TryParse(core, out var v) ? v : new SemanticVersion(0, 0, 0);
    }
}
