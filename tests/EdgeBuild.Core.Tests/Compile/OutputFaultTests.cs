using EdgeBuild.Compile;
using EdgeBuild.Onnx;
using EdgeBuild.Tests.Support;
using EdgeBuild.Session;

namespace EdgeBuild.Tests.Compile;

/// <summary>
/// A compile's outputs are one set: a kill at any point leaves the previous set or the new one, and compiles into one
/// folder take turns (issue 15). The long runs (100 kills, 20 overlaps) are the benchmark's <c>compile-faults</c> mode.
/// </summary>
public sealed class OutputFaultTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-faults-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private sealed class StopHere : Exception;

    private string SaveModel()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 3, 8, 8);
        b.Output(b.Op("Relu", [b.Conv(x, "conv", 4, 3)], "y"));
        string path = Path.Combine(dir, "net.onnx");
        OnnxExporter.Save(b.Model, path);
        return path;
    }

    /// <summary>
    /// The real edgebuild process, SIGKILLed at seeded random points of an Int8 ONNX + TFLite compile over a previous
    /// Fp32 ONNX + TFLite + TensorRT set: never a mix, and after the next compile's recovery exactly one of the two sets.
    /// </summary>
    [Fact]
    public void SigkillAtRandomPointsLeavesThePreviousSetOrTheNewOne()
    {
        var faults = new CompileFaults(dir);
        var counts = faults.Kills(6, seed: 15, "fp32-onnx-tflite-tensorrt", "int8-onnx-tflite");
        Assert.True(counts.Inconsistent == 0 && counts.RecoveredInconsistent == 0, string.Join("\n", counts.Problems));
        Assert.Equal(6, counts.Old + counts.New + counts.ApplyPending);
    }

    /// <summary>Two compiles with different settings into one folder at once: both succeed, one after the other, and the folder holds one whole set.</summary>
    [Fact]
    public void OverlappingCompilesWithDifferentSettingsTakeTurns()
    {
        var faults = new CompileFaults(dir);
        var counts = faults.Overlaps(2, seed: 15, "int8-onnx-tflite", "fp32-onnx-tflite-tensorrt");
        Assert.True(counts.Mixed == 0 && counts.FailedExits == 0, string.Join("\n", counts.Problems));
    }

    /// <summary>
    /// Every point of the commit, one by one (the journal, each delete, each move, the manifest, the clean-up): stopped
    /// there, the folder's manifest (if any) lists exactly the files present; no manifest happens only with a committed
    /// stage; and the next compile's recovery leaves exactly the old set (stopped before the journal) or the new one.
    /// </summary>
    [Fact]
    public void StoppedAtEveryStepOfTheCommitTheFolderIsOneSetAfterRecovery()
    {
        string model = SaveModel();
        string outDir = Path.Combine(dir, "out"), oldDir = Path.Combine(dir, "old"), newDir = Path.Combine(dir, "new");
        // A measurement cache: every compile of the new settings writes the same reports and manifest.
        var measure = new EdgeBuild.Measure.MeasureSettings { CacheDirectory = Path.Combine(dir, "cache"), Bench = new EdgeBuild.Measure.BenchOptions { TimeCapSeconds = 0.5 } };
        var oldOptions = new CompileOptions { Name = "Net", Targets = [TargetKind.Onnx, TargetKind.TensorRT], Measurement = measure };
        var newOptions = new CompileOptions { Name = "Net", Precision = Precision.Fp16, Targets = [TargetKind.Onnx, TargetKind.TFLite], Measurement = measure };
        ModelCompiler.Compile(model, oldDir, oldOptions);
        ModelCompiler.Compile(model, newDir, newOptions);
        var sets = new[] { CompileFaults.Snapshot(oldDir), CompileFaults.Snapshot(newDir) };
        Assert.NotEqual(sets[0].Keys, sets[1].Keys);

        int steps = 0;
        var outcomes = new List<FolderState>();
        for (int stopAt = 0; ; stopAt++)
        {
            CompileFaults.Restore(oldDir, outDir);
            int step = 0;
            OutputFolder.BeforeStep.Value = () => { if (step++ == stopAt) throw new StopHere(); };
            try
            {
                ModelCompiler.Compile(model, outDir, newOptions);
                steps = stopAt;
                break;
            }
            catch (StopHere) { }
            finally { OutputFolder.BeforeStep.Value = null; }

            var (raw, _, why) = CompileFaults.Classify(outDir, sets, oldSet: 0);
            Assert.True(raw != FolderState.Inconsistent, $"stopped at step {stopAt}: {why}");
            using (OutputFolder.Open(outDir, TimeSpan.FromSeconds(5))) { }
            var (recovered, _, whyAfter) = CompileFaults.Classify(outDir, sets, oldSet: 0);
            Assert.True(recovered == (stopAt == 0 ? FolderState.Old : FolderState.New), $"stopped at step {stopAt}, after recovery: {recovered} {whyAfter}");
            outcomes.Add(raw);
        }
        // The journal, the old manifest, four stale kit files, the ONNX and TFLite files, three reports, the manifest, the clean-up.
        Assert.True(steps >= 12, $"{steps} steps");
        Assert.Contains(FolderState.ApplyPending, outcomes);
        Assert.Equal(FolderState.New, outcomes[^1]); // stopped before the stage is deleted: the set is already complete
    }

    /// <summary>A compile that cannot get the folder's lock in time is EB1020, naming the folder, and writes nothing.</summary>
    [Fact]
    public void ACompileThatCannotGetTheLockIsEB1020AndTouchesNothing()
    {
        string model = SaveModel();
        string outDir = Path.Combine(dir, "out");
        Assert.Equal(0, CliRunner.Run("compile", model, "--out", outDir, "--no-measure", "-q").Exit);
        var before = CompileFaults.Snapshot(outDir);
        using (OutputFolder.Open(outDir, TimeSpan.Zero))
        {
            var (exit, _, stderr) = CliRunner.Run("compile", model, "--out", outDir, "--precision", "Fp16", "--lock-timeout", "0.3", "-q");
            Assert.Equal(1, exit);
            Assert.StartsWith($"error EB1020: {outDir}: another edgebuild process has held this folder's lock", stderr);
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        Assert.Equal(before, CompileFaults.Snapshot(outDir));
        // Released: the next compile gets it at once.
        Assert.Equal(0, CliRunner.Run("compile", model, "--out", outDir, "--precision", "Fp16", "--lock-timeout", "0", "--no-measure", "-q").Exit);
    }

    /// <summary>A stage without its journal is a compile killed before its commit: the next compile discards it, and the old set stays.</summary>
    [Fact]
    public void AnUncommittedStageIsDiscardedAndTheOldSetStays()
    {
        string model = SaveModel();
        string outDir = Path.Combine(dir, "out");
        ModelCompiler.Compile(model, outDir, new CompileOptions { Name = "Net" });
        var before = CompileFaults.Snapshot(outDir);
        string stage = Path.Combine(outDir, OutputFolder.StateDirectoryName, "Net.stage");
        Directory.CreateDirectory(stage);
        File.WriteAllText(Path.Combine(stage, "Net.onnx"), "half a model");
        var lines = new List<string>();
        using (OutputFolder.Open(outDir, TimeSpan.Zero, lines.Add)) { }
        Assert.False(Directory.Exists(stage));
        Assert.Equal(before, CompileFaults.Snapshot(outDir));
        Assert.Contains(lines, l => l.StartsWith("discarding the unfinished outputs of an interrupted compile", StringComparison.Ordinal));
    }

    /// <summary>A convert over a compiled set: the manifest of that name described the old bytes, so it goes with them.</summary>
    [Fact]
    public void ConvertRemovesTheManifestThatDescribedTheReplacedArtifacts()
    {
        string model = SaveModel();
        string outDir = Path.Combine(dir, "out");
        Assert.Equal(0, CliRunner.Run("compile", model, "--out", outDir, "--name", "Net", "--measure-seconds", "0.5", "--measure-cache", Path.Combine(dir, "cache"), "-q").Exit);
        Assert.True(File.Exists(Path.Combine(outDir, "report.json")));
        Assert.Equal(0, CliRunner.Run("convert", model, "--target", "onnx", "--precision", "Fp16", "--name", "Net", "-o", outDir, "-q").Exit);
        Assert.Equal(["Net.onnx"], Directory.GetFiles(outDir).Select(Path.GetFileName));
    }
}
