using EdgeBuild.Ir;
using IrAttribute = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Quantization;

/// <summary>Small graph edits the quantizers share.</summary>
internal static class GraphEdits
{
    /// <summary>
    /// Puts nodes behind a graph output without changing the model's interface: the output value is renamed,
    /// <paramref name="build"/> makes the new result from it, and the result takes over the output's name and
    /// its declared type (<paramref name="outputType"/> when given). Returns the result.
    /// </summary>
    public static Value AppendToGraphOutput(Graph graph, Value output, string suffix, Func<Value, Value> build, Ir.ValueType? outputType = null)
    {
        string name = output.Name;
        var declared = output.TypeInferred ? null : output.Type;
        graph.Rename(output, graph.UniqueName(name + suffix));
        var result = build(output);
        graph.Rename(result, name);
        graph.ReplaceOutput(output, result);
        result.Type = outputType ?? declared ?? output.Type;
        result.TypeInferred = false;
        return result;
    }

    /// <summary>A Cast of <paramref name="value"/> to <paramref name="to"/>, named after the value.</summary>
    public static Value Cast(Graph graph, Value value, DataType to, string suffix)
    {
        var node = graph.AddNodeWithFreshOutputs("Cast", [value], 1, value.Name + suffix, [IrAttribute.Of("to", (long)to)]);
        return node.Output0;
    }

    public static Value Initializer(Graph graph, string hint, Tensor tensor) => graph.AddInitializer(graph.UniqueName(hint), tensor);

    /// <summary>True for a float32 tensor whose element type is known.</summary>
    public static bool IsFloat32(Value? v) => v?.TensorType?.ElementType == DataType.Float;
}
