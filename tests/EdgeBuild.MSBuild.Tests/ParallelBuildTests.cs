using System.Security.Cryptography;
using System.Text.Json;
using EdgeBuild.MSBuild.Tests.Support;

namespace EdgeBuild.MSBuild.Tests;

/// <summary>
/// <c>dotnet build -m</c> of a solution whose two projects compile four models and share one of them (the same .onnx
/// file, compiled by each project with its own settings, and one project referencing the other): every project's
/// manifests name exactly the artifacts beside them and in its bin/, nothing is missing or mixed between the projects,
/// and a second build finds everything up to date.
/// </summary>
public class ParallelBuildTests
{
    [Fact]
    public void ParallelBuildOfTwoProjectsSharingAModelIsCompleteAndThenUpToDate()
    {
        using var s = new Scenario("parallel", folder: "AppA", projectName: "AppA");
        string appB = Path.Combine(s.Root, "AppB");
        Directory.CreateDirectory(appB);
        File.WriteAllText(Path.Combine(appB, "Program.cs"), "System.Console.WriteLine(\"b\");\n");
        TinyModels.WriteConvRelu(Path.Combine(s.Root, "shared", "detector.onnx"), 1);
        s.Model("models/a-only.onnx", seed: 2);
        TinyModels.WriteConvRelu(Path.Combine(appB, "models", "b-first.onnx"), 3);
        TinyModels.WriteConvRelu(Path.Combine(appB, "models", "b-second.onnx"), 4);
        s.WriteCalibrationNpy(12, seed: 5);

        // The shared file: Fp32 ONNX in AppA; Int8 ONNX + TFLite in AppB, calibrated from AppA's files.
        s.WriteProject("""
                <EdgeModel Include="../shared/detector.onnx" ClassName="Detector" />
                <EdgeModel Include="models/a-only.onnx" ClassName="AOnly" Targets="Onnx;TFLite" />
            """);
        File.WriteAllText(Path.Combine(appB, "AppB.csproj"), Scenario.ProjectText("""
                <EdgeModel Include="../shared/detector.onnx" ClassName="Detector" Precision="Int8" Calibration="../AppA/calib/*.npy" Targets="Onnx;TFLite" />
                <EdgeModel Include="models/b-first.onnx" ClassName="BFirst" />
                <EdgeModel Include="models/b-second.onnx" ClassName="BSecond" Precision="Fp16" />
                <ProjectReference Include="../AppA/AppA.csproj" />
            """, rootNamespace: "AppB"));
        File.WriteAllText(Path.Combine(s.Root, "All.slnx"), """
            <Solution>
              <Project Path="AppA/AppA.csproj" />
              <Project Path="AppB/AppB.csproj" />
            </Solution>
            """);

        var r = s.Dotnet(["build", Path.Combine(s.Root, "All.slnx"), "-m:4"], s.Root);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.False(r.HasStackTrace, r.ToString());
        Assert.Equal(5, r.CompilerRuns);
        var a = Project(s.Directory, ["Detector", "AOnly"]);
        var b = Project(appB, ["Detector", "BFirst", "BSecond"]);
        Assert.Equal("Fp32", a.Precisions["Detector"]);
        Assert.Equal("Int8", b.Precisions["Detector"]);
        Assert.Equal("Fp16", b.Precisions["BSecond"]);

        // Second build of the same solution: nothing compiles, nothing is rewritten.
        var before = Snapshot(s.Root);
        r = s.Dotnet(["build", Path.Combine(s.Root, "All.slnx"), "-m:4"], s.Root);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(0, r.CompilerRuns);
        Assert.Equal(before, Snapshot(s.Root));
        Project(s.Directory, ["Detector", "AOnly"]);
        Project(appB, ["Detector", "BFirst", "BSecond"]);

        // The shared file changes: both projects recompile it, and only it.
        TinyModels.WriteConvRelu(Path.Combine(s.Root, "shared", "detector.onnx"), 7);
        r = s.Dotnet(["build", Path.Combine(s.Root, "All.slnx"), "-m:4"], s.Root);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(2, r.CompilerRuns);
        string sharedSha = Sha(Path.Combine(s.Root, "shared", "detector.onnx"));
        Assert.Equal(sharedSha, Project(s.Directory, ["Detector", "AOnly"]).SourceSha["Detector"]);
        Assert.Equal(sharedSha, Project(appB, ["Detector", "BFirst", "BSecond"]).SourceSha["Detector"]);
    }

    private sealed record ProjectState(Dictionary<string, string> Precisions, Dictionary<string, string> SourceSha);

    /// <summary>
    /// Each manifest in obj/ lists artifacts whose bytes are there with the hash it records, and bin/ holds the same
    /// bytes for every artifact of this project (the referenced project's files for the same name must not replace them).
    /// </summary>
    private static ProjectState Project(string folder, string[] classNames)
    {
        string obj = Path.Combine(folder, "obj", "Debug", "net10.0", "edgebuild"), bin = Path.Combine(folder, "bin", "Debug", "net10.0");
        var precisions = new Dictionary<string, string>();
        var sources = new Dictionary<string, string>();
        Assert.Equal(classNames.Order(StringComparer.Ordinal), Directory.EnumerateDirectories(obj).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (string name in classNames)
        {
            string manifest = Path.Combine(obj, name, name + ".edgemodel.json");
            Assert.True(File.Exists(manifest), $"{manifest} missing");
            using var doc = JsonDocument.Parse(File.ReadAllText(manifest));
            var root = doc.RootElement;
            sources[name] = root.GetProperty("source").GetProperty("sha256").GetString()!;
            foreach (var artifact in root.GetProperty("artifacts").EnumerateArray())
            {
                string file = artifact.GetProperty("path").GetString()!;
                string sha = artifact.GetProperty("sha256").GetString()!;
                Assert.True(Sha(Path.Combine(obj, name, file)) == sha, $"{folder}: obj {name}/{file} is not what its manifest lists");
                Assert.True(File.Exists(Path.Combine(bin, file)) && Sha(Path.Combine(bin, file)) == sha, $"{folder}: bin/{file} missing or not this project's {name}");
                if (artifact.GetProperty("target").GetString() == "Onnx") precisions[name] = artifact.GetProperty("precision").GetString()!;
            }
        }
        return new ProjectState(precisions, sources);
    }

    private static string Sha(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))).ToLowerInvariant();

    /// <summary>Hash and write time of every manifest and artifact under both projects' obj/ and bin/.</summary>
    private static Dictionary<string, (string, DateTime)> Snapshot(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => (f.Contains("/obj/", StringComparison.Ordinal) || f.Contains("/bin/", StringComparison.Ordinal))
                        && (f.EndsWith(".onnx", StringComparison.Ordinal) || f.EndsWith(".tflite", StringComparison.Ordinal) || f.EndsWith(".edgemodel.json", StringComparison.Ordinal)))
            .ToDictionary(f => f, f => (Sha(f), File.GetLastWriteTimeUtc(f)));
}
