using EdgeBuild.Ir;
using EdgeBuild.Tests.Support;
using static EdgeBuild.Tests.Passes.PassTestRunner;
using A = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Tests.Passes;

/// <summary>
/// The passes inside If and Loop bodies, and the If with a constant condition, each run in ONNX Runtime before and
/// after the whole default pipeline (with both values of a condition that is an input).
/// </summary>
public class SubgraphPassTests
{
    private static A Branch(string name, Graph body) => new(name, AttributeKind.Graph) { Graph = body };

    /// <summary>A body output needs its type declared (ONNX Runtime reads it from the body's output list).</summary>
    private static Value Typed(Value v, params long[] dims)
    {
        v.Type = new TensorType(DataType.Float, Shape.Of(dims));
        return v;
    }

    private static Value Constant(Graph g, string name, Tensor value) => g.AddNode("Constant", [], [name], "", name + "_node", [A.Of("value", value)]).Output0;

    private static Dictionary<string, Tensor> WithCondition(Dictionary<string, Tensor> inputs, bool condition)
    {
        inputs["cond"] = Bool(condition);
        return inputs;
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void IfWithAConstantConditionBecomesItsBranch(bool condition, bool asConstantNode)
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 4);
        var cond = asConstantNode
            ? Constant(b.Graph, "cond", Bool(condition))
            : b.Graph.AddInitializer("cond", Bool(condition));
        var pre = b.Op("Relu", [x], "pre");
        var thenBranch = new Graph("then", b.Graph);
        var scale = Constant(thenBranch, "scale", ModelBuilder.RandomInput([4], seed: 3));
        thenBranch.AddOutput(Typed(thenBranch.AddNode("Mul", [pre, scale], ["scaled"]).Output0, 2, 4));
        var elseBranch = new Graph("else", b.Graph);
        elseBranch.AddOutput(Typed(elseBranch.AddNode("Neg", [pre], ["negated"]).Output0, 2, 4));
        var branch = b.Graph.AddNode("If", [cond], ["branch"], "", "if", [Branch("then_branch", thenBranch), Branch("else_branch", elseBranch)]).Output0;
        b.Output(b.Op("Add", [branch, x], "y"));
        var report = OptimizeAndCompare(b, Input("x", 2, 4));
        Assert.Equal(0, Count(b.Model, "If"));
        Assert.Equal(condition ? 1 : 0, Count(b.Model, "Mul"));
        Assert.Equal(condition ? 0 : 1, Count(b.Model, "Neg"));
        Assert.Equal(1, Counter(report, "constant-if-inlining", "if_inlined"));
        Assert.Equal(b.Graph.AllNodes().Count(), b.Graph.Nodes.Count);
    }

    /// <summary>A branch returning an outer input, and two If outputs that are graph outputs: the names stay, an Identity carries the input.</summary>
    [Fact]
    public void InlinedIfKeepsTheGraphOutputNames()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 4);
        var cond = b.Graph.AddInitializer("cond", Bool(false));
        var thenBranch = new Graph("then", b.Graph);
        thenBranch.AddOutput(Typed(thenBranch.AddNode("Neg", [x], ["t0"]).Output0, 2, 4));
        thenBranch.AddOutput(Typed(thenBranch.AddNode("Exp", [x], ["t1"]).Output0, 2, 4));
        var elseBranch = new Graph("else", b.Graph);
        elseBranch.AddOutput(Typed(elseBranch.AddNode("Identity", [x], ["e0"]).Output0, 2, 4));
        elseBranch.AddOutput(Typed(elseBranch.AddNode("Sigmoid", [x], ["e1"]).Output0, 2, 4));
        var ifNode = b.Graph.AddNode("If", [cond], ["out0", "out1"], "", "if", [Branch("then_branch", thenBranch), Branch("else_branch", elseBranch)]);
        b.Output(ifNode.Outputs[0]!, ifNode.Outputs[1]!);
        OptimizeAndCompare(b, Input("x", 2, 4));
        Assert.Equal(["out0", "out1"], b.Graph.Outputs.Select(o => o.Name));
        Assert.Equal(0, Count(b.Model, "If"));
        Assert.Equal(1, Count(b.Model, "Identity"));
        Assert.False(x.IsGraphOutput);
    }

    /// <summary>
    /// Silero's pattern: the condition is a dim of an input that is a number while the batch dim is symbolic
    /// (state [2, batch, 4]). Gather and Slice of its Shape fold, the If becomes its branch; a symbolic dim stays computed.
    /// </summary>
    [Fact]
    public void ConditionFromAKnownDimOfAPartlySymbolicShapeInlines()
    {
        var b = new ModelBuilder();
        var state = b.InputSymbolic("state", "2", "batch", "4");
        var shape = b.Op("Shape", [state], "shape");
        var layers = b.Op("Squeeze", [b.Op("Gather", [shape, b.ConstInts("first", 0)], "layers_1d", A.Of("axis", 0L)), b.ConstInts("axis0", 0)], "layers");
        var cond = b.Op("Cast", [layers], "cond", A.Of("to", (long)DataType.Bool));
        var tail = b.Op("Slice", [shape, b.ConstInts("from", -1), b.ConstInts("to", 3)], "tail");
        var batch = b.Op("Gather", [shape, b.ConstInts("second", 1)], "batch", A.Of("axis", 0L));
        var thenBranch = new Graph("then", b.Graph);
        thenBranch.AddOutput(Typed(thenBranch.AddNode("Sigmoid", [state], ["squashed"]).Output0, 2, 3, 4));
        var elseBranch = new Graph("else", b.Graph);
        elseBranch.AddOutput(Typed(elseBranch.AddNode("Neg", [state], ["negated"]).Output0, 2, 3, 4));
        var branch = b.Graph.AddNode("If", [cond], ["branch"], "", "if", [Branch("then_branch", thenBranch), Branch("else_branch", elseBranch)]).Output0;
        b.Output(branch, b.Op("Concat", [tail, batch], "dims", A.Of("axis", 0L)));
        OptimizeAndCompare(b, Input("state", 2, 3, 4));
        Assert.Equal(0, Count(b.Model, "If"));
        // Left: the taken branch, and the batch dim (symbolic) with what reads it; the tail [4] is a constant.
        Assert.Equal(["Concat", "Gather", "Shape", "Sigmoid"], b.Graph.Nodes.Select(n => n.OpType).Order());
    }

    /// <summary>The taken branch holds an If of its own: it moves up a scope and still reads what it read.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void NestedIfMovesUpWithItsBranch(bool inner)
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 3);
        var innerCond = b.Graph.AddInput("cond", new TensorType(DataType.Bool, Shape.Of()));
        var pre = b.Op("Relu", [x], "pre");
        var outerThen = new Graph("outer_then", b.Graph);
        var local = outerThen.AddNode("Exp", [pre], ["local"]).Output0;
        var innerThen = new Graph("inner_then", outerThen);
        innerThen.AddOutput(Typed(innerThen.AddNode("Add", [local, pre], ["sum"]).Output0, 3));
        var innerElse = new Graph("inner_else", outerThen);
        innerElse.AddOutput(Typed(innerElse.AddNode("Sub", [local, x], ["difference"]).Output0, 3));
        var innerIf = outerThen.AddNode("If", [innerCond], ["inner_out"], "", "inner_if", [Branch("then_branch", innerThen), Branch("else_branch", innerElse)]);
        outerThen.AddOutput(Typed(innerIf.Output0, 3));
        var outerElse = new Graph("outer_else", b.Graph);
        outerElse.AddOutput(Typed(outerElse.AddNode("Neg", [x], ["never"]).Output0, 3));
        var outerIf = b.Graph.AddNode("If", [b.Graph.AddInitializer("always", Bool(true))], ["y"], "", "outer_if",
            [Branch("then_branch", outerThen), Branch("else_branch", outerElse)]);
        b.Output(outerIf.Output0);
        OptimizeAndCompareEach(b, [WithCondition(Input("x", 3), inner), WithCondition(Input("x", 3), !inner)]);
        var remaining = Assert.Single(b.Graph.Nodes, n => n.OpType == "If");
        Assert.All(remaining.Subgraphs, s => Assert.Same(b.Graph, s.Parent));
    }

    /// <summary>
    /// In a branch whose condition is an input: Constant nodes become the body's initializers and fold, Identity and
    /// duplicate nodes go, a dead node goes, and the body outputs stay (one of them an outer value, kept by its Identity).
    /// </summary>
    [Fact]
    public void PassesRunInsideBranches()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 4);
        var cond = b.Graph.AddInput("cond", new TensorType(DataType.Bool, Shape.Of()));
        var pre = b.Op("Relu", [x], "pre");
        var thenBranch = new Graph("then", b.Graph);
        var one = Constant(thenBranch, "one", Tensor.FromFloats([4], [1, 2, 3, 4]));
        var two = Constant(thenBranch, "two", Tensor.FromFloats([4], [0.5f, 0.25f, 2, 1]));
        var sum = thenBranch.AddNode("Add", [one, two], ["sum"]).Output0;
        var through = thenBranch.AddNode("Identity", [pre], ["through"]).Output0;
        thenBranch.AddNode("Exp", [through], ["unused"]);
        var s1 = thenBranch.AddNode("Sigmoid", [through], ["s1"]).Output0;
        var s2 = thenBranch.AddNode("Sigmoid", [through], ["s2"]).Output0;
        var both = thenBranch.AddNode("Add", [s1, s2], ["both"]).Output0;
        thenBranch.AddOutput(Typed(thenBranch.AddNode("Mul", [both, sum], ["then_out"]).Output0, 2, 4));
        var elseBranch = new Graph("else", b.Graph);
        elseBranch.AddOutput(Typed(elseBranch.AddNode("Identity", [pre], ["else_out"]).Output0, 2, 4));
        var branch = b.Graph.AddNode("If", [cond], ["branch"], "", "if", [Branch("then_branch", thenBranch), Branch("else_branch", elseBranch)]).Output0;
        b.Output(b.Op("Add", [branch, x], "y"));
        OptimizeAndCompareEach(b, [WithCondition(Input("x", 2, 4), true), WithCondition(Input("x", 2, 4), false)]);
        Assert.Equal(["Sigmoid", "Add", "Mul"], thenBranch.Nodes.Select(n => n.OpType));
        Assert.Equal(["Identity"], elseBranch.Nodes.Select(n => n.OpType));
        Assert.Single(thenBranch.Initializers);
    }

    /// <summary>A Loop body: its inputs and outputs are the op's contract and stay; what is inside is optimized.</summary>
    [Fact]
    public void LoopBodyKeepsItsInterface()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 3);
        var body = new Graph("body", b.Graph);
        body.AddInput("iteration", new TensorType(DataType.Int64, Shape.Of()));
        var condIn = body.AddInput("cond_in", new TensorType(DataType.Bool, Shape.Of()));
        var carried = body.AddInput("carried", new TensorType(DataType.Float, Shape.Of(3)));
        var condOut = body.AddNode("Identity", [condIn], ["cond_out"]).Output0;
        var step = body.AddNode("Identity", [Constant(body, "step", Tensor.FromFloats([3], [0.5f, 1, 2]))], ["step_id"]).Output0;
        body.AddNode("Neg", [carried], ["dead"]);
        var next = body.AddNode("Add", [body.AddNode("Mul", [carried, x], ["scaled"]).Output0, step], ["next"]).Output0;
        var echo = body.AddNode("Identity", [next], ["echo"]).Output0;
        condOut.Type = new TensorType(DataType.Bool, Shape.Of());
        body.AddOutput(condOut);
        body.AddOutput(Typed(next, 3));
        body.AddOutput(Typed(echo, 3));
        var loop = b.Graph.AddNode("Loop", [b.Graph.AddInitializer("trips", Tensor.FromInt64s([], [4])), null, b.Op("Sigmoid", [x], "start")],
            ["final", "history"], "", "loop", [Branch("body", body)]);
        b.Output(loop.Outputs[0]!, loop.Outputs[1]!);
        OptimizeAndCompare(b, Input("x", 3));
        Assert.Equal(3, body.Inputs.Count);
        Assert.Equal(3, body.Outputs.Count);
        Assert.DoesNotContain(body.Nodes, n => n.OpType == "Neg");
        // cond_out passes a body input through and next is also the scan output: those Identity nodes stay.
        Assert.Equal(2, body.Nodes.Count(n => n.OpType == "Identity"));
        Assert.DoesNotContain(body.Nodes, n => n.OpType == "Constant");
    }

    /// <summary>Silero's shape: LSTM and GRU with weights as Constant nodes inside the branches, optional inputs omitted.</summary>
    [Theory]
    [InlineData(null)]
    [InlineData(true)]
    [InlineData(false)]
    public void RecurrentLayersInBranchesStayCorrect(bool? constantCondition)
    {
        const int hidden = 5, features = 3, steps = 4, batch = 2;
        var b = new ModelBuilder(opset: 14);
        var x = b.Input("x", steps, batch, features);
        var cond = constantCondition is { } c ? b.Graph.AddInitializer("cond", Bool(c)) : b.Graph.AddInput("cond", new TensorType(DataType.Bool, Shape.Of()));
        var thenBranch = new Graph("lstm_branch", b.Graph);
        var lstm = thenBranch.AddNode("LSTM", [x,
            Constant(thenBranch, "lstm_W", ModelBuilder.RandomInput([1, 4 * hidden, features], seed: 11)),
            Constant(thenBranch, "lstm_R", ModelBuilder.RandomInput([1, 4 * hidden, hidden], seed: 12)),
            Constant(thenBranch, "lstm_B", ModelBuilder.RandomInput([1, 8 * hidden], seed: 13)), null,
            Constant(thenBranch, "lstm_h0", ModelBuilder.RandomInput([1, batch, hidden], seed: 14))],
            ["lstm_Y", "lstm_Yh"], "", "lstm", [A.Of("hidden_size", (long)hidden)]);
        var yh = thenBranch.AddNode("Identity", [lstm.Outputs[1]], ["lstm_state"]).Output0;
        thenBranch.AddOutput(Typed(thenBranch.AddNode("Squeeze", [lstm.Outputs[0], Constant(thenBranch, "lstm_axes", Tensor.FromInt64s([1], [1]))], ["lstm_seq"]).Output0, steps, batch, hidden));
        thenBranch.AddOutput(Typed(yh, 1, batch, hidden));
        var elseBranch = new Graph("gru_branch", b.Graph);
        var gru = elseBranch.AddNode("GRU", [x,
            Constant(elseBranch, "gru_W", ModelBuilder.RandomInput([2, 3 * hidden, features], seed: 21)),
            Constant(elseBranch, "gru_R", ModelBuilder.RandomInput([2, 3 * hidden, hidden], seed: 22))],
            ["gru_Y", "gru_Yh"], "", "gru", [A.Of("hidden_size", (long)hidden), A.Of("direction", "bidirectional"), A.Of("linear_before_reset", 1L)]);
        var gruSeq = elseBranch.AddNode("Slice", [gru.Outputs[0], Constant(elseBranch, "s0", Tensor.FromInt64s([1], [0])), Constant(elseBranch, "s1", Tensor.FromInt64s([1], [1])),
            Constant(elseBranch, "s_axis", Tensor.FromInt64s([1], [1]))], ["gru_forward"]).Output0;
        elseBranch.AddOutput(Typed(elseBranch.AddNode("Squeeze", [gruSeq, Constant(elseBranch, "gru_axes", Tensor.FromInt64s([1], [1]))], ["gru_seq"]).Output0, steps, batch, hidden));
        elseBranch.AddOutput(Typed(elseBranch.AddNode("Slice", [gru.Outputs[1], Constant(elseBranch, "h0", Tensor.FromInt64s([1], [0])), Constant(elseBranch, "h1", Tensor.FromInt64s([1], [1]))], ["gru_state"]).Output0, 1, batch, hidden));
        var ifNode = b.Graph.AddNode("If", [cond], ["sequence", "state"], "", "if", [Branch("then_branch", thenBranch), Branch("else_branch", elseBranch)]);
        b.Output(ifNode.Outputs[0]!, ifNode.Outputs[1]!);
        var sets = constantCondition is null
            ? new List<IReadOnlyDictionary<string, Tensor>> { WithCondition(Input("x", steps, batch, features), true), WithCondition(Input("x", steps, batch, features), false) }
            : [Input("x", steps, batch, features)];
        OptimizeAndCompareEach(b, sets);
        Assert.Equal(constantCondition is null ? 1 : 0, Count(b.Model, "If"));
        Assert.DoesNotContain(b.Graph.AllNodes(), n => n.OpType is "Constant" or "Identity");
    }
}
