using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using EdgeBuild.Tests.Support;
using static EdgeBuild.Tests.Quantization.QuantAssert;

namespace EdgeBuild.Tests.Quantization;

public class Fp16Tests
{
    /// <summary>x -> Conv -> Relu -> Conv -> Softmax -> y, plus a second output straight from the first Conv.</summary>
    private static ModelBuilder Model()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", QuantModels.ImageDims);
        var c1 = b.Conv(x, "conv1", 8, 3);
        var r = b.Op("Relu", [c1], "relu");
        var c2 = b.Conv(r, "conv2", 4, 8);
        var s = b.Op("Softmax", [c2], "probabilities", Ir.Attribute.Of("axis", 1L));
        b.Output(s, c1);
        return QuantModels.Typed(b);
    }

    [Fact]
    public void WeightsAndActivationsBecomeFloat16AndTheInterfaceStaysFloat32()
    {
        var b = Model();
        byte[] fp32 = OnnxExporter.ToBytes(b.Model);
        var report = ModelQuantizer.Quantize(b.Model, new QuantizeOptions { Mode = QuantizationMode.Fp16 }, null);
        Assert.Empty(GraphVerifier.Verify(b.Graph));
        var g = b.Graph;
        Assert.All(g.Nodes.Where(n => n.OpType == "Conv"), n => Assert.Equal(DataType.Float16, n.Input(1)!.ConstantValue!.ElementType));
        Assert.All(g.Nodes.Where(n => n.OpType == "Conv"), n => Assert.Equal(DataType.Float16, n.Outputs[0]!.TensorType!.ElementType));
        // Inputs and outputs keep their names and float32 types.
        Assert.Equal(DataType.Float, g.Inputs.Single().TensorType!.ElementType);
        Assert.Equal(["probabilities", "conv1"], g.Outputs.Select(o => o.Name));
        Assert.All(g.Outputs, o => Assert.Equal(DataType.Float, o.TensorType!.ElementType));
        // Softmax is kept float32 (its sum overflows/loses precision in float16): a Cast before it, none after.
        var softmax = g.Nodes.Single(n => n.OpType == "Softmax");
        Assert.Equal("Cast", softmax.Input(0)!.Producer!.OpType);
        Assert.Equal(DataType.Float, softmax.Outputs[0]!.TensorType!.ElementType);
        Assert.Equal(["Fp16", "Fp16"], report.Layers.Select(l => l.Precision));
        Assert.InRange(report.BytesAfter / (double)report.BytesBefore, 0.45, 0.7);

        var after = OnnxExporter.ToBytes(b.Model);
        foreach (var sample in QuantModels.Data(3).Samples())
            Ort.AssertClose(Ort.Run(fp32, sample), Ort.Run(after, sample), relative: 5e-3);
    }

    [Fact]
    public void WithoutKeepIoFp32TheInterfaceIsFloat16()
    {
        var b = Model();
        ModelQuantizer.Quantize(b.Model, new QuantizeOptions { Mode = QuantizationMode.Fp16, KeepIoFp32 = false }, null);
        Assert.Equal(DataType.Float16, b.Graph.Inputs.Single().TensorType!.ElementType);
        Assert.Equal(DataType.Float16, b.Graph.Outputs.Single(o => o.Name == "conv1").TensorType!.ElementType);
        var input = new Dictionary<string, Tensor> { ["x"] = QuantMath.ToFloat16(ModelBuilder.RandomInput(QuantModels.ImageDims)) };
        var outputs = Ort.Run(b.Model, input);
        Assert.Equal(DataType.Float16, outputs["conv1"].ElementType);
    }

    [Fact]
    public void KeepFp32NodesStayFloat32WithCastsAround()
    {
        var b = Model();
        var report = ModelQuantizer.Quantize(b.Model, new QuantizeOptions { Mode = QuantizationMode.Fp16, KeepFp32 = ["conv2_node"] }, null);
        var conv2 = b.Graph.Nodes.Single(n => n.Name == "conv2_node");
        Assert.Equal(DataType.Float, conv2.Input(1)!.ConstantValue!.ElementType);
        Assert.Equal("Cast", conv2.Input(0)!.Producer!.OpType);
        Assert.Equal(["Fp16", "Fp32"], report.Layers.Select(l => l.Precision));
        Ort.Run(b.Model, new Dictionary<string, Tensor> { ["x"] = ModelBuilder.RandomInput(QuantModels.ImageDims) });
    }

    [Fact]
    public void WeightsBeyondFloat16SaturateInsteadOfBecomingInfinite()
    {
        var t = QuantMath.ToFloat16(Tensor.FromFloats([4], [1e6f, -1e6f, 1e-9f, float.NaN]));
        var h = t.AsSpan<Half>().ToArray();
        Assert.Equal((Half)65504f, h[0]);
        Assert.Equal((Half)(-65504f), h[1]);
        Assert.Equal(0f, (float)h[2], 6);
        Assert.True(Half.IsNaN(h[3]));
    }

    [SkippableFact]
    public void MatchesFp32OnEverySmallModel()
    {
        foreach (var make in new Func<ModelBuilder>[] { QuantModels.ConvReluConv, QuantModels.EveryOpFamily, QuantModels.ConvMatMulGemm })
        {
            var b = make();
            byte[] fp32 = OnnxExporter.ToBytes(b.Model);
            ModelQuantizer.Quantize(b.Model, new QuantizeOptions { Mode = QuantizationMode.Fp16 }, null);
            Assert.True(QuantModels.OutputSqnr(fp32, OnnxExporter.ToBytes(b.Model), QuantModels.Data(2).Samples()) > 45);
        }
    }
}

public class DynamicQuantizationTests
{
    [Fact]
    public void ConvMatMulAndGemmUseIntegerKernelsWithPerChannelWeights()
    {
        var b = QuantModels.ConvMatMulGemm();
        byte[] fp32 = OnnxExporter.ToBytes(b.Model);
        var report = ModelQuantizer.Quantize(b.Model, new QuantizeOptions { Mode = QuantizationMode.Int8Dynamic }, null);
        Assert.Empty(GraphVerifier.Verify(b.Graph));
        var m = b.Model;
        Assert.Equal(0, Count(m, "Conv") + Count(m, "MatMul") + Count(m, "Gemm"));
        Assert.Equal(1, Count(m, "ConvInteger"));
        Assert.Equal(2, Count(m, "MatMulInteger"));
        Assert.Equal(3, Count(m, "DynamicQuantizeLinear"));
        // ORT's CPU ConvInteger takes uint8 weights: int8 values shifted by 128, zero point 128.
        var conv = m.Graph.Nodes.Single(n => n.OpType == "ConvInteger");
        Assert.Equal(DataType.UInt8, conv.Input(1)!.ConstantValue!.ElementType);
        Assert.Equal(128, conv.Input(3)!.ConstantValue!.ToInt64s()[0]);
        foreach (var mm in m.Graph.Nodes.Where(n => n.OpType == "MatMulInteger"))
        {
            Assert.Equal(DataType.Int8, mm.Input(1)!.ConstantValue!.ElementType);
            // Within [-64, 64]: x86 kernels without VNNI sum uint8 x int8 pairs in int16 with saturation.
            var weights = mm.Input(1)!.ConstantValue!.AsSpan<sbyte>().ToArray();
            Assert.All(weights, v => Assert.InRange(v, -64, 64));
            Assert.Contains(weights, v => Math.Abs(v) == 64);
        }
        Assert.All(report.Layers, l => Assert.Equal("Int8", l.Precision));
        Assert.Equal(3, report.QuantizedNodes);
        Assert.True(QuantModels.OutputSqnr(fp32, OnnxExporter.ToBytes(m), QuantModels.Data(3).Samples()) > 25);
    }

    [Fact]
    public void OrtFusesTheMatMulPatternIntoDynamicQuantizeMatMul()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 4, 32);
        b.Output(b.Op("MatMul", [x, b.Weight("W", [32, 16])], "y"));
        ModelQuantizer.Quantize(b.Model, new QuantizeOptions { Mode = QuantizationMode.Int8Dynamic }, null);
        var ops = QuantModels.OrtOptimizedOps(OnnxExporter.ToBytes(b.Model));
        Assert.Equal(1, ops.GetValueOrDefault("DynamicQuantizeMatMul"));
        Assert.False(ops.ContainsKey("MatMulInteger"));
    }

    [Fact]
    public void KeepPatternsAreHonoured()
    {
        var b = QuantModels.ConvMatMulGemm();
        var report = ModelQuantizer.Quantize(b.Model, new QuantizeOptions { Mode = QuantizationMode.Int8Dynamic, KeepFp32 = ["conv_node"], KeepFp16 = ["gemm*"] }, null);
        Assert.Equal(1, Count(b.Model, "Conv"));
        Assert.Equal(["Fp32", "Int8", "Fp16"], report.Layers.Select(l => l.Precision));
        Ort.Run(b.Model, new Dictionary<string, Tensor> { ["x"] = ModelBuilder.RandomInput(QuantModels.ImageDims) });
    }
}

public class NodePatternTests
{
    [Theory]
    [InlineData("conv*", "conv1", true)]
    [InlineData("conv*", "backbone.conv1", false)]
    [InlineData("*conv?", "backbone.conv1", true)]
    [InlineData("*conv?", "backbone.conv12", false)]
    [InlineData("a*b*c", "axxbyyc", true)]
    [InlineData("a*b*c", "axxbyy", false)]
    [InlineData("*", "", true)]
    [InlineData("exact", "exact", true)]
    [InlineData("Exact", "exact", false)]
    public void GlobMatchesLikeAShell(string pattern, string text, bool expected) => Assert.Equal(expected, NodePatterns.Glob(pattern, text));

    [Fact]
    public void NodesWithoutANameAreMatchedByTheirFirstOutput()
    {
        var b = new ModelBuilder();
        var n = b.Graph.AddNode("Relu", [b.Input("x", 2)], ["features_relu"]);
        Assert.True(new NodePatterns(["features_*"]).Matches(n));
        Assert.False(new NodePatterns([" ", ""]).Matches(n));
    }
}

/// <summary>Every mode on every small model: the result passes the ONNX checker and runs in ONNX Runtime.</summary>
public class QuantizedModelValidityTests
{
    [SkippableFact]
    public void EveryQuantizedModelPassesTheOnnxChecker()
    {
        OnnxChecker.Require();
        var dir = Directory.CreateTempSubdirectory("edgebuild-quant-check-");
        try
        {
            var files = new List<string>();
            var builders = new (string Name, Func<ModelBuilder> Make)[] { ("convreluconv", QuantModels.ConvReluConv), ("every", QuantModels.EveryOpFamily), ("convmatmulgemm", QuantModels.ConvMatMulGemm) };
            var modes = new (string Name, QuantizeOptions Options, bool Data)[]
            {
                ("fp16", new QuantizeOptions { Mode = QuantizationMode.Fp16 }, false),
                ("dynamic", new QuantizeOptions { Mode = QuantizationMode.Int8Dynamic }, false),
                ("minmax", new QuantizeOptions { Calibrator = CalibratorKind.MinMax }, true),
                ("percentile", new QuantizeOptions(), true),
                ("entropy-symmetric", new QuantizeOptions { Calibrator = CalibratorKind.Entropy, SymmetricActivations = true }, true),
                ("mixed", new QuantizeOptions { KeepFp16 = ["conv*"], KeepFp32 = ["gemm*"] }, true),
            };
            foreach (var (name, make) in builders)
                foreach (var (mode, options, data) in modes)
                {
                    var b = make();
                    ModelQuantizer.Quantize(b.Model, options, data ? QuantModels.Data(3) : null);
                    string path = Path.Combine(dir.FullName, $"{name}-{mode}.onnx");
                    OnnxExporter.Save(b.Model, path);
                    Ort.Run(File.ReadAllBytes(path), new Dictionary<string, Tensor> { ["x"] = ModelBuilder.RandomInput(QuantModels.ImageDims) });
                    files.Add(path);
                }
            var results = OnnxChecker.CheckMany(files);
            Assert.All(results, r => Assert.True(r.Value is null, $"{Path.GetFileName(r.Key)}: {r.Value}"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
