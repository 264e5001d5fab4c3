using System.Text.Json;
using EdgeBuild.Measure;
using EdgeBuild.MSBuild.Tests.Support;

using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Measure;

/// <summary>
/// The measurement end to end through the CLI on small conv nets built in code: bench, budgets in compile, the cache,
/// baselines (unchanged model, injected slowdown, corrupt file, another model), report and compare. Figures are
/// only compared within one test (ratios), never against absolute times.
/// </summary>
public sealed class MeasureCliTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-measure-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string Cache => Path.Combine(dir, "cache");

    private string Model(string name = "net.onnx", int size = 16, int blocks = 1, int extraWidth = 0)
    {
        string path = Path.Combine(dir, name);
        GateModels.WriteConvNet(path, size, blocks, extraWidth);
        return path;
    }

    private static (int Exit, string Stdout, string Stderr) Cli(params string[] args) => CliRunner.Run(args);

    private (int Exit, string Stdout, string Stderr) Compile(string model, string outDir, params string[] extra) =>
        Cli(["compile", model, "--out", Path.Combine(dir, outDir), "--measure-cache", Cache, "--measure-seconds", "2", "-q", .. extra]);

    private static string[] ErrorLines(string stderr) => stderr.Split('\n').Where(l => l.StartsWith("error EB", StringComparison.Ordinal)).ToArray();

    /// <summary>The conv net with its height and width left free (as dynamic-shape exports leave them).</summary>
    private string FreeSizeModel()
    {
        string path = Model("free.onnx");
        var model = EdgeBuild.Onnx.OnnxImporter.Load(path);
        var input = model.Graph.Inputs.Single(v => v.Initializer is null);
        input.Type = new EdgeBuild.Ir.TensorType(EdgeBuild.Ir.DataType.Float,
            new EdgeBuild.Ir.Shape([EdgeBuild.Ir.Dim.Of(1), EdgeBuild.Ir.Dim.Of(3), EdgeBuild.Ir.Dim.Symbolic("height"), EdgeBuild.Ir.Dim.Symbolic("width")]));
        foreach (var v in model.Graph.Values.Where(v => v.Producer is not null)) v.Type = null;
        File.WriteAllBytes(path, EdgeBuild.Onnx.OnnxExporter.ToBytes(model));
        return path;
    }

    /// <summary>
    /// Free input dims are fed at 1: with a latency budget that is an error asking for Shapes (the budget would be judged
    /// at a size nobody runs); without one, a warning; with Shapes, the figures name the shape they were measured at.
    /// </summary>
    [Fact]
    public void FreeInputDimsWithABudgetAreAnErrorAndWithoutOneAWarning()
    {
        string model = FreeSizeModel();
        var (exit, _, stderr) = Compile(model, "budget", "--latency-budget-ms", "1000");
        Assert.Equal(1, exit);
        string error = Assert.Single(ErrorLines(stderr));
        Assert.StartsWith("error EB5008: Free: input [1,3,height,width]: free dims;", error, StringComparison.Ordinal);
        Assert.Contains("Shapes=\"input=1,3,640,640\"", error, StringComparison.Ordinal);

        (exit, _, stderr) = Compile(model, "nobudget");
        Assert.True(exit == 0, stderr);
        Assert.Contains("warning EB5009: Free: input [1,3,height,width]: free dims measured at 1", stderr, StringComparison.Ordinal);
        using (var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "nobudget", "report.json"))))
        {
            var result = report.RootElement.GetProperty("artifacts")[0].GetProperty("result");
            Assert.Equal("input=1x3x1x1", result.GetProperty("inputShapes")[0].GetString());
            Assert.Equal("input", result.GetProperty("freeDimInputs")[0].GetString());
        }

        (exit, _, stderr) = Compile(model, "shaped", "--latency-budget-ms", "1000", "--shape", "input=1,3,24,20");
        Assert.True(exit == 0, stderr);
        Assert.DoesNotContain("EB500", stderr, StringComparison.Ordinal);
        string md = File.ReadAllText(Path.Combine(dir, "shaped", "report.md"));
        Assert.Contains("input input=1x3x24x20, 1 thread(s)", md, StringComparison.Ordinal);
    }

    [Fact]
    public void BenchPrintsEveryFigure()
    {
        var (exit, stdout, stderr) = Cli("bench", Model(), "--measure-seconds", "1");
        Assert.True(exit == 0, stderr);
        foreach (var label in new[] { "machine", "threads       1", "session load", "P50", "P90", "P99", "max", "fps", "batched", "memory", "arena", "reference", "normalized" })
            Assert.Contains(label, stdout);
        // The version actually loaded (the repository's pin, Directory.Packages.props), not a number written here.
        Assert.Contains($"ONNX Runtime {Microsoft.ML.OnnxRuntime.OrtEnv.Instance().GetVersionString()}", stdout);
        Assert.Contains("95 % CI", stdout);
    }

    [Fact]
    public void BenchOfSomethingThatIsNotOnnxIsOneError()
    {
        string path = Path.Combine(dir, "broken.onnx");
        File.WriteAllText(path, "not a model");
        var (exit, _, stderr) = Cli("bench", path);
        Assert.Equal(1, exit);
        Assert.StartsWith("error EB5001: ", Assert.Single(ErrorLines(stderr)));
        Assert.DoesNotContain("   at ", stderr);
    }

    /// <summary>
    /// Silero VAD v5's pattern: a reflect Pad on a free dim, which generated data feeds at 1 and ONNX Runtime refuses
    /// ("Pad reflect requires axis length >= 2"). The measurement is unavailable with that reason and what to do, not a crash.
    /// </summary>
    [Fact]
    public void AModelThatRefusesItsGeneratedInputIsUnavailableWithTheReason()
    {
        var b = new ModelBuilder();
        var x = b.InputSymbolic("frames", "1", "samples");
        var pads = b.ConstInts("pads", 0, 2, 0, 2);
        b.Output(b.Graph.AddNode("Pad", [x, pads], ["y"], "", "reflect_pad", [EdgeBuild.Ir.Attribute.Of("mode", "reflect")]).Output0);
        string path = Path.Combine(dir, "reflect.onnx");
        File.WriteAllBytes(path, EdgeBuild.Onnx.OnnxExporter.ToBytes(b.Model));
        var e = Assert.Throws<MeasurementUnavailableException>(() => ModelBenchmark.Run(path, new BenchOptions { TimeCapSeconds = 1, BatchSize = 0 }));
        Assert.Contains("cannot run it on generated inputs (frames=1x1; free dims of frames fed at 1)", e.Message);
        Assert.Contains("--shape", e.Message);
    }

    /// <summary>Mechanics, not speed: a model with an extra heavy layer is slower in reference units, measured in the same process.</summary>
    [Fact]
    public void ExtraHeavyLayerIsSlowerInReferenceUnits()
    {
        var quick = new BenchOptions { TimeCapSeconds = 1, BatchSize = 0 };
        var light = ModelBenchmark.Run(Model("light.onnx"), quick);
        var heavy = ModelBenchmark.Run(Model("heavy.onnx", extraWidth: 64), quick);
        double ratio = heavy.NormalizedP50!.Value / light.NormalizedP50!.Value;
        Assert.True(ratio > 1.3, $"heavy/light normalized P50 = {ratio:F2}");
        Assert.True(light.P50Ms.Value <= light.P90Ms.Value && light.P90Ms.Value <= light.P99Ms.Value && light.P99Ms.Value <= light.MaxMs);
        Assert.True(light.P99Ms.Low <= light.P99Ms.Value && light.P99Ms.Value <= light.P99Ms.High);
        Assert.NotNull(light.Batched);
        Assert.True(light.Memory.PeakRssMB > 0);
        // ONNX Runtime's CPU arena, read through AllocatorGetStats: it holds at least the activations of one run.
        Assert.True(light.Memory.Arena is { AllocatedMB: > 0 } arena && arena.MaxInUseMB > 0 && arena.MaxInUseMB <= arena.AllocatedMB, light.Memory.ArenaNote);
    }

    [Fact]
    public void LatencyBudgetBelowTheMeasuredP99FailsAndRaisingItPasses()
    {
        string model = Model();
        var (exit, stdout, stderr) = Compile(model, "out", "--latency-budget-ms", "0.0001");
        Assert.Equal(1, exit);
        string error = Assert.Single(ErrorLines(stderr));
        Assert.StartsWith("error EB5002: Net (Net.onnx): P99 ", error);
        Assert.Contains("LatencyBudgetMs=0.0001", error);
        Assert.Contains("95 % CI", error);
        Assert.False(File.Exists(Path.Combine(dir, "out", "Net.edgemodel.json")), "a failed budget leaves no manifest");
        using (var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "out", "report.json"))))
            Assert.Equal("fail", report.RootElement.GetProperty("status").GetString());

        (exit, stdout, stderr) = Compile(model, "out", "--latency-budget-ms", "1000");
        Assert.True(exit == 0, stderr);
        Assert.Contains("report: ", stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "out", "Net.edgemodel.json")));
        var metrics = doc.RootElement.GetProperty("metrics");
        var artifact = metrics.GetProperty("artifacts")[0];
        Assert.True(artifact.GetProperty("measured").GetBoolean());
        Assert.True(artifact.GetProperty("p99Ms").GetProperty("value").GetDouble() > 0);
        Assert.Equal("pass", metrics.GetProperty("budgets")[0].GetProperty("status").GetString());
        Assert.Equal(1, metrics.GetProperty("threads").GetInt32());
        Assert.Equal(16, metrics.GetProperty("machine").GetProperty("id").GetString()!.Length);
    }

    [Fact]
    public void CachedMeasurementWritesIdenticalManifestsAndNoMeasureWritesNone()
    {
        string model = Model();
        Assert.Equal(0, Compile(model, "a").Exit);
        Assert.Equal(0, Compile(model, "b").Exit);
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "a", "Net.edgemodel.json")), File.ReadAllBytes(Path.Combine(dir, "b", "Net.edgemodel.json")));
        Assert.Single(Directory.GetFiles(Cache, "*.json"));

        var (exit, _, stderr) = Compile(model, "c", "--no-measure", "--latency-budget-ms", "0.0001");
        Assert.True(exit == 0, stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "c", "Net.edgemodel.json")));
        Assert.Empty(doc.RootElement.GetProperty("metrics").EnumerateObject());
        Assert.False(File.Exists(Path.Combine(dir, "c", "report.html")));
    }

    /// <summary>A budget for a provider this machine does not have is a warning that says so, never a silent pass.</summary>
    [Fact]
    public void BudgetThatCannotBeMeasuredHereIsAWarning()
    {
        var (exit, stdout, stderr) = Compile(Model(), "out", "--execution-provider", "TensorRT", "--latency-budget-ms", "30");
        Assert.True(exit == 0, stderr);
        var warning = stderr.Split('\n').Single(l => l.StartsWith("warning EB5007: ", StringComparison.Ordinal));
        Assert.Contains("TensorrtExecutionProvider", warning);
        Assert.Contains("not measured on this machine", stdout);

        // A committed baseline that cannot be compared here says so too.
        File.WriteAllText(Path.Combine(dir, "net.edgebaseline.json"), "{}");
        (exit, _, stderr) = Compile(Model(), "out", "--execution-provider", "TensorRT");
        Assert.True(exit == 0, stderr);
        Assert.Contains("warning EB5007: Net: net.edgebaseline.json was not compared", stderr);
    }

    /// <summary>
    /// EB5007 once per model file this machine cannot run (the .tflite, the kit's network), never for the kit's recipe,
    /// script, calibration cache or float copy, and the TFLite line names no TensorRT; the report lists the models only.
    /// </summary>
    [Fact]
    public void BudgetsNotCheckedAreOneWarningPerModelFileThatCouldHaveBeenMeasured()
    {
        string calibration = Path.Combine(dir, "calib");
        Directory.CreateDirectory(calibration);
        var random = new Random(3);
        for (int i = 0; i < 12; i++) // every 4th is held out for the accuracy check: 9 calibrate, 8 needed
            EdgeBuild.Quantization.Calibration.NpyFile.Write(Path.Combine(calibration, $"c{i:D2}.npy"),
                EdgeBuild.Ir.Tensor.FromFloats([1, 3, 16, 16], Enumerable.Range(0, 3 * 16 * 16).Select(_ => (float)random.NextDouble()).ToArray()));
        var (exit, stdout, stderr) = Compile(Model(), "out", "--precision", "Int8", "--targets", "Onnx;TFLite;TensorRT", "--trt-version", "10.3",
            "--calibration", Path.Combine(calibration, "*.npy"), "--latency-budget-ms", "1000");
        Assert.True(exit == 0, stderr);
        string outDir = Path.Combine(dir, "out");
        Assert.True(File.Exists(Path.Combine(outDir, "Net.calib.cache")) && File.Exists(Path.Combine(outDir, "Net.build-engine.sh")), "the kit has its non-model files");
        var warnings = stderr.Split('\n').Where(l => l.StartsWith("warning EB5007: ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, warnings.Count);
        Assert.Equal(warnings.Count, warnings.Distinct().Count());
        var tflite = Assert.Single(warnings, w => w.Contains("Net.tflite (TFLite)", StringComparison.Ordinal));
        Assert.DoesNotContain("TensorRT", tflite, StringComparison.OrdinalIgnoreCase);
        Assert.Single(warnings, w => w.Contains("Net.trt.onnx (TensorRT)", StringComparison.Ordinal));
        foreach (var notAModel in new[] { ".sh", ".trt.json", ".calib.cache", ".trt.fp32.onnx" })
        {
            Assert.DoesNotContain(warnings, w => w.Contains("Net" + notAModel, StringComparison.Ordinal));
            Assert.DoesNotContain("Net" + notAModel + ":", stdout, StringComparison.Ordinal);
        }
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "report.json")));
        Assert.Equal(["Net.onnx", "Net.tflite", "Net.trt.onnx"],
            report.RootElement.GetProperty("artifacts").EnumerateArray().Select(a => a.GetProperty("path").GetString()).Order(StringComparer.Ordinal));
    }

    private string SymbolicModel()
    {
        var b = new ModelBuilder();
        var x = b.InputSymbolic("x", "batch", "3", "h", "w");
        b.Output(b.Op("Relu", [b.Conv(x, "conv", 4, 3)], "y"));
        string path = Path.Combine(dir, "dyn.onnx");
        EdgeBuild.Onnx.OnnxExporter.Save(b.Model, path);
        return path;
    }

    [Theory]
    [InlineData("--min-fps", "-1", "EB6001")]
    [InlineData("--max-memory-mb", "0", "EB6001")]
    [InlineData("--latency-budget-ms", "-5", "EB6001")]
    [InlineData("--max-size-mb", "abc", "EB9002")]
    [InlineData("--latency-budget-ms", "fast", "EB9002")]
    public void NegativeOrNonNumericBudgetIsOneError(string option, string value, string code)
    {
        var (exit, _, stderr) = Compile(Model(), "out", option, value);
        Assert.Equal(1, exit);
        Assert.StartsWith($"error {code}: ", Assert.Single(ErrorLines(stderr)));
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void BaselineUpdateThenUnchangedPassesAndInjectedSlowdownFails()
    {
        // About 20 M MACs: long enough that its tail is the model's, not the machine's.
        string model = Model(size: 32, blocks: 2);
        var (exit, stdout, stderr) = Cli("baseline", "update", model, "--measure-cache", Cache, "--measure-seconds", "2", "-q");
        Assert.True(exit == 0, stderr);
        string baseline = Path.Combine(dir, "net.edgebaseline.json");
        Assert.Contains($"baseline written: {baseline}", stdout);
        var file = BaselineFile.Read(baseline);
        Assert.Single(file.Artifacts);
        Assert.Single(file.History);
        Assert.NotNull(file.Artifacts[0].NormalizedP99);

        (exit, _, stderr) = Compile(model, "out", "--remeasure");
        Assert.True(exit == 0, stderr);
        Assert.Empty(ErrorLines(stderr));

        GateModels.WriteConvNet(model, 32, 2, extraWidth: 128);
        (exit, _, stderr) = Compile(model, "out");
        Assert.Equal(1, exit);
        string error = Assert.Single(ErrorLines(stderr));
        Assert.StartsWith("error EB5012: Net.onnx against net.edgebaseline.json: slower: normalized P99", error);
        Assert.Contains("warning EB5014: ", stderr);
    }

    [Fact]
    public void CorruptBaselineAndBaselineOfAnotherModelAreErrors()
    {
        string model = Model();
        string baseline = Path.Combine(dir, "net.edgebaseline.json");
        File.WriteAllText(baseline, "{ \"schemaVersion\": 1, \"model\": ");
        var (exit, _, stderr) = Compile(model, "out");
        Assert.Equal(1, exit);
        Assert.StartsWith($"error EB5010: {baseline}: ", Assert.Single(ErrorLines(stderr)));

        string other = Model("other.onnx", size: 24);
        Assert.Equal(0, Cli("baseline", "update", other, "--measure-cache", Cache, "-q").Exit);
        File.Copy(Path.Combine(dir, "other.edgebaseline.json"), baseline, overwrite: true);
        (exit, _, stderr) = Compile(model, "out");
        Assert.Equal(1, exit);
        string error = Assert.Single(ErrorLines(stderr));
        Assert.StartsWith($"error EB5011: {baseline}: recorded for other.onnx", error);
        Assert.Contains("run 'edgebuild baseline update'", error);
    }

    [Fact]
    public void ReportCommandFindsTheReportsAndTheHtmlHasItsPlots()
    {
        string model = Model();
        Assert.Equal(0, Compile(model, Path.Combine("obj", "Net"), "--latency-budget-ms", "1000").Exit);
        var (exit, stdout, _) = Cli("report", dir);
        Assert.Equal(0, exit);
        Assert.Contains("Net: PASS", stdout);
        Assert.Contains(Path.Combine(dir, "obj", "Net", "report.html"), stdout);
        string html = File.ReadAllText(Path.Combine(dir, "obj", "Net", "report.html"));
        Assert.Contains("class=\"plot histogram\"", html);
        Assert.Contains("class=\"plot history\"", html);
        Assert.Contains("class=\"plot size\"", html);
        Assert.Contains("Jetson AGX Orin", html);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org/2000/svg", ""));
        Assert.DoesNotContain("https://", html);
        string md = File.ReadAllText(Path.Combine(dir, "obj", "Net", "report.md"));
        Assert.Contains("PASS", md);
        Assert.Contains("| LatencyBudgetMs", md);
        // The command and the reports print the same P99: the one on the budget clock, saying which and what it measured.
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "obj", "Net", "report.json")));
        var result = json.RootElement.GetProperty("artifacts")[0].GetProperty("result");
        var gate = result.TryGetProperty("cpuP99Ms", out var cpu) && cpu.ValueKind == JsonValueKind.Object ? cpu : result.GetProperty("p99Ms");
        string p99 = gate.GetProperty("value").GetDouble().ToString("F3", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"Net.onnx P99 {p99} ms (", stdout);
        Assert.Contains($"| {p99} [", md);
        Assert.Contains("input input=1x3x16x16, 1 thread(s), CPUExecutionProvider", stdout);

        // The offload estimates: every profile, runtime and precision, labelled estimates in all three reports.
        var offload = json.RootElement.GetProperty("offload").EnumerateArray().ToList();
        Assert.Equal(EdgeBuild.Devices.DeviceProfiles.All.Sum(p => p.Runtimes.Count * p.Precisions.Count), offload.Count);
        Assert.All(offload, o => Assert.True(o.GetProperty("estimate").GetProperty("latencyMs").GetDouble() > 0));
        Assert.Contains("Offload estimates per device profile (estimates from the runtimes' published operator lists", md);
        Assert.Contains("<table id=\"offload\">", html);
        Assert.Contains("fall back to the CPU (estimate)", html);
    }

    [Fact]
    public void CompareReportsAgreementAndRejectsDifferentInputs()
    {
        string a = Model("a.onnx");
        var (exit, stdout, stderr) = Cli("compare", a, a, "--samples", "3");
        Assert.True(exit == 0, stderr);
        Assert.Contains("on 3 samples", stdout);
        var row = stdout.Split('\n').Single(l => l.StartsWith("logits", StringComparison.Ordinal));
        Assert.Contains("1.000000", row);
        Assert.Contains("100.0 %", row);
        Assert.Contains("inf", row);

        string b = Model("b.onnx", size: 24);
        (exit, _, stderr) = Cli("compare", a, b);
        Assert.Equal(1, exit);
        Assert.StartsWith("error EB5020: ", Assert.Single(ErrorLines(stderr)));
    }
}
