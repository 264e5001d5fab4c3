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
/// Exactly what a user does: pack the build-time EdgeBuild package and the EdgeBuild.Runtime package into a local
/// folder, then in a fresh folder with its own, empty NuGet packages folder: dotnet new console, add both packages, add
/// one EdgeModel, build, run, publish. The app's output must equal ONNX Runtime on the original model; the packages
/// have the layout docs/packaging.md promises (a private build-time package, ONNX Runtime as a minimum version, a
/// publish with this platform's native library only).
/// </summary>
[Collection(PackCollection.Name)]
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

        Run(repo, "dotnet", "pack", "src/EdgeBuild.MSBuild/EdgeBuild.MSBuild.csproj", "-c", "Release", "-o", feed, "-nodeReuse:false");
        Run(repo, "dotnet", "pack", "src/EdgeBuild.Runtime/EdgeBuild.Runtime.csproj", "-c", "Release", "-o", feed, "-nodeReuse:false");
        foreach (var nupkg in Directory.GetFiles(feed, "*.nupkg"))
            output.WriteLine($"package: {Path.GetFileName(nupkg)}, {new FileInfo(nupkg).Length / 1048576.0:F1} MiB");

        // The build-time package: a development dependency with no lib/ and no dependencies.
        var build = Nuspec(feed, "EdgeBuild");
        Assert.Equal("true", build.Descendants(build.Root!.Name.Namespace + "developmentDependency").Single().Value);
        Assert.Empty(build.Descendants(build.Root.Name.Namespace + "dependency"));
        // The runtime package: ONNX Runtime as a minimum version ("1.32.0" is >= 1.32.0 in a nuspec; "[1.32.0]" would pin it).
        var runtime = Nuspec(feed, "EdgeBuild.Runtime");
        var ort = runtime.Descendants(runtime.Root!.Name.Namespace + "dependency").Single(d => (string?)d.Attribute("id") == "Microsoft.ML.OnnxRuntime");
        string ortRange = (string)ort.Attribute("version")!;
        Assert.True(Version.TryParse(ortRange, out var ortFloor), $"ONNX Runtime dependency '{ortRange}' is not a plain minimum version");
        string pinned = System.Xml.Linq.XDocument.Load(Path.Combine(repo, "Directory.Packages.props")).Descendants("EdgeBuildOnnxRuntimeVersion").Single().Value;
        Assert.Equal(pinned, ortFloor.ToString());

        Run(app, "dotnet", "new", "console", "-n", "MyApp", "-o", ".");
        // The local folder beside nuget.org, which serves the runtime package's dependency (ONNX Runtime).
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
        Run(app, "dotnet", "add", "package", "EdgeBuild.Runtime");
        Assert.True(Directory.Exists(Path.Combine(packages, "edgebuild")), "the package must come through the test's own packages folder");
        // NuGet marks a development dependency private itself: nothing of the build-time package flows on.
        var reference = System.Xml.Linq.XDocument.Load(Path.Combine(app, "MyApp.csproj")).Descendants("PackageReference").Single(e => (string?)e.Attribute("Include") == "EdgeBuild");
        Assert.Equal("all", reference.Element("PrivateAssets")?.Value);

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

        var buildLog = Run(app, "dotnet", "build", "-nodeReuse:false", "-v:n");
        Assert.Contains("edgebuild.dll compile", buildLog); // the ToolTask logs the command line it runs
        Assert.Single(Directory.GetFiles(Path.Combine(app, "obj"), "TinyNet.edgemodel.json", SearchOption.AllDirectories));
        Assert.True(File.Exists(Path.Combine(app, "bin", "Debug", "net10.0", "TinyNet.onnx")), "the artifact is copied next to the app");
        string stdout = Run(app, "dotnet", "run", "--no-build");
        var line = stdout.Split('\n').Single(l => l.StartsWith("y ", StringComparison.Ordinal));
        var actual = line[2..].Trim().Split(' ').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();

        var expected = Reference(modelPath);
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * Math.Max(1, Math.Abs(expected[i])), $"y[{i}]: {actual[i]} vs {expected[i]}");

        // A publish for this machine's platform carries that platform's ONNX Runtime library and no other, and nothing
        // of the build-time package (task, compiler, generator).
        string publish = Path.Combine(work, "publish");
        string rid = System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier;
        Run(app, "dotnet", "publish", "-r", rid, "--self-contained", "false", "-o", publish, "-nodeReuse:false");
        var published = Directory.GetFiles(publish, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(publish, f).Replace('\\', '/')).ToList();
        output.WriteLine($"publish -r {rid}: {published.Count} files, {published.Sum(f => new FileInfo(Path.Combine(publish, f)).Length) / 1048576.0:F1} MiB");
        var natives = published.Where(f => Path.GetFileNameWithoutExtension(f) is "onnxruntime" or "libonnxruntime" && !f.EndsWith(".pdb", StringComparison.Ordinal)).ToList();
        Assert.Equal([OperatingSystem.IsWindows() ? "onnxruntime.dll" : OperatingSystem.IsMacOS() ? "libonnxruntime.dylib" : "libonnxruntime.so"], natives);
        Assert.DoesNotContain(published, f => f.StartsWith("runtimes/", StringComparison.Ordinal));
        Assert.DoesNotContain(published, f => Path.GetFileName(f) is "edgebuild.dll" or "EdgeBuild.MSBuild.dll" or "EdgeBuild.Generator.dll" or "EdgeBuild.Core.dll");
        Assert.Contains("TinyNet.onnx", published);
    }

    private static System.Xml.Linq.XDocument Nuspec(string feed, string id)
    {
        string nupkg = Assert.Single(Directory.GetFiles(feed, id + ".*.nupkg"), f => char.IsDigit(Path.GetFileName(f)[id.Length + 1]));
        using var zip = System.IO.Compression.ZipFile.OpenRead(nupkg);
        using var stream = zip.GetEntry(id + ".nuspec")!.Open();
        return System.Xml.Linq.XDocument.Load(stream);
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
