using EdgeBuild.Ir;
using EdgeBuild.Tests.Support;
using static EdgeBuild.Tests.Passes.PassTestRunner;
using A = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Tests.Passes;

public class PadFusionTests
{
    private const string Fusion = "pad-fusion";

    /// <summary>A Pad of <paramref name="pads"/> (ONNX layout) on x, in the form of the opset: pads input from 11, attribute before.</summary>
    private static Value Pad(ModelBuilder b, Value x, long[] pads, float? value = null, string mode = "constant", string name = "padded")
    {
        if (b.Model.DefaultOpset >= 11)
        {
            var inputs = new List<Value?> { x, b.ConstInts(name + "_pads", pads) };
            if (value is { } v) inputs.Add(b.Const(name + "_value", [], v));
            return b.Op("Pad", [.. inputs], name, A.Of("mode", mode));
        }
        var attributes = new List<A> { A.Of("pads", pads), A.Of("mode", mode) };
        if (value is { } f) attributes.Add(A.Of("value", f));
        return b.Op("Pad", [x], name, [.. attributes]);
    }

    [Theory]
    [InlineData(13, null)]
    [InlineData(13, 0f)]
    [InlineData(18, 0f)]
    [InlineData(10, null)]
    [InlineData(10, 0f)]
    [InlineData(2, 0f)]
    public void ZeroPadJoinsTheConvPads(int opset, float? value)
    {
        var b = new ModelBuilder(opset);
        var x = b.Input("x", 1, 3, 7, 6);
        var padded = Pad(b, x, [0, 0, 1, 2, 0, 0, 2, 1], value);
        b.Output(b.Conv(padded, "conv", 4, 3, pad: 1));
        var report = OptimizeAndCompare(b, Input("x", 1, 3, 7, 6), [Fusion]);
        Assert.Equal(0, Count(b.Model, "Pad"));
        var conv = b.Graph.Nodes.Single(n => n.OpType == "Conv");
        Assert.Equal([2L, 3, 3, 2], conv.GetInts("pads")!);
        Assert.Equal(1, Counter(report, Fusion, "fused_into_conv"));
    }

    [Fact]
    public void Opset18AxesInputNamesTheSpatialAxes()
    {
        var b = new ModelBuilder(18);
        var x = b.Input("x", 1, 3, 7, 6);
        var padded = b.Op("Pad", [x, b.ConstInts("pads", 1, 0, 2, 1), b.Const("zero", [], 0f), b.ConstInts("axes", -1, 2)], "padded");
        b.Output(b.Conv(padded, "conv", 4, 3, pad: 0));
        OptimizeAndCompare(b, Input("x", 1, 3, 7, 6), [Fusion]);
        Assert.Equal(0, Count(b.Model, "Pad"));
        // axes [-1, 2] with begins [1, 0] and ends [2, 1]: H gets (0, 1), W gets (1, 2).
        Assert.Equal([0L, 1, 1, 2], b.Graph.Nodes.Single(n => n.OpType == "Conv").GetInts("pads")!);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    public void OneAndThreeSpatialAxesFuse(int rank)
    {
        var b = new ModelBuilder();
        long[] dims = rank == 3 ? [1, 2, 9] : [1, 2, 4, 5, 6];
        var x = b.Input("x", dims);
        int spatial = rank - 2;
        var pads = new long[2 * rank];
        for (int i = 0; i < spatial; i++)
        {
            pads[2 + i] = i + 1;
            pads[rank + 2 + i] = 1;
        }
        var w = b.Weight("w", [3, 2, .. Enumerable.Repeat(2L, spatial)]);
        b.Output(b.Op("Conv", [Pad(b, x, pads), w], "y"));
        OptimizeAndCompare(b, Input("x", dims), [Fusion]);
        Assert.Equal(0, Count(b.Model, "Pad"));
    }

    /// <summary>
    /// AveragePool takes the Pad when it counts padding, or has no pads of its own (then it starts counting them);
    /// MaxPool only over a non-negative input with pads below the kernel.
    /// </summary>
    [Fact]
    public void PoolingFusesOnlyWhereZerosMeanTheSame()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 2, 6, 6);
        var relu = b.Op("Relu", [x], "relu");
        A[] kernel = [A.Of("kernel_shape", new long[] { 3, 3 })];
        long[] one = [0, 0, 1, 1, 0, 0, 1, 1];
        var counting = b.Op("AveragePool", [Pad(b, x, one, name: "p1")], "counting", [.. kernel, A.Of("count_include_pad", 1L), A.Of("pads", new long[] { 1, 0, 0, 1 })]);
        var unpadded = b.Op("AveragePool", [Pad(b, x, one, name: "p2")], "unpadded", kernel);
        var excluding = b.Op("AveragePool", [Pad(b, x, one, name: "p3")], "excluding", [.. kernel, A.Of("pads", new long[] { 1, 1, 1, 1 })]);
        var signed = b.Op("MaxPool", [Pad(b, x, one, name: "p4")], "signed", kernel);
        var positive = b.Op("MaxPool", [Pad(b, relu, one, name: "p5")], "positive", kernel);
        var wide = b.Op("MaxPool", [Pad(b, relu, [0, 0, 3, 0, 0, 0, 0, 0], name: "p6")], "wide", kernel);
        b.Output(counting, unpadded, excluding, signed, positive, wide);
        var report = OptimizeAndCompare(b, Input("x", 1, 2, 6, 6), [Fusion]);
        Assert.Equal(["p3", "p4", "p6"], b.Graph.Nodes.Where(n => n.OpType == "Pad").Select(n => n.Output0.Name).Order());
        Assert.Equal([2L, 1, 1, 2], b.Graph.Nodes.Single(n => n.Name == "counting_node").GetInts("pads")!);
        Assert.Equal(1, b.Graph.Nodes.Single(n => n.Name == "unpadded_node").GetInt("count_include_pad", 0));
        Assert.Equal(2, Counter(report, Fusion, "fused_into_average_pool"));
        Assert.Equal(1, Counter(report, Fusion, "fused_into_max_pool"));
    }

    /// <summary>BlazeFace widens channels with Concat(x, ConstantOfShape zeros): one Pad; zeros first pad the start.</summary>
    [Theory]
    [InlineData(13, false)]
    [InlineData(13, true)]
    [InlineData(9, false)]
    public void ConcatWithZerosBecomesAPad(int opset, bool zerosFirst)
    {
        var b = new ModelBuilder(opset);
        var x = b.Input("x", 1, 3, 4, 4);
        var relu = b.Op("Relu", [x], "relu");
        var zeros = b.Op("ConstantOfShape", [b.ConstInts("zeros_shape", 1, 2, 4, 4)], "zeros");
        var widened = b.Op("Concat", zerosFirst ? [zeros, relu] : [relu, zeros], "widened", A.Of("axis", 1L));
        // Zeros that do not match x off the axis are not a pad: Concat would fail, so this one stays as written.
        var filler = b.Op("ConstantOfShape", [b.ConstInts("filler_shape", 1, 5, 4, 4)], "filler", A.Of("value", Tensor.FromFloats([1], [1f])));
        b.Output(b.Op("Add", [widened, filler], "y"));
        var report = OptimizeAndCompare(b, Input("x", 1, 3, 4, 4));
        Assert.Equal(0, Count(b.Model, "Concat"));
        var pad = b.Graph.Nodes.Single(n => n.OpType == "Pad");
        long[] expected = zerosFirst ? [0, 2, 0, 0, 0, 0, 0, 0] : [0, 0, 0, 0, 0, 2, 0, 0];
        Assert.Equal(expected, opset >= 11 ? pad.Input(1)!.ConstantValue!.ToInt64s() : pad.GetInts("pads")!);
        Assert.Equal(1, Counter(report, "concat-zeros-to-pad", "concats_replaced"));
    }

    [Fact]
    public void ConcatWithOnesStays()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 3, 4, 4);
        var ones = b.Op("ConstantOfShape", [b.ConstInts("ones_shape", 1, 2, 4, 4)], "ones", A.Of("value", Tensor.FromFloats([1], [1f])));
        var zeros = b.Op("ConstantOfShape", [b.ConstInts("zeros_shape", 1, 2, 4, 4)], "zeros");
        b.Output(b.Op("Concat", [x, ones], "with_ones", A.Of("axis", 1L)), b.Op("Concat", [x, zeros], "with_zeros", A.Of("axis", 1L)));
        OptimizeAndCompare(b, Input("x", 1, 3, 4, 4), ["concat-zeros-to-pad"]);
        Assert.Equal("with_ones", b.Graph.Nodes.Single(n => n.OpType == "Concat").Output0.Name);
        Assert.Equal("with_zeros", b.Graph.Nodes.Single(n => n.OpType == "Pad").Output0.Name);
    }

    public static TheoryData<string> Unfusable => new()
    {
        "nonzero-value", "reflect", "channel-axis", "batch-axis", "negative", "second-reader", "auto-pad", "graph-output", "pads-computed",
    };

    [Theory]
    [MemberData(nameof(Unfusable))]
    public void PadsThatMeanSomethingElseStay(string why)
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 3, 6, 6);
        long[] pads = why switch
        {
            "channel-axis" => [0, 1, 1, 1, 0, 0, 1, 1],
            "batch-axis" => [1, 0, 1, 1, 0, 0, 1, 1],
            "negative" => [0, 0, -1, 1, 0, 0, 1, 1],
            _ => [0, 0, 1, 1, 0, 0, 1, 1],
        };
        Value padded;
        if (why == "pads-computed")
        {
            // The amounts come from the data: not a constant the consumer's attribute could hold.
            var amounts = b.Op("Cast", [b.Op("Shape", [b.Op("Relu", [x], "relu")], "shape")], "amounts", A.Of("to", (long)DataType.Int64));
            var spatial = b.Op("Mul", [b.Op("Div", [amounts, amounts], "ones"), b.ConstInts("mask", 0, 0, 1, 1)], "spatial");
            padded = b.Op("Pad", [x, b.Op("Concat", [spatial, spatial], "computed", A.Of("axis", 0L))], "padded");
        }
        else padded = Pad(b, x, pads, why == "nonzero-value" ? 0.5f : null, why == "reflect" ? "reflect" : "constant");
        var w = b.Weight("w", [2, why == "channel-axis" ? 4 : 3, 3, 3]);
        var convAttributes = why == "auto-pad" ? new[] { A.Of("auto_pad", "SAME_UPPER") } : [];
        b.Output(b.Op("Conv", [padded, w], "y", convAttributes));
        if (why == "second-reader") b.Output(b.Op("Sigmoid", [padded], "other"));
        if (why == "graph-output") b.Output(padded);
        OptimizeAndCompare(b, Input("x", 1, 3, 6, 6), [Fusion]);
        Assert.Equal(1, Count(b.Model, "Pad"));
    }
}
