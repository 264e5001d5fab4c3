using System.Diagnostics;
using EdgeBuild.Compile;
using Xunit.Abstractions;
using EdgeBuild.Session;

namespace EdgeBuild.Tests.Package;

/// <summary>
/// The CLI as a .NET tool, as a user gets it: pack src/EdgeBuild.Cli into a local folder, `dotnet tool install
/// --tool-path DIR EdgeBuild.Tool` from that folder only (a nuget.config that clears every other source), then run
/// the installed `edgebuild` command.
/// </summary>
[Collection(PackCollection.Name)]
public sealed class ToolInstallTests(ITestOutputHelper output) : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("edgebuild-tool-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(work, recursive: true); }
        catch (IOException) { }
    }

    [Fact]
    public void ToolInstallsFromTheLocalFeedAndRuns()
    {
        string repo = RepoRoot();
        string feed = Path.Combine(work, "feed");
        string tools = Path.Combine(work, "tools");
        Run(repo, "dotnet", "pack", "src/EdgeBuild.Cli/EdgeBuild.Cli.csproj", "-c", "Release", "-o", feed, "-nodeReuse:false");
        var nupkg = Assert.Single(Directory.GetFiles(feed, "EdgeBuild.Tool.*.nupkg"));
        output.WriteLine($"tool package: {Path.GetFileName(nupkg)}, {new FileInfo(nupkg).Length / 1048576.0:F1} MiB");

        string config = Path.Combine(work, "nuget.config");
        File.WriteAllText(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="{Path.Combine(work, "packages")}" /></config>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        Run(work, "dotnet", "tool", "install", "--tool-path", tools, "EdgeBuild.Tool", "--add-source", feed, "--configfile", config);
        string edgebuild = Path.Combine(tools, OperatingSystem.IsWindows() ? "edgebuild.exe" : "edgebuild");
        Assert.True(File.Exists(edgebuild), $"{edgebuild} was not installed");

        string help = Run(work, edgebuild, "--help");
        Assert.Contains("Usage:", help, StringComparison.Ordinal);
        foreach (var command in new[] { "compile", "convert", "quantize", "inspect", "optimize", "bench" })
            Assert.Contains(command, help, StringComparison.Ordinal);
        Assert.Equal(EdgeBuildVersion.Current, Run(work, edgebuild, "--version").Trim());
    }

    private string Run(string directory, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file, args) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment.Remove("NUGET_PACKAGES");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(8)), $"{file} {string.Join(' ', args)} timed out");
        output.WriteLine($"$ {file} {string.Join(' ', args)}  (exit {p.ExitCode})");
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)} failed ({p.ExitCode}):\n{stdout.Result}{stderr.Result}");
        return stdout.Result;
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "EdgeBuild.sln"))) return d.FullName;
        throw new InvalidOperationException("EdgeBuild.sln not found");
    }
}
