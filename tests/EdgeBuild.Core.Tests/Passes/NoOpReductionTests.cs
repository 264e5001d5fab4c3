using EdgeBuild.Ir;
using EdgeBuild.Tests.Support;
using static EdgeBuild.Tests.Passes.PassTestRunner;
using A = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Tests.Passes;

/// <summary>Reductions with noop_with_empty_axes and no axes are identities (opset 13 ReduceSum, 18 the rest).</summary>
public class NoOpReductionTests
{
    private const string Pass = "noop-elimination";

    [Theory]
    [InlineData("ReduceSum", 13)]
    [InlineData("ReduceMean", 18)]
    [InlineData("ReduceMax", 20)]
    public void NoOpReductionIsRemoved(string op, int opset)
    {
        var b = new ModelBuilder(opset);
        var x = b.Input("x", 2, 3, 4);
        var r = b.Op(op, [x], "r", A.Of("noop_with_empty_axes", 1L));
        b.Output(b.Op("Relu", [r], "y"));
        var report = OptimizeAndCompare(b, Input("x", 2, 3, 4), [Pass]);
        Assert.Equal(0, Count(b.Model, op));
        Assert.Equal(1, Counter(report, Pass, "reduction_removed"));
    }

    [Theory]
    [InlineData("ReduceSumSquare")]
    [InlineData("ReduceL1")]
    public void ReductionWhoseNoOpIsNotTheInputStays(string op)
    {
        // The spec's reference returns x^2 and |x| for these: not an identity.
        var b = new ModelBuilder(18);
        var x = b.Input("x", 2, 3, 4);
        b.Output(b.Op("Relu", [b.Op(op, [x], "r", A.Of("noop_with_empty_axes", 1L))], "y"));
        OptimizeAndCompare(b, Input("x", 2, 3, 4), [Pass]);
        Assert.Equal(1, Count(b.Model, op));
    }

    [Fact]
    public void ReductionOverAnEmptyConstantAxesWithoutNoOpReducesEverything()
    {
        var b = new ModelBuilder(18);
        var x = b.Input("x", 2, 3, 4);
        var empty = b.Graph.AddInitializer("axes", Tensor.FromInt64s([0], []));
        b.Output(b.Op("Relu", [b.Op("ReduceMean", [x, empty], "r")], "y"));
        OptimizeAndCompare(b, Input("x", 2, 3, 4), [Pass]);
        Assert.Equal(1, Count(b.Model, "ReduceMean"));
    }
}
