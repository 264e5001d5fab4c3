using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// Removes Identity nodes, and Dropout nodes in inference mode (their mask output unused), by pointing
/// their readers at their input. When the node's output is a graph output, its producer takes the name.
/// Runs in If/Loop/Scan bodies too, where a body output keeps its node when its input cannot take the name
/// (a body input or a value of the enclosing scope).
/// </summary>
public sealed class IdentityElimination : IPass
{
    public string Name => "identity-elimination";
    public string Description => "Identity and inference-mode Dropout nodes are removed";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        foreach (var graph in model.Graph.SelfAndSubgraphs().ToList())
            EliminateIn(graph, result);
        return result;
    }

    private static void EliminateIn(Graph graph, PassResult result)
    {
        foreach (var node in graph.Nodes.ToList())
        {
            if (node.Graph is null) continue;
            bool identity = node.Is("Identity");
            bool dropout = node.Is("Dropout") && IsInferenceDropout(node);
            if (!identity && !dropout) continue;
            if (node.Input(0) is not { } input || node.Outputs.Count == 0 || node.Outputs[0] is null) continue;
            // Identity over sequences or optionals is as removable as over tensors.
            if (PassHelpers.Bypass(graph, node, input)) result.Count(identity ? "identity_removed" : "dropout_removed");
            else result.Note("kept_at_graph_boundary");
        }
    }

    /// <summary>Dropout is the identity when not training: no training_mode input set to true, mask unused.</summary>
    private static bool IsInferenceDropout(Node node)
    {
        if (!PassHelpers.OnlyFirstOutputUsed(node)) return false;
        if (node.Input(2) is { } trainingMode)
        {
            var t = trainingMode.ConstantValue;
            if (t is null || t.ToInt64s().Any(v => v != 0)) return false;
        }
        // Before opset 7, is_test=0 meant training; still the identity at inference in ONNX Runtime.
        return true;
    }
}
