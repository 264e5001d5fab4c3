using EdgeBuild.MSBuild.Tests.Support;

namespace EdgeBuild.MSBuild.Tests;

/// <summary>
/// Each broken EdgeModel ends in exactly one EB error at the item's element in the project file, a failed build,
/// no stack trace, and none of the model's outputs left from the good build before it (obj and bin).
/// </summary>
public class BuildErrorTests
{
    private const string Item = """<EdgeModel Include="models/face-detect.onnx" />""";

    [Fact]
    public void MissingModelFile()
    {
        using var s = BuiltScenario("missing");
        File.Delete(Path.Combine(s.Directory, "models", "face-detect.onnx"));
        AssertOneErrorAtTheItem(s, s.Build(), "EB6002", "face-detect.onnx");
    }

    [Fact]
    public void UnknownPrecision()
    {
        using var s = BuiltScenario("int7");
        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" Precision="Int7" />""");
        var r = s.Build();
        AssertOneErrorAtTheItem(s, r, "EB6001", "'Int7' is not a valid Precision (valid: Fp32, Fp16, Int8, Int8Dynamic, Mixed, Auto)");
        Assert.Equal(0, r.CompilerRuns);
    }

    [Fact]
    public void CorruptModel()
    {
        using var s = BuiltScenario("corrupt");
        TinyModels.WriteCorrupt(Path.Combine(s.Directory, "models", "face-detect.onnx"));
        var r = s.Build();
        AssertOneErrorAtTheItem(s, r, "EB1002", "face-detect.onnx");
        Assert.Equal(1, r.CompilerRuns);
    }

    [Fact]
    public void CalibrationPatternMatchingNothing()
    {
        using var s = BuiltScenario("calib");
        s.Write("calib/readme.txt", "no images here\n");
        s.WriteProject("""
                <EdgeModel Include="models/face-detect.onnx"
                           Calibration="calib/*.jpg" />
            """);
        var r = s.Build();
        AssertOneErrorAtTheItem(s, r, "EB6003", "calib/*.jpg: Calibration pattern matched no files");
        Assert.Equal(0, r.CompilerRuns);
    }

    /// <summary>A project that built once, so the error build has stale outputs to remove.</summary>
    private static Scenario BuiltScenario(string name)
    {
        var s = new Scenario(name);
        s.Model("models/face-detect.onnx");
        s.WriteProject(Item);
        var good = s.Build();
        Assert.True(good.ExitCode == 0, good.ToString());
        Assert.True(File.Exists(s.BinArtifact("FaceDetect")));
        return s;
    }

    private static void AssertOneErrorAtTheItem(Scenario s, BuildResult r, string code, string text)
    {
        Assert.True(r.ExitCode != 0, r.ToString());
        var (line, column) = s.LineOf("<EdgeModel");
        string error = Assert.Single(r.Errors);
        Assert.StartsWith($"{s.ProjectPath}({line},{column}): error {code}: ", error, StringComparison.Ordinal);
        Assert.Contains(text, error, StringComparison.Ordinal);
        // The console shows the same one error (its summary repeats it), and nothing from MSBuild or ToolTask.
        var consoleErrors = r.Output.Split('\n')
            .Where(l => l.Contains(": error ", StringComparison.Ordinal))
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l.Trim(), @"^\d+>", ""))
            .Distinct().ToList();
        Assert.True(consoleErrors.Count == 1, r.ToString());
        Assert.DoesNotContain("error MSB", r.Output, StringComparison.Ordinal);
        Assert.False(r.HasStackTrace, r.ToString());
        Assert.Empty(s.Outputs());
    }
}
