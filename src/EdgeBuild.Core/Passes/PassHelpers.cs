using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// Preconditions shared by the fusion passes. The classic fusion bug (ONNX Runtime issues 4110, 15109) is
/// fusing away a tensor that someone else still reads; every pass asks these helpers instead.
/// </summary>
internal static class PassHelpers
{
    /// <summary>True when <paramref name="value"/> is read by <paramref name="node"/> alone (once) and is not a graph output.</summary>
    public static bool IsOnlyConsumedBy(Value value, Node node) =>
        !value.IsGraphOutput && value.Uses.Count == 1 && value.Uses[0].Node == node;

    /// <summary>A float32 constant (an initializer that is not an overridable graph input), or null.</summary>
    public static Tensor? FloatConstant(Value? value) =>
        value?.ConstantValue is { ElementType: DataType.Float } t ? t : null;

    /// <summary>True when every output but the first is absent or unused.</summary>
    public static bool OnlyFirstOutputUsed(Node node) =>
        node.Outputs.Skip(1).All(o => o is null || !o.IsUsed);

    /// <summary>Adds a float initializer with a fresh name based on <paramref name="hint"/>.</summary>
    public static Value AddFloatInitializer(Graph graph, string hint, long[] dims, float[] data) =>
        graph.AddInitializer(graph.UniqueName(hint), Tensor.FromFloats(dims, data));

    /// <summary>
    /// True when a shape inside <paramref name="graph"/> is the same whenever the graph runs: the main graph and If
    /// branches (each runs at most once per run of the graph around it). A Loop or Scan body runs once per iteration;
    /// its declared shapes may be those of the traced iteration, so no pass decides anything from them.
    /// </summary>
    public static bool HasFixedShapes(Graph graph)
    {
        for (var g = graph; g.Parent is { } parent; g = parent)
            if (parent.Nodes.FirstOrDefault(n => n.Subgraphs.Contains(g)) is not { } owner || !owner.Is("If")) return false;
        return true;
    }

    /// <summary>The one number a constant of one element holds (any numeric type), or null.</summary>
    public static double? ScalarConstant(Value? value) =>
        value?.ConstantValue is { ElementCount: 1, Strings: null } t && t.ElementType is DataType.Float or DataType.Double or DataType.Float16
            or DataType.Int64 or DataType.Int32 ? t.ToFloats()[0] : null;

    /// <summary>True when <paramref name="actual"/> is <paramref name="expected"/> up to float32 rounding of a constant written in a few digits.</summary>
    public static bool NearConstant(double? actual, double expected) =>
        actual is double a && Math.Abs(a - expected) <= 1e-5 * Math.Abs(expected);

    /// <summary>The input of a two-input node that is not <paramref name="known"/> (null when neither or both are).</summary>
    public static Value? OtherOperand(Node node, Value known) =>
        node.Inputs.Count != 2 || node.Input(0) == node.Input(1) ? null
            : node.Input(0) == known ? node.Input(1) : node.Input(1) == known ? node.Input(0) : null;

    /// <summary>The one node reading <paramref name="value"/> (once), when the value is not also a graph output; else null.</summary>
    public static Node? SoleConsumer(Value? value) =>
        value is { IsGraphOutput: false, Uses.Count: 1 } ? value.Uses[0].Node : null;

    /// <summary>A name hint for values derived from <paramref name="node"/>.</summary>
    public static string Hint(Node node, string suffix) =>
        (node.Name.Length > 0 ? node.Name : node.Outputs.FirstOrDefault(o => o is not null)?.Name ?? node.OpType) + "_" + suffix;

    /// <summary>
    /// Replaces <paramref name="node"/>'s first output by <paramref name="replacement"/> and removes the node.
    /// False (nothing changed) when the output is a graph output that cannot be renamed onto the replacement.
    /// </summary>
    public static bool Bypass(Graph graph, Node node, Value replacement)
    {
        if (!OnlyFirstOutputUsed(node)) return false;
        if (!graph.TrySubstitute(node.Output0, replacement)) return false;
        graph.RemoveNode(node);
        return true;
    }
}
