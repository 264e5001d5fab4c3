using System.Diagnostics;
using System.Globalization;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;
using A = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Tests.Package;

/// <summary>
/// Exactly what a user does: pack the one EdgeBuild package into a local folder, then in a fresh folder
/// with its own, empty NuGet packages folder: dotnet new console, add the package, add one EdgeModel,
/// build, run. The app's output must equal ONNX Runtime on the original model.
/// </summary>
public sealed class PackAndConsumeTests(ITestOutputHelper output) : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("edgebuild-pack-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(work, recursive: true); }
        catch (IOException) { }
    }

    [Fact]
    public void PackedPackageBuildsAndRunsANewConsoleApp()
    {
        string repo = RepoRoot();
        string feed = Path.Combine(work, "feed");
        string app = Path.Combine(work, "My App");
        string packages = Path.Combine(work, "packages");
        Directory.CreateDirectory(app);

        Run(repo, "dotnet", "pack", "src/EdgeBuild.Runtime/EdgeBuild.Runtime.csproj", "-c", "Release", "-o", feed, "-nodeReuse:false");
        var nupkg = Assert.Single(Directory.GetFiles(feed, "EdgeBuild.*.nupkg"));
        output.WriteLine($"package: {Path.GetFileName(nupkg)}, {new FileInfo(nupkg).Length / 1048576.0:F1} MiB");

        Run(app, "dotnet", "new", "console", "-n", "MyApp", "-o", ".");
        // The local folder beside nuget.org, which serves the package's dependency (ONNX Runtime).
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
        Run(app, "dotnet", "add", "package", "EdgeBuild");
        Assert.True(Directory.Exists(Path.Combine(packages, "edgebuild")), "the package must come through the test's own packages folder");

        string modelPath = Path.Combine(app, "models", "tiny-net.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(modelPath)!);
        var model = TinyNet();
        OnnxExporter.Save(model, modelPath);
        string csproj = Path.Combine(app, "MyApp.csproj");
        File.WriteAllText(csproj, File.ReadAllText(csproj).Replace("</Project>", """
              <ItemGroup>
                <EdgeModel Include="models/tiny-net.onnx" LatencyBudgetMs="5" />
              </ItemGroup>
            </Project>
            """));
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using System.Globalization;
            using var net = MyApp.TinyNet.Create();
            var x = new float[MyApp.TinyNet.XLength];
            for (int i = 0; i < x.Length; i++) x[i] = (i % 7) / 7f - 0.5f;
            var y = new float[MyApp.TinyNet.YLength];
            net.Run(x, y);
            Console.WriteLine("y " + string.Join(" ", y.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
            """);

        var build = Run(app, "dotnet", "build", "-nodeReuse:false", "-v:n");
        Assert.Contains("edgebuild.dll compile", build); // the ToolTask logs the command line it runs
        Assert.Single(Directory.GetFiles(Path.Combine(app, "obj"), "TinyNet.edgemodel.json", SearchOption.AllDirectories));
        Assert.True(File.Exists(Path.Combine(app, "bin", "Debug", "net10.0", "TinyNet.onnx")), "the artifact is copied next to the app");
        string stdout = Run(app, "dotnet", "run", "--no-build");
        var line = stdout.Split('\n').Single(l => l.StartsWith("y ", StringComparison.Ordinal));
        var actual = line[2..].Trim().Split(' ').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();

        var expected = Reference(modelPath);
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * Math.Max(1, Math.Abs(expected[i])), $"y[{i}]: {actual[i]} vs {expected[i]}");
    }

    /// <summary>Conv + BatchNorm + Relu + Flatten + Gemm: the optimizer folds the BatchNorm on the way.</summary>
    private static Model TinyNet()
    {
        var g = new Graph("tiny");
        var model = new Model(g) { IrVersion = 8 };
        model.Opsets.Add(new OpsetId("", 13));
        var rng = new Random(3);
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(1, 2, 4, 4)));
        var w = g.AddInitializer("w", Tensor.FromFloats([3, 2, 3, 3], R(54)));
        var conv = g.AddNode("Conv", [x, w], ["c"], attributes: [A.Of("pads", [1L, 1, 1, 1])]).Output0;
        var bn = g.AddNode("BatchNormalization", [conv, g.AddInitializer("s", Tensor.FromFloats([3], [1.5f, 0.5f, 1f])), g.AddInitializer("b", Tensor.FromFloats([3], R(3))),
            g.AddInitializer("m", Tensor.FromFloats([3], R(3))), g.AddInitializer("v", Tensor.FromFloats([3], [1f, 2f, 0.5f]))], ["bn"]).Output0;
        var relu = g.AddNode("Relu", [bn], ["r"]).Output0;
        var flat = g.AddNode("Flatten", [relu], ["f"]).Output0;
        var y = g.AddNode("Gemm", [flat, g.AddInitializer("fc", Tensor.FromFloats([48, 5], R(240)))], ["y"]).Output0;
        y.Type = new TensorType(DataType.Float, Shape.Of(1, 5));
        g.AddOutput(y);
        return model;
    }

    private static float[] Reference(string modelPath)
    {
        using var session = new InferenceSession(modelPath);
        var x = new float[32];
        for (int i = 0; i < x.Length; i++) x[i] = (i % 7) / 7f - 0.5f;
        using var input = OrtValue.CreateTensorValueFromMemory(x, [1, 2, 4, 4]);
        using var runOptions1 = new RunOptions(); // held in a local: an inline RunOptions can be finalized mid-Run
        using var outputs = session.Run(runOptions1, ["x"], [input], ["y"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
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
        string all = stdout.Result + stderr.Result;
        output.WriteLine($"$ {file} {string.Join(' ', args)}  (exit {p.ExitCode})");
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)} failed ({p.ExitCode}):\n{Tail(all)}");
        return all;
    }

    private static string Tail(string s) => string.Join('\n', s.Split('\n').TakeLast(40));

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "EdgeBuild.sln"))) return d.FullName;
        throw new InvalidOperationException("EdgeBuild.sln not found");
    }
}
