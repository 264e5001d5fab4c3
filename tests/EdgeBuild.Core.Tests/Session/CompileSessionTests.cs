using System.Text.Json;
using System.Text.RegularExpressions;
using EdgeBuild.Compile;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Session;
using EdgeBuild.Targets;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Compile;

/// <summary>
/// The compile session computes each shared thing once and only when a writer asks: the calibration tables (one
/// asymmetric, one symmetric for TensorRT), the quantization and its budget search; an Fp32 build never calibrates and
/// a TFLite Int8 build without a budget calibrates but does not quantize an ONNX model it would not ship. Artifacts
/// carry the runtime that loads them, which the measurement step reads instead of file suffixes.
/// </summary>
public sealed class CompileSessionTests
{
    private static readonly Regex CalibrationRun = new(@"^calibrating \d+ tensors with ", RegexOptions.Compiled);

    [Fact]
    public void An_int8_build_for_every_target_calibrates_once_per_kind_and_quantizes_once()
    {
        var lines = Compile(Precision.Int8, [TargetKind.Onnx, TargetKind.TFLite, TargetKind.TensorRT], out var manifest);
        // Asymmetric (ONNX artifact and TFLite) and symmetric (TensorRT): two tables, each computed once.
        Assert.Equal(2, lines.Count(l => CalibrationRun.IsMatch(l)));
        Assert.Single(lines, l => l == "quantizing to Int8");
        Assert.True(manifest.TryGetProperty("quantization", out _));
    }

    [Fact]
    public void A_tflite_only_int8_build_without_a_budget_calibrates_but_quantizes_no_onnx_model()
    {
        var lines = Compile(Precision.Int8, [TargetKind.TFLite], out var manifest);
        Assert.Single(lines, l => CalibrationRun.IsMatch(l));
        Assert.DoesNotContain(lines, l => l.StartsWith("quantizing to", StringComparison.Ordinal));
        // No quantization section describes an ONNX model that was never shipped.
        Assert.False(manifest.TryGetProperty("quantization", out _));
        Assert.Equal("Int8", manifest.GetProperty("artifacts")[0].GetProperty("precision").GetString());
    }

    [Fact]
    public void A_tensorrt_only_int8_build_with_a_budget_runs_the_one_search_and_its_kit_keeps_the_same_float_layers()
    {
        var lines = Compile(Precision.Int8, [TargetKind.TensorRT], out var manifest, maxAccuracyLoss: 50);
        Assert.Single(lines, l => l == "quantizing to Int8");
        Assert.True(manifest.TryGetProperty("quantization", out _));
    }

    [Fact]
    public void An_fp32_build_never_calibrates_or_quantizes()
    {
        var lines = Compile(Precision.Fp32, [TargetKind.Onnx, TargetKind.TFLite, TargetKind.TensorRT], out var manifest);
        Assert.DoesNotContain(lines, l => CalibrationRun.IsMatch(l));
        Assert.DoesNotContain(lines, l => l.StartsWith("quantizing to", StringComparison.Ordinal));
        Assert.False(manifest.TryGetProperty("quantization", out _));
    }

    [Fact]
    public void Every_artifact_carries_the_runtime_that_loads_it()
    {
        string dir = Directory.CreateTempSubdirectory("edgebuild-session-runtime-").FullName;
        try
        {
            var files = Samples(dir);
            var options = new CompileOptions { Precision = Precision.Int8, Targets = [TargetKind.Onnx, TargetKind.TFLite, TargetKind.TensorRT], Calibration = files };
            var session = new CompileSession("Net", dir, options, SmallNet());
            foreach (var target in options.Targets)
            {
                session.CurrentTarget = target;
                TargetWriters.For(target)!.Write(session);
            }
            var runtimes = session.Artifacts.ToDictionary(a => a.Path, a => a.Runtime);
            Assert.Equal(ArtifactRuntime.OnnxRuntime, runtimes["Net.onnx"]);
            Assert.Equal(ArtifactRuntime.TfliteInterpreter, runtimes["Net.tflite"]);
            Assert.Equal(ArtifactRuntime.TensorRt, runtimes["Net.trt.onnx"]);
            // The kit's recipe, script, calibration cache and float network are not models anyone loads as they are.
            Assert.All(session.Artifacts.Where(a => a.Path is not ("Net.onnx" or "Net.tflite" or "Net.trt.onnx")), a => Assert.Equal(ArtifactRuntime.None, a.Runtime));
            Assert.Null(MeasureStep.NotMeasurableHere(ArtifactRuntime.OnnxRuntime));
            Assert.NotNull(MeasureStep.NotMeasurableHere(ArtifactRuntime.TfliteInterpreter));
            Assert.NotNull(MeasureStep.NotMeasurableHere(ArtifactRuntime.TensorRt));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// The engine no longer calibrates when the session hands it the table's ranges, so its own clock read 0.0 s while
    /// the build spent seconds decoding files and running them through the model: the report states the session's
    /// calibration, and its total the whole step, calibration included, whether the quantize step or another target
    /// (TFLite asks for the table first) made it. Auto counts it too, also where it ships FP32 (nothing to quantize).
    /// </summary>
    [Theory]
    [InlineData(Precision.Int8, false)]
    [InlineData(Precision.Int8, true)]
    [InlineData(Precision.Mixed, false)]
    [InlineData(Precision.Auto, false)]
    public void The_quantization_report_states_the_calibration_the_build_spent(Precision precision, bool tableFirst)
    {
        string dir = Directory.CreateTempSubdirectory("edgebuild-session-time-").FullName;
        try
        {
            var files = Samples(dir, 46);
            var options = new CompileOptions
            {
                Precision = precision,
                Calibration = files.Take(16).ToList(),
                Evaluation = files.Skip(16).ToList(),
                KeepFp32 = precision == Precision.Mixed ? ["c2"] : [],
                Task = TaskKind.Embedding,
                OutputFloors = new OutputFloors { MinSqnrDb = 0, MinCosine = 0 },
                Measurement = new MeasureSettings { Enabled = false },
            };
            var session = new CompileSession("Net", dir, options, precision == Precision.Auto ? NothingToQuantize() : SmallNet());
            var calibratedFirst = tableFirst ? session.Calibration(symmetric: false) : null;
            var result = session.Quantization!;
            if (precision == Precision.Auto) Assert.Equal(Precision.Fp32, result.Chosen);
            Assert.True(session.CalibrationTime > TimeSpan.Zero);
            // Every calibration pass this build made ran on the session's table: the engine's own clock adds nothing.
            Assert.Equal(session.CalibrationTime, result.Report.CalibrationTime);
            Assert.True(result.Report.TotalTime >= result.Report.CalibrationTime, $"total {result.Report.TotalTime} < calibration {result.Report.CalibrationTime}");
            if (calibratedFirst is not null) Assert.Same(calibratedFirst, result.Calibration);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static List<string> Compile(Precision precision, IReadOnlyList<TargetKind> targets, out JsonElement manifest, double? maxAccuracyLoss = null)
    {
        string dir = Directory.CreateTempSubdirectory("edgebuild-session-").FullName;
        try
        {
            string modelPath = Path.Combine(dir, "net.onnx");
            OnnxExporter.Save(SmallNet(), modelPath);
            var files = Samples(dir, maxAccuracyLoss is null ? 16 : 46);
            var lines = new List<string>();
            var options = new CompileOptions
            {
                Precision = precision,
                Targets = targets,
                Calibration = precision == Precision.Fp32 ? [] : files.Take(16).ToList(),
                // A budget is judged on at least 30 held-out samples.
                Evaluation = files.Skip(16).ToList(),
                MaxAccuracyLoss = maxAccuracyLoss,
                Task = TaskKind.Embedding,
                Measurement = new MeasureSettings { Enabled = false },
            };
            var result = ModelCompiler.Compile(modelPath, Path.Combine(dir, "out"), options, lines.Add);
            manifest = JsonDocument.Parse(File.ReadAllText(result.ManifestPath)).RootElement.Clone();
            return lines;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static Ir.Model SmallNet()
    {
        var b = new ModelBuilder(seed: 11);
        var x = b.Input("x", 1, 8, 16, 16);
        b.Output(b.Conv(b.Op("Relu", [b.Conv(x, "c1", 8, 8)], "r1"), "c2", 8, 8));
        return b.Model;
    }

    /// <summary>Softplus only: no op of the model has an INT8 rule.</summary>
    private static Ir.Model NothingToQuantize()
    {
        var b = new ModelBuilder(seed: 12);
        b.Output(b.Op("Softplus", [b.Input("x", 1, 8, 16, 16)], "y"));
        return b.Model;
    }

    private static List<string> Samples(string dir, int count = 16) => Enumerable.Range(0, count).Select(i =>
    {
        string path = Path.Combine(dir, $"s{i:D2}.npy");
        NpyFile.Write(path, ModelBuilder.RandomInput([1, 8, 16, 16], 900 + i));
        return path;
    }).ToList();
}
