using System.Text.Json;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Targets.Tflite;
using EdgeBuild.Targets.Tflite.Schema;
using EdgeBuild.Tests.Quantization;
using EdgeBuild.Tests.Support;
using static EdgeBuild.Tests.Support.TfliteHarness;
using Xunit.Abstractions;
using Tensor = EdgeBuild.Ir.Tensor;
using TensorType = EdgeBuild.Targets.Tflite.Schema.TensorType;

namespace EdgeBuild.Tests.Tflite;

/// <summary>
/// Int8 files with some nodes kept in float (Precision=Mixed, KeepFp32, the layers an accuracy budget returns to FP32):
/// those nodes get float weights and float kernels between a DEQUANTIZE and a QUANTIZE, everything else stays int8,
/// and the file runs in LiteRT closer to float than the full-integer one.
/// </summary>
public class TfliteMixedTests(ITestOutputHelper output)
{
    /// <summary>conv1 -> Relu -> conv2 -> Relu -> conv3, the last conv read by the output and by an Add with conv1's activation.</summary>
    private static Model ThreeConvs()
    {
        var b = new ModelBuilder(seed: 3);
        var x = b.Input("x", 1, 8, 12, 12);
        var a1 = b.Op("Relu", [b.Conv(x, "conv1", 16, 8)], "act1");
        var a2 = b.Op("Relu", [b.Conv(a1, "conv2", 16, 16)], "act2");
        var c3 = b.Conv(a2, "conv3", 16, 16);
        b.Output(b.Op("Add", [c3, a1], "y"));
        var model = OnnxImporter.Parse(OnnxExporter.ToBytes(b.Model));
        ShapeInference.Infer(model);
        return model;
    }

    [SkippableFact]
    public void FloatNodesRunInFloatBetweenDequantizeAndQuantize()
    {
        string tool = TfliteTool.Require();
        var model = ThreeConvs();
        long[] dims = [1, 8, 12, 12];
        var ranges = TfliteHarness.Ranges(model, ListDataSource.Random("x", dims, 16, seed: 100));
        var full = TfliteConverter.Convert(OnnxImporter.Parse(OnnxExporter.ToBytes(model)), new TfliteOptions(TflitePrecision.Int8, Ranges: ranges));
        var mixed = TfliteConverter.Convert(OnnxImporter.Parse(OnnxExporter.ToBytes(model)),
            new TfliteOptions(TflitePrecision.Int8, Ranges: ranges, FloatNodes: new HashSet<string> { "conv2_node" }));

        // The kept conv reads a float activation and float weights; the other two stay int8 with per-channel weights.
        var convs = Operators(mixed.Model, BuiltinOperator.CONV_2D).ToList();
        Assert.Equal(3, convs.Count);
        Assert.Equal([TensorType.INT8, TensorType.FLOAT32, TensorType.INT8], convs.Select(o => mixed.Model.Tensors[o.Inputs[0]].Type));
        Assert.Equal([TensorType.INT8, TensorType.FLOAT32, TensorType.INT8], convs.Select(o => mixed.Model.Tensors[o.Inputs[1]].Type));
        Assert.Equal(TensorType.FLOAT32, mixed.Model.Tensors[convs[1].Outputs[0]].Type);
        // One DEQUANTIZE into it, one QUANTIZE out of it, besides the file's float I/O pair.
        Assert.Equal(Operators(full.Model, BuiltinOperator.DEQUANTIZE).Count() + 1, Operators(mixed.Model, BuiltinOperator.DEQUANTIZE).Count());
        Assert.Equal(Operators(full.Model, BuiltinOperator.QUANTIZE).Count() + 1, Operators(mixed.Model, BuiltinOperator.QUANTIZE).Count());

        var input = ModelBuilder.RandomInput(dims, seed: 7);
        var expected = Ort.Run(OnnxExporter.ToBytes(model), new Dictionary<string, Tensor> { ["x"] = input }, optimize: false)["y"];
        double Error(TfliteResult r) => TfliteHarness.RelativeErrorNorm(expected, TfliteHarness.RunOnce(tool, r, new Dictionary<string, Tensor> { ["x"] = input })["y"]);
        double fullError = Error(full), mixedError = Error(mixed);
        output.WriteLine($"relative error norm vs ONNX Runtime: full-integer {fullError:E2}, conv2 in float {mixedError:E2}");
        Assert.True(fullError < 0.1, $"full-integer error {fullError:E2}: the int8 file itself is broken");
        Assert.True(mixedError < fullError, $"keeping conv2 in float did not bring the file closer to float ({mixedError:E2} vs {fullError:E2})");
    }

    /// <summary>
    /// Ops after a kept layer that only see float data (a reshape, a concat of float values, an activation) stay float,
    /// as in the ONNX artifact: requantizing the kept layer's output would bring back its error. A convolution after it
    /// is int8 again.
    /// </summary>
    [Fact]
    public void FloatFlowsForwardUntilTheNextComputeOp()
    {
        var b = new ModelBuilder(seed: 4);
        var x = b.Input("x", 1, 4, 6, 6);
        var c1 = b.Conv(x, "conv1", 8, 4);
        var head = b.Op("Reshape", [b.Op("Sigmoid", [c1], "prob"), b.ConstInts("shape", 1, -1)], "flat");
        var c2 = b.Conv(b.Op("Relu", [c1], "act1"), "conv2", 8, 8);
        b.Output(head, c2);
        var model = OnnxImporter.Parse(OnnxExporter.ToBytes(b.Model));
        ShapeInference.Infer(model);
        var ranges = TfliteHarness.Ranges(model, ListDataSource.Random("x", [1, 4, 6, 6], 8, seed: 1));
        var r = TfliteConverter.Convert(model, new TfliteOptions(TflitePrecision.Int8, Ranges: ranges, FloatNodes: new HashSet<string> { "conv1_node" }));
        var tfl = r.Model;
        TensorType OutputType(BuiltinOperator op) => tfl.Tensors[Operators(tfl, op).Single().Outputs[0]].Type;
        Assert.Equal(TensorType.FLOAT32, OutputType(BuiltinOperator.LOGISTIC));
        Assert.Equal(TensorType.FLOAT32, OutputType(BuiltinOperator.RESHAPE));
        Assert.Equal(TensorType.FLOAT32, OutputType(BuiltinOperator.RELU));
        var convs = Operators(tfl, BuiltinOperator.CONV_2D).ToList();
        Assert.Equal([TensorType.FLOAT32, TensorType.INT8], convs.Select(o => tfl.Tensors[o.Inputs[1]].Type));
        // The float input goes straight into the float conv1: never rounded to 8 bits. QUANTIZE: only the float Relu's
        // output where conv2 reads it. DEQUANTIZE: only conv2's output; none on the float head.
        Assert.Equal(TensorType.FLOAT32, tfl.Tensors[convs[0].Inputs[0]].Type);
        Assert.Equal(tfl.Inputs.Single(), convs[0].Inputs[0]);
        Assert.Single(Operators(tfl, BuiltinOperator.QUANTIZE));
        Assert.Single(Operators(tfl, BuiltinOperator.DEQUANTIZE));
    }

    /// <summary>With int8 I/O, an output computed by a float node is still an int8 output.</summary>
    [Fact]
    public void Int8OutputOfAFloatNodeIsQuantized()
    {
        var model = ThreeConvs();
        var ranges = TfliteHarness.Ranges(model, ListDataSource.Random("x", [1, 8, 12, 12], 8, seed: 100));
        var r = TfliteConverter.Convert(model, new TfliteOptions(TflitePrecision.Int8, Int8Io: true, Ranges: ranges, FloatNodes: new HashSet<string> { "y_node" }));
        var y = Assert.Single(r.Io, io => !io.IsInput);
        Assert.Equal("int8", y.ElementType);
        Assert.Equal(TensorType.INT8, r.Model.Tensors[r.Model.Outputs[0]].Type);
        Assert.Equal(TensorType.FLOAT32, r.Model.Tensors[Operators(r.Model, BuiltinOperator.ADD).Single().Outputs[0]].Type);
    }

    /// <summary>
    /// Precision=Mixed keeps in float what the ONNX INT8 artifact computes in float: here the Softmax on the dequantized
    /// logits, whose int8 kernel would round every probability to TFLite's fixed 1/256 output step. Int8 stays
    /// full-integer and does round them.
    /// </summary>
    [SkippableFact]
    public void MixedKeepsInFloatWhatTheOnnxArtifactComputesInFloat()
    {
        string tool = TfliteTool.Require();
        string dir = Directory.CreateTempSubdirectory("edgebuild-tflite-mixed-softmax-").FullName;
        try
        {
            var b = new ModelBuilder(seed: 9);
            var x = b.Input("x", 1, 4, 6, 6);
            b.Output(b.Op("Softmax", [b.Conv(b.Op("Relu", [b.Conv(x, "conv1", 8, 4)], "act1"), "conv2", 8, 8)], "scores", Ir.Attribute.Of("axis", 1L)));
            string modelPath = Path.Combine(dir, "head.onnx");
            File.WriteAllBytes(modelPath, OnnxExporter.ToBytes(b.Model));
            string calibration = Path.Combine(dir, "calib");
            Directory.CreateDirectory(calibration);
            for (int i = 0; i < 12; i++) NpyFile.Write(Path.Combine(calibration, $"s{i}.npy"), ModelBuilder.RandomInput([1, 4, 6, 6], 70 + i));
            // A budget is judged on at least 30 held-out samples of their own (AccuracyGate.MinHeldOutSamples).
            string evaluation = Path.Combine(dir, "eval");
            Directory.CreateDirectory(evaluation);
            for (int i = 0; i < 30; i++) NpyFile.Write(Path.Combine(evaluation, $"e{i}.npy"), ModelBuilder.RandomInput([1, 4, 6, 6], 200 + i));
            var input = ModelBuilder.RandomInput([1, 4, 6, 6], seed: 3);
            var expected = Ort.Run(OnnxExporter.ToBytes(b.Model), new Dictionary<string, Tensor> { ["x"] = input }, optimize: false)["scores"];

            float[] Scores(string precision)
            {
                string outDir = Path.Combine(dir, precision);
                // A budget the ONNX artifact meets as it is: no layer goes back to FP32, only the mirroring is left to see.
                string[] budget = precision == "Mixed" ? ["--max-accuracy-loss", "50", "--eval", evaluation] : [];
                var (exit, _, stderr) = CliRunner.Run(["convert", modelPath, "--target", "TFLite", "--precision", precision, "--calibration", calibration, .. budget, "-o", outDir, "-q"]);
                Assert.True(exit == 0, stderr);
                // ONNX layout in, as the default NHWC file takes it.
                var scores = TfliteRef.Run(tool, Path.Combine(outDir, "Head.tflite"), new Dictionary<string, Tensor> { ["x"] = Layout.Transpose(input, Layout.Nhwc) }, Path.Combine(outDir, "run"))["scores"];
                return Layout.Transpose(scores, Layout.Inverse(Layout.Nhwc)).ToFloats();
            }
            static bool OnSoftmaxGrid(float p) => Math.Abs(p * 256 - Math.Round(p * 256)) < 1e-3;
            var int8 = Scores("Int8");
            var mixed = Scores("Mixed");
            Assert.All(int8, p => Assert.True(OnSoftmaxGrid(p), $"full-integer probability {p} is not a multiple of 1/256"));
            Assert.Contains(mixed, p => !OnSoftmaxGrid(p));
            double Error(float[] a) => TfliteHarness.RelativeErrorNorm(expected, Tensor.FromFloats(expected.Dims, a));
            output.WriteLine($"relative error norm of the probabilities: Int8 {Error(int8):E2}, Mixed {Error(mixed):E2}");
            Assert.True(Error(mixed) < Error(int8), $"Mixed {Error(mixed):E2} is not closer to float than Int8 {Error(int8):E2}");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>The compile step at Precision=Mixed with KeepFp32: the named layer is float in the .tflite file, which loads in LiteRT.</summary>
    [SkippableFact]
    public void MixedPrecisionKeepsNamedLayersInTheTfliteFile()
    {
        string tool = TfliteTool.Require();
        string dir = Directory.CreateTempSubdirectory("edgebuild-tflite-mixed-cli-").FullName;
        try
        {
            string modelPath = Path.Combine(dir, "three.onnx");
            File.WriteAllBytes(modelPath, OnnxExporter.ToBytes(ThreeConvs()));
            var calibration = Path.Combine(dir, "calib");
            Directory.CreateDirectory(calibration);
            for (int i = 0; i < 12; i++) NpyFile.Write(Path.Combine(calibration, $"s{i}.npy"), ModelBuilder.RandomInput([1, 8, 12, 12], 50 + i));
            // The floors are out of the way: this checks where the float layer lands, not how close the random net stays to FP32.
            var (exit, _, stderr) = CliRunner.Run("convert", modelPath, "--target", "TFLite", "--precision", "Mixed", "--keep-fp32", "conv2*",
                "--calibration", calibration, "--min-sqnr-db", "0", "--min-cosine", "0", "-o", Path.Combine(dir, "out"), "-q");
            Assert.True(exit == 0, stderr);
            string file = Path.Combine(dir, "out", "Three.tflite");
            using var info = TfliteRef.Info(tool, file);
            Assert.True(info.RootElement.GetProperty("runtime").GetProperty("model_ok").GetBoolean(), info.RootElement.ToString());
            var tensors = info.RootElement.GetProperty("tensors").EnumerateArray().ToList();
            string TypeOf(string name) => tensors.Single(t => t.GetProperty("name").GetString() == name).GetProperty("dtype").GetString()!;
            Assert.Equal("float32", TypeOf("conv2_node/weights"));
            Assert.Equal("int8", TypeOf("conv1_node/weights"));
            Assert.Equal("int8", TypeOf("conv3_node/weights"));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
