using System.Diagnostics;
using System.Globalization;
using EdgeBuild.MSBuild.Tests.Support;

/// <summary>
/// The MSBuild acceptance measurement: a no-op <c>dotnet build</c> of a project with EdgeModel items against the same
/// project without them, in one run, alternating which goes first, median of the repetitions. Optionally the cost of
/// running the task through TaskHostFactory (a forced recompile, task host vs the MSBuild node).
/// </summary>
internal static class IncrementalBuildBenchmark
{
    public static int Run(string[] args, string repoRoot)
    {
        string? Arg(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        int runs = int.Parse(Arg("--runs") ?? "9", CultureInfo.InvariantCulture);
        int models = int.Parse(Arg("--models") ?? "1", CultureInfo.InvariantCulture);
        bool taskHost = args.Contains("--taskhost");
        string config = Arg("--tool-config") ?? (File.Exists(Path.Combine(repoRoot, "src/EdgeBuild.MSBuild/bin/Release/netstandard2.0/EdgeBuild.MSBuild.dll")) ? "Release" : "Debug");
        foreach (var built in new[] { $"src/EdgeBuild.Cli/bin/{config}/net10.0/edgebuild.dll", $"src/EdgeBuild.MSBuild/bin/{config}/netstandard2.0/EdgeBuild.MSBuild.dll" })
            if (!File.Exists(Path.Combine(repoRoot, built)))
            {
                Console.Error.WriteLine($"{built} is missing: build src/EdgeBuild.Cli and src/EdgeBuild.MSBuild (-c {config}) first");
                return 2;
            }

        string dir = Path.Combine(Path.GetTempPath(), "edgebuild-bench-incremental-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(dir);
        try
        {
            var items = new List<string>();
            for (int m = 0; m < models; m++)
            {
                TinyModels.WriteConvRelu(Path.Combine(dir, "models", $"model{m}.onnx"), seed: m + 1);
                items.Add($"""    <EdgeModel Include="../models/model{m}.onnx" />""");
            }
            // "with" and "without" differ only in the EdgeModel items; "plain" does not import EdgeBuild at all.
            string with = Write(dir, "with", Project(repoRoot, config, string.Join("\n", items), imports: true));
            string without = Write(dir, "without", Project(repoRoot, config, "", imports: true));
            string plain = Write(dir, "plain", Project(repoRoot, config, "", imports: false));
            var projects = new[] { ("with EdgeModel", with), ("without EdgeModel", without), ("no EdgeBuild import", plain) };

            Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}; {models} model(s); {runs} alternating rounds after 2 warm-up builds each");
            Console.WriteLine($"command: dotnet build <project> -nologo -nodeReuse:false   (tool and task: {config})");
            foreach (var (_, p) in projects)
                for (int w = 0; w < 2; w++)
                {
                    var (code, output, _) = Dotnet(dir, "build", p, "-nologo", "-nodeReuse:false");
                    if (code != 0) { Console.Error.WriteLine(output); return 1; }
                }

            // The no-op build of the EdgeModel project must not run the compiler: show the log's word for it.
            var (_, log, _) = Dotnet(dir, "build", with, "-nologo", "-nodeReuse:false", "-v:n", "-tl:off");
            int skipped = log.Split('\n').Count(l => l.Contains("Skipping target \"_EdgeBuildCompileModels\" because all output files are up-to-date", StringComparison.Ordinal));
            bool ran = log.Contains("edgebuild.dll compile", StringComparison.Ordinal) || log.Contains("edgebuild.dll\" compile", StringComparison.Ordinal);
            Console.WriteLine($"no-op log: _EdgeBuildCompileModels skipped for {skipped} of {models} model(s); compiler started: {(ran ? "YES" : "no")}");

            var times = projects.ToDictionary(p => p.Item1, _ => new List<double>());
            for (int r = 0; r < runs; r++)
            {
                // Rotate the order so no variant always runs first (or right after the other).
                for (int k = 0; k < projects.Length; k++)
                {
                    var (name, p) = projects[(k + r) % projects.Length];
                    var (code, output, ms) = Dotnet(dir, "build", p, "-nologo", "-nodeReuse:false");
                    if (code != 0) { Console.Error.WriteLine(output); return 1; }
                    times[name].Add(ms);
                }
            }
            foreach (var (name, _) in projects)
            {
                var t = times[name];
                Console.WriteLine($"  {name,-20} median {Median(t),7:F0} ms   min {t.Min(),7:F0}   max {t.Max(),7:F0}   runs: {string.Join(" ", t.Select(x => x.ToString("F0", CultureInfo.InvariantCulture)))}");
            }
            double ratio = Median(times["with EdgeModel"]) / Median(times["without EdgeModel"]);
            double ratioPlain = Median(times["with EdgeModel"]) / Median(times["no EdgeBuild import"]);
            Console.WriteLine($"ratio with/without EdgeModel: {ratio:F3}  (acceptance: <= 1.1: {(ratio <= 1.1 ? "PASS" : "FAIL")});  with/no import: {ratioPlain:F3}");

            if (taskHost) TaskHostCost(dir, with, runs);
            return ratio <= 1.1 ? 0 : 1;
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); }
            catch (IOException) { }
        }
    }

    /// <summary>A forced recompile (models touched) with the task in a task host vs in the MSBuild node.</summary>
    private static void TaskHostCost(string dir, string project, int runs)
    {
        var modes = new[] { ("TaskHostFactory", "-p:EdgeBuildTaskFactory=TaskHostFactory"), ("in the MSBuild node", "-p:EdgeBuildTaskFactory=AssemblyTaskFactory") };
        var times = modes.ToDictionary(m => m.Item1, _ => new List<double>());
        for (int r = 0; r < runs; r++)
            for (int k = 0; k < modes.Length; k++)
            {
                var (name, property) = modes[(k + r) % modes.Length];
                foreach (var model in Directory.EnumerateFiles(Path.Combine(dir, "models"))) File.SetLastWriteTimeUtc(model, DateTime.UtcNow);
                var (code, output, ms) = Dotnet(dir, "build", project, "-nologo", "-nodeReuse:false", property);
                if (code != 0) { Console.Error.WriteLine(output); return; }
                times[name].Add(ms);
            }
        Console.WriteLine("recompile (every model touched), task factory:");
        foreach (var (name, _) in modes)
            Console.WriteLine($"  {name,-20} median {Median(times[name]),7:F0} ms");
        Console.WriteLine($"  task host cost: {Median(times[modes[0].Item1]) - Median(times[modes[1].Item1]):F0} ms per build");
    }

    private static string Project(string repoRoot, string config, string items, bool imports) => $"""
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            <!-- Before the import: EdgeBuild.InRepo.props picks the tool and task paths from it. -->
            <EdgeBuildConfiguration>{config}</EdgeBuildConfiguration>
          </PropertyGroup>
        {(imports ? $"  <Import Project=\"{repoRoot}/build/EdgeBuild.InRepo.props\" />" : "")}
          <PropertyGroup>
            <OutputType>Exe</OutputType>
            <TargetFramework>net10.0</TargetFramework>
            <RootNamespace>App</RootNamespace>
          </PropertyGroup>
          <ItemGroup>
        {items}
          </ItemGroup>
        {(imports ? $"  <Import Project=\"{repoRoot}/build/EdgeBuild.targets\" />" : "")}
        </Project>

        """;

    private static string Write(string dir, string name, string project)
    {
        string folder = Path.Combine(dir, name);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "Program.cs"), "System.Console.WriteLine(\"bench\");\n");
        string path = Path.Combine(folder, "App.csproj");
        File.WriteAllText(path, project);
        return path;
    }

    private static (int Code, string Output, double Ms) Dotnet(string dir, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList()) psi.Environment.Remove(key);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        double ms = clock.Elapsed.TotalMilliseconds;
        return (p.ExitCode, stdout.Result + stderr.Result, ms);
    }

    private static double Median(List<double> values)
    {
        var s = values.OrderBy(v => v).ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }
}
