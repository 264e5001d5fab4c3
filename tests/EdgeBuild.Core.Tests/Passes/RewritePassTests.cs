using EdgeBuild.Ir;
using EdgeBuild.Tests.Support;
using static EdgeBuild.Tests.Passes.PassTestRunner;
using A = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Tests.Passes;

public class RewritePassTests
{
    [Theory]
    [InlineData("Mul", false)]
    [InlineData("Add", false)]
    [InlineData("Sub", false)]
    [InlineData("Div", false)]
    [InlineData("Mul", true)]
    [InlineData("Add", true)]
    public void PerChannelConstantAfterConvFolds(string op, bool constantFirst)
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 3, 6, 6);
        var conv = b.Conv(x, "conv", 4, 3);
        var k = b.Weight("k", [4, 1, 1], 0.5f, 1.5f);
        b.Output(b.Op(op, constantFirst ? [k, conv] : [conv, k], "y"));
        var report = OptimizeAndCompare(b, Input("x", 1, 3, 6, 6));
        Assert.Equal(0, Count(b.Model, op));
        Assert.Equal(1, Counter(report, "conv-mul-add-folding", op.ToLowerInvariant() + "_folded"));
    }

    [Fact]
    public void SpatiallyVaryingConstantDoesNotFold()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 3, 6, 6);
        var k = b.Weight("k", [1, 1, 6, 6]);
        b.Output(b.Op("Mul", [b.Conv(x, "conv", 4, 3), k], "y"));
        OptimizeAndCompare(b, Input("x", 1, 3, 6, 6));
        Assert.Equal(1, Count(b.Model, "Mul"));
    }

    [Fact]
    public void MatMulAddBecomesGemm()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 4, 8);
        b.Output(b.Op("Add", [b.Op("MatMul", [x, b.Weight("w", [8, 3])], "mm"), b.Weight("bias", [3])], "y"));
        var report = OptimizeAndCompare(b, Input("x", 4, 8));
        Assert.Equal(1, Count(b.Model, "Gemm"));
        Assert.Equal(0, Count(b.Model, "MatMul") + Count(b.Model, "Add"));
        Assert.Equal("y", b.Graph.Outputs[0].Name);
        Assert.Equal(1, Counter(report, "matmul-add-to-gemm", "fused"));
    }

    [Fact]
    public void BatchedMatMulAddStays()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 4, 8);
        b.Output(b.Op("Add", [b.Op("MatMul", [x, b.Weight("w", [8, 3])], "mm"), b.Weight("bias", [3])], "y"));
        OptimizeAndCompare(b, Input("x", 2, 4, 8));
        Assert.Equal(0, Count(b.Model, "Gemm"));
    }

    [Fact]
    public void IdentityAndDropoutAreRemovedEvenAtTheOutput()
    {
        var b = new ModelBuilder(opset: 11);
        var x = b.Input("x", 2, 5);
        var r = b.Op("Relu", [x], "r");
        var d = b.Op("Dropout", [b.Op("Identity", [r], "i")], "d", A.Of("ratio", 0.5f));
        b.Output(b.Op("Identity", [b.Op("Sigmoid", [d], "s")], "out"));
        OptimizeAndCompare(b, Input("x", 2, 5));
        Assert.Equal(0, Count(b.Model, "Identity") + Count(b.Model, "Dropout"));
        Assert.Equal("out", b.Graph.Outputs[0].Name);
    }

    /// <summary>x + 0, x - 0, x * 1, x / 1 go; 0 - x, 1 / x and a neutral constant that broadcasts x up stay.</summary>
    [Fact]
    public void NeutralArithmeticIsRemovedWhereItIsTheIdentity()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 5);
        var zero = b.Const("zero", [], 0f);
        var one = b.Const("one", [1], 1f);
        var v = b.Op("Add", [zero, x], "plus_zero");
        v = b.Op("Sub", [v, zero], "minus_zero");
        v = b.Op("Mul", [v, one], "times_one");
        v = b.Op("Div", [v, one], "over_one");
        var reversed = b.Op("Sub", [zero, v], "zero_minus");
        var inverted = b.Op("Div", [one, reversed], "one_over");
        var widened = b.Op("Mul", [inverted, b.Const("ones3", [1, 1, 1], 1f)], "widened");
        b.Output(widened);
        OptimizeAndCompare(b, Input("x", 2, 5));
        Assert.Equal(["Sub", "Div", "Mul"], b.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal(3, b.Graph.Outputs[0].TensorType!.Shape!.Rank);
    }

    [Fact]
    public void IdentityFromInputToOutputStays()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 5);
        b.Output(b.Op("Identity", [x], "y"));
        OptimizeAndCompare(b, Input("x", 2, 5));
        Assert.Equal(1, Count(b.Model, "Identity"));
    }

    [Fact]
    public void ShapeArithmeticFoldsAndReshapeBecomesNoOp()
    {
        // The PyTorch flatten pattern: Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
        var b = new ModelBuilder(opset: 11);
        var x = b.Input("x", 1, 4, 3, 3);
        var r = b.Op("Relu", [x], "r");
        var shape = b.Op("Shape", [r], "shape");
        var n = b.Op("Gather", [shape, b.Graph.AddInitializer("zero", Tensor.FromInt64s([], [0]))], "n", A.Of("axis", 0L));
        var u = b.Op("Unsqueeze", [n], "u", A.Of("axes", [0L]));
        var target = b.Op("Concat", [u, b.ConstInts("rest", 4, 3, 3)], "target", A.Of("axis", 0L));
        b.Output(b.Op("Sigmoid", [b.Op("Reshape", [r, target], "flat")], "y"));
        OptimizeAndCompare(b, Input("x", 1, 4, 3, 3));
        Assert.Equal(["Relu", "Sigmoid"], b.Graph.Nodes.Select(nd => nd.OpType));
    }

    [Fact]
    public void ChannelShuffleKeepsItsTransposes()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 6, 4, 4);
        var r1 = b.Op("Reshape", [x, b.ConstInts("s1", 1, 2, 3, 4, 4)], "r1");
        var t = b.Op("Transpose", [r1], "t", A.Of("perm", [0L, 2, 1, 3, 4]));
        b.Output(b.Op("Reshape", [t, b.ConstInts("s2", 1, 6, 4, 4)], "y"));
        OptimizeAndCompare(b, Input("x", 1, 6, 4, 4));
        Assert.Equal(1, Count(b.Model, "Transpose"));
        Assert.Equal(2, Count(b.Model, "Reshape"));
    }

    [Fact]
    public void InverseTransposesCancelAndOthersMerge()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 3, 4, 5);
        var nhwc = b.Op("Transpose", [x], "nhwc", A.Of("perm", [0L, 2, 3, 1]));
        var back = b.Op("Transpose", [nhwc], "back", A.Of("perm", [0L, 3, 1, 2]));
        var r = b.Op("Relu", [back], "r");
        var t1 = b.Op("Transpose", [r], "t1", A.Of("perm", [0L, 2, 3, 1]));
        b.Output(b.Op("Transpose", [t1], "y", A.Of("perm", [0L, 2, 1, 3])));
        var report = OptimizeAndCompare(b, Input("x", 1, 3, 4, 5));
        Assert.Equal(1, Count(b.Model, "Transpose"));
        Assert.Equal(1, Counter(report, "transpose-cancellation", "pairs_removed"));
        Assert.Equal(1, Counter(report, "transpose-cancellation", "pairs_merged"));
    }

    [Fact]
    public void NoOpReshapeAndCastAreRemoved()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 3);
        var r = b.Op("Reshape", [b.Op("Relu", [x], "relu"), b.ConstInts("same", 2, -1)], "r");
        b.Output(b.Op("Cast", [r], "y", A.Of("to", (long)DataType.Float)));
        OptimizeAndCompare(b, Input("x", 2, 3));
        Assert.Equal(["Relu"], b.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal("y", b.Graph.Outputs[0].Name);
    }

    [Fact]
    public void DecomposedLayerNormSurvivesUnchangedInMeaning()
    {
        var b = new ModelBuilder();
        var x = b.InputSymbolic("x", "batch", "7", "16");
        var mean = b.Op("ReduceMean", [x], "mean", A.Of("axes", [-1L]));
        var centered = b.Op("Sub", [x, mean], "centered");
        var sq = b.Op("Pow", [centered, b.Const("two", [], 2f)], "sq");
        var variance = b.Op("ReduceMean", [sq], "var", A.Of("axes", [-1L]));
        var std = b.Op("Sqrt", [b.Op("Add", [variance, b.Const("eps", [], 1e-5f)], "ve")], "std");
        var norm = b.Op("Div", [centered, std], "norm");
        var scaled = b.Op("Mul", [norm, b.Weight("gamma", [16])], "scaled");
        b.Output(b.Op("Add", [scaled, b.Weight("beta", [16])], "y"));
        OptimizeAndCompare(b, Input("x", 3, 7, 16));
        Assert.Equal(9, b.Graph.Nodes.Count);
    }

    [Fact]
    public void RandomOpsAreNeverFolded()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 2);
        var noise = b.Op("RandomUniform", [], "noise", A.Of("shape", [2L, 2]), A.Of("seed", 1f));
        b.Output(b.Op("Add", [x, b.Op("Mul", [noise, b.Const("zero", [], 0f)], "scaled")], "y"));
        OptimizationPipelineRun(b);
        Assert.Equal(1, Count(b.Model, "RandomUniform"));
    }

    [Fact]
    public void DuplicateWeightsAreShared()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 3, 5, 5);
        var w = b.Weight("w1", [3, 3, 3, 3]);
        var w2 = b.Graph.AddInitializer("w2", w.Initializer!.WithDims([3, 3, 3, 3]));
        var a = b.Op("Conv", [x, w], "a", A.Of("pads", [1L, 1, 1, 1]));
        b.Output(b.Op("Conv", [a, w2], "y", A.Of("pads", [1L, 1, 1, 1])));
        var report = OptimizeAndCompare(b, Input("x", 1, 3, 5, 5));
        Assert.Single(b.Graph.Initializers);
        Assert.Equal(1, Counter(report, "initializer-deduplication", "duplicates_removed"));
    }

    [Fact]
    public void SubnormalWeightsAreFlushed()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 4);
        var data = new float[] { 1f, 1e-40f, -2e-39f, 0.5f, 3e-45f, 0f, -1f, 2f };
        b.Output(b.Op("MatMul", [x, b.Const("w", [4, 2], data)], "y"));
        var report = OptimizeAndCompare(b, Input("x", 1, 4));
        var flushed = b.Graph.Initializers.Single().Initializer!.ToFloats();
        Assert.Equal(new float[] { 1f, 0f, -0f, 0.5f, 0f, 0f, -1f, 2f }, flushed);
        Assert.Equal(3, Counter(report, "subnormal-flushing", "values_flushed"));
    }

    [Fact]
    public void DeadNodesAndInitializersGoButInputsStay()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 2);
        b.Input("unused_input", 3);
        b.Weight("unused_weight", [4]);
        b.Op("Relu", [x], "dead");
        b.Output(b.Op("Sigmoid", [x], "y"));
        OptimizationPipelineRun(b);
        Assert.Equal(["Sigmoid"], b.Graph.Nodes.Select(n => n.OpType));
        Assert.Empty(b.Graph.Initializers);
        Assert.Equal(2, b.Graph.Inputs.Count);
    }

    [Fact]
    public void ConstantNodesBecomeInitializers()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 3);
        var c1 = b.Node("Constant", [], ["c1"], A.Of("value_floats", [1f, 2f, 3f])).Output0;
        var c2 = b.Node("Constant", [], ["c2"], A.Of("value", Tensor.FromFloats([3], [0.5f, 0.5f, 0.5f]))).Output0;
        b.Output(b.Op("Mul", [b.Op("Add", [x, c1], "s"), c2], "y"));
        var report = OptimizeAndCompare(b, Input("x", 3), ["constant-to-initializer"]);
        Assert.Equal(0, Count(b.Model, "Constant"));
        Assert.Equal(2, Counter(report, "constant-to-initializer", "converted"));
    }

    private static void OptimizationPipelineRun(ModelBuilder b)
    {
        EdgeBuild.Passes.OptimizationPipeline.Run(b.Model, new EdgeBuild.Passes.OptimizeOptions());
        Assert.Empty(GraphVerifier.Verify(b.Graph));
    }
}
