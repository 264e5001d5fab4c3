using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// Removes Reshape nodes whose output shape equals their input shape, and Cast nodes to the type the
/// input already has. Only shapes known for certain (all dims numbers) are compared. Also arithmetic with the
/// neutral constant (x + 0, x - 0, x * 1, x / 1) where the constant cannot broadcast x to a larger shape (a
/// position-id export adds 0), and a ReduceSum/Mean/Max/Min/Prod with noop_with_empty_axes and no axes. Runs in
/// If/Loop/Scan bodies too.
/// </summary>
public sealed class NoOpElimination : IPass
{
    public string Name => "noop-elimination";
    public string Description => "Reshape to the same shape, Cast to the same type, x+0, x-0, x*1, x/1 and no-op reductions are removed";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        foreach (var graph in model.Graph.SelfAndSubgraphs().ToList())
            EliminateIn(graph, result);
        return result;
    }

    private static void EliminateIn(Graph graph, PassResult result)
    {
        bool fixedShapes = PassHelpers.HasFixedShapes(graph);
        foreach (var node in graph.Nodes.ToList())
        {
            if (node.Graph is null || node.Input(0) is not { } input) continue;
            if (node.Is("Reshape") && fixedShapes && IsNoOpReshape(node, input))
            {
                if (PassHelpers.Bypass(graph, node, input)) result.Count("reshape_removed");
            }
            else if (node.Is("Cast") && input.TensorType is { ElementType: var et } && et != DataType.Undefined
                     && (long)et == node.GetInt("to", -1))
            {
                if (PassHelpers.Bypass(graph, node, input)) result.Count("cast_removed");
            }
            else if (NeutralOperand(node) is { } kept)
            {
                if (PassHelpers.Bypass(graph, node, kept)) result.Count("neutral_arithmetic_removed");
            }
            else if (IsNoOpReduction(node))
            {
                if (PassHelpers.Bypass(graph, node, input)) result.Count("reduction_removed");
            }
        }
    }

    /// <summary>
    /// A reduction told to do nothing: noop_with_empty_axes=1 (ReduceSum from opset 13, the rest from 18) and no axes, or
    /// an empty constant list. Only those whose no-op is the input itself: the spec's reference returns |x|, x^2, log x,
    /// ... for ReduceL1, ReduceSumSquare, ReduceLogSum, so they stay.
    /// </summary>
    private static bool IsNoOpReduction(Node node) =>
        node.OpType is "ReduceSum" or "ReduceMean" or "ReduceMax" or "ReduceMin" or "ReduceProd" && node.IsStandardDomain
        && node.GetInt("noop_with_empty_axes", 0) != 0 && node.GetAttribute("axes") is null
        && (node.Input(1) is null || node.Input(1)!.ConstantValue is { ElementCount: 0 });

    /// <summary>The operand an Add/Sub/Mul/Div passes through unchanged because the other is 0 or 1 everywhere; null otherwise.</summary>
    private static Value? NeutralOperand(Node node)
    {
        if (!node.IsStandardDomain || node.Inputs.Count != 2 || node.Input(0) is not { } a || node.Input(1) is not { } b) return null;
        (float neutral, bool commutes) = node.OpType switch
        {
            "Add" => (0f, true),
            "Sub" => (0f, false),
            "Mul" => (1f, true),
            "Div" => (1f, false),
            _ => (float.NaN, false),
        };
        if (float.IsNaN(neutral)) return null;
        if (IsNeutral(b, a, neutral)) return a;
        if (commutes && IsNeutral(a, b, neutral)) return b;
        return null;
    }

    /// <summary>True when <paramref name="constant"/> is <paramref name="neutral"/> everywhere, of x's type, and no larger in rank than x (so x's shape is the result's).</summary>
    private static bool IsNeutral(Value constant, Value x, float neutral)
    {
        if (constant.ConstantValue is not { } t || t.Strings is not null || t.ElementCount == 0) return false;
        if (x.TensorType?.ElementType is not { } et || et != t.ElementType) return false;
        if (t.ElementType is not (DataType.Float or DataType.Double or DataType.Float16 or DataType.Int64 or DataType.Int32)) return false;
        // A constant of higher rank, or with a dim above 1 where x has 1, would broadcast x up: then the node is not the identity.
        if (t.Dims.Any(d => d != 1) || (t.Rank > 0 && !(x.TensorType?.Shape is { } shape && shape.Rank >= t.Rank))) return false;
        return t.ToFloats().All(v => v == neutral);
    }

    private static bool IsNoOpReshape(Node node, Value input)
    {
        if (input.TensorType?.Shape is not { IsStatic: true } shape) return false;
        long[]? target;
        if (node.Inputs.Count > 1) target = node.Input(1)?.ConstantValue?.ToInt64s();
        else target = node.GetInts("shape"); // Reshape-1 kept the shape as an attribute
        if (target is null) return false;
        var resolved = ShapeInference.ReshapeShape(shape, target, node.GetInt("allowzero", 0) != 0);
        return resolved is not null && resolved.Equals(shape);
    }
}
