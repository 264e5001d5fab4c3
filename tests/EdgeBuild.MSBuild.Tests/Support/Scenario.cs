using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace EdgeBuild.MSBuild.Tests.Support;

/// <summary>What one <c>dotnet</c> run printed: the console, a normal-verbosity log file, and each error once.</summary>
public sealed record BuildResult(int ExitCode, string Output, string Log, IReadOnlyList<string> Errors, string Command)
{
    /// <summary>The compiler ran: the task logs its command line (<c>dotnet exec ".../edgebuild.dll" compile ...</c>).</summary>
    public int CompilerRuns => Regex.Matches(Log, @"edgebuild\.dll""? compile ").Count;

    public bool Skipped(string target) =>
        Log.Contains($"Skipping target \"{target}\" because all output files are up-to-date with respect to the input files.", StringComparison.Ordinal);

    /// <summary>No .NET stack trace or unhandled-exception banner anywhere in the output.</summary>
    public bool HasStackTrace =>
        new[] { Output, Log }.Any(text =>
            Regex.IsMatch(text, @"^\s+at [\w.`<>\[\]]+\(.*\)", RegexOptions.Multiline) || text.Contains("Unhandled exception", StringComparison.Ordinal));

    public override string ToString() => $"{Command}\nexit {ExitCode}\n{Output}\n{Log}";
}

/// <summary>
/// A throw-away folder with a tiny console project that uses the in-repo EdgeBuild props and targets, built with a
/// real <c>dotnet build</c>. Node reuse is off so no MSBuild process outlives a test (and none keeps the task loaded).
/// </summary>
public sealed class Scenario : IDisposable
{
    internal static readonly string Configuration =
#if DEBUG
        "Debug";
#else
        "Release";
#endif

    private int runs;

    public Scenario(string name, string? folder = null, string projectName = "App")
    {
        Root = Path.Combine(Path.GetTempPath(), "edgebuild-msbuild-tests", $"{name}-{Guid.NewGuid():N}"[..Math.Min(name.Length + 9, 60)]);
        Directory = folder is null ? Root : Path.Combine(Root, folder);
        System.IO.Directory.CreateDirectory(Directory);
        ProjectName = projectName;
        File.WriteAllText(Path.Combine(Directory, "Program.cs"), "System.Console.WriteLine(\"tiny\");\n");
    }

    public static string RepoRoot { get; } = FindRepoRoot();

    public string Root { get; }
    /// <summary>The project's folder.</summary>
    public string Directory { get; }
    public string ProjectName { get; }
    public string ProjectPath => Path.Combine(Directory, ProjectName + ".csproj");
    // The scenario app builds in dotnet build's default configuration; Configuration is the one the compiler and task were built in.
    public string ObjEdgeBuild => Path.Combine(Directory, "obj", "Debug", "net10.0", "edgebuild");
    public string BinDir => Path.Combine(Directory, "bin", "Debug", "net10.0");

    public string Manifest(string className) => Path.Combine(ObjEdgeBuild, className, className + ".edgemodel.json");
    public string Artifact(string className) => Path.Combine(ObjEdgeBuild, className, className + ".onnx");
    public string BinArtifact(string className) => Path.Combine(BinDir, className + ".onnx");

    /// <summary>Project properties that switch measurement on, with this scenario's own cache, one thread and a short time cap.</summary>
    public string MeasureProperties(double seconds = 1) => $"""
            <EdgeBuildMeasure>true</EdgeBuildMeasure>
            <EdgeBuildMeasureCache>{Path.Combine(Root, "measure-cache")}</EdgeBuildMeasureCache>
            <EdgeBuildMeasureSeconds>{seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}</EdgeBuildMeasureSeconds>
            <EdgeBuildMeasureThreads>1</EdgeBuildMeasureThreads>
        """;

    /// <summary>Writes the project with <paramref name="items"/> (EdgeModel elements) in its own ItemGroup.</summary>
    public void WriteProject(string items, string properties = "") =>
        File.WriteAllText(ProjectPath, ProjectText(items, properties));

    public static string ProjectText(string items, string properties = "", string rootNamespace = "App") => $"""
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            <!-- Before the import: EdgeBuild.InRepo.props picks the compiler and task built in this configuration. -->
            <EdgeBuildConfiguration>{Configuration}</EdgeBuildConfiguration>
          </PropertyGroup>
          <Import Project="{RepoRoot}/build/EdgeBuild.InRepo.props" />
          <PropertyGroup>
            <OutputType>Exe</OutputType>
            <TargetFramework>net10.0</TargetFramework>
            <RootNamespace>{rootNamespace}</RootNamespace>
            <ImplicitUsings>disable</ImplicitUsings>
            <Nullable>enable</Nullable>
            <!-- Measurement off unless a test is about it (it passes EdgeBuildMeasure=true in its properties). -->
            <EdgeBuildMeasure>false</EdgeBuildMeasure>
        {properties}
          </PropertyGroup>
          <ItemGroup>
        {items}
          </ItemGroup>
          <Import Project="{RepoRoot}/build/EdgeBuild.targets" />
        </Project>

        """;

    public string Write(string relativePath, string text)
    {
        string path = Path.Combine(Directory, relativePath);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Writes <paramref name="count"/> float32 .npy tensors shaped like the tiny model's input ([1,3,8,8], uniform in [-1, 1)) as calib/sampleNN.npy.</summary>
    public void WriteCalibrationNpy(int count, int seed)
    {
        var random = new Random(seed);
        for (int n = 0; n < count; n++)
        {
            var values = new float[3 * 8 * 8];
            for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
            string path = Write($"calib/sample{n:D2}.npy", "");
            EdgeBuild.Quantization.Calibration.NpyFile.Write(path, EdgeBuild.Ir.Tensor.FromFloats([1, 3, 8, 8], values));
        }
    }

    public string Model(string relativePath, int seed = 1)
    {
        string path = Path.Combine(Directory, relativePath);
        TinyModels.WriteConvRelu(path, seed);
        return path;
    }

    /// <summary>The 1-based line and column of the '&lt;' of the first line of the project that contains <paramref name="text"/>.</summary>
    public (int Line, int Column) LineOf(string text, string? file = null)
    {
        var lines = File.ReadAllLines(file ?? ProjectPath);
        for (int i = 0; i < lines.Length; i++)
            if (lines[i].Contains(text, StringComparison.Ordinal)) return (i + 1, lines[i].IndexOf('<') + 1);
        throw new InvalidOperationException($"'{text}' not in the project");
    }

    /// <summary>Every manifest or artifact under obj/ and bin/ (models/ and other inputs excluded).</summary>
    public IReadOnlyList<string> Outputs() =>
        new[] { "obj", "bin" }.Select(d => Path.Combine(Directory, d)).Where(System.IO.Directory.Exists)
            .SelectMany(d => System.IO.Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories))
            .Where(f => f.EndsWith(".onnx", StringComparison.Ordinal) || f.EndsWith(".edgemodel.json", StringComparison.Ordinal))
            .ToList();

    public BuildResult Build(params string[] extra) => Dotnet(["build", ProjectPath, .. extra]);

    /// <summary>
    /// Runs dotnet with normal verbosity on the console and in a log file, and a file logger that writes each error
    /// exactly once (the console repeats errors in its summary).
    /// </summary>
    public BuildResult Dotnet(string[] args, string? workingDirectory = null)
    {
        int n = Interlocked.Increment(ref runs);
        string errorLog = Path.Combine(Root, $"errors-{n}.log"), fullLog = Path.Combine(Root, $"build-{n}.log");
        var all = new List<string>(args)
        {
            "-nologo", "-nodeReuse:false", "-tl:off", "-v:n",
            "-fl", $"-flp:logfile={errorLog};errorsonly", "-fl1", $"-flp1:logfile={fullLog};verbosity=normal",
        };
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory ?? Directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in all) psi.ArgumentList.Add(a);
        // The test host runs inside 'dotnet test': its MSBuild variables would steer the child build.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["MSBUILDTERMINALLOGGER"] = "off";

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(4)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', args)} ran longer than 4 minutes");
        }
        p.WaitForExit();
        string output = stdout.Result + stderr.Result;
        var errors = File.Exists(errorLog)
            ? File.ReadAllLines(errorLog).Where(l => l.Trim().Length > 0).Select(l => Regex.Replace(l, @"^\s*\d+(?::\d+)?>", "")).ToList()
            : [];
        return new BuildResult(p.ExitCode, output, File.Exists(fullLog) ? File.ReadAllText(fullLog) : "", errors, "dotnet " + string.Join(' ', all));
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "EdgeBuild.sln"))) return dir.FullName;
        throw new InvalidOperationException("EdgeBuild.sln not found above " + AppContext.BaseDirectory);
    }
}
