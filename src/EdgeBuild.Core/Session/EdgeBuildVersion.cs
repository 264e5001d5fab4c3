using System.Reflection;

namespace EdgeBuild.Session;

/// <summary>The compiler's version as manifests, kits and measurement cache keys record it.</summary>
public static class EdgeBuildVersion
{
    /// <summary>The informational version without the commit hash: same inputs, same bytes.</summary>
    public static string Current { get; } =
        typeof(EdgeBuildVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
}
