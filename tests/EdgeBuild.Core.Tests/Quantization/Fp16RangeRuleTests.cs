using System.Text.Json;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Quantization;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Session;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Quantization;

/// <summary>
/// The FP16 range rule (<see cref="Fp16RangeRule"/>): nodes whose tensors leave float16's range stay float32, decided
/// from ranges measured on calibration data and from constants; an Fp16 artifact with non-finite outputs is EB3015.
/// </summary>
public sealed class Fp16RangeRuleTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-fp16range-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static readonly long[] Dims = [1, 64];

    /// <summary>
    /// Two branches on x in [-1, 1]: (x * 1e-5)^2 -> Transpose -> Log -> + 30 (values under float16's smallest normal,
    /// then 0, before a Log), and MatMul(|x|, W ~ 20000) -> Transpose -> ReduceMean -> * 1e-5 -> Relu (the MatMul's
    /// output and the mean pass 65504, the scaled mean does not). ONNX Runtime's CPU provider computes runs of float16
    /// nodes in float32 and casts only where a run meets a float32 node (the Log and ReduceMean, which the converter
    /// keeps in float32): there the tensors are float16 as they are everywhere on a GPU.
    /// </summary>
    private static ModelBuilder Model()
    {
        var b = new ModelBuilder(seed: 21);
        var x = b.Input("x", Dims);
        var perm = Ir.Attribute.Of("perm", [1L, 0L]);
        var small = b.Op("Mul", [x, b.Const("tiny", [], 1e-5f)], "small");
        var square = b.Op("Mul", [small, small], "square");
        var log = b.Op("Log", [b.Op("Transpose", [square], "square_t", perm)], "log");
        var logOut = b.Op("Add", [log, b.Const("shift", [], 30f)], "log_out");
        var mm = b.Op("MatMul", [b.Op("Abs", [x], "abs"), b.Weight("W", [64, 16], 15000f, 25000f)], "matmul");
        var mean = b.Op("ReduceMean", [b.Op("Transpose", [mm], "matmul_t", perm)], "mean", Ir.Attribute.Of("axes", [0L]));
        var scaled = b.Op("Mul", [mean, b.Const("scale", [], 1e-5f)], "mm_scale");
        var mmOut = b.Op("Relu", [scaled], "mm_out");
        b.Output(logOut, mmOut);
        ShapeInference.Infer(b.Model);
        return b;
    }

    private static SampleList Samples(int count, int seed) =>
        new(Enumerable.Range(0, count).Select(i => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { ["x"] = ModelBuilder.RandomInput(Dims, seed + i) }).ToList());

    private static bool AnyNonFinite(IReadOnlyDictionary<string, Tensor> outputs, string name) => outputs[name].ToFloats().Any(v => !float.IsFinite(v));

    [Fact]
    public void MeasuredRangesKeepTheOverflowingAndUnderflowingNodesInFp32AndTheOutputsFinite()
    {
        var b = Model();
        byte[] fp32 = OnnxExporter.ToBytes(b.Model);
        var extremes = ValueExtremesCollector.Measure(b.Model, Samples(8, 100));

        var plain = OnnxImporter.Parse(fp32);
        var plainReport = ModelQuantizer.Quantize(plain, new QuantizeOptions { Mode = QuantizationMode.Fp16, Fp16RangeRule = false }, null);
        Assert.Empty(plainReport.RangeKeptFp32);
        var ranged = OnnxImporter.Parse(fp32);
        var report = ModelQuantizer.Quantize(ranged, new QuantizeOptions { Mode = QuantizationMode.Fp16, ValueExtremes = extremes }, null);

        var kept = report.RangeKeptFp32.ToDictionary(f => f.Node);
        Assert.Equal(["matmul_node", "matmul_t_node", "mm_scale_node", "small_node", "square_node", "square_t_node"], kept.Keys.Order(StringComparer.Ordinal));
        Assert.All(["matmul_node", "matmul_t_node", "mm_scale_node"], n => Assert.Equal(Fp16RangeKind.Overflow, kept[n].Kind));
        Assert.True(kept["matmul_node"].Value > 65504, kept["matmul_node"].Reason);
        Assert.All(["small_node", "square_node", "square_t_node"], n => Assert.Equal(Fp16RangeKind.Underflow, kept[n].Kind));
        Assert.Equal("Log 'log_node'", kept["square_node"].Reaches);
        Assert.True(kept["square_node"].Value < 6.1e-5, kept["square_node"].Reason);
        // The nodes whose values fit stay float16: the rule keeps what the ranges name, nothing more.
        var g = ranged.Graph;
        Assert.Equal(DataType.Float16, g.Nodes.Single(n => n.Name == "log_out_node").Outputs[0]!.TensorType!.ElementType);
        Assert.Equal(DataType.Float16, g.Nodes.Single(n => n.Name == "mm_out_node").Outputs[0]!.TensorType!.ElementType);
        Assert.Equal(DataType.Float16, g.Nodes.Single(n => n.Name == "abs_node").Outputs[0]!.TensorType!.ElementType);
        Assert.Equal(DataType.Float, g.Nodes.Single(n => n.Name == "matmul_node").Outputs[0]!.TensorType!.ElementType);

        byte[] plainBytes = OnnxExporter.ToBytes(plain), rangedBytes = OnnxExporter.ToBytes(ranged);
        foreach (var sample in Samples(4, 500).Samples())
        {
            var reference = Ort.Run(fp32, sample);
            Assert.False(AnyNonFinite(reference, "log_out") || AnyNonFinite(reference, "mm_out"));
            var before = Ort.Run(plainBytes, sample);
            Assert.True(AnyNonFinite(before, "log_out"), "plain FP16 flushes (x * 1e-5)^2 to 0 before the Log");
            Assert.True(AnyNonFinite(before, "mm_out"), "plain FP16 overflows the MatMul");
            var after = Ort.Run(rangedBytes, sample);
            Ort.AssertClose(reference, after, relative: 5e-3);
        }
        Assert.Equal(2, NonFiniteOutputCheck.Run(fp32, plainBytes, Samples(2, 900).Samples()).Count);
        Assert.Empty(NonFiniteOutputCheck.Run(fp32, rangedBytes, Samples(8, 900).Samples()));
    }

    /// <summary>Clip(x^2, 1e-10) -> Log: the clamp bound is 0 in float16, so silence (x = 0) would reach Log(0); judged without data.</summary>
    [Fact]
    public void AGuardConstantThatVanishesInFloat16KeepsItsReaderInFp32WithoutData()
    {
        var b = new ModelBuilder(seed: 3);
        var x = b.Input("x", Dims);
        var power = b.Op("Mul", [x, x], "power");
        var clipped = b.Op("Clip", [power, b.Const("floor", [], 1e-10f), null], "clipped");
        b.Output(b.Op("Mul", [b.Op("Log", [clipped], "log"), b.Const("ten", [], 10f)], "db"));
        ShapeInference.Infer(b.Model);
        byte[] fp32 = OnnxExporter.ToBytes(b.Model);
        var silence = new Dictionary<string, Tensor> { ["x"] = Tensor.FromFloats(Dims, new float[64]) };

        var plain = OnnxImporter.Parse(fp32);
        ModelQuantizer.Quantize(plain, new QuantizeOptions { Mode = QuantizationMode.Fp16, Fp16RangeRule = false }, null);
        Assert.True(AnyNonFinite(Ort.Run(plain, silence), "db"));

        var guarded = OnnxImporter.Parse(fp32);
        var report = ModelQuantizer.Quantize(guarded, new QuantizeOptions { Mode = QuantizationMode.Fp16 }, null);
        var finding = Assert.Single(report.RangeKeptFp32);
        Assert.Equal(("clipped_node", Fp16RangeKind.ConstantUnderflow, "floor", "Log 'log_node'"), (finding.Node, finding.Kind, finding.Tensor, finding.Reaches));
        Ort.AssertClose(Ort.Run(fp32, silence), Ort.Run(guarded, silence), relative: 1e-3);
        // The squaring that feeds the Clip still computes in float16: only the guard's reader moved.
        Assert.Equal(DataType.Float16, guarded.Graph.Nodes.Single(n => n.Name == "power_node").Outputs[0]!.TensorType!.ElementType);
    }

    /// <summary>
    /// A decomposed LayerNorm, (x - mean) / Sqrt(var + 1e-12): on a constant row var is 0, and float16's eps is 0 too, so
    /// 0 / 0 is NaN. The guard's reader, the Sqrt and the Div stay float32 together (the Add alone would hand the Sqrt a
    /// float16 cast of var + eps, eps rounded away again).
    /// </summary>
    [Fact]
    public void ALayerNormEpsilonKeepsItsPathToTheDivisionInFp32()
    {
        var b = new ModelBuilder(seed: 4);
        var x = b.Input("x", Dims);
        var axes = Ir.Attribute.Of("axes", [1L]);
        var centred = b.Op("Sub", [x, b.Op("ReduceMean", [x], "mean", axes)], "centred");
        var variance = b.Op("ReduceMean", [b.Op("Pow", [centred, b.Const("two", [], 2f)], "squared")], "variance", axes);
        var std = b.Op("Sqrt", [b.Op("Add", [variance, b.Const("eps", [], 1e-12f)], "var_eps")], "std");
        b.Output(b.Op("Div", [centred, std], "norm"));
        ShapeInference.Infer(b.Model);
        byte[] fp32 = OnnxExporter.ToBytes(b.Model);
        var constantRow = new Dictionary<string, Tensor> { ["x"] = Tensor.FromFloats(Dims, Enumerable.Repeat(0.5f, 64).ToArray()) };

        var plain = OnnxImporter.Parse(fp32);
        ModelQuantizer.Quantize(plain, new QuantizeOptions { Mode = QuantizationMode.Fp16, Fp16RangeRule = false }, null);
        Assert.True(AnyNonFinite(Ort.Run(plain, constantRow), "norm"));

        var guarded = OnnxImporter.Parse(fp32);
        var report = ModelQuantizer.Quantize(guarded, new QuantizeOptions { Mode = QuantizationMode.Fp16 }, null);
        Assert.Equal(["norm_node", "std_node", "var_eps_node"], report.RangeKeptFp32.Select(f => f.Node).Order(StringComparer.Ordinal));
        Assert.All(report.RangeKeptFp32, f => Assert.Equal((Fp16RangeKind.ConstantUnderflow, "Div 'norm_node'"), (f.Kind, f.Reaches)));
        Ort.AssertClose(Ort.Run(fp32, constantRow), Ort.Run(guarded, constantRow));
        var sample = new Dictionary<string, Tensor> { ["x"] = ModelBuilder.RandomInput(Dims, 8) };
        Ort.AssertClose(Ort.Run(fp32, sample), Ort.Run(guarded, sample), relative: 5e-3);
    }

    /// <summary>KeepFp16 layers of an int8 build take the same rule, from the extremes the build's one calibration pass measured.</summary>
    [Fact]
    public void KeepFp16LayersOfAnInt8BuildUseTheCalibrationTablesExtremes()
    {
        var b = Model();
        byte[] fp32 = OnnxExporter.ToBytes(b.Model);
        var data = Samples(8, 100);
        var table = CalibrationTable.Compute(b.Model, data, new QuantizeOptions());
        Assert.True(table.Extremes["matmul"].AbsMax > 65504);
        var q = OnnxImporter.Parse(fp32);
        var report = ModelQuantizer.Quantize(q, new QuantizeOptions
        {
            CalibratedRanges = table.Ranges,
            ValueExtremes = table.Extremes,
            KeepFp16 = ["matmul_t_node", "mm_scale_node", "mm_out_node", "log_out_node"],
        }, data);
        Assert.Equal(["matmul_t_node", "mm_scale_node"], report.RangeKeptFp32.Select(f => f.Node).Order(StringComparer.Ordinal));
        foreach (var sample in Samples(3, 700).Samples())
            Assert.False(AnyNonFinite(Ort.Run(q, sample), "mm_out"));
    }

    /// <summary>
    /// Fp16 without calibration files: the outputs are checked on the measurement's generated input, and an output that
    /// goes infinite is one EB3015 line naming it and what to do. With calibration files the range rule keeps the
    /// layers in FP32, the build passes, and the manifest names them with the value and the limit.
    /// </summary>
    [Fact]
    public void AnFp16BuildWithNonFiniteOutputsFailsWithEB3015AndCalibrationFixesIt()
    {
        string model = Path.Combine(dir, "ranges.onnx");
        OnnxExporter.Save(Model().Model, model);
        string outDir = Path.Combine(dir, "out");
        var (exit, _, stderr) = CliRunner.Run("compile", model, "--out", outDir, "--precision", "Fp16", "--no-measure", "-q");
        Assert.Equal(1, exit);
        var errors = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error ", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 1, stderr);
        Assert.StartsWith("error EB3015: ", errors[0], StringComparison.Ordinal);
        Assert.Contains("'mm_out'", errors[0], StringComparison.Ordinal);
        Assert.Contains("generated", errors[0], StringComparison.Ordinal);
        Assert.Contains("give Calibration files", errors[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.Exists(outDir) ? Directory.GetFiles(outDir) : []);

        string calibration = Path.Combine(dir, "calibration");
        Directory.CreateDirectory(calibration);
        for (int i = 0; i < 16; i++) NpyFile.Write(Path.Combine(calibration, $"x{i:D2}.npy"), ModelBuilder.RandomInput(Dims, 300 + i));
        var fixedBuild = CliRunner.Run("compile", model, "--out", outDir, "--precision", "Fp16", "--calibration", calibration, "-q",
            "--measure-seconds", "0.5", "--batch-size", "0", "--measure-cache", Path.Combine(dir, "cache"));
        Assert.True(fixedBuild.Exit == 0, fixedBuild.Stderr);
        Assert.Contains("kept in FP32 by the FP16 range rule (6): ", fixedBuild.Stdout, StringComparison.Ordinal);
        Assert.Contains("summary: Ranges: Fp16 (0/1 layers INT8), 6 node(s) FP32 by the FP16 range rule;", fixedBuild.Stdout, StringComparison.Ordinal);
        string markdown = File.ReadAllText(Path.Combine(outDir, "report.md"));
        Assert.Contains("FP16 range rule: 6 node(s) kept in FP32", markdown, StringComparison.Ordinal);
        Assert.Contains("matmul_node (MatMul): range: max |x| of 'matmul'", markdown, StringComparison.Ordinal);
        Assert.Contains("Kept in FP32 by the FP16 range rule (6)", File.ReadAllText(Path.Combine(outDir, "report.html")), StringComparison.Ordinal);
        using var manifest = JsonDocument.Parse(File.ReadAllText(Directory.GetFiles(outDir, "*.edgemodel.json").Single()));
        var kept = manifest.RootElement.GetProperty("quantization").GetProperty("keptInFp32ForRange").EnumerateArray().ToList();
        var matmul = kept.Single(k => k.GetProperty("node").GetString() == "matmul_node");
        Assert.Equal("overflow", matmul.GetProperty("kind").GetString());
        Assert.True(matmul.GetProperty("value").GetDouble() > matmul.GetProperty("limit").GetDouble());
        Assert.Equal(65504 / 2, matmul.GetProperty("limit").GetDouble());
        Assert.StartsWith("range: ", matmul.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// Through a Mixed build with KeepFp16 layers: the build's one calibration pass measured the extremes, and the
    /// float16 layers past the int8 MatMul that overflow stay FP32 in the artifact and in the manifest.
    /// </summary>
    [Fact]
    public void AMixedBuildsKeepFp16LayersTakeTheRuleFromTheBuildsCalibration()
    {
        string model = Path.Combine(dir, "mixed.onnx");
        OnnxExporter.Save(Model().Model, model);
        string calibration = Path.Combine(dir, "mixed-calibration");
        Directory.CreateDirectory(calibration);
        for (int i = 0; i < 16; i++) NpyFile.Write(Path.Combine(calibration, $"x{i:D2}.npy"), ModelBuilder.RandomInput(Dims, 600 + i));
        string outDir = Path.Combine(dir, "mixed");
        var (exit, _, stderr) = CliRunner.Run("compile", model, "--out", outDir, "--precision", "Mixed", "--calibration", calibration,
            "--keep-fp16", "matmul_t_node;mm_scale_node;mm_out_node", "--keep-fp32", "small_node;square_node;square_t_node;log_out_node",
            "--min-sqnr-db", "0", "--min-cosine", "0", "--no-measure", "-q");
        Assert.True(exit == 0, stderr);
        using var manifest = JsonDocument.Parse(File.ReadAllText(Directory.GetFiles(outDir, "*.edgemodel.json").Single()));
        var kept = manifest.RootElement.GetProperty("quantization").GetProperty("keptInFp32ForRange").EnumerateArray()
            .Select(k => (k.GetProperty("node").GetString(), k.GetProperty("kind").GetString())).ToList();
        Assert.Equal([("matmul_t_node", "overflow"), ("mm_scale_node", "overflow")], kept.Order());
    }

    /// <summary>
    /// openWakeWord's front end on the recorded speech: plain float16 turns the silent chunks' log-mel into -infinity
    /// (the Clip floor 1e-10 is 0 in float16 and the power underflows before the Log); with the rule every held-out
    /// output is finite and close to FP32, from calibration ranges and, for this model, from the constant rule alone.
    /// </summary>
    [SkippableFact]
    public void TheWakeWordFrontEndInFp16IsFiniteAndCloseToFp32()
    {
        string data = TestData.Require();
        var model = OnnxImporter.Load(TestData.Model("kws-oww-melspec"));
        var zoo = ZooModelInputs.Build("kws-oww-melspec", data);
        InputShapes.Apply(model, zoo.Shapes);
        OptimizationPipeline.Run(model, new OptimizeOptions());
        byte[] fp32 = OnnxExporter.ToBytes(model);
        var heldOut = new SampleList(zoo.Inputs.Take(30).ToList());
        var calibration = new SampleList(zoo.Inputs.Skip(30).Take(16).ToList());

        byte[] Fp16(QuantizeOptions options, out QuantizationReport report)
        {
            var q = OnnxImporter.Parse(fp32);
            report = ModelQuantizer.Quantize(q, options with { Mode = QuantizationMode.Fp16 }, null);
            return OnnxExporter.ToBytes(q);
        }

        var plain = Fp16(new QuantizeOptions { Fp16RangeRule = false }, out _);
        Assert.NotEmpty(NonFiniteOutputCheck.Run(fp32, plain, heldOut.Samples(), heldOut.Count));

        var extremes = ValueExtremesCollector.Measure(model, calibration);
        foreach (var (name, options) in new[] { ("ranges", new QuantizeOptions { ValueExtremes = extremes }), ("constants only", new QuantizeOptions()) })
        {
            var bytes = Fp16(options, out var report);
            Assert.Contains(report.RangeKeptFp32, f => f.Kind == Fp16RangeKind.ConstantUnderflow && f.OpType == "Clip");
            Assert.Empty(NonFiniteOutputCheck.Run(fp32, bytes, heldOut.Samples(), heldOut.Count));
            var accuracy = AccuracyEvaluator.Compare(fp32, bytes, heldOut, TaskKind.Generic);
            double worst = accuracy.Outputs.Min(o => o.SqnrDb);
            Assert.True(worst >= 40, $"{name}: worst output SQNR {worst:F1} dB");
        }
    }

    /// <summary>
    /// The same front end fed as openWakeWord's Python package feeds it, 16-bit PCM values as floats: the STFT's power
    /// passes 65504. An Fp16 compile with held-out files and no calibration files is EB3015 naming the output; with
    /// calibration files the rule keeps the overflowing layers in FP32 and the build passes its held-out check.
    /// </summary>
    [SkippableFact]
    public void TheFrontEndOnInt16ScaledAudioIsEB3015WithoutCalibrationAndFiniteWithIt()
    {
        string data = TestData.Require();
        string model = TestData.Model("kws-oww-melspec");
        var chunks = ZooModelInputs.Build("kws-oww-melspec", data).Inputs;
        string Folder(string name, IEnumerable<IReadOnlyDictionary<string, Tensor>> samples)
        {
            string path = Path.Combine(dir, name);
            Directory.CreateDirectory(path);
            int i = 0;
            foreach (var sample in samples)
                NpyFile.Write(Path.Combine(path, $"chunk{i++:D3}.npy"), Tensor.FromFloats([1, 1280], sample["input"].ToFloats().Select(v => v * 32768f).ToArray()));
            return path;
        }
        string heldOut = Folder("eval", chunks.Take(30));
        string calibration = Folder("calibration", chunks.Skip(30).Take(16));
        string outDir = Path.Combine(dir, "melspec");

        var (exit, _, stderr) = CliRunner.Run("compile", model, "--out", outDir, "--precision", "Fp16", "--shape", "input=1,1280", "--eval", heldOut, "--no-measure", "-q");
        Assert.Equal(1, exit);
        var error = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("error ", StringComparison.Ordinal));
        Assert.StartsWith("error EB3015: ", error, StringComparison.Ordinal);
        Assert.Contains("output 'output'", error, StringComparison.Ordinal);
        Assert.Contains("held-out", error, StringComparison.Ordinal);
        Assert.Contains("give Calibration files", error, StringComparison.Ordinal);

        var calibrated = CliRunner.Run("compile", model, "--out", outDir, "--precision", "Fp16", "--shape", "input=1,1280", "--eval", heldOut,
            "--calibration", calibration, "--no-measure", "-q");
        Assert.True(calibrated.Exit == 0, calibrated.Stderr);
        using var manifest = JsonDocument.Parse(File.ReadAllText(Directory.GetFiles(outDir, "*.edgemodel.json").Single()));
        var kept = manifest.RootElement.GetProperty("quantization").GetProperty("keptInFp32ForRange").EnumerateArray().ToList();
        Assert.Contains(kept, k => k.GetProperty("op").GetString() == "MatMul" && k.GetProperty("kind").GetString() == "overflow");
        Assert.Contains(kept, k => k.GetProperty("op").GetString() == "Conv" && k.GetProperty("kind").GetString() == "overflow");
    }

    /// <summary>
    /// Static INT8 of the same front end on its package's own scale: the quantized power spectrum rounds to 0 before the
    /// Log. Built without held-out files or a budget, nothing judged it and the artifact shipped outputs of -infinity;
    /// now the build fails with EB3015 naming the output and what to do.
    /// </summary>
    [SkippableFact]
    public void AStaticInt8BuildWhoseOutputsGoInfiniteIsEB3015EvenWithoutHeldOutFiles()
    {
        string data = TestData.Require();
        string model = TestData.Model("kws-oww-melspec");
        string calibration = Path.Combine(dir, "calibration-int8");
        Directory.CreateDirectory(calibration);
        int i = 0;
        foreach (var sample in ZooModelInputs.Build("kws-oww-melspec", data).Inputs.Skip(30).Take(16))
            NpyFile.Write(Path.Combine(calibration, $"chunk{i++:D3}.npy"), sample["input"]);

        var (exit, _, stderr) = CliRunner.Run("compile", model, "--out", Path.Combine(dir, "int8"), "--precision", "Int8", "--shape", "input=1,1280",
            "--calibration", calibration, "--no-measure", "-q");
        Assert.Equal(1, exit);
        var error = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("error ", StringComparison.Ordinal));
        Assert.StartsWith("error EB3015: ", error, StringComparison.Ordinal);
        Assert.Contains("Int8 model's output 'output'", error, StringComparison.Ordinal);
        Assert.Contains("held-out input", error, StringComparison.Ordinal);   // the default split holds every 4th calibration file out
        Assert.Contains("KeepFp32", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir, "int8")) && Directory.EnumerateFiles(Path.Combine(dir, "int8"), "*.onnx").Any(), "a broken artifact was written");
    }
}
