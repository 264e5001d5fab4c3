using System.Security.Cryptography;
using EdgeBuild.MSBuild.Tests.Support;

namespace EdgeBuild.MSBuild.Tests;

/// <summary>
/// Each model owns its outputs: a model that fails (by a budget, a corrupt file or bad calibration) removes its own
/// manifest and artifacts in obj/ and bin/ and touches no other model's files or up-to-date state; the next good build
/// compiles only the model that failed.
/// </summary>
public class ArtifactOwnershipTests
{
    private static string Items(string third) => $"""
            <EdgeModel Include="models/first.onnx" ClassName="FaceDetector" />
            <EdgeModel Include="models/second.onnx" ClassName="Landmarks" Targets="Onnx;TFLite" />
            {third}
        """;

    private const string GoodThird = """<EdgeModel Include="models/third.onnx" ClassName="EyeState" LatencyBudgetMs="1000" Targets="Onnx;TFLite" />""";

    [Fact]
    public void FailingModelRemovesOnlyItsOwnOutputs_OthersStayUpToDate()
    {
        using var s = new Scenario("owners");
        s.Model("models/first.onnx", seed: 1);
        s.Model("models/second.onnx", seed: 2);
        s.Model("models/third.onnx", seed: 3);
        s.WriteCalibrationNpy(12, seed: 5);
        s.WriteProject(Items(GoodThird), s.MeasureProperties(0.3));
        var r = s.Build();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(3, r.CompilerRuns);
        var others = Snapshot(s, "FaceDetector", "Landmarks");
        Assert.Equal(3 + 5, others.Count); // each model's manifest and artifacts in obj/, its artifacts in bin/

        // 1. The third model misses its latency budget.
        s.WriteProject(Items(GoodThird.Replace("LatencyBudgetMs=\"1000\"", "LatencyBudgetMs=\"0.00001\"", StringComparison.Ordinal)), s.MeasureProperties(0.3));
        AssertFailsAlone(s, others, "EB5002");

        // The budget raised: only the failed model compiles; the others were never out of date.
        s.WriteProject(Items(GoodThird), s.MeasureProperties(0.3));
        AssertGoodBuildCompilesOnlyTheThird(s, others);

        // 2. The third model's file is corrupt.
        byte[] good = File.ReadAllBytes(Path.Combine(s.Directory, "models", "third.onnx"));
        s.Write("models/third.onnx", "this is not an ONNX model\n");
        AssertFailsAlone(s, others, "EB1");
        File.WriteAllBytes(Path.Combine(s.Directory, "models", "third.onnx"), good);
        AssertGoodBuildCompilesOnlyTheThird(s, others);

        // 3. The third model's calibration data is bad (an .npy file that is not one).
        s.Write("badcalib/sample.npy", "\x93NUMPY broken");
        s.WriteProject(Items(GoodThird.Replace("/>", """Precision="Int8" Calibration="badcalib/*.npy" />""", StringComparison.Ordinal)), s.MeasureProperties(0.3));
        AssertFailsAlone(s, others, "EB");
        s.WriteProject(Items(GoodThird), s.MeasureProperties(0.3));
        AssertGoodBuildCompilesOnlyTheThird(s, others);
    }

    /// <summary>Targets narrowed (TFLite dropped): the recompiled model's .tflite leaves obj/ and bin/.</summary>
    [Fact]
    public void ArtifactsOfDroppedTargetsAreRemoved()
    {
        using var s = new Scenario("stale");
        s.Model("models/third.onnx", seed: 3);
        s.WriteProject(GoodThird.Replace(" LatencyBudgetMs=\"1000\"", "", StringComparison.Ordinal));
        var r = s.Build();
        Assert.True(r.ExitCode == 0, r.ToString());
        string objTflite = Path.Combine(s.ObjEdgeBuild, "EyeState", "EyeState.tflite"), binTflite = Path.Combine(s.BinDir, "EyeState.tflite");
        Assert.True(File.Exists(objTflite) && File.Exists(binTflite), r.ToString());

        // A failed build with the narrower targets removes the old set too (it never reaches IncrementalClean).
        s.WriteProject("""<EdgeModel Include="models/third.onnx" ClassName="EyeState" Targets="Onnx" LatencyBudgetMs="0.00001" />""",
            s.MeasureProperties(0.3));
        r = s.Build();
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.False(File.Exists(binTflite), "bin/ keeps the previous settings' .tflite after a failed build");
        Assert.False(File.Exists(objTflite));

        s.WriteProject("""<EdgeModel Include="models/third.onnx" ClassName="EyeState" Targets="Onnx" />""");
        r = s.Build();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.False(File.Exists(objTflite));
        Assert.False(File.Exists(binTflite));
        Assert.True(File.Exists(s.BinArtifact("EyeState")));
    }

    /// <summary>A manifest whose artifact was deleted by hand is out of date: the build recompiles instead of shipping an app that cannot load its model.</summary>
    [Fact]
    public void MissingArtifactBesideAManifestRecompiles()
    {
        using var s = new Scenario("missing");
        s.Model("models/first.onnx", seed: 1);
        s.WriteProject("""<EdgeModel Include="models/first.onnx" ClassName="FaceDetector" Targets="Onnx;TFLite" />""");
        var r = s.Build();
        Assert.True(r.ExitCode == 0, r.ToString());
        File.Delete(Path.Combine(s.ObjEdgeBuild, "FaceDetector", "FaceDetector.tflite"));
        r = s.Build();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(1, r.CompilerRuns);
        Assert.True(File.Exists(Path.Combine(s.ObjEdgeBuild, "FaceDetector", "FaceDetector.tflite")));
    }

    private static void AssertFailsAlone(Scenario s, IReadOnlyDictionary<string, (string Hash, DateTime Time)> others, string code)
    {
        var r = s.Build();
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Contains(r.Errors, e => e.Contains($"error {code}", StringComparison.Ordinal));
        Assert.False(r.HasStackTrace, r.ToString());
        Assert.Equal(others, Snapshot(s, "FaceDetector", "Landmarks"));
        // The failed model's whole set is gone, so it cannot look up to date (or ship a stale artifact) next time.
        Assert.False(File.Exists(s.Manifest("EyeState")), r.ToString());
        Assert.Empty(OutputsOf(s, "EyeState"));
    }

    private static void AssertGoodBuildCompilesOnlyTheThird(Scenario s, IReadOnlyDictionary<string, (string Hash, DateTime Time)> others)
    {
        var r = s.Build();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(1, r.CompilerRuns);
        Assert.Equal(others, Snapshot(s, "FaceDetector", "Landmarks"));
        Assert.True(File.Exists(s.Manifest("EyeState")));
        Assert.True(File.Exists(s.BinArtifact("EyeState")));
        Assert.True(File.Exists(Path.Combine(s.BinDir, "EyeState.tflite")));
    }

    private static IEnumerable<string> OutputsOf(Scenario s, string className) =>
        new[] { Path.Combine(s.ObjEdgeBuild, className), s.BinDir }.Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d))
            .Where(f => Path.GetFileName(f).StartsWith(className + ".", StringComparison.Ordinal) &&
                        (f.EndsWith(".onnx", StringComparison.Ordinal) || f.EndsWith(".tflite", StringComparison.Ordinal) || f.EndsWith(".edgemodel.json", StringComparison.Ordinal)));

    /// <summary>Content hash and write time of every manifest and artifact of the named models in obj/ and bin/.</summary>
    private static Dictionary<string, (string Hash, DateTime Time)> Snapshot(Scenario s, params string[] classNames) =>
        classNames.SelectMany(c => OutputsOf(s, c)).ToDictionary(f => f,
            f => (Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))), File.GetLastWriteTimeUtc(f)));
}
