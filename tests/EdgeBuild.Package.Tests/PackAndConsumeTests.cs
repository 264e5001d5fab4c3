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
/// Exactly what a user does: pack the build-time EdgeBuild package, the EdgeBuild.Runtime package and the per-platform
/// native packages into a local folder, then in a fresh folder with its own, empty NuGet packages folder: dotnet new
/// console for this machine's RuntimeIdentifier, add both packages, add one EdgeModel, build, run, publish; then the same
/// app portable, and the same app with its own Microsoft.ML.OnnxRuntime. The app's output must equal ONNX Runtime on the
/// original model each time; the packages have the layout docs/packaging.md promises (a private build-time package, ONNX
/// Runtime's managed API as a minimum version, one native package per platform restored only for its platform, a
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

    private static string NativeName => OperatingSystem.IsWindows() ? "onnxruntime.dll" : OperatingSystem.IsMacOS() ? "libonnxruntime.dylib" : "libonnxruntime.so";

    private static bool IsOrtLibrary(string fileName) =>
        (fileName.StartsWith("onnxruntime", StringComparison.Ordinal) || fileName.StartsWith("libonnxruntime", StringComparison.Ordinal))
        && Path.GetExtension(fileName) is ".dll" or ".so" or ".dylib";

    [Fact]
    public void PackedPackageBuildsAndRunsANewConsoleApp()
    {
        string repo = RepoRoot();
        string feed = Path.Combine(work, "feed");
        string app = Path.Combine(work, "My App");
        string packages = Path.Combine(work, "packages");
        string rid = System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier;
        Directory.CreateDirectory(app);

        Run(repo, "dotnet", "pack", "src/EdgeBuild.MSBuild/EdgeBuild.MSBuild.csproj", "-c", "Release", "-o", feed, "-nodeReuse:false");
        Run(repo, "dotnet", "pack", "src/EdgeBuild.Runtime/EdgeBuild.Runtime.csproj", "-c", "Release", "-o", feed, "-nodeReuse:false");
        Run(repo, "dotnet", "pack", "src/EdgeBuild.Runtime.Native/EdgeBuild.Runtime.Native.csproj", "-c", "Release", "-o", feed, "-nodeReuse:false");
        foreach (var nupkg in Directory.GetFiles(feed, "*.nupkg"))
            output.WriteLine($"package: {Path.GetFileName(nupkg)}, {new FileInfo(nupkg).Length / 1048576.0:F1} MiB");

        // The build-time package: a development dependency with no lib/ and no dependencies.
        var build = Nuspec(feed, "EdgeBuild");
        Assert.Equal("true", build.Descendants(build.Root!.Name.Namespace + "developmentDependency").Single().Value);
        Assert.Empty(build.Descendants(build.Root.Name.Namespace + "dependency"));
        // The runtime package: ONNX Runtime's managed API as a minimum version ("1.32.0" is >= 1.32.0 in a nuspec; "[1.32.0]"
        // would pin it), and not the all-platform native package.
        var runtime = Nuspec(feed, "EdgeBuild.Runtime");
        var dependencies = runtime.Descendants(runtime.Root!.Name.Namespace + "dependency").ToList();
        Assert.DoesNotContain(dependencies, d => (string?)d.Attribute("id") == "Microsoft.ML.OnnxRuntime");
        string ortRange = (string)dependencies.Single(d => (string?)d.Attribute("id") == "Microsoft.ML.OnnxRuntime.Managed").Attribute("version")!;
        Assert.True(Version.TryParse(ortRange, out var ortFloor), $"ONNX Runtime dependency '{ortRange}' is not a plain minimum version");
        var props = System.Xml.Linq.XDocument.Load(Path.Combine(repo, "Directory.Packages.props"));
        Assert.Equal(props.Descendants("EdgeBuildOnnxRuntimeVersion").Single().Value, ortFloor.ToString());
        string runtimeVersion = runtime.Descendants(runtime.Root.Name.Namespace + "version").Single().Value;

        // runtime.json: each platform ONNX Runtime ships a CPU library for maps to its own native package, same version.
        string[] nativeRids = props.Descendants("EdgeBuildOnnxRuntimeNativeRids").Single().Value.Split(';');
        Assert.Contains(rid, nativeRids);
        using (var runtimeJson = System.Text.Json.JsonDocument.Parse(PackageEntry(feed, "EdgeBuild.Runtime", "runtime.json")))
        {
            var map = runtimeJson.RootElement.GetProperty("runtimes");
            Assert.Equal(nativeRids.Order(), map.EnumerateObject().Select(p => p.Name).Order());
            foreach (var r in map.EnumerateObject())
            {
                var dependency = r.Value.GetProperty("EdgeBuild.Runtime").EnumerateObject().Single();
                Assert.Equal("EdgeBuild.Runtime.Native." + r.Name, dependency.Name);
                Assert.Equal(runtimeVersion, dependency.Value.GetString());
            }
        }
        Assert.NotEmpty(PackageEntry(feed, "EdgeBuild.Runtime", "buildTransitive/EdgeBuild.Runtime.targets"));

        // Each native package: that platform's ONNX Runtime shared libraries, byte for byte those of the pinned
        // Microsoft.ML.OnnxRuntime (the copies this test's own output got from it), with its license and notices.
        foreach (string r in nativeRids)
        {
            string id = "EdgeBuild.Runtime.Native." + r;
            var entries = PackageEntries(feed, id).Where(e => !e.StartsWith("_rels/", StringComparison.Ordinal) && !e.StartsWith("package/", StringComparison.Ordinal)
                && e != "[Content_Types].xml" && e != id + ".nuspec").ToList();
            var libraries = entries.Where(e => e.StartsWith($"runtimes/{r}/native/", StringComparison.Ordinal)).ToList();
            Assert.Equal(["LICENSE", "ThirdPartyNotices.txt", .. libraries.Order()], entries.Order());
            string ortNative = Path.Combine(AppContext.BaseDirectory, "runtimes", r, "native");
            Assert.Equal(Directory.GetFiles(ortNative).Select(Path.GetFileName).Where(f => IsOrtLibrary(f!)).Order(), libraries.Select(Path.GetFileName).Order());
            foreach (string library in libraries)
                Assert.Equal(Sha256(File.ReadAllBytes(Path.Combine(ortNative, Path.GetFileName(library)))), Sha256(PackageEntry(feed, id, library)));
            Assert.Contains("MIT License", System.Text.Encoding.UTF8.GetString(PackageEntry(feed, id, "LICENSE")), StringComparison.Ordinal);
            Assert.Empty(Nuspec(feed, id).Descendants(runtime.Root.Name.Namespace + "dependency"));
        }

        Run(app, "dotnet", "new", "console", "-n", "MyApp", "-o", ".");
        LocalFeed.WriteNuGetConfig(app, feed, packages);
        // Built for this machine's platform from the first restore on, as an app that sets RuntimeIdentifier is.
        string csproj = Path.Combine(app, "MyApp.csproj");
        string ridProperty = $"<RuntimeIdentifier>{rid}</RuntimeIdentifier>";
        File.WriteAllText(csproj, File.ReadAllText(csproj).Replace("<OutputType>Exe</OutputType>", "<OutputType>Exe</OutputType>" + ridProperty));
        Run(app, "dotnet", "add", "package", "EdgeBuild");
        Run(app, "dotnet", "add", "package", "EdgeBuild.Runtime");
        Assert.True(Directory.Exists(Path.Combine(packages, "edgebuild")), "the package must come through the test's own packages folder");
        // NuGet marks a development dependency private itself: nothing of the build-time package flows on.
        var reference = System.Xml.Linq.XDocument.Load(csproj).Descendants("PackageReference").Single(e => (string?)e.Attribute("Include") == "EdgeBuild");
        Assert.Equal("all", reference.Element("PrivateAssets")?.Value);

        // The restore downloaded this platform's native package and no other, and not Microsoft.ML.OnnxRuntime (all
        // platforms). The build-time package's tools/ (the compiler, which runs on whatever machine builds) is the one
        // place other platforms' ONNX Runtime libraries are, and it never reaches the app.
        var restored = Directory.GetDirectories(packages).Select(d => Path.GetFileName(d)!).Order().ToList();
        output.WriteLine("restored: " + string.Join(", ", restored));
        Assert.DoesNotContain("microsoft.ml.onnxruntime", restored);
        Assert.Equal(["edgebuild.runtime.native." + rid], restored.Where(d => d.StartsWith("edgebuild.runtime.native.", StringComparison.Ordinal)));
        string tools = Path.Combine(packages, "edgebuild") + Path.DirectorySeparatorChar;
        var ortLibraries = Directory.GetFiles(packages, "*", SearchOption.AllDirectories).Where(f => IsOrtLibrary(Path.GetFileName(f))).ToList();
        foreach (var f in ortLibraries) output.WriteLine($"cache: {Path.GetRelativePath(packages, f)} {new FileInfo(f).Length / 1048576.0:F1} MiB");
        Assert.All(ortLibraries.Where(f => !f.StartsWith(tools, StringComparison.Ordinal)),
            f => Assert.Contains($"{Path.DirectorySeparatorChar}runtimes{Path.DirectorySeparatorChar}{rid}{Path.DirectorySeparatorChar}native{Path.DirectorySeparatorChar}", f, StringComparison.Ordinal));
        Assert.Contains(ortLibraries, f => !f.StartsWith(tools, StringComparison.Ordinal) && Path.GetFileName(f) == NativeName);

        string modelPath = Path.Combine(app, "models", "tiny-net.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(modelPath)!);
        var model = TinyNet();
        OnnxExporter.Save(model, modelPath);
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
        var expected = Reference(modelPath);

        var buildLog = Run(app, "dotnet", "build", "-nodeReuse:false", "-v:n");
        Assert.Contains("edgebuild.dll compile", buildLog); // the ToolTask logs the command line it runs
        Assert.Single(Directory.GetFiles(Path.Combine(app, "obj"), "TinyNet.edgemodel.json", SearchOption.AllDirectories));
        string ridOutput = Path.Combine(app, "bin", "Debug", "net10.0", rid);
        Assert.True(File.Exists(Path.Combine(ridOutput, "TinyNet.onnx")), "the artifact is copied next to the app");
        Assert.True(File.Exists(Path.Combine(ridOutput, NativeName)), "this platform's ONNX Runtime library is copied next to the app");
        AssertOutput(expected, Run(app, "dotnet", "run", "--no-build"));

        // A publish for this machine's platform carries that platform's ONNX Runtime library and no other, and nothing
        // of the build-time package (task, compiler, generator).
        string publish = Path.Combine(work, "publish");
        Run(app, "dotnet", "publish", "--self-contained", "false", "-o", publish, "-nodeReuse:false");
        var published = Files(publish);
        output.WriteLine($"publish -r {rid}: {published.Count} files, {published.Sum(f => new FileInfo(Path.Combine(publish, f)).Length) / 1048576.0:F1} MiB");
        Assert.Equal([NativeName], published.Where(f => Path.GetFileNameWithoutExtension(f) is "onnxruntime" or "libonnxruntime" && !f.EndsWith(".pdb", StringComparison.Ordinal)));
        Assert.DoesNotContain(published, f => f.StartsWith("runtimes/", StringComparison.Ordinal));
        Assert.DoesNotContain(published, f => Path.GetFileName(f) is "edgebuild.dll" or "EdgeBuild.MSBuild.dll" or "EdgeBuild.Generator.dll" or "EdgeBuild.Core.dll");
        Assert.Contains("TinyNet.onnx", published);

        // The same app portable (no RuntimeIdentifier): no restore of any native package; the compiler's copies of ONNX
        // Runtime's libraries go to runtimes/<rid>/native/ for every platform it carries, and `dotnet run` works.
        File.WriteAllText(csproj, File.ReadAllText(csproj).Replace(ridProperty, ""));
        Run(app, "dotnet", "build", "-nodeReuse:false");
        Assert.Equal(restored, Directory.GetDirectories(packages).Select(d => Path.GetFileName(d)!).Order().ToList());
        string portableOutput = Path.Combine(app, "bin", "Debug", "net10.0");
        Assert.Equal(nativeRids.Order(), Directory.GetDirectories(Path.Combine(portableOutput, "runtimes")).Select(Path.GetFileName).Order());
        foreach (string r in nativeRids)
            Assert.Contains(Directory.GetFiles(Path.Combine(portableOutput, "runtimes", r, "native")), f => IsOrtLibrary(Path.GetFileName(f)));
        AssertOutput(expected, Run(app, "dotnet", "run", "--no-build"));

        // The same app with its own Microsoft.ML.OnnxRuntime (for a newer version, or a GPU build): its library is the one
        // published and listed in the deps file, EdgeBuild.Runtime.Native's is left out, and the app runs.
        File.WriteAllText(csproj, File.ReadAllText(csproj).Replace("<OutputType>Exe</OutputType>", "<OutputType>Exe</OutputType>" + ridProperty));
        Run(app, "dotnet", "add", "package", "Microsoft.ML.OnnxRuntime", "--version", ortFloor.ToString());
        string publishOwn = Path.Combine(work, "publish-own-ort");
        Run(app, "dotnet", "publish", "--self-contained", "false", "-o", publishOwn, "-nodeReuse:false");
        Assert.Single(Files(publishOwn), f => f == NativeName);
        var nativeOwners = NativeOwners(Path.Combine(publishOwn, "MyApp.deps.json"));
        Assert.Equal([$"Microsoft.ML.OnnxRuntime/{ortFloor}"], nativeOwners.Where(o => o.File.EndsWith("/" + NativeName, StringComparison.Ordinal)).Select(o => o.Library));
        Assert.DoesNotContain(nativeOwners, o => o.Library.StartsWith("EdgeBuild.Runtime.Native.", StringComparison.Ordinal));
        AssertOutput(expected, RunPublished(publishOwn));
    }

    /// <summary>
    /// An app with the runtime package alone (no EdgeBuild package, no ONNX Runtime package: an app that uses a class
    /// library package built with EdgeBuild): for a platform the native packages cover it restores that platform's
    /// library and ONNX Runtime loads; portable, or for a platform ONNX Runtime has no CPU library for, the build stops
    /// with one line naming what to do, not a DllNotFoundException at the first model load.
    /// </summary>
    [Fact]
    public void TheRuntimeAloneLoadsOnItsPlatformAndStopsWithOneLineWhereNoLibraryWouldLoad()
    {
        string repo = RepoRoot();
        string feed = Path.Combine(work, "feed");
        string app = Path.Combine(work, "RuntimeOnly");
        string packages = Path.Combine(work, "packages");
        string rid = System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier;
        Directory.CreateDirectory(app);
        Run(repo, "dotnet", "pack", "src/EdgeBuild.Runtime/EdgeBuild.Runtime.csproj", "-c", "Release", "-o", feed, "-nodeReuse:false");
        Run(repo, "dotnet", "pack", "src/EdgeBuild.Runtime.Native/EdgeBuild.Runtime.Native.csproj", "-c", "Release", "-o", feed, "-nodeReuse:false");

        Run(app, "dotnet", "new", "console", "-n", "RuntimeOnly", "-o", ".");
        LocalFeed.WriteNuGetConfig(app, feed, packages);
        Run(app, "dotnet", "add", "package", "EdgeBuild.Runtime");
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            Console.WriteLine("ort " + Microsoft.ML.OnnxRuntime.OrtEnv.Instance().GetVersionString());
            """);

        Assert.Contains("ort " + EdgeBuildOrtVersion(repo), Run(app, "dotnet", "run", "-r", rid, "--self-contained", "false"), StringComparison.Ordinal);

        var (portableExit, portable) = Execute(app, "dotnet", "build", "-nodeReuse:false");
        Assert.NotEqual(0, portableExit);
        Assert.Contains("error EB6008: RuntimeOnly.csproj: a portable build (no RuntimeIdentifier) has EdgeBuild.Runtime but no ONNX Runtime native library", portable, StringComparison.Ordinal);
        Assert.Contains("set RuntimeIdentifier, add the EdgeBuild package", portable, StringComparison.Ordinal);
        Assert.DoesNotContain("error CS", portable, StringComparison.Ordinal);

        // A platform ONNX Runtime ships no CPU library for (osx-x64 falls back to nothing in runtime.json).
        var (otherExit, other) = Execute(app, "dotnet", "build", "-r", "osx-x64", "--self-contained", "false", "-nodeReuse:false");
        Assert.NotEqual(0, otherExit);
        Assert.Contains("error EB6009: RuntimeOnly.csproj: no ONNX Runtime native library for RuntimeIdentifier 'osx-x64'", other, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(packages, "edgebuild.runtime.native.osx-arm64")), "osx-x64 must not take another platform's library");
    }

    private static string EdgeBuildOrtVersion(string repo) =>
        System.Xml.Linq.XDocument.Load(Path.Combine(repo, "Directory.Packages.props")).Descendants("EdgeBuildOnnxRuntimeVersion").Single().Value;

    private void AssertOutput(float[] expected, string stdout)
    {
        var line = stdout.Split('\n').Single(l => l.StartsWith("y ", StringComparison.Ordinal));
        var actual = line[2..].Trim().Split(' ').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * Math.Max(1, Math.Abs(expected[i])), $"y[{i}]: {actual[i]} vs {expected[i]}");
    }

    private string RunPublished(string publish) => Run(publish, "dotnet", Path.Combine(publish, "MyApp.dll"));

    private static List<string> Files(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/')).ToList();

    /// <summary>Every native asset of the deps file with the library (package/version) it is listed under.</summary>
    private static List<(string Library, string File)> NativeOwners(string depsJson)
    {
        using var deps = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(depsJson));
        var owners = new List<(string, string)>();
        foreach (var target in deps.RootElement.GetProperty("targets").EnumerateObject())
            foreach (var library in target.Value.EnumerateObject())
                if (library.Value.TryGetProperty("native", out var native))
                    owners.AddRange(native.EnumerateObject().Select(f => (library.Name, f.Name)));
        return owners;
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes));

    private static string NupkgPath(string feed, string id) =>
        Assert.Single(Directory.GetFiles(feed, id + ".*.nupkg"), f => char.IsDigit(Path.GetFileName(f)[id.Length + 1]));

    private static List<string> PackageEntries(string feed, string id)
    {
        using var zip = System.IO.Compression.ZipFile.OpenRead(NupkgPath(feed, id));
        return zip.Entries.Select(e => e.FullName).ToList();
    }

    private static byte[] PackageEntry(string feed, string id, string entry)
    {
        using var zip = System.IO.Compression.ZipFile.OpenRead(NupkgPath(feed, id));
        using var stream = zip.GetEntry(entry)?.Open() ?? throw new Xunit.Sdk.XunitException($"{id}: no {entry} in the package");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static System.Xml.Linq.XDocument Nuspec(string feed, string id)
    {
        using var stream = new MemoryStream(PackageEntry(feed, id, id + ".nuspec"));
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
        var (exitCode, all) = Execute(directory, file, args);
        Assert.True(exitCode == 0, $"{file} {string.Join(' ', args)} failed ({exitCode}):\n{Tail(all)}");
        return all;
    }

    private (int ExitCode, string Output) Execute(string directory, string file, params string[] args)
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
        return (p.ExitCode, all);
    }

    private static string Tail(string s) => string.Join('\n', s.Split('\n').TakeLast(40));

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "EdgeBuild.sln"))) return d.FullName;
        throw new InvalidOperationException("EdgeBuild.sln not found");
    }
}
