using System.Text.Json;
using EdgeBuild.MSBuild.Tests.Support;

namespace EdgeBuild.MSBuild.Tests;

/// <summary>Parallel builds, awkward paths and design-time builds.</summary>
public class ProjectShapeTests
{
    /// <summary>
    /// Two projects built in parallel (-m), three models: one model file shared by both projects (each compiles it into
    /// its own obj), and a project compiling two models.
    /// </summary>
    [Fact]
    public void ParallelBuildWithThreeModels()
    {
        using var s = new Scenario("parallel");
        TinyModels.WriteConvRelu(Path.Combine(s.Root, "shared", "backbone.onnx"), seed: 3);
        TinyModels.WriteConvRelu(Path.Combine(s.Root, "A", "models", "head.onnx"), seed: 4);
        Directory.CreateDirectory(Path.Combine(s.Root, "B"));
        File.WriteAllText(Path.Combine(s.Root, "A", "A.csproj"), Scenario.ProjectText("""
                <EdgeModel Include="../shared/backbone.onnx" />
                <EdgeModel Include="models/head.onnx" Namespace="A.Models" />
            """, rootNamespace: "A"));
        File.WriteAllText(Path.Combine(s.Root, "B", "B.csproj"), Scenario.ProjectText("""
                <EdgeModel Include="../shared/backbone.onnx" ClassName="SharedBackbone" />
            """, rootNamespace: "B"));
        foreach (var p in new[] { "A", "B" }) File.WriteAllText(Path.Combine(s.Root, p, "Program.cs"), "System.Console.WriteLine(1);\n");
        File.WriteAllText(Path.Combine(s.Root, "all.slnx"), """
            <Solution>
              <Project Path="A/A.csproj" />
              <Project Path="B/B.csproj" />
            </Solution>
            """);

        var r = s.Dotnet(["build", Path.Combine(s.Root, "all.slnx"), "-m:2"], s.Root);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(3, r.CompilerRuns);
        foreach (var (project, cls) in new[] { ("A", "Backbone"), ("A", "Head"), ("B", "SharedBackbone") })
        {
            string obj = Path.Combine(s.Root, project, "obj", "Debug", "net10.0", "edgebuild", cls);
            Assert.True(File.Exists(Path.Combine(obj, cls + ".edgemodel.json")), $"{project}/{cls}\n{r}");
            Assert.True(File.Exists(Path.Combine(s.Root, project, "bin", "Debug", "net10.0", cls + ".onnx")), $"{project}/{cls}");
        }
        using var head = JsonDocument.Parse(File.ReadAllText(Path.Combine(s.Root, "A", "obj", "Debug", "net10.0", "edgebuild", "Head", "Head.edgemodel.json")));
        Assert.Equal("A.Models", head.RootElement.GetProperty("namespace").GetString());

        var again = s.Dotnet(["build", Path.Combine(s.Root, "all.slnx"), "-m:2"], s.Root);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(0, again.CompilerRuns);
    }

    /// <summary>
    /// Models compiled in a library reach the app that references it: the artifact must sit next to the app, where the
    /// generated class looks for it (AppContext.BaseDirectory).
    /// </summary>
    [Fact]
    public void ReferencedLibrarysArtifactsAreCopiedToTheApp()
    {
        using var s = new Scenario("library");
        TinyModels.WriteConvRelu(Path.Combine(s.Root, "Lib", "models", "face.onnx"));
        File.WriteAllText(Path.Combine(s.Root, "Lib", "Lib.csproj"), Scenario.ProjectText("""
                <EdgeModel Include="models/face.onnx" />
            """, properties: "    <OutputType>Library</OutputType>", rootNamespace: "Lib"));
        Directory.CreateDirectory(Path.Combine(s.Root, "App"));
        File.WriteAllText(Path.Combine(s.Root, "App", "App.csproj"), Scenario.ProjectText("""
                <ProjectReference Include="../Lib/Lib.csproj" />
            """));
        File.WriteAllText(Path.Combine(s.Root, "App", "Program.cs"), "System.Console.WriteLine(1);\n");

        var r = s.Dotnet(["build", Path.Combine(s.Root, "App", "App.csproj")], s.Root);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(1, r.CompilerRuns);
        string built = Path.Combine(s.Root, "Lib", "obj", "Debug", "net10.0", "edgebuild", "Face", "Face.onnx");
        Assert.Equal(File.ReadAllBytes(built), File.ReadAllBytes(Path.Combine(s.Root, "App", "bin", "Debug", "net10.0", "Face.onnx")));
    }

    /// <summary>Spaces, '@' and ';' in the project folder, the project name, the model file and a calibration folder.</summary>
    [Fact]
    public void PathsWithSpacesAtSignsAndSemicolons()
    {
        using var s = new Scenario("paths", folder: "my app@1;2", projectName: "My App@1");
        s.Model("models/face detect@v1;2.onnx");
        s.Write("calib images/img@1.jpg", "not read at Fp32\n");
        s.WriteProject("""
                <EdgeModel Include="models/face detect@v1%3B2.onnx" Calibration="calib images/*.jpg" />
            """);

        var first = s.Build();
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal(1, first.CompilerRuns);
        Assert.True(File.Exists(s.Manifest("FaceDetectV12")), first.ToString());
        Assert.True(File.Exists(s.BinArtifact("FaceDetectV12")));
        using (var json = JsonDocument.Parse(File.ReadAllText(s.Manifest("FaceDetectV12"))))
        {
            Assert.Equal("face detect@v1;2.onnx", json.RootElement.GetProperty("source").GetProperty("file").GetString());
            Assert.EndsWith("img@1.jpg", json.RootElement.GetProperty("options").GetProperty("calibration")[0].GetString(), StringComparison.Ordinal);
        }

        var second = s.Build();
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal(0, second.CompilerRuns);

        // Errors find the element even when its Include is escaped.
        s.WriteProject("""
                <EdgeModel Include="models/face detect@v1%3B2.onnx" Calibration="calib images/*.jpg" Precision="Int7" />
            """);
        var error = s.Build();
        var (line, column) = s.LineOf("<EdgeModel");
        Assert.StartsWith($"{s.ProjectPath}({line},{column}): error EB6001: ", Assert.Single(error.Errors), StringComparison.Ordinal);
        Assert.Empty(s.Outputs());
    }

    /// <summary>
    /// An IDE's design-time build never runs the compiler, even with the model newer than its manifest, and still
    /// hands the existing manifest to the C# compiler as an AdditionalFile.
    /// </summary>
    [Fact]
    public void DesignTimeBuildUsesTheExistingManifestWithoutCompiling()
    {
        using var s = new Scenario("designtime");
        string model = s.Model("models/face-detect.onnx");
        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" />""");
        var build = s.Build();
        Assert.True(build.ExitCode == 0, build.ToString());
        var written = File.GetLastWriteTimeUtc(s.Manifest("FaceDetect"));
        File.SetLastWriteTimeUtc(model, DateTime.UtcNow.AddMinutes(1));

        var dtb = s.Dotnet(["msbuild", s.ProjectPath, "-t:Compile", "-p:DesignTimeBuild=true", "-p:BuildingProject=false",
            "-p:SkipCompilerExecution=true", "-p:ProvideCommandLineArgs=true", "-getItem:AdditionalFiles"]);
        Assert.True(dtb.ExitCode == 0, dtb.ToString());
        Assert.Equal(0, dtb.CompilerRuns);
        Assert.Equal(written, File.GetLastWriteTimeUtc(s.Manifest("FaceDetect")));
        int json = dtb.Output.IndexOf('{', StringComparison.Ordinal);
        using var items = JsonDocument.Parse(dtb.Output[json..(dtb.Output.LastIndexOf('}') + 1)]);
        var additional = items.RootElement.GetProperty("Items").GetProperty("AdditionalFiles").EnumerateArray()
            .Select(i => i.GetProperty("FullPath").GetString()).ToList();
        Assert.Contains(s.Manifest("FaceDetect"), additional);
    }
}
