using EdgeBuild.Diagnostics;
using EdgeBuild.Measure;

namespace EdgeBuild.Tests.Measure;

public sealed class BaselineTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-baseline-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static readonly BaselineModel Model = new("face.onnx", new string('1', 64), ["input:float32[1,3,8,8]"], ["output:float32[1,10]"]);

    private static BaselineFile File1(BenchResult r, double? accuracy = null) => new()
    {
        Model = Model,
        Machine = r.Machine,
        Artifacts = [new BaselineArtifact("Onnx/Fp32/CPUExecutionProvider", "Face.onnx", r.Sha256, r.Bytes, r.P50Ms, r.P99Ms, r.NormalizedP99, r.Fps.Value, r.Memory.ModelMB, accuracy)],
    };

    private static (List<Finding> Findings, List<BaselineComparison> Rows) Compare(BaselineFile baseline, BenchResult now, BaselineModel? model = null,
        double? accuracy = null, RegressionTolerances? tolerances = null) =>
        BaselineCheck.Compare(baseline, "face.edgebaseline.json", model ?? Model, [("Onnx/Fp32/CPUExecutionProvider", now, accuracy)], tolerances ?? new RegressionTolerances());

    [Fact]
    public void SameFiguresPass()
    {
        var (findings, rows) = Compare(File1(MeasureFixtures.Result()), MeasureFixtures.Result());
        Assert.Empty(findings);
        Assert.All(rows, r => Assert.Equal("pass", r.Status));
    }

    [Fact]
    public void SlowerBeyondToleranceWithItsWholeIntervalIsARegression()
    {
        var (findings, _) = Compare(File1(MeasureFixtures.Result(normalized: 20)), MeasureFixtures.Result(normalized: 25, normalizedLow: 23));
        var f = Assert.Single(findings);
        Assert.Equal(FindingSeverity.Error, f.Severity);
        Assert.Equal(DiagnosticCodes.Regression, f.Descriptor);
        Assert.Contains("+25.0 %", f.Message);
        Assert.Contains("LatencyTolerancePercent +10 %", f.Message);
        Assert.Contains("edgebuild baseline update", f.Format());
    }

    [Fact]
    public void GrowthBelowOneReferenceUnitIsNoise()
    {
        // +30 % of a 2-unit tail is 0.6 units: below the floor, so not reported even though its interval is past +10 %.
        var (findings, _) = Compare(File1(MeasureFixtures.Result(normalized: 2)), MeasureFixtures.Result(normalized: 2.6, normalizedLow: 2.5));
        Assert.Empty(findings);
    }

    [Fact]
    public void PastToleranceOnlyByTheValueIsAWarning()
    {
        var (findings, _) = Compare(File1(MeasureFixtures.Result(normalized: 20)), MeasureFixtures.Result(normalized: 22.5, normalizedLow: 21.5));
        Assert.Equal(DiagnosticCodes.PossibleRegression, Assert.Single(findings).Descriptor);
        Assert.Equal(FindingSeverity.Warning, findings[0].Severity);
    }

    [Fact]
    public void ToleranceCanBeRaised()
    {
        var (findings, _) = Compare(File1(MeasureFixtures.Result(normalized: 20)), MeasureFixtures.Result(normalized: 25, normalizedLow: 23),
            tolerances: new RegressionTolerances { LatencyPercent = 30 });
        Assert.Empty(findings);
    }

    [Fact]
    public void LargerAndLessAccurateAreRegressions()
    {
        var (findings, _) = Compare(File1(MeasureFixtures.Result(bytes: 1_000_000), accuracy: 0.5), MeasureFixtures.Result(bytes: 1_020_000), accuracy: 0.9);
        Assert.Equal(2, findings.Count(f => f.Descriptor == DiagnosticCodes.Regression));
        Assert.Contains(findings, f => f.Message.StartsWith("larger", StringComparison.Ordinal));
        Assert.Contains(findings, f => f.Message.StartsWith("less accurate", StringComparison.Ordinal) && f.Message.Contains("+0.400 points"));
    }

    [Fact]
    public void ChangedModelAndOtherMachineAreSaid()
    {
        var changed = Model with { Sha256 = new string('2', 64) };
        var (findings, _) = Compare(File1(MeasureFixtures.Result()), MeasureFixtures.Result(cpu: "Other CPU"), changed);
        Assert.Equal([DiagnosticCodes.BaselineModelChanged, DiagnosticCodes.BaselineOtherMachine], findings.Select(f => f.Descriptor));
        Assert.All(findings, f => Assert.Equal(FindingSeverity.Warning, f.Severity));
        Assert.Contains("edgebuild baseline update", findings[0].Format());
    }

    [Fact]
    public void BaselineOfAnotherModelIsAnErrorThatSaysToUpdate()
    {
        var other = Model with { Sha256 = new string('3', 64), Inputs = ["image:float32[1,3,224,224]"] };
        var e = Assert.Throws<EdgeBuildException>(() => Compare(File1(MeasureFixtures.Result()), MeasureFixtures.Result(), other));
        Assert.Equal(DiagnosticCodes.BaselineOtherModel, e.Descriptor);
        Assert.Contains("edgebuild baseline update", e.Format());
        Assert.Contains("image:float32[1,3,224,224]", e.Message);
    }

    [Theory]
    [InlineData("{ not json")]
    [InlineData("{}")]
    [InlineData("null")]
    [InlineData("{\"schemaVersion\": 7}")]
    [InlineData("<<<<<<< HEAD\n{}\n=======\n{}\n>>>>>>> branch\n")]
    public void CorruptBaselineIsEB5010NamingTheFile(string text)
    {
        string path = Path.Combine(dir, "face.edgebaseline.json");
        File.WriteAllText(path, text);
        var e = Assert.Throws<EdgeBuildException>(() => BaselineFile.Read(path));
        Assert.Equal(DiagnosticCodes.BaselineCorrupt, e.Descriptor);
        Assert.StartsWith($"error EB5010: {path}: ", e.Format());
    }

    [Fact]
    public void WrittenBaselineReadsBack()
    {
        string path = Path.Combine(dir, "face.edgebaseline.json");
        var file = File1(MeasureFixtures.Result());
        file.Write(path);
        var back = BaselineFile.Read(path);
        Assert.Equal(file.Model.Sha256, back.Model.Sha256);
        Assert.Equal(file.Artifacts[0].NormalizedP99, back.Artifacts[0].NormalizedP99);
        Assert.Equal(file.Machine.Id, back.Machine.Id);
        Assert.Equal(Path.Combine(dir, "face.edgebaseline.json"), BaselineFile.PathFor(Path.Combine(dir, "face.onnx")));
    }
}
