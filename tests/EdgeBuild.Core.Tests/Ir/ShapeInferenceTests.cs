using EdgeBuild.Ir;
using EdgeBuild.Tests.Support;
using A = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Tests.IrTests;

public class ShapeInferenceTests
{
    [Fact]
    public void ConvPoolAndGemmShapes()
    {
        var b = new ModelBuilder();
        var x = b.InputSymbolic("x", "N", "3", "32", "30");
        var conv = b.Op("Conv", [x, b.Weight("w", [8, 3, 3, 3])], "conv", A.Of("strides", [2L, 2]), A.Of("pads", [1L, 1, 1, 1]));
        var pool = b.Op("MaxPool", [conv], "pool", A.Of("kernel_shape", [3L, 3]), A.Of("strides", [2L, 2]), A.Of("ceil_mode", 1L));
        var gap = b.Op("GlobalAveragePool", [pool], "gap");
        var flat = b.Op("Flatten", [gap], "flat");
        var fc = b.Op("Gemm", [flat, b.Weight("fc_w", [10, 8])], "fc", A.Of("transB", 1L));
        b.Output(fc);
        ShapeInference.Infer(b.Model);
        Assert.Equal("float32[N,8,16,15]", conv.Type!.ToString());
        Assert.Equal("float32[N,8,8,7]", pool.Type!.ToString());
        Assert.Equal("float32[N,8,1,1]", gap.Type!.ToString());
        Assert.Equal("float32[?,8]", flat.Type!.ToString()); // N x 1 x 1 is not a number
        Assert.Equal("float32[?,10]", fc.Type!.ToString());
        Assert.True(conv.TypeInferred);
    }

    [Fact]
    public void ReshapeToARuntimeShapeStillHasARank()
    {
        var b = new ModelBuilder(opset: 11);
        var x = b.Input("x", 2, 12);
        var shape = b.Op("Shape", [x], "shape");
        var n = b.Op("Gather", [shape, b.Graph.AddInitializer("i0", Tensor.FromInt64s([1], [0]))], "n", A.Of("axis", 0L));
        var target = b.Op("Concat", [n, b.ConstInts("rest", 3, -1)], "target", A.Of("axis", 0L));
        var r = b.Op("Reshape", [x, target], "r");
        b.Output(r);
        ShapeInference.Infer(b.Model);
        Assert.Equal("int64[3]", target.Type!.ToString());
        Assert.Equal("float32[?,?,?]", r.Type!.ToString());
    }

    [Fact]
    public void BroadcastKeepsMatchingSymbolsAndDeclaredTypesWin()
    {
        var b = new ModelBuilder();
        var x = b.InputSymbolic("x", "batch", "1", "5");
        var y = b.InputSymbolic("y", "batch", "4", "1");
        var sum = b.Op("Add", [x, y], "sum");
        sum.Type = new TensorType(DataType.Float, new Shape([Dim.Symbolic("batch"), Dim.Of(4), Dim.Symbolic("declared")]));
        b.Output(sum);
        ShapeInference.Infer(b.Model);
        // Only the unknown part may be filled; the declared symbol stays.
        Assert.Equal("float32[batch,4,declared]", sum.Type!.ToString());
        Assert.False(sum.TypeInferred);
        Assert.Equal("[batch,4,5]", ShapeInference.Broadcast(x.TensorType!.Shape!, y.TensorType!.Shape!)!.ToString());
    }
    [Fact]
    public void RuntimeSliceBoundsExpandAndConstantOfShapeKeepTheRank()
    {
        // BERT's embeddings at opset 11: position_ids[:, :sequence] with the end computed from the input's shape, then
        // Gather into the position table; token types expanded to a computed shape; a mask from a computed shape.
        var b = new ModelBuilder(opset: 11);
        var ids = b.Graph.AddInput("ids", new TensorType(DataType.Int64, new Shape([Dim.Symbolic("batch"), Dim.Symbolic("sequence")])));
        var shape = b.Op("Shape", [ids], "shape");
        var length = b.Op("Gather", [shape, b.Graph.AddInitializer("one", Tensor.FromInt64s([1], [1]))], "length", A.Of("axis", 0L));
        var positions = b.Graph.AddInitializer("positions", Tensor.FromInt64s([1, 512], new long[512]));
        var sliced = b.Op("Slice", [positions, b.ConstInts("start", 0), length, b.ConstInts("axis", 1)], "sliced");
        var table = b.Op("Gather", [b.Weight("table", [512, 8]), sliced], "embedded", A.Of("axis", 0L));
        var unbounded = b.Op("Slice", [positions, b.ConstInts("start2", 0), length], "unbounded");
        var expanded = b.Op("Expand", [b.Weight("row", [1, 8]), shape], "expanded");
        var filled = b.Op("ConstantOfShape", [shape], "filled");
        b.Output(table, unbounded, expanded, filled);
        ShapeInference.Infer(b.Model);
        Assert.Equal("int64[1,?]", sliced.Type!.ToString());
        Assert.Equal("float32[1,?,8]", table.Type!.ToString());
        Assert.Equal("int64[?,512]", unbounded.Type!.ToString());
        Assert.Equal("float32[?,?]", expanded.Type!.ToString());
        Assert.Equal("float32[?,?]", filled.Type!.ToString());
    }
}
