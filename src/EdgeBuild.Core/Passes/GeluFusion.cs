using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// GELU written out in primitives becomes one Gelu (opset 20), only where the model's opset already has it (the pass
/// never raises the opset; <c>TargetOpset</c> does, in the opset conversion at the head of the pipeline). Two forms,
/// matched by op pattern and constants:
/// exact, <c>x * 0.5 * (1 + Erf(x / sqrt 2))</c> (PyTorch's nn.GELU and BERT), the scaling as Div by sqrt 2 or Mul by
/// 1/sqrt 2; and the tanh approximation, <c>x * 0.5 * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))</c> (GPT-2's
/// gelu_new), the cube as Pow(x, 3) or x * (x * x), becoming Gelu(approximate="tanh"). The final products may be grouped
/// <c>(x * (1 + f)) * 0.5</c>, <c>(x * 0.5) * (1 + f)</c> or <c>x * ((1 + f) * 0.5)</c>, operands in either order. Every
/// intermediate must be read by the pattern alone.
/// </summary>
public sealed class GeluFusion : IPass
{
    /// <summary>The first opset with Gelu.</summary>
    public const long MinOpset = 20;

    private static readonly double InverseSqrt2 = 1 / Math.Sqrt(2);
    private static readonly double SqrtTwoOverPi = Math.Sqrt(2 / Math.PI);
    private const double CubeCoefficient = 0.044715;

    public string Name => "gelu-fusion";
    public string Description => "GELU written with Erf or Tanh becomes Gelu (opset >= 20 only)";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        if (model.DefaultOpset < MinOpset) return result;
        foreach (var graph in model.Graph.SelfAndSubgraphs().ToList())
        {
            bool changed = false;
            foreach (var core in graph.Nodes.Where(n => n.Is("Erf") || n.Is("Tanh")).ToList())
            {
                if (core.Graph is null) continue;
                var found = core.Is("Erf") ? MatchErf(core) : MatchTanh(core);
                if (found is not { } m || MatchTail(core, m.X) is not { } tail) continue;
                var nodes = m.Nodes.Concat(tail.Nodes).ToList();
                var gelu = graph.AddNodeWithFreshOutputs("Gelu", [m.X], 1, PassHelpers.Hint(tail.Last, "gelu"),
                    core.Is("Tanh") ? [Ir.Attribute.Of("approximate", "tanh")] : []);
                gelu.Output0.Type = tail.Last.Output0.Type;
                gelu.Output0.TypeInferred = tail.Last.Output0.TypeInferred;
                if (!PassHelpers.Bypass(graph, tail.Last, gelu.Output0))
                {
                    graph.RemoveNode(gelu);
                    continue;
                }
                // The rest in reverse order of evaluation: each node's outputs are unused once its readers are gone.
                foreach (var n in nodes.Where(n => n != tail.Last).Reverse()) graph.RemoveNode(n);
                changed = true;
                result.Count(core.Is("Erf") ? "fused_erf" : "fused_tanh");
            }
            if (changed) graph.SortTopologically();
        }
        return result;
    }

    /// <summary>Erf(x / sqrt 2) or Erf(x * (1/sqrt 2)): x and the nodes up to the Erf, in order.</summary>
    private static (Value X, List<Node> Nodes)? MatchErf(Node erf)
    {
        if (erf.Input(0) is not { Producer: { } scale } scaled || PassHelpers.SoleConsumer(scaled) != erf || !IsFloat(erf.Output0)) return null;
        Value? x = null;
        if (scale.Is("Div") && PassHelpers.NearConstant(PassHelpers.ScalarConstant(scale.Input(1)), Math.Sqrt(2))) x = scale.Input(0);
        else if (scale.Is("Mul"))
            for (int side = 0; side < 2 && x is null; side++)
                if (PassHelpers.NearConstant(PassHelpers.ScalarConstant(scale.Input(1 - side)), InverseSqrt2)) x = scale.Input(side);
        return x is null || x.ConstantValue is not null ? null : (x, [scale, erf]);
    }

    /// <summary>Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)): x and the nodes up to the Tanh, in order.</summary>
    private static (Value X, List<Node> Nodes)? MatchTanh(Node tanh)
    {
        if (tanh.Input(0) is not { Producer: { } outer } scaled || PassHelpers.SoleConsumer(scaled) != tanh || !outer.Is("Mul") || !IsFloat(tanh.Output0)) return null;
        Value? inner = ConstantFactor(outer, SqrtTwoOverPi);
        if (inner is not { Producer: { } sum } || PassHelpers.SoleConsumer(inner) != outer || !sum.Is("Add")) return null;
        for (int side = 0; side < 2; side++)
        {
            var x = sum.Input(side);
            if (x is null || x.ConstantValue is not null || sum.Input(1 - side) is not { Producer: { } scaleCube } scaledCube) continue;
            if (PassHelpers.SoleConsumer(scaledCube) != sum || !scaleCube.Is("Mul")) continue;
            if (ConstantFactor(scaleCube, CubeCoefficient) is not { Producer: { } cube } cubed || PassHelpers.SoleConsumer(cubed) != scaleCube) continue;
            if (cube.Is("Pow") && cube.Input(0) == x && PassHelpers.ScalarConstant(cube.Input(1)) == 3.0)
                return (x, [cube, scaleCube, sum, outer, tanh]);
            // x * (x * x), either order.
            if (cube.Is("Mul") && PassHelpers.OtherOperand(cube, x) is { Producer: { } squareNode } squared
                && squareNode.Is("Mul") && squareNode.Input(0) == x && squareNode.Input(1) == x && PassHelpers.SoleConsumer(squared) == cube)
                return (x, [squareNode, cube, scaleCube, sum, outer, tanh]);
        }
        return null;
    }

    /// <summary>
    /// From the Erf or Tanh (f) on: 1 + f, then x * (1 + f) * 0.5 in one of its groupings. The nodes in order and the
    /// last, whose output the Gelu takes over.
    /// </summary>
    private static (List<Node> Nodes, Node Last)? MatchTail(Node core, Value x)
    {
        if (PassHelpers.SoleConsumer(core.Output0) is not { } plusOne || !plusOne.Is("Add")
            || !PassHelpers.NearConstant(PassHelpers.ScalarConstant(PassHelpers.OtherOperand(plusOne, core.Output0)), 1)) return null;
        var onePlus = plusOne.Output0;
        if (PassHelpers.SoleConsumer(onePlus) is not { } times || !times.Is("Mul") || PassHelpers.OtherOperand(times, onePlus) is not { } factor) return null;
        // (x * (1 + f)) * 0.5
        if (factor == x && PassHelpers.SoleConsumer(times.Output0) is { } half && half.Is("Mul") && ConstantFactor(half, 0.5) == times.Output0)
            return ([plusOne, times, half], half);
        // (x * 0.5) * (1 + f): the halving reads x, and its output only this product.
        if (factor.Producer is { } xHalf && xHalf.Is("Mul") && PassHelpers.SoleConsumer(factor) == times && ConstantFactor(xHalf, 0.5) == x)
            return ([xHalf, plusOne, times], times);
        // x * ((1 + f) * 0.5)
        if (ConstantFactor(times, 0.5) == onePlus && PassHelpers.SoleConsumer(times.Output0) is { } outer && outer.Is("Mul")
            && PassHelpers.OtherOperand(outer, times.Output0) == x)
            return ([plusOne, times, outer], outer);
        return null;
    }

    /// <summary>The other operand of a Mul whose one operand is the scalar constant <paramref name="factor"/>, or null.</summary>
    private static Value? ConstantFactor(Node mul, double factor)
    {
        if (!mul.Is("Mul") || mul.Inputs.Count != 2) return null;
        for (int side = 0; side < 2; side++)
            if (PassHelpers.NearConstant(PassHelpers.ScalarConstant(mul.Input(side)), factor) && mul.Input(1 - side) is { ConstantValue: null } other)
                return other;
        return null;
    }

    private static bool IsFloat(Value v) => v.TensorType?.ElementType is DataType.Float;
}
