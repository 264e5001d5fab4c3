using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// Replaces an If whose condition is a constant by the branch it always takes: the branch's nodes and initializers
/// move into the graph around the If, and the If's readers read the branch's outputs. The other branch is dropped.
/// Voice-activity models branch on the sample rate; with the rate fixed (a constant input, or folded from shapes)
/// the If and its scope boundary disappear and every pass sees the branch's nodes. An If output that is a graph
/// output keeps its name (an Identity carries it where the branch returns an input or a constant).
/// </summary>
public sealed class ConstantIfInlining : IPass
{
    public string Name => "constant-if-inlining";
    public string Description => "An If with a constant condition is replaced by the branch it takes";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        // One at a time, each from a fresh walk: inlining moves bodies between scopes and drops the other branch.
        while (NextInlinable(model.Graph) is { } found)
        {
            Inline(model.Graph, found.Graph, found.If, found.Taken, found.Dropped);
            result.Count("if_inlined");
        }
        return result;
    }

    private static (Graph Graph, Node If, Graph Taken, Graph Dropped)? NextInlinable(Graph root)
    {
        foreach (var graph in root.SelfAndSubgraphs())
            foreach (var node in graph.Nodes)
            {
                if (!node.Is("If") || Condition(node) is not bool condition) continue;
                if (node.GetAttribute("then_branch")?.Graph is not { } thenBranch || node.GetAttribute("else_branch")?.Graph is not { } elseBranch) continue;
                var taken = condition ? thenBranch : elseBranch;
                if (taken.Inputs.Count > 0 || taken.Outputs.Count != node.Outputs.Count) continue;
                // An If output that a body returns from the outer scope has its graph-output slot in that body,
                // where it cannot be renamed: such an If stays.
                if (node.Outputs.Any(o => o is { IsGraphOutput: true } && graph.Outputs.Count(x => x == o) != 1)) continue;
                return (graph, node, taken, condition ? elseBranch : thenBranch);
            }
        return null;
    }

    /// <summary>The condition when it is a one-element constant (an initializer or a Constant node), else null.</summary>
    private static bool? Condition(Node ifNode)
    {
        if (ifNode.Input(0) is not { } cond) return null;
        var tensor = cond.ConstantValue ?? (cond.Producer is { } p && p.Is("Constant") ? ConstantToInitializer.ValueOf(p) : null);
        if (tensor is null || tensor.ElementCount != 1 || tensor.Strings is not null) return null;
        return tensor.Raw.Any(b => b != 0);
    }

    private static void Inline(Graph root, Graph graph, Node ifNode, Graph taken, Graph dropped)
    {
        ifNode.RemoveAttribute("then_branch");
        ifNode.RemoveAttribute("else_branch");
        foreach (var n in dropped.Nodes) n.DetachInputs();
        graph.AdoptContentsOf(taken);

        // A value is flagged as a graph output while any graph returns it; the two bodies no longer do.
        var returned = new HashSet<Value>(root.SelfAndSubgraphs().SelectMany(g => g.Outputs));
        foreach (var v in taken.Outputs.Concat(dropped.Outputs)) v.IsGraphOutput = returned.Contains(v);

        for (int i = 0; i < ifNode.Outputs.Count; i++)
        {
            if (ifNode.Outputs[i] is not { } output) continue;
            var replacement = taken.Outputs[i];
            if (graph.TrySubstitute(output, replacement)) continue;
            // The If output is a graph output and the branch returns something that cannot take its name (an
            // input, a constant, a value another output already took): an Identity holds the name.
            var carrier = graph.AddNodeWithFreshOutputs("Identity", [replacement], 1, output.Name + "_inlined").Output0;
            if (!graph.TrySubstitute(output, carrier))
                throw new InvalidOperationException($"constant-if-inlining: output '{output.Name}' of {ifNode} could not be replaced");
        }
        graph.RemoveNode(ifNode);
        graph.SortTopologically();
    }
}
