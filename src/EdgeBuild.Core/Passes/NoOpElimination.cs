using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// Removes Reshape nodes whose output shape equals their input shape, and Cast nodes to the type the
/// input already has. Only shapes known for certain (all dims numbers) are compared. Runs in If/Loop/Scan
/// bodies too.
/// </summary>
public sealed class NoOpElimination : IPass
{
    public string Name => "noop-elimination";
    public string Description => "Reshape to the same shape and Cast to the same type are removed";

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
        }
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
