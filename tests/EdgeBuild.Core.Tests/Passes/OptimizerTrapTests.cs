using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;

namespace EdgeBuild.Tests.Passes;

/// <summary>Optimizer traps the conformance suite names but its single-operator cases cannot reach.</summary>
public sealed class OptimizerTrapTests
{
    private static Model NewModel(long opset, out Graph g)
    {
        g = new Graph("main");
        var model = new Model(g) { IrVersion = 8 };
        model.Opsets.Add(new OpsetId("", opset));
        return model;
    }

    [Fact]
    public void TrainingModeDropoutOfConstantIsNotFolded()
    {
        var model = NewModel(13, out var g);
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(256)));
        var w = g.AddInitializer("w", Tensor.FromFloats([256], Enumerable.Repeat(1f, 256).ToArray()));
        var ratio = g.AddInitializer("ratio", Tensor.Scalar(0.5f));
        var training = g.AddInitializer("training", Tensor.FromRaw(DataType.Bool, [], [1]));
        var dropout = g.AddNode("Dropout", [w, ratio, training], ["d"]);
        var add = g.AddNode("Add", [x, dropout.Output0], ["y"]);
        g.AddOutput(add.Output0);

        OptimizationPipeline.Run(model, new OptimizeOptions());

        // A fixed random mask baked into the weights would make every run drop the same elements.
        Assert.Contains(g.Nodes, n => n.Is("Dropout"));
        Assert.Empty(GraphVerifier.Verify(g));
    }

    [Fact]
    public void InferenceModeDropoutOfConstantStillFolds()
    {
        var model = NewModel(13, out var g);
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(4)));
        var w = g.AddInitializer("w", Tensor.FromFloats([4], [1f, 2f, 3f, 4f]));
        var ratio = g.AddInitializer("ratio", Tensor.Scalar(0.5f));
        var training = g.AddInitializer("training", Tensor.FromRaw(DataType.Bool, [], [0]));
        var dropout = g.AddNode("Dropout", [w, ratio, training], ["d"]);
        var neg = g.AddNode("Neg", [dropout.Output0], ["n"]);
        var add = g.AddNode("Add", [x, neg.Output0], ["y"]);
        g.AddOutput(add.Output0);

        OptimizationPipeline.Run(model, new OptimizeOptions());

        Assert.DoesNotContain(g.Nodes, n => n.Is("Dropout") || n.Is("Neg"));
    }

    [Fact]
    public void NoOpCastWhoseOutputIsASubgraphOutputIsKept()
    {
        var model = NewModel(13, out var g);
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(2)));
        var cond = g.AddInput("cond", new TensorType(DataType.Bool, Shape.Of()));
        var relu = g.AddNode("Relu", [x], ["r"]);
        var cast = g.AddNode("Cast", [relu.Output0], ["c"], attributes: [Ir.Attribute.Of("to", (long)DataType.Float)]);
        // The then-branch returns the outer value 'c' itself, with no node of its own.
        var thenBranch = new Graph("then", g);
        thenBranch.AddOutput(cast.Output0);
        var elseBranch = new Graph("else", g);
        var neg = elseBranch.AddNode("Neg", [x], ["e"]);
        elseBranch.AddOutput(neg.Output0);
        var iff = g.AddNode("If", [cond], ["out"], attributes:
        [
            new Ir.Attribute("then_branch", AttributeKind.Graph) { Graph = thenBranch },
            new Ir.Attribute("else_branch", AttributeKind.Graph) { Graph = elseBranch },
        ]);
        iff.Output0.Type = new TensorType(DataType.Float, Shape.Of(2));
        g.AddOutput(iff.Output0);

        OptimizationPipeline.Run(model, new OptimizeOptions());

        // onnx.checker accepts a branch returning an outer value (ONNX Runtime asks for an Identity in between).
        // The Cast is a no-op, but its output is named by the branch, so it stays; before the fix the
        // rename onto the Relu output threw half-way and left the graph broken.
        Assert.Empty(GraphVerifier.Verify(g));
        Assert.Contains(g.Nodes, n => n.Is("Cast"));
        Assert.Same(cast.Output0, thenBranch.Outputs[0]);
        Assert.Equal("c", thenBranch.Outputs[0].Name);
        var bytes = OnnxExporter.ToBytes(model);
        Assert.Equal(bytes, OnnxExporter.ToBytes(OnnxImporter.Parse(bytes)));
    }

    [Theory]
    [InlineData(new long[] { 0, 2, 3, 7 })]
    [InlineData(new long[] { 0, 2, 2, 1 })]
    [InlineData(new long[] { 0, -1, 3, 1 })]
    public void TransposePairWithAPermThatIsNoPermutationIsLeftAlone(long[] badPerm)
    {
        // Composing the pair indexed one perm by the other: IndexOutOfRangeException on a corrupt perm.
        var model = NewModel(13, out var g);
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(1, 2, 3, 4)));
        var t1 = g.AddNode("Transpose", [x], ["t1"], "", "t1", [Ir.Attribute.Of("perm", badPerm)]);
        var t2 = g.AddNode("Transpose", [t1.Output0], ["t2"], "", "t2", [Ir.Attribute.Of("perm", new long[] { 0, 3, 1, 2 })]);
        g.AddOutput(t2.Output0);
        var result = new TransposeCancellation().Run(model, new PassContext(new OptimizeOptions()));
        Assert.False(result.Changed);
        Assert.Equal(2, g.Nodes.Count);
    }
}
