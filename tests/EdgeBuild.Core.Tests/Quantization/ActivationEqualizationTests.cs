using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Quantization;
using EdgeBuild.Tests.Support;
using Xunit.Abstractions;
using IrAttribute = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Tests.Quantization;

/// <summary>
/// Activation equalization (<see cref="ActivationEqualization"/>): the rescale keeps the float function, and on a
/// tensor whose channels differ 100x in range before a Relu and a Conv it is what keeps the INT8 output accurate.
/// </summary>
public class ActivationEqualizationTests(ITestOutputHelper output)
{
    private static readonly long[] Dims = [1, 16, 8, 8];

    /// <summary>
    /// x[1,16,8,8] -> Mul(k) -> Add(b) -> Relu -> Conv(8, 3x3) -> y. Channels 0-7 have k = 1, channels 8-15 k = 0.01:
    /// one shared activation scale gives the small channels 2-3 of the 256 levels. The Conv is block-diagonal with the
    /// small channels' weights 100x larger, so output channels 4-7 (which read only the small ones) are as large as 0-3
    /// and their error shows in the output SQNR.
    /// </summary>
    private static ModelBuilder SpreadBeforeReluConv()
    {
        var b = new ModelBuilder(seed: 7);
        var x = b.Input("x", Dims);
        var k = Enumerable.Range(0, 16).Select(c => c < 8 ? 1f : 0.01f).ToArray();
        var shift = k.Select(v => 0.1f * v).ToArray();
        var scaled = b.Op("Mul", [x, b.Const("k", [16, 1, 1], k)], "scaled");
        var shifted = b.Op("Add", [scaled, b.Const("shift", [16, 1, 1], shift)], "shifted");
        var r = b.Op("Relu", [shifted], "r");
        var random = new Random(3);
        var w = new float[8 * 16 * 9];
        for (int o = 0; o < 8; o++)
            for (int i = 0; i < 16; i++)
            {
                // Output channels 0-3 read input channels 0-7; 4-7 read 8-15.
                if ((o < 4) != (i < 8)) continue;
                for (int t = 0; t < 9; t++) w[(o * 16 + i) * 9 + t] = (float)(random.NextDouble() - 0.5) * (i < 8 ? 1 : 100);
            }
        var y = b.Op("Conv", [r, b.Const("W", [8, 16, 3, 3], w), b.Weight("B", [8], -0.1f, 0.1f)], "y",
            IrAttribute.Of("kernel_shape", [3L, 3]), IrAttribute.Of("pads", [1L, 1, 1, 1]));
        b.Output(y);
        return QuantModels.Typed(b);
    }

    [Fact]
    public void EqualizationGainsOver6DbOnChannelsSpreading100xBeforeAReluAndAConv()
    {
        // The same model quantized the same way with the rule off and on; judged on inputs calibration never saw.
        var heldOut = ListDataSource.Random("x", Dims, 4, seed: 500).Samples().ToList();
        double Sqnr(bool equalize, out int rescaled)
        {
            var b = SpreadBeforeReluConv();
            byte[] fp32 = OnnxExporter.ToBytes(b.Model);
            var options = new QuantizeOptions { Calibrator = CalibratorKind.MinMax, ActivationEqualization = equalize };
            rescaled = ModelQuantizer.Quantize(b.Model, options, ListDataSource.Random("x", Dims, 8)).ActivationEqualized;
            Assert.Empty(GraphVerifier.Verify(b.Graph));
            return QuantModels.OutputSqnr(fp32, OnnxExporter.ToBytes(b.Model), heldOut);
        }
        double without = Sqnr(false, out int none), with = Sqnr(true, out int groups);
        output.WriteLine($"INT8 output SQNR: {without:F1} dB without equalization, {with:F1} dB with");
        Assert.Equal(0, none);
        Assert.Equal(1, groups);
        Assert.True(with > without + 6, $"with equalization {with:F1} dB, without {without:F1} dB: less than 6 dB gained");
    }

    /// <summary>
    /// Every pattern the rule takes, in one graph: BatchNormalization -> PRelu (per-channel slopes, some negative) -> Conv,
    /// and Mul -> Add -> LeakyRelu -> Gemm (transB) and MatMul reading the same tensor. Channel ranges differ 100x in both.
    /// A Relu whose output a non-weighted op also reads, and a Clip, are left alone.
    /// </summary>
    [Fact]
    public void EqualizationKeepsTheFloatModelAndSkipsWhatItCannotRescaleExactly()
    {
        var b = new ModelBuilder(seed: 11);
        var x = b.Input("x", Dims);
        var scale = Enumerable.Range(0, 16).Select(c => c % 2 == 0 ? 2f : 0.02f).ToArray();
        var bn = b.Op("BatchNormalization", [x, b.Const("bn_scale", [16], scale), b.Weight("bn_bias", [16], -0.01f, 0.01f),
            b.Weight("bn_mean", [16], -0.1f, 0.1f), b.Weight("bn_var", [16], 0.5f, 2f)], "bn", IrAttribute.Of("epsilon", 1e-5f));
        var slopes = b.Const("slope", [16, 1, 1], Enumerable.Range(0, 16).Select(c => c % 3 == 0 ? -0.2f : 0.1f).ToArray());
        var p = b.Op("PRelu", [bn, slopes], "p");
        var c1 = b.Conv(p, "c1", 8, 16);
        var gap = b.Op("Flatten", [b.Op("GlobalAveragePool", [c1], "gap")], "flat");
        var k = Enumerable.Range(0, 8).Select(c => c < 4 ? 3f : 0.03f).ToArray();
        var mul = b.Op("Mul", [gap, b.Const("k", [1, 8], k)], "mul");
        var add = b.Op("Add", [mul, b.Const("shift", [8], k.Select(v => 0.5f * v).ToArray())], "add");
        var leaky = b.Op("LeakyRelu", [add], "leaky", IrAttribute.Of("alpha", 0.1f));
        var gemm = b.Op("Gemm", [leaky, b.Weight("gemm_B", [5, 8]), b.Weight("gemm_C", [5])], "gemm", IrAttribute.Of("transB", 1L));
        var mm = b.Op("MatMul", [leaky, b.Weight("mm_B", [8, 3])], "mm");
        // Not rescalable: the Relu's output also feeds an Add; the Clip's bound is one scalar for all channels.
        var mul2 = b.Op("Mul", [x, b.Const("k2", [16, 1, 1], scale)], "mul2");
        var relu2 = b.Op("Relu", [mul2], "relu2");
        var c2 = b.Conv(relu2, "c2", 4, 16);
        var side = b.Op("Add", [relu2, relu2], "side");
        var mul3 = b.Op("Mul", [x, b.Const("k3", [16, 1, 1], scale)], "mul3");
        var clip = b.Op("Clip", [mul3, b.Const("lo", [], 0f), b.Const("hi", [], 6f)], "clip");
        var c3 = b.Conv(clip, "c3", 4, 16);
        b.Output(gemm, mm, c2, side, c3);
        QuantModels.Typed(b);
        byte[] before = OnnxExporter.ToBytes(b.Model);
        var data = ListDataSource.Random("x", Dims, 4);
        var statistics = PostTrainingStatistics.Measure(b.Model, data, QuantMath.SaturationFreeWeightMax, biasShifts: false, channelRanges: true, null, default);
        var k2 = b.Graph.Initializers.Single(v => v.Name == "k2").ConstantValue!.ToFloats();
        var c3W = b.Graph.Initializers.Single(v => v.Name == "c3_W").ConstantValue!.ToFloats();

        Assert.Equal(2, ActivationEqualization.Apply(b.Graph, statistics));
        Assert.Empty(GraphVerifier.Verify(b.Graph));
        // The small channels were scaled up, at most 16x; the skipped groups kept their constants.
        var bnScale = b.Graph.Initializers.Single(v => v.Name == "bn_scale").ConstantValue!.ToFloats();
        var factors = bnScale.Select((v, c) => v / scale[c]).ToArray();
        // The widest channel keeps its scale; the wide ones differ among themselves by their variance and slope alone.
        Assert.Equal(1f, factors.Min(), 5);
        for (int c = 0; c < 16; c++)
            if (c % 2 == 0) Assert.InRange(factors[c], 1f, 2f);
            else Assert.InRange(factors[c], 4f, (float)ActivationEqualization.MaxScale * 1.0001f);
        Assert.Equal(k2, b.Graph.Initializers.Single(v => v.Name == "k2").ConstantValue!.ToFloats());
        Assert.Equal(c3W, b.Graph.Initializers.Single(v => v.Name == "c3_W").ConstantValue!.ToFloats());
        foreach (var sample in ListDataSource.Random("x", Dims, 3, seed: 900).Samples())
            Ort.AssertClose(Ort.Run(before, sample), Ort.Run(b.Model, sample), 1e-5);
    }
}
