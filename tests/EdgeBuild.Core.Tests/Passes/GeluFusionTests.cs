using EdgeBuild.Ir;
using EdgeBuild.Passes;
using EdgeBuild.Tests.Support;
using static EdgeBuild.Tests.Passes.PassTestRunner;

namespace EdgeBuild.Tests.Passes;

public class GeluFusionTests
{
    private const string Fusion = "gelu-fusion";

    /// <summary>x * 0.5 * (1 + f) in grouping <paramref name="grouping"/>: 0 (x * (1 + f)) * 0.5, 1 (x * 0.5) * (1 + f), 2 x * ((1 + f) * 0.5).</summary>
    private static Value Tail(ModelBuilder b, Value x, Value f, int grouping, float half = 0.5f)
    {
        var onePlus = b.Op("Add", [b.Const("one", [], 1f), f], "one_plus");
        var h = b.Const("half", [], half);
        return grouping switch
        {
            0 => b.Op("Mul", [b.Op("Mul", [x, onePlus], "x_times"), h], "y"),
            1 => b.Op("Mul", [onePlus, b.Op("Mul", [h, x], "x_half")], "y"),
            _ => b.Op("Mul", [x, b.Op("Mul", [onePlus, h], "halved")], "y"),
        };
    }

    private static Value ErfGelu(ModelBuilder b, Value x, int grouping, bool divide = true, float half = 0.5f)
    {
        var scaled = divide ? b.Op("Div", [x, b.Const("sqrt2", [], 1.4142135f)], "scaled") : b.Op("Mul", [b.Const("inv_sqrt2", [], 0.70710677f), x], "scaled");
        return Tail(b, x, b.Op("Erf", [scaled], "erf"), grouping, half);
    }

    private static Value TanhGelu(ModelBuilder b, Value x, int grouping, bool pow)
    {
        var cube = pow ? b.Op("Pow", [x, b.Const("three", [], 3f)], "cube") : b.Op("Mul", [b.Op("Mul", [x, x], "sq"), x], "cube");
        var inner = b.Op("Add", [x, b.Op("Mul", [cube, b.Const("c", [], 0.044715f)], "cube_scaled")], "inner");
        var t = b.Op("Tanh", [b.Op("Mul", [b.Const("k", [], 0.7978846f), inner], "tanh_in")], "tanh");
        return Tail(b, x, t, grouping);
    }

    /// <summary>Values over [-4, 4], where the two GELUs and their approximations differ most.</summary>
    private static Dictionary<string, Tensor> Wide(params long[] dims)
    {
        var t = ModelBuilder.RandomInput(dims, seed: 5).ToFloats();
        return new() { ["x"] = Tensor.FromFloats(dims, t.Select(v => 4 * v).ToArray()) };
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(1, false)]
    [InlineData(2, true)]
    public void ErfFormsBecomeExactGelu(int grouping, bool divide)
    {
        var b = new ModelBuilder(20);
        var x = b.Input("x", 3, 64);
        b.Output(ErfGelu(b, x, grouping, divide));
        var report = OptimizeAndCompare(b, Wide(3, 64), [Fusion], relative: 1e-4);
        Assert.Equal(1, Counter(report, Fusion, "fused_erf"));
        var gelu = Assert.Single(b.Graph.Nodes);
        Assert.Equal("Gelu", gelu.OpType);
        Assert.Null(gelu.GetString("approximate"));
        Assert.Equal("y", b.Graph.Outputs[0].Name);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(1, false)]
    [InlineData(2, false)]
    public void TanhFormsBecomeTanhGelu(int grouping, bool pow)
    {
        var b = new ModelBuilder(21);
        var x = b.Input("x", 3, 64);
        b.Output(TanhGelu(b, x, grouping, pow));
        var report = OptimizeAndCompare(b, Wide(3, 64), [Fusion], relative: 1e-4);
        Assert.Equal(1, Counter(report, Fusion, "fused_tanh"));
        var gelu = Assert.Single(b.Graph.Nodes);
        Assert.Equal("Gelu", gelu.OpType);
        Assert.Equal("tanh", gelu.GetString("approximate"));
    }

    [Fact]
    public void BelowOpset20NothingChangesUnlessTheTargetOpsetAsks()
    {
        var b = new ModelBuilder(13);
        var x = b.Input("x", 3, 64);
        b.Output(ErfGelu(b, x, 0));
        var inputs = Wide(3, 64);
        OptimizeAndCompare(b, inputs, [Fusion]);
        Assert.Equal(1, Count(b.Model, "Erf"));

        var before = Ort.Run(b.Model, inputs, optimize: false);
        OptimizationPipeline.Run(b.Model, new OptimizeOptions { TargetOpset = 20 }, OptimizationPipeline.Select(["opset-conversion", Fusion]));
        Assert.Equal("Gelu", Assert.Single(b.Graph.Nodes).OpType);
        Ort.AssertClose(before, Ort.Run(b.Model, inputs, optimize: false), 1e-4);
    }

    [Fact]
    public void AnotherConstantIsNotGelu()
    {
        var b = new ModelBuilder(20);
        var x = b.Input("x", 3, 64);
        b.Output(ErfGelu(b, x, 1, half: 0.6f));
        OptimizeAndCompare(b, Wide(3, 64), [Fusion]);
        Assert.Equal(0, Count(b.Model, "Gelu"));
        Assert.Equal(1, Count(b.Model, "Erf"));
    }

    [Fact]
    public void IntermediateReadElsewhereIsNotFused()
    {
        var b = new ModelBuilder(20);
        var x = b.Input("x", 3, 64);
        var y = ErfGelu(b, x, 0);
        b.Output(y, b.Graph.Lookup("one_plus")!);
        OptimizeAndCompare(b, Wide(3, 64), [Fusion]);
        Assert.Equal(0, Count(b.Model, "Gelu"));
    }

    [Fact]
    public void ATanhAfterGeluIsNotTheApproximation()
    {
        var b = new ModelBuilder(20);
        var x = b.Input("x", 3, 64);
        var first = ErfGelu(b, x, 0);
        var second = b.Op("Tanh", [first], "squash");
        b.Output(second);
        var report = OptimizeAndCompare(b, Wide(3, 64), [Fusion], relative: 1e-4);
        // A Tanh that is not the GELU approximation's stays.
        Assert.Equal(["Gelu", "Tanh"], b.Graph.Nodes.Select(n => n.OpType).ToArray());
        Assert.Equal(1, Counter(report, Fusion, "fused_erf"));
    }
}
