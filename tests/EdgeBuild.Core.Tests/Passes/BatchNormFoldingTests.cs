using EdgeBuild.Ir;
using EdgeBuild.Tests.Support;
using static EdgeBuild.Tests.Passes.PassTestRunner;

namespace EdgeBuild.Tests.Passes;

public class BatchNormFoldingTests
{
    [Fact]
    public void ConvBnReluFoldsAndKeepsOutputs()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 3, 8, 8);
        var y = b.Op("Relu", [b.BatchNorm(b.Conv(x, "conv", 4, 3), "bn", 4)], "y");
        b.Output(y);
        var report = OptimizeAndCompare(b, Input("x", 1, 3, 8, 8));
        Assert.Equal(0, Count(b.Model, "BatchNormalization"));
        Assert.Equal(1, Count(b.Model, "Conv"));
        Assert.Equal(1, Counter(report, "batchnorm-folding", "folded_into_conv"));
    }

    /// <summary>A face-attribute head: MatMul of a matrix, then BatchNormalization: one Gemm. A batched MatMul (rank 3) stays.</summary>
    [Fact]
    public void MatrixMatMulBnBecomesOneGemm()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 6);
        var matrix = b.BatchNorm(b.Op("MatMul", [x, b.Weight("w", [6, 4])], "mm"), "bn", 4);
        var batched = b.Input("batched", 2, 3, 6);
        var stays = b.Op("Relu", [b.BatchNorm(b.Op("MatMul", [batched, b.Weight("w3", [6, 3])], "mm3"), "bn3", 3)], "stays");
        b.Output(b.Op("Relu", [matrix], "y"), stays);
        var inputs = Input("x", 2, 6);
        inputs["batched"] = ModelBuilder.RandomInput([2, 3, 6], seed: 5);
        var report = OptimizeAndCompare(b, inputs);
        Assert.Equal(1, Count(b.Model, "Gemm"));
        Assert.Equal(1, Count(b.Model, "MatMul"));
        Assert.Equal(1, Count(b.Model, "BatchNormalization"));
        Assert.Equal(1, Counter(report, "batchnorm-folding", "folded_into_matmul"));
    }

    [Fact]
    public void ConvWithoutBiasGetsOne()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 3, 6, 6);
        b.Output(b.BatchNorm(b.Conv(x, "conv", 5, 3, bias: false), "bn", 5));
        OptimizeAndCompare(b, Input("x", 2, 3, 6, 6));
        var conv = b.Graph.Nodes.Single();
        Assert.Equal("Conv", conv.OpType);
        Assert.Equal(3, conv.Inputs.Count);
        Assert.Equal("bn", b.Graph.Outputs[0].Name); // the interface keeps the BN output's name
    }

    [Fact]
    public void DepthwiseConvFolds()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 6, 8, 8);
        b.Output(b.BatchNorm(b.Conv(x, "dw", 6, 6, group: 6), "bn", 6));
        OptimizeAndCompare(b, Input("x", 1, 6, 8, 8));
        Assert.Equal(0, Count(b.Model, "BatchNormalization"));
    }

    [Fact]
    public void NotFoldedWhenConvOutputHasAnotherConsumer()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 3, 8, 8);
        var c = b.Conv(x, "conv", 4, 3);
        b.Output(b.BatchNorm(c, "bn", 4), b.Op("Relu", [c], "side"));
        var report = OptimizeAndCompare(b, Input("x", 1, 3, 8, 8));
        Assert.Equal(1, Count(b.Model, "BatchNormalization"));
        Assert.Equal(1, Counter(report, "batchnorm-folding", "not_folded"));
    }

    [Fact]
    public void NotFoldedWhenConvOutputIsGraphOutput()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 3, 8, 8);
        var c = b.Conv(x, "conv", 4, 3);
        b.Output(b.BatchNorm(c, "bn", 4), c);
        OptimizeAndCompare(b, Input("x", 1, 3, 8, 8));
        Assert.Equal(1, Count(b.Model, "BatchNormalization"));
    }

    [Fact]
    public void BnAfterConcatStaysAndIsCounted()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 3, 8, 8);
        var cat = b.Op("Concat", [b.Conv(x, "a", 2, 3), b.Conv(x, "b", 3, 3)], "cat", Ir.Attribute.Of("axis", 1L));
        b.Output(b.BatchNorm(cat, "bn", 5));
        var report = OptimizeAndCompare(b, Input("x", 1, 3, 8, 8));
        Assert.Equal(1, Count(b.Model, "BatchNormalization"));
        Assert.Equal(1, Counter(report, "batchnorm-folding", "not_folded"));
    }

    [Fact]
    public void GroupedConvTransposeFolds()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 4, 5, 5);
        var w = b.Weight("w", [4, 3, 3, 3]); // [C_in, M/group, k, k] with group 2 -> M = 6
        var bias = b.Weight("bias", [6]);
        var up = b.Op("ConvTranspose", [x, w, bias], "up", Ir.Attribute.Of("group", 2L), Ir.Attribute.Of("strides", [2L, 2L]));
        b.Output(b.BatchNorm(up, "bn", 6));
        var report = OptimizeAndCompare(b, Input("x", 1, 4, 5, 5));
        Assert.Equal(0, Count(b.Model, "BatchNormalization"));
        Assert.Equal(1, Counter(report, "batchnorm-folding", "folded_into_conv_transpose"));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    public void GemmFolds(long transB)
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 3, 8);
        var w = b.Weight("w", transB == 1 ? [5, 8] : [8, 5]);
        var c = b.Weight("c", [5]);
        var g = b.Op("Gemm", [x, w, c], "g", Ir.Attribute.Of("transB", transB), Ir.Attribute.Of("alpha", 0.5f), Ir.Attribute.Of("beta", 2f));
        b.Output(b.BatchNorm(g, "bn", 5));
        OptimizeAndCompare(b, Input("x", 3, 8));
        Assert.Equal(0, Count(b.Model, "BatchNormalization"));
    }

    [Fact]
    public void SymbolicBatchStillFolds()
    {
        var b = new ModelBuilder();
        var x = b.InputSymbolic("x", "N", "3", "8", "8");
        b.Output(b.Op("Relu", [b.BatchNorm(b.Conv(x, "conv", 4, 3), "bn", 4)], "y"));
        OptimizeAndCompare(b, Input("x", 2, 3, 8, 8));
        Assert.Equal(0, Count(b.Model, "BatchNormalization"));
        Assert.Equal("N", b.Graph.Inputs[0].TensorType!.Shape![0].Param);
    }

    [Fact]
    public void OverridableBnParametersAreNotFolded()
    {
        // IR < 4: an initializer that is also a graph input is a default the caller may replace.
        var b = new ModelBuilder(opset: 9);
        b.Model.IrVersion = 3;
        var x = b.Input("x", 1, 3, 4, 4);
        var y = b.BatchNorm(b.Conv(x, "conv", 2, 3), "bn", 2);
        b.Graph.AddInput(b.Graph.LookupLocal("bn_scale")!);
        b.Output(y);
        OptimizeAndCompare(b, Input("x", 1, 3, 4, 4));
        Assert.Equal(1, Count(b.Model, "BatchNormalization"));
    }
}
