using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// Turns Constant nodes of the main graph into initializers. Exporters such as paddle2onnx store every
/// weight as a Constant node; as initializers they are visible to the folding passes and to ONNX
/// Runtime's weight prepacking. Inside If/Loop/Scan bodies (Silero VAD keeps its LSTM weights as Constant nodes
/// in each branch) they become initializers of that body.
/// </summary>
public sealed class ConstantToInitializer : IPass
{
    public string Name => "constant-to-initializer";
    public string Description => "Constant nodes become initializers";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        foreach (var graph in model.Graph.SelfAndSubgraphs().ToList())
            ConvertIn(graph, result);
        return result;
    }

    private static void ConvertIn(Graph graph, PassResult result)
    {
        foreach (var node in graph.Nodes.Where(n => n.Is("Constant")).ToList())
        {
            var output = node.Outputs.Count > 0 ? node.Outputs[0] : null;
            if (output is null) continue;
            var tensor = ValueOf(node);
            if (tensor is null)
            {
                result.Note("unsupported");
                continue;
            }
            // A Constant whose output is a graph output keeps its node: ONNX outputs cannot be bare
            // initializers in every runtime, and the node costs nothing.
            if (output.IsGraphOutput)
            {
                result.Note("kept_graph_output");
                continue;
            }
            string name = output.Name;
            var declared = output.Type;
            var fresh = graph.AddInitializer(graph.UniqueName(name + "_const"), tensor);
            Graph.ReplaceAllUses(output, fresh);
            graph.RemoveNode(node);
            graph.Rename(fresh, name);
            if (declared is TensorType { Denotation: { } d }) fresh.Type = tensor.Type with { Denotation = d };
            result.Count("converted");
        }
    }

    /// <summary>The tensor a Constant node produces, from whichever value attribute it carries.</summary>
    internal static Tensor? ValueOf(Node node)
    {
        foreach (var a in node.Attributes)
        {
            switch (a.Name)
            {
                case "value" when a.Tensor is not null: return a.Tensor.WithDims(a.Tensor.Dims);
                case "sparse_value" when a.SparseTensor is not null:
                    try { return a.SparseTensor.ToDense(); }
                    catch (InvalidOperationException) { return null; }
                case "value_float": return Tensor.Scalar(a.Float);
                case "value_floats": return Tensor.FromFloats([a.Floats.Length], a.Floats);
                case "value_int": return Tensor.FromInt64s([], [a.Int]);
                case "value_ints": return Tensor.FromInt64s([a.Ints.Length], a.Ints);
                case "value_string": return Tensor.FromStrings([], [a.String]);
                case "value_strings": return Tensor.FromStrings([a.Strings.Length], a.Strings);
            }
        }
        return null;
    }
}
