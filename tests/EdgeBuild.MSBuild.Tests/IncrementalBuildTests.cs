using System.Diagnostics;
using System.Text.Json;
using EdgeBuild.MSBuild.Tests.Support;

namespace EdgeBuild.MSBuild.Tests;

/// <summary>The build lifecycle of one EdgeModel: compile, skip when nothing changed, recompile on a change, publish, clean.</summary>
public class IncrementalBuildTests
{
    [Fact]
    public void FirstBuildCompilesAndCopies_SecondBuildDoesNotRunTheCompiler()
    {
        using var s = new Scenario("first");
        string model = s.Model("models/face-detect.onnx");
        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" />""");

        var first = s.Build();
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal(1, first.CompilerRuns);
        Assert.True(File.Exists(s.Manifest("FaceDetect")), first.ToString());
        Assert.True(File.Exists(s.Artifact("FaceDetect")));
        Assert.Equal(File.ReadAllBytes(s.Artifact("FaceDetect")), File.ReadAllBytes(s.BinArtifact("FaceDetect")));
        using (var json = JsonDocument.Parse(File.ReadAllText(s.Manifest("FaceDetect"))))
        {
            Assert.Equal("FaceDetect", json.RootElement.GetProperty("name").GetString());
            Assert.Equal("App", json.RootElement.GetProperty("namespace").GetString());
            Assert.Equal("FaceDetect.onnx", json.RootElement.GetProperty("artifacts")[0].GetProperty("path").GetString());
        }
        // The manifest reaches the C# compiler (the source generator's only input).
        Assert.Contains($"/additionalfile:{Quoted(s.Manifest("FaceDetect"))}", first.Output, StringComparison.Ordinal);

        // The build only adds incrementality: the CLI writes the same bytes for the same inputs.
        string cliOut = Path.Combine(s.Root, "cli");
        // Scenario projects build with EdgeBuildMeasure=false, which the task passes as --no-measure.
        var cli = RunCli(model, "--out", cliOut, "--name", "FaceDetect", "--namespace", "App", "--no-measure", "-q");
        Assert.True(cli.ExitCode == 0, cli.Output);
        Assert.Equal(File.ReadAllBytes(s.Manifest("FaceDetect")), File.ReadAllBytes(Path.Combine(cliOut, "FaceDetect.edgemodel.json")));
        Assert.Equal(File.ReadAllBytes(s.Artifact("FaceDetect")), File.ReadAllBytes(Path.Combine(cliOut, "FaceDetect.onnx")));

        var stamp = File.GetLastWriteTimeUtc(s.Manifest("FaceDetect"));
        var second = s.Build();
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.True(second.Skipped("_EdgeBuildCompileModels"), second.ToString());
        Assert.Equal(0, second.CompilerRuns);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(s.Manifest("FaceDetect")));
        Assert.True(File.Exists(s.BinArtifact("FaceDetect")));
    }

    [Fact]
    public void ChangedMetadataRecompiles_PublishCopiesTheArtifact_CleanRemovesEverything()
    {
        using var s = new Scenario("change");
        s.Model("models/face-detect.onnx");
        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" LatencyBudgetMs="30" />""");
        var first = s.Build();
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal(1, first.CompilerRuns);

        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" LatencyBudgetMs="25.5" />""");
        var latency = s.Build();
        Assert.True(latency.ExitCode == 0, latency.ToString());
        Assert.Equal(1, latency.CompilerRuns);
        using (var json = JsonDocument.Parse(File.ReadAllText(s.Manifest("FaceDetect"))))
            Assert.Equal(25.5, json.RootElement.GetProperty("options").GetProperty("latencyBudgetMs").GetDouble());

        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" LatencyBudgetMs="25.5" ClassName="Detector" Namespace="App.Models" />""");
        var renamed = s.Build();
        Assert.True(renamed.ExitCode == 0, renamed.ToString());
        Assert.Equal(1, renamed.CompilerRuns);
        Assert.True(File.Exists(s.Manifest("Detector")));
        Assert.True(File.Exists(s.BinArtifact("Detector")));
        // IncrementalClean removes what the previous build wrote and this one no longer lists.
        Assert.False(File.Exists(s.BinArtifact("FaceDetect")), renamed.ToString());
        Assert.False(File.Exists(s.Manifest("FaceDetect")));
        Assert.False(File.Exists(s.Artifact("FaceDetect")));

        string publishDir = Path.Combine(s.Root, "publish");
        var publish = s.Dotnet(["publish", s.ProjectPath, "--no-build", "-c", "Debug", "-o", publishDir]);
        Assert.True(publish.ExitCode == 0, publish.ToString());
        Assert.Equal(File.ReadAllBytes(s.Artifact("Detector")), File.ReadAllBytes(Path.Combine(publishDir, "Detector.onnx")));
        Assert.False(File.Exists(Path.Combine(publishDir, "Detector.edgemodel.json")));

        var clean = s.Dotnet(["clean", s.ProjectPath]);
        Assert.True(clean.ExitCode == 0, clean.ToString());
        Assert.Empty(s.Outputs());
        Assert.Empty(Directory.EnumerateFiles(s.ObjEdgeBuild, "*", SearchOption.AllDirectories));
    }

    private static string Quoted(string path) => path.Contains(' ', StringComparison.Ordinal) ? $"\"{path}\"" : path;

    private static (int ExitCode, string Output) RunCli(string model, params string[] args)
    {
        string dll = Path.Combine(Scenario.RepoRoot, "src", "EdgeBuild.Cli", "bin",
#if DEBUG
            "Debug",
#else
            "Release",
#endif
            "net10.0", "edgebuild.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "exec", dll, "compile", model }.Concat(args)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
