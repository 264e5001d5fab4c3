using EdgeBuild.Ir;

namespace EdgeBuild.Targets.Tflite.Ops;

/// <summary>How one ONNX op becomes TFLite: a check (null: convertible, else why not) and the conversion.</summary>
/// <param name="Check">Null when the node converts, else why not.</param>
/// <param name="Convert">Emits the TFLite ops and binds the node's outputs.</param>
/// <param name="ConstantInputs">Inputs read at conversion time (shapes, axes, pads, scales): they never become TFLite tensors.</param>
internal sealed record OpRule(Func<Node, string?> Check, Action<Node, TflConverter> Convert, int[]? ConstantInputs = null);

/// <summary>Every ONNX op the TFLite writer converts, from the op family files (one per family).</summary>
internal static class TflOpRegistry
{
    private static readonly Dictionary<string, OpRule> Rules = Build();

    private static Dictionary<string, OpRule> Build()
    {
        var rules = new Dictionary<string, OpRule>(StringComparer.Ordinal);
        foreach (var family in new[] { ConvOps.Rules(), MatMulOps.Rules(), ElementwiseOps.Rules(), ActivationOps.Rules(), PoolOps.Rules(), ShapeOps.Rules(), ResizeOps.Rules(), IndexOps.Rules() })
            foreach (var (op, rule) in family) rules.Add(op, rule);
        return rules;
    }

    /// <summary>The ONNX ops the writer knows (for docs and errors).</summary>
    public static IEnumerable<string> OpTypes => Rules.Keys.Order(StringComparer.Ordinal);

    /// <summary>Null when the node converts; otherwise why not ("" when the op is not supported at all).</summary>
    public static string? Unsupported(Node node)
    {
        if (!node.IsStandardDomain) return $"domain '{node.Domain}' is not ONNX";
        if (!Rules.TryGetValue(node.OpType, out var rule)) return "";
        foreach (var o in node.Outputs)
            if (o?.TensorType is { } t && t.ElementType is not (DataType.Float or DataType.Int64 or DataType.Int32 or DataType.Int8 or DataType.UInt8 or DataType.Bool))
                return $"output type {DataTypes.Name(t.ElementType)}";
        try
        {
            return rule.Check(node);
        }
        // A check reads attributes and constants as the ONNX spec types them; a corrupt model can hold anything there
        // (axes past the rank, a zero dim, group = 2^31-1): whatever a check trips over makes the node unsupported, named.
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException or NullReferenceException
            or DivideByZeroException or OverflowException or KeyNotFoundException or FormatException)
        {
            return $"its attributes or constant inputs are out of range ({e.GetType().Name}: {e.Message})";
        }
    }

    /// <summary>True when input <paramref name="index"/> of <paramref name="node"/> is read at conversion time only.</summary>
    public static bool ReadsConstantOnly(Node node, int index) =>
        Rules.TryGetValue(node.OpType, out var rule) && rule.ConstantInputs?.Contains(index) == true;

    public static void Convert(Node node, TflConverter converter) => Rules[node.OpType].Convert(node, converter);

    // ---- helpers shared by the families ----

    public static bool IsConst(Value? v) => v?.Initializer is not null;

    public static long[]? ConstInts(Value? v) => v?.Initializer is { } t && t.ElementType is DataType.Int64 or DataType.Int32 ? t.ToInt64s() : null;

    public static float[]? ConstFloats(Value? v) => v?.Initializer is { } t && DataTypes.IsFloatingPoint(t.ElementType) ? t.ToFloats() : null;

    public static int NormalizeAxis(long axis, int rank) => (int)(axis < 0 ? axis + rank : axis);

    public static string? RequireConst(Node n, int index, string what) =>
        n.Input(index) is { } v && v.Initializer is null ? $"{what} must be a constant" : null;
}
