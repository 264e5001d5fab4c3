using EdgeBuild.Ir;
using EdgeBuild.Passes;
using EdgeBuild.Tests.Support;
using static EdgeBuild.Tests.Passes.PassTestRunner;
using A = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Tests.Passes;

public class LayerNormFusionTests
{
    private const string Fusion = "layer-norm-fusion";

    /// <summary>
    /// Layer normalization over the trailing <paramref name="axes"/> as PyTorch writes it before opset 17; the square as
    /// Pow or Mul, the division as Div or Mul by Reciprocal, gamma and beta optional. Returns the output.
    /// </summary>
    private static Value Decomposed(ModelBuilder b, Value x, long[] axes, long[]? affineDims, bool pow = true, bool div = true, float eps = 1e-12f)
    {
        Value Mean(Value v, string name) => b.Model.DefaultOpset >= 18
            ? b.Op("ReduceMean", [v, b.ConstInts(name + "_axes", axes)], name)
            : b.Op("ReduceMean", [v], name, A.Of("axes", axes));
        var mean = Mean(x, "mean");
        var d = b.Op("Sub", [x, mean], "centred");
        var square = pow ? b.Op("Pow", [d, b.Const("two", [], 2f)], "square") : b.Op("Mul", [d, d], "square");
        var variance = Mean(square, "variance");
        var std = b.Op("Sqrt", [b.Op("Add", [variance, b.Const("eps", [], eps)], "var_eps")], "std");
        var y = div ? b.Op("Div", [d, std], "normalized") : b.Op("Mul", [b.Op("Reciprocal", [std], "inv_std"), d], "normalized");
        if (affineDims is null) return y;
        var scaled = b.Op("Mul", [y, b.Weight("gamma", affineDims, 0.5f, 1.5f)], "scaled");
        return b.Op("Add", [b.Weight("beta", affineDims, -0.5f, 0.5f), scaled], "shifted");
    }

    /// <summary>Inputs with a large common offset, so a fused op that dropped the centring would show.</summary>
    private static Dictionary<string, Tensor> Offset(params long[] dims)
    {
        var t = ModelBuilder.RandomInput(dims, seed: 3).ToFloats();
        for (int i = 0; i < t.Length; i++) t[i] = 4f + 3f * t[i];
        return new() { ["x"] = Tensor.FromFloats(dims, t) };
    }

    [Theory]
    [InlineData(17, true, true)]
    [InlineData(17, false, false)]
    [InlineData(18, true, false)]
    [InlineData(21, false, true)]
    public void PyTorchFormsBecomeOneLayerNormalization(int opset, bool pow, bool div)
    {
        var b = new ModelBuilder(opset);
        var x = b.Input("x", 2, 5, 16);
        b.Output(Decomposed(b, x, [-1], [16], pow, div));
        var report = OptimizeAndCompare(b, Offset(2, 5, 16), [Fusion], relative: 1e-4);
        Assert.Equal(1, Counter(report, Fusion, "fused"));
        var ln = Assert.Single(b.Graph.Nodes);
        Assert.Equal("LayerNormalization", ln.OpType);
        Assert.Equal(3, ln.Inputs.Count);
        Assert.Equal(2, ln.GetInt("axis", 0));
        Assert.Equal(1e-12f, ln.GetFloat("epsilon", 0));
    }

    [Fact]
    public void TwoTrailingAxesAndNoAffineGetOnesScale()
    {
        var b = new ModelBuilder(17);
        var x = b.Input("x", 3, 4, 6);
        b.Output(Decomposed(b, x, [2, 1], null, eps: 1e-5f));
        OptimizeAndCompare(b, Offset(3, 4, 6), [Fusion], relative: 1e-4);
        var ln = Assert.Single(b.Graph.Nodes);
        Assert.Equal(1, ln.GetInt("axis", 0));
        Assert.Equal(2, ln.Inputs.Count);
        Assert.Equal([4L, 6], ln.Input(1)!.ConstantValue!.Dims);
        Assert.All(ln.Input(1)!.ConstantValue!.ToFloats(), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void GammaOfLeadingOnesIsSpreadToTheNormalizedShape()
    {
        var b = new ModelBuilder(17);
        var x = b.Input("x", 2, 5, 8);
        b.Output(Decomposed(b, x, [-1], [1, 1, 8]));
        OptimizeAndCompare(b, Offset(2, 5, 8), [Fusion], relative: 1e-4);
        Assert.Equal([8L], Assert.Single(b.Graph.Nodes).Input(1)!.ConstantValue!.Dims);
    }

    [Fact]
    public void GammaAlongAnUnnormalizedAxisStaysOutside()
    {
        var b = new ModelBuilder(17);
        var x = b.Input("x", 2, 5, 8);
        b.Output(Decomposed(b, x, [-1], [5, 1]));
        OptimizeAndCompare(b, Offset(2, 5, 8), [Fusion], relative: 1e-4);
        // The normalization fuses; the per-row gamma and beta stay as Mul and Add after it.
        Assert.Equal(1, Count(b.Model, "LayerNormalization"));
        Assert.Equal(1, Count(b.Model, "Mul"));
        Assert.Equal(1, Count(b.Model, "Add"));
        Assert.Equal(3, b.Graph.Nodes.Count);
    }

    [Fact]
    public void BelowOpset17NothingChangesUnlessTheTargetOpsetAsks()
    {
        var b = new ModelBuilder(13);
        var x = b.Input("x", 2, 5, 16);
        b.Output(Decomposed(b, x, [-1], [16]));
        var inputs = Offset(2, 5, 16);
        var report = OptimizeAndCompare(b, inputs, [Fusion]);
        Assert.Equal(0, Counter(report, Fusion, "fused"));
        Assert.Equal(2, Count(b.Model, "ReduceMean"));
        Assert.Equal(13, b.Model.DefaultOpset);

        var before = Ort.Run(b.Model, inputs, optimize: false);
        OptimizationPipeline.Run(b.Model, new OptimizeOptions { TargetOpset = 17 }, OptimizationPipeline.Select(["opset-conversion", Fusion]));
        Assert.Equal(17, b.Model.DefaultOpset);
        Assert.Equal("LayerNormalization", Assert.Single(b.Graph.Nodes).OpType);
        Ort.AssertClose(before, Ort.Run(b.Model, inputs, optimize: false), 1e-4);
    }

    [Fact]
    public void CentredValueReadElsewhereIsNotFused()
    {
        var b = new ModelBuilder(17);
        var x = b.Input("x", 2, 5, 16);
        var y = Decomposed(b, x, [-1], [16]);
        b.Output(y, b.Graph.Lookup("centred")!);
        OptimizeAndCompare(b, Offset(2, 5, 16), [Fusion]);
        Assert.Equal(0, Count(b.Model, "LayerNormalization"));
        Assert.Equal(2, Count(b.Model, "ReduceMean"));
    }

    [Fact]
    public void MeanOverALeadingAxisIsNotLayerNorm()
    {
        var b = new ModelBuilder(17);
        var x = b.Input("x", 4, 5, 16);
        b.Output(Decomposed(b, x, [1], [16]));
        OptimizeAndCompare(b, Offset(4, 5, 16), [Fusion]);
        Assert.Equal(0, Count(b.Model, "LayerNormalization"));
    }

    [Fact]
    public void SquareOtherThanTwoIsNotFused()
    {
        var b = new ModelBuilder(17);
        var x = b.Input("x", 2, 16);
        var mean = b.Op("ReduceMean", [x], "mean", A.Of("axes", [-1L]));
        var d = b.Op("Sub", [x, mean], "centred");
        var fourth = b.Op("Pow", [d, b.Const("four", [], 4f)], "fourth");
        var v = b.Op("ReduceMean", [fourth], "v", A.Of("axes", [-1L]));
        var s = b.Op("Sqrt", [b.Op("Add", [v, b.Const("eps", [], 1e-5f)], "ve")], "s");
        b.Output(b.Op("Div", [d, s], "y"));
        OptimizeAndCompare(b, Offset(2, 16), [Fusion]);
        Assert.Equal(0, Count(b.Model, "LayerNormalization"));
    }
}
