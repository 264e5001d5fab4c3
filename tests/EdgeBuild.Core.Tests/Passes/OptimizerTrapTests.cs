using EdgeBuild.Ir;
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
}
