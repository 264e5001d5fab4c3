using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Quantization;
using EdgeBuild.Tests.Support;
using static EdgeBuild.Tests.Quantization.QuantAssert;
using IrAttribute = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Tests.Quantization;

/// <summary>
/// The post-training INT8 rules on small graphs built so that each rule provably matters: bias correction removes a
/// mean shift that int8 weight rounding puts into a layer's output; the affine-input placement moves the Q/DQ pair of a
/// Concat of features at different scales to after the BatchNorm that rebalances them. Each assertion fails with the
/// rule switched off (the same test runs both ways).
/// </summary>
public class PostTrainingRulesTests
{
    private static readonly long[] Dims = [1, 16, 8, 8];

    /// <summary>Samples in [0, 1): the non-negative, non-zero-mean inputs a layer sees after a Relu.</summary>
    private static ListDataSource Positive(int count, int seed) =>
        new(Enumerable.Range(0, count).Select(i =>
        {
            var r = new Random(seed + i);
            var data = new float[Tensor.CountElements(Dims)];
            for (int k = 0; k < data.Length; k++) data[k] = (float)r.NextDouble();
            return (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { ["x"] = Tensor.FromFloats(Dims, data) };
        }).ToList());

    /// <summary>
    /// x[1,16,8,8] -> Conv(8, 3x3, no bias) -> y. Every output channel has one weight of 1.0 (which sets its int8 scale,
    /// 1/64 with the [-64, 64] weights ONNX Runtime placement uses) and 143 weights of +-0.4/64, which all round to 0:
    /// each channel loses 143 x 0.4/64 x E[x] = 0.45 on average, with the sign of the channel.
    /// </summary>
    private static ModelBuilder RoundingConv()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", Dims);
        const int m = 8, c = 16, k = 3;
        var w = new float[m * c * k * k];
        for (int o = 0; o < m; o++)
            for (int i = 0; i < c * k * k; i++)
                w[o * c * k * k + i] = i == 0 ? 1f : (o % 2 == 0 ? 0.4f : -0.4f) / 64f;
        var weights = b.Const("W", [m, c, k, k], w);
        var y = b.Op("Conv", [x, weights], "y", IrAttribute.Of("kernel_shape", [k, k]), IrAttribute.Of("pads", [1L, 1, 1, 1]));
        b.Output(y);
        return QuantModels.Typed(b);
    }

    /// <summary>Mean of (quantized - float) per output channel over the samples.</summary>
    private static double[] MeanErrorPerChannel(byte[] fp32, byte[] quantized, ICalibrationDataSource data)
    {
        var sum = new double[8];
        long count = 0;
        foreach (var sample in data.Samples())
        {
            var f = Ort.Run(fp32, sample)["y"];
            var q = Ort.Run(quantized, sample)["y"].ToFloats();
            var fv = f.ToFloats();
            long inner = f.Dims[2] * f.Dims[3];
            for (int i = 0; i < fv.Length; i++) sum[i / inner % 8] += q[i] - fv[i];
            count += inner;
        }
        return sum.Select(s => s / count).ToArray();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BiasCorrectionRemovesTheMeanShiftOfInt8Weights(bool correct)
    {
        var b = RoundingConv();
        byte[] fp32 = OnnxExporter.ToBytes(b.Model);
        var options = new QuantizeOptions { Calibrator = CalibratorKind.MinMax, BiasCorrection = correct };
        var report = ModelQuantizer.Quantize(b.Model, options, Positive(8, 1));
        Assert.Empty(GraphVerifier.Verify(b.Graph));
        // Judged on samples the statistics never saw.
        var error = MeanErrorPerChannel(fp32, OnnxExporter.ToBytes(b.Model), Positive(4, 100));
        var conv = Assert.Single(b.Graph.Nodes, n => n.OpType == "Conv");
        if (correct)
        {
            Assert.Equal(1, report.BiasCorrected);
            // The Conv had no bias: it got one, quantized to int32 like any bias.
            var (bias, _, _, _) = DequantizedInput(conv, 2);
            Assert.Equal(DataType.Int32, bias.ElementType);
            Assert.All(error, e => Assert.InRange(e, -0.02, 0.02));
        }
        else
        {
            Assert.Equal(0, report.BiasCorrected);
            Assert.Null(conv.Input(2));
            // The shift the rounding causes: about 0.45 (less at the borders, where padding reads zeros), signed per channel.
            for (int o = 0; o < error.Length; o++) Assert.InRange(o % 2 == 0 ? -error[o] : error[o], 0.3, 0.5);
        }
    }

    [Fact]
    public void StatisticsOfTheFirstQuantizationGiveLaterOnesWithoutDataTheSameModel()
    {
        var data = Positive(8, 1);
        var first = RoundingConv();
        var ranges = EdgeBuild.Quantization.Calibration.CalibrationTable.Compute(first.Model, data, new QuantizeOptions { Calibrator = CalibratorKind.MinMax }).Ranges;
        var options = new QuantizeOptions { Calibrator = CalibratorKind.MinMax, CalibratedRanges = ranges };
        var report = ModelQuantizer.Quantize(first.Model, options, data);
        Assert.NotNull(report.Statistics);
        Assert.Equal(8, report.Statistics!.Samples);

        // Without data and without statistics nothing can be measured: the layer is not corrected.
        var blind = RoundingConv();
        Assert.Equal(0, ModelQuantizer.Quantize(blind.Model, options, null).BiasCorrected);

        var later = RoundingConv();
        var again = ModelQuantizer.Quantize(later.Model, options with { Statistics = report.Statistics }, null);
        Assert.Equal(1, again.BiasCorrected);
        Assert.Equal(OnnxExporter.ToBytes(first.Model), OnnxExporter.ToBytes(later.Model));
    }

    [Fact]
    public void TheCalibrationPassCollectsTheSameStatisticsAsAPassOfTheirOwnAndTheModelIsTheSame()
    {
        // Bias shifts (the rounding conv) and affine channel ranges (the Concat into a BatchNorm) in one model each.
        foreach (var (make, data) in new (Func<ModelBuilder>, ICalibrationDataSource)[] { (RoundingConv, Positive(6, 2)), (() => ConcatOfScalesIntoBatchNorm(1000), QuantModels.Data(6)) })
        {
            var options = new QuantizeOptions { Calibrator = CalibratorKind.MinMax, AffineInputPlacement = true };
            var table = EdgeBuild.Quantization.Calibration.CalibrationTable.Compute(make().Model, data, options, statistics: true);
            var separate = PostTrainingStatistics.Measure(make().Model, data, QuantMath.SaturationFreeWeightMax, biasShifts: true, channelRanges: true, null, default);
            var together = table.Statistics!;
            Assert.Equal(separate.Samples, together.Samples);
            Assert.Equal(separate.BiasShifts.Keys.Order(), together.BiasShifts.Keys.Order());
            Assert.NotEmpty(separate.BiasShifts);
            foreach (var (layer, shift) in separate.BiasShifts) Assert.Equal(shift, together.BiasShifts[layer]);
            Assert.Equal(separate.Channels.Keys.Order(), together.Channels.Keys.Order());
            foreach (var (tensor, r) in separate.Channels)
            {
                Assert.Equal(r.Min, together.Channels[tensor].Min);
                Assert.Equal(r.Max, together.Channels[tensor].Max);
            }
            // The weight-error layers the pass ran beside the model are no activations: the ranges are the plain calibration's.
            var plain = EdgeBuild.Quantization.Calibration.CalibrationTable.Compute(make().Model, data, options);
            Assert.Null(plain.Statistics);
            Assert.Equal(plain.Ranges.OrderBy(r => r.Key), table.Ranges.OrderBy(r => r.Key));

            // A quantization given the table's statistics is the one that measures its own.
            var own = make();
            ModelQuantizer.Quantize(own.Model, options with { CalibratedRanges = table.Ranges }, data);
            var given = make();
            ModelQuantizer.Quantize(given.Model, options with { CalibratedRanges = table.Ranges, Statistics = together }, null);
            Assert.Equal(OnnxExporter.ToBytes(own.Model), OnnxExporter.ToBytes(given.Model));
        }
    }

    [Fact]
    public void AGemmOfAnOpset9ModelGetsItsShiftMeasuredInTheCalibrationPass()
    {
        // Gemm's C is required before opset 11; the calibration pass runs the model before any opset conversion.
        var b = new ModelBuilder(opset: 9);
        var x = b.Input("x", 1, 16);
        var gemm = b.Op("Gemm", [x, b.Weight("W", [16, 8]), b.Weight("C", [8])], "y");
        b.Output(gemm);
        var data = ListDataSource.Random("x", [1, 16], 6, seed: 3);
        var table = EdgeBuild.Quantization.Calibration.CalibrationTable.Compute(b.Model, data, new QuantizeOptions(), statistics: true);
        var shift = Assert.Single(table.Statistics!.BiasShifts);
        Assert.Equal(8, shift.Value.Length);
        Assert.Contains(shift.Value, v => v != 0);
    }

    /// <summary>
    /// x -> Conv a (small outputs) and Conv b (outputs 1000x larger) -> Concat -> BatchNorm (scales each half back to
    /// about 1) -> Relu -> Conv c -> y. With <paramref name="spread"/> 1 both convs have the same scale.
    /// </summary>
    private static ModelBuilder ConcatOfScalesIntoBatchNorm(float spread)
    {
        var b = new ModelBuilder();
        var x = b.Input("x", QuantModels.ImageDims);
        var a = b.Conv(x, "a", 4, 3);
        var wide = b.Weight("b_W", [4, 3, 3, 3], -0.5f * spread, 0.5f * spread);
        var bb = b.Op("Conv", [x, wide], "b", IrAttribute.Of("kernel_shape", [3L, 3]), IrAttribute.Of("pads", [1L, 1, 1, 1]));
        var concat = b.Op("Concat", [a, bb], "concat", IrAttribute.Of("axis", 1L));
        var scale = b.Const("bn_scale", [8], [1, 1, 1, 1, 1 / spread, 1 / spread, 1 / spread, 1 / spread]);
        var bias = b.Const("bn_bias", [8], [0.1f, -0.1f, 0.2f, 0, 0.1f, -0.1f, 0.2f, 0]);
        var mean = b.Const("bn_mean", [8], new float[8]);
        var variance = b.Const("bn_var", [8], Enumerable.Repeat(1f, 8).ToArray());
        var bn = b.Op("BatchNormalization", [concat, scale, bias, mean, variance], "bn", IrAttribute.Of("epsilon", 1e-5f));
        var relu = b.Op("Relu", [bn], "relu");
        var c = b.Conv(relu, "c", 4, 8);
        b.Output(c);
        return QuantModels.Typed(b);
    }

    private static bool Quantized(Model m, string tensor) => m.Graph.Nodes.Any(n => n.OpType == "QuantizeLinear" && n.Input(0)?.Name == tensor);

    [Fact]
    public void ConcatOfFeaturesAtDifferentScalesIsQuantizedAfterItsBatchNorm()
    {
        double Sqnr(bool placement, out QuantizationReport report, out Model model)
        {
            var b = ConcatOfScalesIntoBatchNorm(1000);
            byte[] fp32 = OnnxExporter.ToBytes(b.Model);
            report = ModelQuantizer.Quantize(b.Model, new QuantizeOptions { Calibrator = CalibratorKind.MinMax, AffineInputPlacement = placement }, QuantModels.Data());
            Assert.Empty(GraphVerifier.Verify(b.Graph));
            model = b.Model;
            return QuantModels.OutputSqnr(fp32, OnnxExporter.ToBytes(b.Model), QuantModels.Data(4).Samples());
        }

        double with = Sqnr(true, out var placed, out var placedModel);
        double without = Sqnr(false, out var plain, out var plainModel);
        // Without the rule the Concat's output gets one scale for both halves; with it, only the rebalanced Relu output is quantized.
        Assert.True(Quantized(plainModel, "concat"));
        Assert.Empty(plain.KeptFloatForPlacement);
        Assert.False(Quantized(placedModel, "concat"));
        Assert.Equal(["concat"], placed.KeptFloatForPlacement);
        Assert.True(Quantized(placedModel, "relu"));
        // Both convs before the Concat and the one after it stay int8.
        Assert.All(placed.Layers, l => Assert.Equal("Int8", l.Precision));
        Assert.True(with > without + 10, $"output SQNR {with:F1} dB with the placement rule, {without:F1} dB without");
    }

    [Fact]
    public void BalancedConcatIsQuantizedAsBefore()
    {
        var b = ConcatOfScalesIntoBatchNorm(1);
        var report = ModelQuantizer.Quantize(b.Model, new QuantizeOptions { Calibrator = CalibratorKind.MinMax }, QuantModels.Data());
        Assert.Empty(report.KeptFloatForPlacement);
        Assert.True(Quantized(b.Model, "concat"));
    }

    [Fact]
    public void ChannelSpreadIsTheWidestRangeOverTheGeometricMeanRange()
    {
        // Widths (0 included): 1, 1, 1 and 256, geometric mean 4; a dead channel (all zero) does not count.
        var r = new ChannelRanges(1, [0, -0.5f, 0, -256, 0], [1, 0.5f, 1, 0, 0]);
        Assert.Equal(64, r.Spread, 6);
        Assert.Equal(1, new ChannelRanges(1, [0], [5]).Spread);
    }
    [Fact]
    public void CrossLayerEqualizationKeepsTheFloatModelAndBalancesTheWeightRanges()
    {
        // conv1's output channels 0-3 have weights 50x larger than channels 4-7; conv2 reads all eight.
        var b = new ModelBuilder();
        var x = b.Input("x", QuantModels.ImageDims);
        var w1 = b.Weight("conv1_W", [8, 3, 3, 3], -0.5f, 0.5f).ConstantValue!.ToFloats();
        for (int k = 0; k < w1.Length / 2; k++) w1[k] *= 50;
        var c1 = b.Op("Conv", [x, b.Const("W1", [8, 3, 3, 3], w1), b.Weight("B1", [8], -0.1f, 0.1f)], "c1",
            IrAttribute.Of("kernel_shape", [3L, 3]), IrAttribute.Of("pads", [1L, 1, 1, 1]));
        var r = b.Op("Relu", [c1], "r");
        b.Output(b.Conv(r, "c2", 4, 8));
        QuantModels.Typed(b);
        byte[] before = OnnxExporter.ToBytes(b.Model);
        double[] Out() => QuantMath.AbsMaxPerChannel(b.Graph.Initializers.Single(v => v.Name == "W1").ConstantValue!, 0);
        double[] In() => QuantMath.AbsMaxPerChannel(b.Graph.Initializers.Single(v => v.Name == "c2_W").ConstantValue!, 1);
        Assert.True(Out().Max() / Out().Min() > 20);

        Assert.Equal(1, CrossLayerEqualization.Apply(b.Graph));
        // Each channel's largest weight is now the same on both sides of the Relu: sqrt(r1 r2).
        var (o, i) = (Out(), In());
        for (int c = 0; c < 8; c++) Assert.Equal(1, o[c] / i[c], 4);
        foreach (var sample in QuantModels.Data(2).Samples())
            Ort.AssertClose(Ort.Run(before, sample), Ort.Run(b.Model, sample), 1e-5);
    }
}
