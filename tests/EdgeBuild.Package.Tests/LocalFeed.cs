namespace EdgeBuild.Tests.Package;

/// <summary>The NuGet set-up of a new app in the package tests: the packed packages' folder beside nuget.org.</summary>
internal static class LocalFeed
{
    /// <summary>
    /// Writes <paramref name="app"/>/nuget.config: packages restored into <paramref name="packages"/> (an empty folder, as
    /// on a new machine), from nuget.org (the runtime package's dependencies, ONNX Runtime's managed API) and
    /// <paramref name="feed"/>, the folder the test packed into.
    /// </summary>
    public static void WriteNuGetConfig(string app, string feed, string packages) =>
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="{packages}" /></config>
              <packageSources>
                <clear />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
                <add key="local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
}
