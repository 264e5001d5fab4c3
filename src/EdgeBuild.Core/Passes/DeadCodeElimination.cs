using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// Removes nodes whose outputs nobody reads, initializers nothing uses, and the value_info of values
/// that are gone. Graph inputs are the model's interface and always stay; so do the inputs and outputs of
/// If/Loop/Scan bodies (their positions are the op's contract), while the nodes inside a body that feed none of
/// its outputs go. Bodies are swept before the graphs around them: a body's dead node may be the last reader of
/// an outer value.
/// </summary>
public sealed class DeadCodeElimination : IPass
{
    public string Name => "dead-code-elimination";
    public string Description => "Unused nodes, initializers and value_info are removed";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        foreach (var graph in model.Graph.SelfAndSubgraphs().Reverse().ToList())
            SweepGraph(graph, result);
        return result;
    }

    private static void SweepGraph(Graph graph, PassResult result)
    {
        // Reverse order: removing a consumer can make its producers dead in the same sweep.
        for (int i = graph.Nodes.Count - 1; i >= 0; i--)
        {
            var node = graph.Nodes[i];
            if (node.Outputs.Any(o => o is not null && o.IsUsed)) continue;
            int valueInfos = node.Outputs.Count(o => o is not null && o.Type is not null && !o.TypeInferred);
            graph.RemoveNode(node);
            result.Count("nodes_removed");
            if (valueInfos > 0) result.Count("value_info_removed", valueInfos);
        }
        foreach (var v in graph.Initializers.Where(v => !v.IsUsed && !v.IsGraphInput).ToList())
        {
            graph.RemoveInitializer(v);
            result.Count("initializers_removed");
        }
    }
}
