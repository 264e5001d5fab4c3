using EdgeBuild.Ir;
using EdgeBuild.Passes;
using EdgeBuild.Tests.Support;
using static EdgeBuild.Tests.Passes.PassTestRunner;
using A = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Tests.Passes;

public class CommonSubexpressionEliminationTests
{
    private const string Cse = "common-subexpression-elimination";

    /// <summary>
    /// The dynamic-shape pattern of a BERT export: every layer rebuilds the same target shape from Shape(x) through
    /// Gather -> Unsqueeze -> Concat, each Gather index and Unsqueeze axes its own initializer. One chain remains.
    /// </summary>
    [Fact]
    public void RepeatedShapeChainsCollapseToOne()
    {
        var b = new ModelBuilder();
        var x = b.InputSymbolic("x", "batch", "seq", "8");
        Value y = x;
        for (int layer = 0; layer < 3; layer++)
        {
            var shape = b.Op("Shape", [x], $"shape{layer}");
            var batch = b.Op("Unsqueeze", [b.Op("Gather", [shape, Scalar(b, $"i0_{layer}", 0)], $"g0_{layer}", A.Of("axis", 0L)), b.ConstInts($"ax0_{layer}", 0)], $"u0_{layer}");
            var seq = b.Op("Unsqueeze", [b.Op("Gather", [shape, Scalar(b, $"i1_{layer}", 1)], $"g1_{layer}", A.Of("axis", 0L)), b.ConstInts($"ax1_{layer}", 0)], $"u1_{layer}");
            var target = b.Op("Concat", [batch, seq, b.ConstInts($"rest{layer}", 2, 4)], $"target{layer}", A.Of("axis", 0L));
            var split = b.Op("Reshape", [y, target], $"split{layer}");
            var back = b.Op("Reshape", [b.Op("Relu", [split], $"act{layer}"), b.Op("Shape", [x], $"shape_back{layer}")], $"merged{layer}");
            y = b.Op("Add", [back, x], $"layer{layer}");
        }
        b.Output(y);
        var report = OptimizeAndCompare(b, Input("x", 2, 5, 8), [Cse]);
        Assert.Equal(1, Count(b.Model, "Shape"));
        Assert.Equal(2, Count(b.Model, "Gather"));
        Assert.Equal(2, Count(b.Model, "Unsqueeze"));
        Assert.Equal(1, Count(b.Model, "Concat"));
        // Shape 6 -> 1 (the Reshape back reads Shape(x) too), Gather 6 -> 2, Unsqueeze 6 -> 2, Concat 3 -> 1.
        Assert.Equal(5 + 4 + 4 + 2, Counter(report, Cse, "nodes_merged"));
    }

    /// <summary>After CSE, each Reshape target built from Shape(its own input) becomes a constant; the chains die.</summary>
    [Fact]
    public void ShapeChainsOfTheReshapeInputBecomeConstantTargets()
    {
        var b = new ModelBuilder();
        var x = b.InputSymbolic("x", "batch", "seq", "8");
        var shape = b.Op("Shape", [x], "shape");
        var batch = b.Op("Unsqueeze", [b.Op("Gather", [shape, Scalar(b, "i0", 0)], "g0", A.Of("axis", 0L)), b.ConstInts("ax0", 0)], "u0");
        var seq = b.Op("Gather", [shape, b.ConstInts("i1", -2)], "g1", A.Of("axis", 0L));
        var split = b.Op("Reshape", [x, b.Op("Concat", [batch, seq, b.ConstInts("heads", 2, 4)], "target", A.Of("axis", 0L))], "split");
        var act = b.Op("Relu", [split], "act");
        var actShape = b.Op("Shape", [act], "act_shape");
        var leading = b.Op("Slice", [actShape, b.ConstInts("s0", 0), b.ConstInts("s1", -2), b.ConstInts("s2", 0)], "leading");
        var merged = b.Op("Reshape", [act, b.Op("Concat", [leading, b.ConstInts("width", -1)], "merge_target", A.Of("axis", 0L))], "merged");
        // Dim 1 of x at position 0: not a copy, stays computed.
        var swapped = b.Op("Reshape", [x, b.Op("Concat", [seq, batch, b.ConstInts("rest", 8)], "swap_target", A.Of("axis", 0L))], "swapped");
        b.Output(b.Op("Add", [merged, x], "y"), swapped);
        var report = OptimizeAndCompare(b, Input("x", 3, 5, 8));
        Assert.Equal(2, Counter(report, "reshape-shape-simplification", "targets_made_constant"));
        Assert.Equal([0L, 0, 2, 4], b.Graph.Nodes.First(n => n.OpType == "Reshape" && n.Output0.Name == "split").Input(1)!.ConstantValue!.ToInt64s());
        Assert.Equal([0L, 0, -1], b.Graph.Nodes.First(n => n.OpType == "Reshape" && n.Output0.Name == "merged").Input(1)!.ConstantValue!.ToInt64s());
        Assert.Equal(1, Count(b.Model, "Shape"));
        Assert.Equal(1, Count(b.Model, "Concat"));
    }

    /// <summary>paddle2onnx: Reshape(x, Concat(Cast(Slice-1(Cast(Shape(x), int32)), int64), [200])) at opset 9 is Reshape(x, [0, 200]).</summary>
    [Fact]
    public void ShapeChainThroughInt32CastsAndSliceAttributesBecomesConstant()
    {
        var b = new ModelBuilder(opset: 9);
        var x = b.InputSymbolic("x", "batch", "200", "1", "1");
        var shape32 = b.Op("Cast", [b.Op("Shape", [x], "shape")], "shape32", A.Of("to", (long)DataType.Int32));
        var leading = b.Op("Slice", [shape32], "leading32", A.Of("axes", new long[] { 0 }), A.Of("starts", new long[] { 0 }), A.Of("ends", new long[] { 1 }));
        var target = b.Op("Concat", [b.Op("Cast", [leading], "leading", A.Of("to", (long)DataType.Int64)), b.ConstInts("width", 200)], "target", A.Of("axis", 0L));
        b.Output(b.Op("Reshape", [x, target], "flat"));
        OptimizeAndCompare(b, Input("x", 3, 200, 1, 1));
        Assert.Equal(["Reshape"], b.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal([0L, 200], b.Graph.Nodes[0].Input(1)!.ConstantValue!.ToInt64s());
    }

    [Fact]
    public void DifferentAttributesOrInputOrderAreNotMerged()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 3, 4);
        var w = b.Input("w", 2, 3, 4);
        var t1 = b.Op("Transpose", [x], "t1", A.Of("perm", new long[] { 0, 2, 1 }));
        var t2 = b.Op("Transpose", [x], "t2", A.Of("perm", new long[] { 1, 0, 2 }));
        var s1 = b.Op("Sub", [x, w], "s1");
        var s2 = b.Op("Sub", [w, x], "s2");
        b.Output(b.Op("Concat", [b.Op("Reshape", [t1, b.ConstInts("flat1", -1)], "r1"), b.Op("Reshape", [t2, b.ConstInts("flat2", -1)], "r2"),
            b.Op("Reshape", [s1, b.ConstInts("flat3", -1)], "r3"), b.Op("Reshape", [s2, b.ConstInts("flat4", -1)], "r4")], "y", A.Of("axis", 0L)));
        var inputs = Input("x", 2, 3, 4);
        inputs["w"] = ModelBuilder.RandomInput([2, 3, 4], seed: 9);
        OptimizeAndCompare(b, inputs, [Cse]);
        Assert.Equal(2, Count(b.Model, "Transpose"));
        Assert.Equal(2, Count(b.Model, "Sub"));
        // The four Reshapes read equal [-1] constants but different data: all stay.
        Assert.Equal(4, Count(b.Model, "Reshape"));
    }

    [Fact]
    public void TensorAttributesAreComparedByContent()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 3);
        var shape = b.Op("Shape", [x], "shape");
        var ones = b.Op("ConstantOfShape", [shape], "ones", A.Of("value", Tensor.FromFloats([1], [1f])));
        var onesAgain = b.Op("ConstantOfShape", [shape], "ones_again", A.Of("value", Tensor.FromFloats([1], [1f])));
        var twos = b.Op("ConstantOfShape", [shape], "twos", A.Of("value", Tensor.FromFloats([1], [2f])));
        b.Output(b.Op("Add", [b.Op("Add", [b.Op("Mul", [x, ones], "m1"), b.Op("Mul", [x, onesAgain], "m2")], "a1"), b.Op("Mul", [x, twos], "m3")], "y"));
        OptimizeAndCompare(b, Input("x", 2, 3), [Cse]);
        Assert.Equal(2, Count(b.Model, "ConstantOfShape"));
        // m1 and m2 now read the same ones: merged too.
        Assert.Equal(2, Count(b.Model, "Mul"));
    }

    [Fact]
    public void TwoGraphOutputsStayTwoNodesAndOneOutputTakesOverItsDuplicate()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 5);
        var first = b.Op("Sigmoid", [x], "first");
        var second = b.Op("Sigmoid", [x], "second");
        var inner = b.Op("Relu", [x], "inner");
        var outer = b.Op("Relu", [x], "outer");
        b.Output(first, second, outer, b.Op("Neg", [inner], "negated"));
        var report = OptimizeAndCompare(b, Input("x", 2, 5), [Cse]);
        Assert.Equal(2, Count(b.Model, "Sigmoid"));
        Assert.Equal(1, Count(b.Model, "Relu"));
        Assert.Equal(["first", "second", "outer", "negated"], b.Graph.Outputs.Select(o => o.Name));
        Assert.Equal(1, Counter(report, Cse, "kept_at_graph_boundary"));
    }

    [Fact]
    public void RandomOpsAreNeverMerged()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 3);
        var r1 = b.Op("RandomUniformLike", [x], "r1", A.Of("seed", 1f));
        var r2 = b.Op("RandomUniformLike", [x], "r2", A.Of("seed", 1f));
        b.Output(b.Op("Sub", [r1, r2], "y"));
        OptimizationPipeline.Run(b.Model, new OptimizeOptions(), OptimizationPipeline.Select([Cse]));
        Assert.Empty(GraphVerifier.Verify(b.Graph));
        Assert.Equal(2, Count(b.Model, "RandomUniformLike"));
    }

    [Fact]
    public void DuplicatesInsideAnIfBranchAreMergedAndOuterValuesStay()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 4);
        var cond = b.Graph.AddInput("cond", new TensorType(DataType.Bool, Shape.Of()));
        var pre = b.Op("Relu", [x], "pre");
        var thenBranch = new Graph("then", b.Graph);
        var t1 = thenBranch.AddNode("Exp", [pre], ["t1"]).Output0;
        var t2 = thenBranch.AddNode("Exp", [pre], ["t2"]).Output0;
        var tOut = thenBranch.AddNode("Add", [t1, t2], ["t_out"]).Output0;
        tOut.Type = new TensorType(DataType.Float, Shape.Of(2, 4));
        thenBranch.AddOutput(tOut);
        var elseBranch = new Graph("else", b.Graph);
        var eOut = elseBranch.AddNode("Neg", [pre], ["e_out"]).Output0;
        eOut.Type = new TensorType(DataType.Float, Shape.Of(2, 4));
        elseBranch.AddOutput(eOut);
        var ifOut = b.Graph.AddNode("If", [cond], ["branch"], "", "if", [Branch("then_branch", thenBranch), Branch("else_branch", elseBranch)]).Output0;
        b.Output(b.Op("Add", [ifOut, b.Op("Relu", [x], "pre_again")], "y"));
        OptimizeAndCompareEach(b, [BranchInputs(true), BranchInputs(false)], [Cse]);
        Assert.Equal(1, b.Graph.Nodes.Count(n => n.OpType == "Relu"));
        Assert.Equal(1, thenBranch.Nodes.Count(n => n.OpType == "Exp"));
    }

    private static Dictionary<string, Tensor> BranchInputs(bool condition)
    {
        var inputs = Input("x", 2, 4);
        inputs["cond"] = Bool(condition);
        return inputs;
    }

    internal static A Branch(string name, Graph body) => new(name, AttributeKind.Graph) { Graph = body };

    private static Value Scalar(ModelBuilder b, string name, long value) => b.Graph.AddInitializer(name, Tensor.FromInt64s([], [value]));
}
