using EdgeBuild.Ir;

namespace EdgeBuild.Tests.IrTests;

public sealed class GraphTopologicalSortTests
{
    [Fact]
    public void NodeAddedAfterItsReader_IsMovedBeforeIt()
    {
        var g = new Graph("main");
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(2)));
        var reader = g.AddNode("Relu", [null], ["y"]);
        var producer = g.AddNode("Neg", [x], ["n"]);
        reader.SetInput(0, producer.Output0);
        g.AddOutput(reader.Output0);

        g.SortTopologically();

        Assert.Equal([producer, reader], g.Nodes);
        Assert.Empty(GraphVerifier.Verify(g));
    }

    [Fact]
    public void Cycle_Throws()
    {
        var g = new Graph("main");
        var a = g.AddNode("Relu", [null], ["a"]);
        var b = g.AddNode("Relu", [a.Output0], ["b"]);
        a.SetInput(0, b.Output0);
        Assert.Throws<GraphCycleException>(g.SortTopologically);
    }
}
