using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using Attribute = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Tests.Support.Fuzz;

/// <summary>A model the fuzzer mutates: its bytes, and whether it is one of the real models.</summary>
public sealed record FuzzSeed(string Name, byte[] Bytes, bool Real);

/// <summary>
/// The seeds: the smaller real models of the test data (restored by the suite) and models built in code that reach
/// every pass (Identity/Dropout chains, BatchNorm after Conv, Conv+Mul/Add, MatMul+Add, Transpose pairs, shape
/// arithmetic, constant subgraphs, an opset 9 model for opset conversion). Without the test data only the built ones.
/// </summary>
public static class FuzzSeeds
{
    /// <summary>Real models small enough that thousands of mutants of them fit in a minute.</summary>
    public static readonly string[] RealModelIds = ["eye-state", "blazeface-front128", "ocr-angle-cls", "face-landmark68", "face-detect-rfb320"];

    public static IReadOnlyList<FuzzSeed> Load(string? testData)
    {
        var seeds = new List<FuzzSeed>(Built());
        if (testData is not null)
            foreach (var id in RealModelIds)
            {
                string path = Path.Combine(testData, "models", id + ".onnx");
                if (File.Exists(path)) seeds.Add(new FuzzSeed(id, File.ReadAllBytes(path), true));
            }
        return seeds;
    }

    public static IReadOnlyList<FuzzSeed> Built() =>
    [
        new("built-convnet", OnnxExporter.ToBytes(ConvNet()), false),
        new("built-shapes", OnnxExporter.ToBytes(ShapeArithmetic()), false),
        new("built-constants", OnnxExporter.ToBytes(ConstantSubgraph()), false),
        new("built-opset9", OnnxExporter.ToBytes(Opset9()), false),
    ];

    /// <summary>Conv, BatchNorm, Identity, Dropout, Mul/Add after Conv, Transpose pair, MatMul+Add, Softmax.</summary>
    public static Model ConvNet()
    {
        var b = new ModelBuilder(13, seed: 11);
        var x = b.Input("x", 1, 3, 8, 8);
        var c1 = b.Conv(x, "conv1", 4, 3);
        var bn = b.BatchNorm(c1, "bn1", 4);
        var id = b.Op("Identity", [bn], "id1");
        var relu = b.Op("Relu", [id], "relu1");
        var drop = b.Op("Dropout", [relu], "drop1");
        var c2 = b.Conv(drop, "conv2", 4, 4, kernel: 1, pad: 0);
        var scaled = b.Op("Mul", [c2, b.Const("scale", [4, 1, 1], 0.5f, 1f, 2f, 4f)], "mul1");
        var shifted = b.Op("Add", [scaled, b.Const("shift", [4, 1, 1], 0.1f, 0.2f, 0.3f, 0.4f)], "add1");
        var t1 = b.Op("Transpose", [shifted], "t1", Attribute.Of("perm", [0L, 2, 3, 1]));
        var t2 = b.Op("Transpose", [t1], "t2", Attribute.Of("perm", [0L, 3, 1, 2]));
        var pool = b.Op("GlobalAveragePool", [t2], "pool");
        var flat = b.Op("Flatten", [pool], "flat");
        var mm = b.Op("MatMul", [flat, b.Weight("fc_w", [4, 5])], "fc");
        var fc = b.Op("Add", [mm, b.Weight("fc_b", [5])], "fc_bias");
        b.Output(b.Op("Softmax", [fc], "prob"));
        return b.Model;
    }

    /// <summary>Shape -> Gather -> Concat -> Reshape, Squeeze/Unsqueeze, Slice, Concat, Resize, Sigmoid.</summary>
    public static Model ShapeArithmetic()
    {
        var b = new ModelBuilder(13, seed: 12);
        var x = b.Input("x", 1, 2, 4, 4);
        var shape = b.Op("Shape", [x], "shape");
        var batch = b.Op("Gather", [shape, b.ConstInts("zero", 0)], "batch", Attribute.Of("axis", 0L));
        var target = b.Op("Concat", [batch, b.ConstInts("rest", -1)], "target", Attribute.Of("axis", 0L));
        var flat = b.Op("Reshape", [x, target], "flat");
        var back = b.Op("Reshape", [flat, b.ConstInts("shape4", 1, 2, 4, 4)], "back");
        var sliced = b.Op("Slice", [back, b.ConstInts("starts", 0), b.ConstInts("ends", 1), b.ConstInts("axes", 1)], "sliced");
        var squeezed = b.Op("Squeeze", [sliced, b.ConstInts("sq_axes", 1)], "squeezed");
        var unsq = b.Op("Unsqueeze", [squeezed, b.ConstInts("unsq_axes", 1)], "unsq");
        var cat = b.Op("Concat", [unsq, sliced], "cat", Attribute.Of("axis", 1L));
        var scales = b.Const("scales", [4], 1f, 1f, 2f, 2f);
        var up = b.Op("Resize", [cat, null, scales], "up", Attribute.Of("mode", "nearest"));
        var pad = b.Op("Pad", [up, b.ConstInts("pads", 0, 0, 1, 1, 0, 0, 1, 1)], "padded");
        var pool = b.Op("MaxPool", [pad], "pooled", Attribute.Of("kernel_shape", [2L, 2]), Attribute.Of("strides", [2L, 2]));
        b.Output(b.Op("Sigmoid", [pool], "y"));
        return b.Model;
    }

    /// <summary>A constant region to fold: ConstantOfShape, Expand, Tile, Range, Cast, Where, then Gemm on an activation.</summary>
    public static Model ConstantSubgraph()
    {
        var b = new ModelBuilder(13, seed: 13);
        var x = b.Input("x", 2, 4);
        var filled = b.Op("ConstantOfShape", [b.ConstInts("dims", 2, 4)], "filled", Attribute.Of("value", Tensor.FromFloats([1], [0.25f])));
        var expanded = b.Op("Expand", [b.Const("row", [1, 4], 1, 2, 3, 4), b.ConstInts("to", 2, 4)], "expanded");
        var tiled = b.Op("Tile", [b.Const("cell", [1, 2], 1, -1), b.ConstInts("reps", 2, 2)], "tiled");
        var range = b.Op("Range", [b.Graph.AddInitializer("r0", Tensor.FromFloats([], [0f])), b.Graph.AddInitializer("r1", Tensor.FromFloats([], [4f])),
            b.Graph.AddInitializer("r2", Tensor.FromFloats([], [1f]))], "range");
        var sum = b.Op("Add", [b.Op("Mul", [filled, expanded], "fe"), b.Op("Add", [tiled, range], "tr")], "consts");
        var cond = b.Op("Greater", [sum, b.Const("half", [1], 0.5f)], "cond");
        var picked = b.Op("Where", [cond, sum, b.Const("neg", [1], -1f)], "picked");
        var y = b.Op("Add", [x, picked], "xy");
        var gemm = b.Op("Gemm", [y, b.Weight("gw", [4, 3]), b.Weight("gb", [3])], "gemm");
        b.Output(b.Op("Relu", [gemm], "y"));
        return b.Model;
    }

    /// <summary>An opset 9 model (Upsample, BatchNorm, Dropout with ratio attribute): the opset conversion path.</summary>
    public static Model Opset9()
    {
        var b = new ModelBuilder(9, seed: 14);
        var x = b.Input("x", 1, 2, 4, 4);
        var c = b.Conv(x, "conv", 2, 2);
        var bn = b.BatchNorm(c, "bn", 2);
        var up = b.Op("Upsample", [bn, b.Const("up_scales", [4], 1, 1, 2, 2)], "up", Attribute.Of("mode", "nearest"));
        var drop = b.Op("Dropout", [up], "drop", Attribute.Of("ratio", 0.1f));
        var flat = b.Op("Flatten", [drop], "flat");
        var unsq = b.Op("Unsqueeze", [flat], "unsq", Attribute.Of("axes", [0L]));
        b.Output(b.Op("Squeeze", [unsq], "y", Attribute.Of("axes", [0L])));
        return b.Model;
    }
}
