using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using EdgeBuild.Quantization.Operators;
using EdgeBuild.Tests.Support;
using static EdgeBuild.Tests.Quantization.QuantAssert;

namespace EdgeBuild.Tests.Quantization;

/// <summary>INT8 static (QDQ): structure after the two phases, numbers against FP32, and what ONNX Runtime fuses.</summary>
public class StaticQuantizationTests
{
    private static (byte[] Fp32, QuantizationReport Report) Quantize(ModelBuilder b, QuantizeOptions? options = null, ICalibrationDataSource? data = null)
    {
        byte[] fp32 = OnnxExporter.ToBytes(b.Model);
        var report = ModelQuantizer.Quantize(b.Model, options ?? new QuantizeOptions { Calibrator = CalibratorKind.MinMax }, data ?? QuantModels.Data());
        Assert.Empty(GraphVerifier.Verify(b.Graph));
        return (fp32, report);
    }

    private static Node Single(Model m, string opType) => Assert.Single(m.Graph.Nodes, n => n.OpType == opType);

    [Fact]
    public void ConvReluConvGetsOnePairPerActivationAndInt8WeightsAndInt32Biases()
    {
        var b = QuantModels.ConvReluConv();
        var (fp32, report) = Quantize(b);

        // Activations: x and conv1 (the Relu folded into conv1's pair); conv2's output is the model's output and stays float.
        Assert.Equal(0, Count(b.Model, "Relu"));
        Assert.Equal(2, Count(b.Model, "QuantizeLinear"));
        Assert.Equal(6, Count(b.Model, "DequantizeLinear"));
        foreach (var conv in b.Graph.Nodes.Where(n => n.OpType == "Conv"))
        {
            var (w, ws, wzp, axis) = DequantizedInput(conv, 1);
            Assert.Equal(DataType.Int8, w.ElementType);
            Assert.Equal(0, axis ?? 0);
            Assert.Equal(w.Dims[0], ws.ElementCount);
            Assert.All(w.AsSpan<sbyte>().ToArray(), v => Assert.InRange(v, -127, 127));
            var (bias, bs, _, biasAxis) = DequantizedInput(conv, 2);
            Assert.Equal(DataType.Int32, bias.ElementType);
            Assert.Equal(0, biasAxis ?? 0);
            // Bias scale = input scale * weight scale, per channel, in float32 as the runtime forms it.
            var xScale = conv.Input(0)!.Producer!.Input(1)!.ConstantValue!.ToFloats()[0];
            var wScales = ws.ToFloats();
            var bScales = bs.ToFloats();
            for (int c = 0; c < wScales.Length; c++) Assert.Equal(xScale * wScales[c], bScales[c]);
            // ... stored as the product of those two initializers, not as a third vector.
            var bScale = conv.Input(2)!.Producer!.Input(1)!;
            Assert.True(QuantAssert.IsScaleProduct(bScale.Producer!));
            Assert.Same(conv.Input(1)!.Producer!.Input(1), bScale.Producer!.Input(1));
        }
        // The input's zero point is uint8 (asymmetric activations, what ORT's x86 kernels fuse).
        var q = b.Graph.Nodes.First(n => n.OpType == "QuantizeLinear");
        Assert.Equal(DataType.UInt8, q.Input(2)!.ConstantValue!.ElementType);

        Assert.True(QuantModels.OutputSqnr(fp32, OnnxExporter.ToBytes(b.Model), QuantModels.Data(4).Samples()) > 25);
        Assert.Equal(2, report.Layers.Count);
        Assert.All(report.Layers, l => Assert.Equal("Int8", l.Precision));
        Assert.All(report.Layers, l => Assert.True(l.Sqnr > 20, $"{l.Node}: {l.Sqnr} dB"));
        Assert.Equal(3, report.QuantizedNodes);
        Assert.Equal(0, report.KeptNodes);
        Assert.True(report.BytesAfter < report.BytesBefore);
    }

    [Fact]
    public void BiasQuantizedValuesDequantizeToTheFloatBias()
    {
        var b = QuantModels.ConvReluConv();
        var floatBias = b.Graph.Initializers.Single(v => v.Name == "conv1_B").ConstantValue!.ToFloats();
        // The rounding of the bias itself, so without bias correction (which moves the bias on purpose: PostTrainingRulesTests).
        Quantize(b, new QuantizeOptions { Calibrator = CalibratorKind.MinMax, BiasCorrection = false });
        var conv = b.Graph.Nodes.First(n => n.OpType == "Conv" && n.Name == "conv1_node");
        var (q, s, _, _) = DequantizedInput(conv, 2);
        var qs = q.AsSpan<int>().ToArray();
        var scales = s.ToFloats();
        for (int c = 0; c < qs.Length; c++) Assert.InRange(qs[c] * scales[c] - floatBias[c], -scales[c] / 2 - 1e-7, scales[c] / 2 + 1e-7);
    }

    [Fact]
    public void OrtFusesConvReluIntoQLinearConv()
    {
        var b = QuantModels.ConvReluConv();
        Quantize(b);
        var ops = QuantModels.OrtOptimizedOps(OnnxExporter.ToBytes(b.Model));
        // conv1 (with its Relu) becomes QLinearConv; conv2 ends in the float model output, so it stays a float Conv on dequantized inputs.
        Assert.Equal(1, ops.GetValueOrDefault("QLinearConv"));
        Assert.False(ops.ContainsKey("Relu"));
    }

    [Fact]
    public void EveryRegisteredOpFamilyIsQuantizedAndTheModelRuns()
    {
        var b = QuantModels.EveryOpFamily();
        var (fp32, report) = Quantize(b);
        var m = b.Model;
        bool ReadsDequantized(Node n, int i) => n.Input(i)?.Producer?.OpType == "DequantizeLinear";

        foreach (var op in new[] { "Conv", "AveragePool", "Sigmoid", "LeakyRelu", "HardSigmoid", "PRelu", "Clip", "Add", "Mul", "Concat", "Resize", "Transpose", "Reshape", "MatMul", "Gemm", "Softmax", "GlobalAveragePool", "MaxPool", "Flatten" })
            foreach (var n in m.Graph.Nodes.Where(n => n.OpType == op && !QuantAssert.IsScaleProduct(n)))
                Assert.True(ReadsDequantized(n, 0), $"{n} reads a float tensor");
        // Relu after Conv is folded; the Clip with min 0.2 cannot be (0 is outside its clamp), so it stays and is quantized.
        Assert.Equal(0, Count(m, "Relu"));
        Assert.Equal(1, Count(m, "Clip"));
        // No quantizer for Exp: it stays float, reading the dequantized GlobalAveragePool -> Flatten result.
        var exp = Single(m, "Exp");
        Assert.True(ReadsDequantized(exp, 0));
        Assert.DoesNotContain(exp.Outputs[0]!.Uses, u => u.Node.OpType == "QuantizeLinear");
        // Weights: Conv per channel on axis 0, MatMul B on axis 1, Gemm with transB on axis 0.
        Assert.Equal(0, DequantizedInput(Single(m, "Gemm"), 1).Axis ?? 0);
        Assert.Equal(DataType.Int32, DequantizedInput(Single(m, "Gemm"), 2).Data.ElementType);
        Assert.All(m.Graph.Nodes.Where(n => n.OpType == "MatMul"), n => Assert.Equal(1, DequantizedInput(n, 1).Axis));
        Assert.Equal(5, report.Layers.Count);
        Assert.All(report.Layers, l => Assert.Equal("Int8", l.Precision));

        Assert.True(QuantModels.OutputSqnr(fp32, OnnxExporter.ToBytes(m), QuantModels.Data(3).Samples()) > 15);
    }

    [Fact]
    public void GemmBiasScaleIncludesBeta()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 8);
        var y = b.Op("Gemm", [x, b.Weight("B", [8, 4]), b.Weight("C", [4])], "y", Ir.Attribute.Of("beta", 0.5f));
        var z = b.Op("Relu", [y], "z");
        b.Output(b.Op("Sigmoid", [z], "s"));
        Quantize(b, data: QuantModels.Data(4, [2, 8]));
        var gemm = Single(b.Model, "Gemm");
        var (_, bs, _, _) = DequantizedInput(gemm, 2);
        float xs = gemm.Input(0)!.Producer!.Input(1)!.ConstantValue!.ToFloats()[0];
        var ws = DequantizedInput(gemm, 1).Scale.ToFloats();
        Assert.Equal(1, DequantizedInput(gemm, 1).Axis);
        for (int c = 0; c < 4; c++) Assert.Equal(xs * ws[c] * 0.5f, bs.ToFloats()[c]);
    }

    [Fact]
    public void AWeightAlsoListedAsAGraphInputIsQuantizedOverItsDefault()
    {
        // Exporters that keep initializers as inputs (an SSR-Net export at opset 9 lists all 104 of its weights): each
        // is an overridable default, not a constant, so it is quantized as an activation; calibration never sees it
        // change, so its range is its default's. This crashed with "no calibrated range" before.
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 8);
        var w = b.Weight("B", [8, 4]);
        b.Graph.AddInput(w);
        var y = b.Op("Gemm", [x, w, b.Weight("C", [4])], "y");
        var z = b.Op("Relu", [y], "z");
        b.Output(b.Op("Sigmoid", [z], "s"));
        var data = QuantModels.Data(4, [2, 8]);
        var (fp32, _) = Quantize(b, data: data);
        // The Gemm reads DequantizeLinear(QuantizeLinear(B)): B itself stays the overridable input.
        var dq = Single(b.Model, "Gemm").Input(1)!.Producer!;
        Assert.Equal("DequantizeLinear", dq.OpType);
        var quantize = dq.Input(0)!.Producer!;
        Assert.Equal("QuantizeLinear", quantize.OpType);
        Assert.Same(w, quantize.Input(0));
        var weights = w.Initializer!.ToFloats();
        float step = dq.Input(1)!.ConstantValue!.ToFloats()[0];
        Assert.Equal(DataType.UInt8, dq.Input(2)!.ConstantValue!.ElementType);
        // The pair spans the default's own min/max (and zero): (max - min) / 255 per step.
        float span = Math.Max(0, weights.Max()) - Math.Min(0, weights.Min());
        Assert.InRange(step, span / 256f, span / 254f);
        Assert.True(QuantModels.OutputSqnr(fp32, OnnxExporter.ToBytes(b.Model), data.Samples()) > 25);
    }

    [Fact]
    public void ConvTransposeWeightsArePerChannelOnAxis1()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", QuantModels.ImageDims);
        var c = b.Conv(x, "c", 4, 3);
        var t = b.Op("ConvTranspose", [c, b.Weight("W", [4, 6, 2, 2]), b.Weight("Bt", [6])], "t", Ir.Attribute.Of("strides", [2L, 2L]));
        b.Output(b.Op("Relu", [t], "r"));
        var (fp32, report) = Quantize(b);
        var ct = Single(b.Model, "ConvTranspose");
        var w = DequantizedInput(ct, 1);
        Assert.Equal(1, w.Axis);
        Assert.Equal(6, w.Scale.ElementCount);
        Assert.Equal(DataType.Int32, DequantizedInput(ct, 2).Data.ElementType);
        Assert.Contains(report.Layers, l => l.OpType == "ConvTranspose" && l.Precision == "Int8");
        Assert.True(QuantModels.OutputSqnr(fp32, OnnxExporter.ToBytes(b.Model), QuantModels.Data(3).Samples()) > 20);
    }

    [Fact]
    public void ATensorReadByThreeNodesGetsOnePair()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", QuantModels.ImageDims);
        var c = b.Conv(x, "c", 4, 3);
        var a1 = b.Conv(c, "a1", 4, 4);
        var a2 = b.Conv(c, "a2", 4, 4);
        var a3 = b.Conv(c, "a3", 4, 4);
        var s = b.Op("Add", [a1, a2], "s1");
        b.Output(b.Op("Add", [s, a3], "s2"));
        Quantize(b);
        var cOut = b.Graph.Nodes.Single(n => n.Name == "c_node").Outputs[0]!;
        var q = Assert.Single(cOut.Uses);
        Assert.Equal("QuantizeLinear", q.Node.OpType);
        var dq = Assert.Single(q.Node.Outputs[0]!.Uses).Node;
        Assert.Equal(3, dq.Outputs[0]!.Uses.Count);
    }

    [Fact]
    public void DataMovementOpsShareTheirInputsScaleAndZeroPoint()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", QuantModels.ImageDims);
        var c = b.Conv(x, "c", 4, 3);
        var p = b.Op("MaxPool", [c], "pool", Ir.Attribute.Of("kernel_shape", [2L, 2L]), Ir.Attribute.Of("strides", [2L, 2L]));
        var t = b.Op("Transpose", [p], "t", Ir.Attribute.Of("perm", [0L, 1L, 3L, 2L]));
        var r = b.Op("Resize", [t, null, b.Const("scales", [4], 1, 1, 2, 2)], "up", Ir.Attribute.Of("mode", "nearest"));
        var avg = b.Op("AveragePool", [r], "avg", Ir.Attribute.Of("kernel_shape", [2L, 2L]));
        b.Output(b.Conv(avg, "c2", 2, 4));
        Quantize(b);
        (Value Scale, Value ZeroPoint) ParamsOf(string producerName)
        {
            var v = b.Graph.Nodes.Single(n => n.Name == producerName).Outputs[0]!;
            var q = v.Uses.Single(u => u.Node.OpType == "QuantizeLinear").Node;
            return (q.Input(1)!, q.Input(2)!);
        }
        var conv = ParamsOf("c_node");
        Assert.Equal(conv, ParamsOf("pool_node"));
        Assert.Equal(conv, ParamsOf("t_node"));
        Assert.Equal(conv, ParamsOf("up_node"));
        // Averaging makes new values: own range.
        Assert.NotEqual(conv, ParamsOf("avg_node"));
        var ops = QuantModels.OrtOptimizedOps(OnnxExporter.ToBytes(b.Model));
        Assert.Equal(1, ops.GetValueOrDefault("QLinearConv"));
        Assert.Equal(1, ops.GetValueOrDefault("QLinearAveragePool"));
    }

    [Fact]
    public void SoftmaxOutputHasFixedParameters()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 8);
        var g = b.Op("Gemm", [x, b.Weight("B", [8, 4]), b.Weight("C", [4])], "g");
        var s = b.Op("Softmax", [g], "s", Ir.Attribute.Of("axis", 1L));
        b.Output(b.Op("MatMul", [s, b.Weight("M", [4, 3])], "y"));
        Quantize(b, data: QuantModels.Data(4, [2, 8]));
        var softmaxOut = b.Graph.Nodes.Single(n => n.OpType == "Softmax").Outputs[0]!;
        var q = softmaxOut.Uses.Single().Node;
        Assert.Equal("QuantizeLinear", q.OpType);
        Assert.Equal(1f / 256, q.Input(1)!.ConstantValue!.ToFloats()[0]);
        // Zero point 0 (uint8): left out, the QuantizeLinear default.
        Assert.Equal(2, q.Inputs.Count);
        Assert.Equal(DataType.UInt8, q.Outputs[0]!.TensorType!.ElementType);
    }

    [Fact]
    public void DivAndMulByPositiveScalarsOnlyChangeTheScale()
    {
        // Hard-swish as PaddlePaddle exports it: x * clip(x + 3, 0, 6) / 6, then a learned scale.
        var b = new ModelBuilder();
        var x = b.Input("x", QuantModels.ImageDims);
        var c = b.Conv(x, "c", 4, 3);
        var a = b.Op("Add", [c, b.Const("three", [], 3f)], "a");
        var clip = b.Op("Clip", [a, b.Const("zero", [], 0f), b.Const("six", [], 6f)], "clip");
        var m = b.Op("Mul", [c, clip], "m");
        var d = b.Op("Div", [m, b.Const("six2", [], 6f)], "d");
        var s = b.Op("Mul", [b.Const("gain", [1], 1.5f), d], "s");
        b.Output(b.Conv(s, "c2", 2, 4));
        var (fp32, _) = Quantize(b);
        // The Clip folds into the Add's pair; Div and the scalar Mul disappear into DequantizeLinear scales.
        Assert.Equal(0, Count(b.Model, "Clip"));
        Assert.Equal(0, Count(b.Model, "Div"));
        Assert.Single(b.Graph.Nodes, n => n.OpType == "Mul" && !QuantAssert.IsScaleProduct(n));
        var mOut = b.Graph.Nodes.Single(n => n.Name == "m_node").Outputs[0]!;
        var q = mOut.Uses.Single().Node;
        float sm = q.Input(1)!.ConstantValue!.ToFloats()[0];
        var dq = q.Outputs[0]!.Uses.Single().Node;
        Assert.Equal(sm / 6f * 1.5f, dq.Input(1)!.ConstantValue!.ToFloats()[0], 6);
        Assert.Equal("Conv", Assert.Single(dq.Outputs[0]!.Uses).Node.OpType);
        Assert.True(QuantModels.OutputSqnr(fp32, OnnxExporter.ToBytes(b.Model), QuantModels.Data(3).Samples()) > 20);
    }

    [Fact]
    public void SymmetricActivationsAreInt8WithZeroPointZeroAndKeepTheRelu()
    {
        var b = QuantModels.ConvReluConv();
        var (fp32, _) = Quantize(b, new QuantizeOptions { Calibrator = CalibratorKind.MinMax, SymmetricActivations = true });
        Assert.Equal(1, Count(b.Model, "Relu"));
        foreach (var q in b.Graph.Nodes.Where(n => n.OpType == "QuantizeLinear"))
        {
            Assert.Equal(DataType.Int8, q.Input(2)!.ConstantValue!.ElementType);
            Assert.Equal(0, q.Input(2)!.ConstantValue!.ToInt64s()[0]);
        }
        Assert.True(QuantModels.OutputSqnr(fp32, OnnxExporter.ToBytes(b.Model), QuantModels.Data(3).Samples()) > 20);
    }

    [Fact]
    public void KeepPatternsLeaveNodesFloatOrMakeThemFloat16()
    {
        var b = QuantModels.ConvReluConv();
        var (fp32, report) = Quantize(b, new QuantizeOptions { Calibrator = CalibratorKind.MinMax, KeepFp32 = ["conv2*"], KeepFp16 = ["conv?_node"] });
        var conv1 = b.Graph.Nodes.Single(n => n.Name == "conv1_node");
        var conv2 = b.Graph.Nodes.Single(n => n.Name == "conv2_node");
        // KeepFp32 wins over KeepFp16 (both match conv2): float32 weights, no DequantizeLinear.
        Assert.Equal(DataType.Float, conv2.Input(1)!.ConstantValue!.ElementType);
        // conv1 matches KeepFp16 only: float16 weights, Casts around it.
        Assert.Equal(DataType.Float16, conv1.Input(1)!.ConstantValue!.ElementType);
        Assert.Equal("Cast", conv1.Input(0)!.Producer!.OpType);
        Assert.Equal(new[] { "Fp16", "Fp32" }, report.Layers.Select(l => l.Precision));
        Assert.True(QuantModels.OutputSqnr(fp32, OnnxExporter.ToBytes(b.Model), QuantModels.Data(3).Samples()) > 40);
    }

    [Fact]
    public void ABiasThatWouldOverflowInt32RaisesTheWeightScale()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", QuantModels.ImageDims);
        var w = new float[2 * 3 * 9];
        for (int i = 0; i < w.Length; i++) w[i] = i < 27 ? 1e-9f * (i + 1) : 0.1f;
        var conv = b.Op("Conv", [x, b.Graph.AddInitializer("W", Tensor.FromFloats([2, 3, 3, 3], w)), b.Const("B", [2], 5f, 0.1f)], "c",
            Ir.Attribute.Of("kernel_shape", [3L, 3L]), Ir.Attribute.Of("pads", [1L, 1L, 1L, 1L]));
        b.Output(b.Op("Relu", [conv], "r"));
        Quantize(b);
        var node = b.Graph.Nodes.Single(n => n.OpType == "Conv");
        var (bias, _, _, _) = DequantizedInput(node, 2);
        Assert.All(bias.AsSpan<int>().ToArray(), v => Assert.InRange(Math.Abs((long)v), 0, 1L << 30));
        Assert.True(DequantizedInput(node, 1).Scale.ToFloats()[0] > 1e-9f / 127 * 10);
    }

    [Fact]
    public void OldOpsetsAreConvertedTo13First()
    {
        var b = new ModelBuilder(opset: 11);
        var x = b.Input("x", QuantModels.ImageDims);
        b.Output(b.Op("Relu", [b.Conv(x, "c", 4, 3)], "r"));
        Quantize(b);
        Assert.Equal(13, b.Model.DefaultOpset);
    }

    [Fact]
    public void EveryOutputOfTheRegistryIsOneQuantizerAndUnknownOpsGetTheDefault()
    {
        string[] expected =
        [
            "Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Mul", "Div", "Concat", "MaxPool", "AveragePool", "GlobalAveragePool", "Resize", "Upsample",
            "Relu", "Clip", "Sigmoid", "HardSigmoid", "PRelu", "LeakyRelu", "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Slice", "Gather", "Softmax",
        ];
        Assert.Empty(expected.Except(QuantizerRegistry.OpTypes));
        var b = new ModelBuilder();
        var n = b.Node("Exp", [b.Input("x", 2)], ["y"]);
        Assert.IsType<DefaultQuantizer>(QuantizerRegistry.For(n));
        Assert.IsType<ConvQuantizer>(QuantizerRegistry.For(b.Node("Conv", [b.Input("x2", 1, 1, 2, 2)], ["z"])));
    }

    [Fact]
    public void ProgressReportsCalibration()
    {
        var lines = new List<string>();
        ModelQuantizer.Quantize(QuantModels.ConvReluConv().Model, new QuantizeOptions(), QuantModels.Data(3), lines.Add);
        Assert.Contains("calibrating 3/3", lines);
    }
}

/// <summary>Errors of the engine: each an EdgeBuildException with its EB3xxx code.</summary>
public class QuantizationErrorTests
{
    private sealed class Shortfall(int claimed, int real) : ICalibrationDataSource
    {
        public int Count => claimed;
        public IEnumerable<IReadOnlyDictionary<string, Tensor>> Samples() => QuantModels.Data(real).Samples();
    }

    private static EdgeBuildException Fails(QuantizeOptions options, ICalibrationDataSource? data) =>
        Assert.Throws<EdgeBuildException>(() => ModelQuantizer.Quantize(QuantModels.ConvReluConv().Model, options, data));

    [Fact]
    public void Int8StaticWithoutDataIsEB3003() => Assert.Equal("EB3003", Fails(new QuantizeOptions(), null).Code);

    [Fact]
    public void FewerSamplesThanRequiredIsEB3003()
    {
        var e = Fails(new QuantizeOptions { MinCalibrationSamples = 10 }, QuantModels.Data(4));
        Assert.Equal("EB3003", e.Code);
        Assert.Contains("10", e.Message);
        Assert.Equal(DiagnosticCodes.NotEnoughCalibrationSamples, e.Descriptor);
    }

    [Fact]
    public void ASourceGivingFewerSamplesThanItClaimsIsEB3003() =>
        Assert.Equal("EB3003", Fails(new QuantizeOptions { MinCalibrationSamples = 5 }, new Shortfall(5, 2)).Code);

    [Fact]
    public void ASampleWithoutTheModelInputIsEB3004() =>
        Assert.Equal("EB3004", Fails(new QuantizeOptions(), ListDataSource.Random("not_x", QuantModels.ImageDims, 2)).Code);

    [Fact]
    public void ASampleOfTheWrongShapeIsEB3004() =>
        Assert.Equal("EB3004", Fails(new QuantizeOptions(), ListDataSource.Random("x", [1, 3, 4, 4], 2)).Code);

    [Fact]
    public void APercentileOutsideTheRangeIsEB3005() =>
        Assert.Equal("EB3005", Fails(new QuantizeOptions { Percentile = 120 }, QuantModels.Data(2)).Code);

    [Fact]
    public void DynamicAndFp16NeedNoData()
    {
        Assert.Equal(QuantizationMode.Fp16, ModelQuantizer.Quantize(QuantModels.ConvReluConv().Model, new QuantizeOptions { Mode = QuantizationMode.Fp16 }, null).Mode);
        Assert.Equal(QuantizationMode.Int8Dynamic, ModelQuantizer.Quantize(QuantModels.ConvReluConv().Model, new QuantizeOptions { Mode = QuantizationMode.Int8Dynamic }, null).Mode);
    }
}
