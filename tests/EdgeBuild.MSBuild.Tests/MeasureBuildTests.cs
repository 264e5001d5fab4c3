using System.Text.Json;
using EdgeBuild.MSBuild.Tests.Support;

namespace EdgeBuild.MSBuild.Tests;

/// <summary>
/// Measurement in a real <c>dotnet build</c>: budgets from item metadata fail the build at the item, the measurement
/// cache makes the next build cheap, EdgeBuildMeasure=false switches it off, and bad budget values are EB6001.
/// </summary>
public class MeasureBuildTests
{
    [Fact]
    public void LatencyBudgetBelowTheMeasuredP99FailsAtTheItemAndRaisingItPasses()
    {
        using var s = new Scenario("budget");
        s.Model("models/face-detect.onnx");
        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" LatencyBudgetMs="0.00001" />""", s.MeasureProperties());
        var r = s.Build();
        Assert.True(r.ExitCode != 0, r.ToString());
        var (line, column) = s.LineOf("<EdgeModel");
        string error = Assert.Single(r.Errors);
        Assert.StartsWith($"{s.ProjectPath}({line},{column}): error EB5002: FaceDetect (FaceDetect.onnx): P99 ", error, StringComparison.Ordinal);
        Assert.Contains("LatencyBudgetMs=1E-05", error, StringComparison.Ordinal);
        Assert.False(r.HasStackTrace, r.ToString());
        Assert.Contains("--measure-seconds 1 --threads 1 --measure-cache ", r.Log, StringComparison.Ordinal);
        Assert.False(File.Exists(s.Manifest("FaceDetect")));
        Assert.True(File.Exists(Path.Combine(s.ObjEdgeBuild, "FaceDetect", "report.html")), "the failing build's report says why");

        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" LatencyBudgetMs="1000" />""", s.MeasureProperties());
        r = s.Build();
        Assert.True(r.ExitCode == 0, r.ToString());
        // One line per model in the plain build output: what was deployed, measured (clock, shape, threads) and judged.
        string summary = Assert.Single(r.Output.Split('\n'), l => l.Contains("EdgeBuild: FaceDetect: ", StringComparison.Ordinal)).Trim();
        foreach (var part in new[] { "EdgeBuild: FaceDetect: Fp32; 2 nodes; FaceDetect.onnx ", "FaceDetect.onnx P99 ", "(thread CPU time; input input=1x3x8x8, 1 thread(s), CPUExecutionProvider, " })
            Assert.True(summary.Contains(part, StringComparison.Ordinal), $"'{part}' not in: {summary}");
        Assert.True(summary.EndsWith("budgets: LatencyBudgetMs=1000 pass", StringComparison.Ordinal), summary);
        // The passes of each round are details: not in a plain build's output.
        Assert.DoesNotContain("edgebuild: round 1: ", r.Output, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(File.ReadAllText(s.Manifest("FaceDetect")));
        var budget = doc.RootElement.GetProperty("metrics").GetProperty("budgets")[0];
        Assert.Equal("LatencyBudgetMs", budget.GetProperty("budget").GetString());
        Assert.Equal("pass", budget.GetProperty("status").GetString());
        Assert.Single(Directory.GetFiles(Path.Combine(s.Root, "measure-cache")));
    }

    [Fact]
    public void MeasureFalseSkipsMeasurementAndItsBudgets()
    {
        using var s = new Scenario("nomeasure");
        s.Model("models/face-detect.onnx");
        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" LatencyBudgetMs="0.00001" MinFps="1000000" />""",
            s.MeasureProperties().Replace("<EdgeBuildMeasure>true</EdgeBuildMeasure>", "<EdgeBuildMeasure>false</EdgeBuildMeasure>"));
        string detailed = Path.Combine(s.Root, "detailed.log");
        var r = s.Build("-fl2", $"-flp2:logfile={detailed};verbosity=detailed");
        Assert.True(r.ExitCode == 0, r.ToString());
        // At detailed verbosity the build shows what the compiler did, pass by pass (the CLI's --verbose lines);
        // at normal verbosity it does not.
        Assert.Contains("edgebuild: round 1: ", File.ReadAllText(detailed), StringComparison.Ordinal);
        Assert.DoesNotContain("edgebuild: round 1: ", r.Output, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(File.ReadAllText(s.Manifest("FaceDetect")));
        Assert.Empty(doc.RootElement.GetProperty("metrics").EnumerateObject());
        Assert.False(File.Exists(Path.Combine(s.ObjEdgeBuild, "FaceDetect", "report.html")));
    }

    /// <summary>
    /// -p:EdgeBuildUpdateBaseline=true writes the baseline beside the model; the next build compares with it; the baseline is
    /// a build input, so breaking it fails the next build at the item (EB5010).
    /// </summary>
    [Fact]
    public void BaselineWrittenByTheBuildIsComparedAndIsAnInput()
    {
        using var s = new Scenario("baseline");
        s.Model("models/face-detect.onnx");
        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" />""", s.MeasureProperties());
        var r = s.Build("-p:EdgeBuildUpdateBaseline=true");
        Assert.True(r.ExitCode == 0, r.ToString());
        string baseline = Path.Combine(s.Directory, "models", "face-detect.edgebaseline.json");
        Assert.True(File.Exists(baseline), r.ToString());

        r = s.Build();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(1, r.CompilerRuns);
        using (var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(s.ObjEdgeBuild, "FaceDetect", "report.json"))))
            Assert.Equal("face-detect.edgebaseline.json", report.RootElement.GetProperty("baseline").GetProperty("file").GetString());

        File.WriteAllText(baseline, "<<<<<<< HEAD\n");
        r = s.Build();
        Assert.True(r.ExitCode != 0, r.ToString());
        var (line, column) = s.LineOf("<EdgeModel");
        Assert.StartsWith($"{s.ProjectPath}({line},{column}): error EB5010: {baseline}: ", Assert.Single(r.Errors), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("MinFps=\"fast\"", "MinFps: 'fast' is not a number")]
    [InlineData("MaxSizeMB=\"-1\"", "MaxSizeMB: -1 is not a positive number")]
    public void NonNumericOrNegativeBudgetIsEB6001AtTheItem(string metadata, string text)
    {
        using var s = new Scenario("badbudget");
        s.Model("models/face-detect.onnx");
        s.WriteProject($"""<EdgeModel Include="models/face-detect.onnx" {metadata} />""", s.MeasureProperties());
        var r = s.Build();
        Assert.True(r.ExitCode != 0, r.ToString());
        var (line, column) = s.LineOf("<EdgeModel");
        string error = Assert.Single(r.Errors);
        Assert.StartsWith($"{s.ProjectPath}({line},{column}): error EB6001: ", error, StringComparison.Ordinal);
        Assert.Contains(text, error, StringComparison.Ordinal);
        Assert.False(r.HasStackTrace, r.ToString());
    }
}
