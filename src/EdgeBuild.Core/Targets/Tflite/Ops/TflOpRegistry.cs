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
        foreach (var family in new[] { ConvOps.Rules(), MatMulOps.Rules(), ElementwiseOps.Rules(), ActivationOps.Rules(), PoolOps.Rules(), ShapeOps.Rules(), ResizeOps.Rules(), NormalizationOps.Rules(), IndexOps.Rules(), RecurrentOps.Rules(), ControlFlowOps.Rules() })
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
        int required = RequiredInputs.GetValueOrDefault(node.OpType, 1);
        for (int i = 0; i < required; i++)
            if (node.Input(i) is null) return $"input {i} of the {required} the ONNX spec requires is missing";
        // These ops give their input's shape; the converters lay the output out by the input's layout, so a corrupt node
        // whose output was declared with another shape (an op type changed, the graph output kept) is refused by name.
        if (ShapePreserving.Contains(node.OpType) && node.Outputs.Count > 0 && node.Outputs[0]?.TensorType?.Shape is { } outShape
            && (node.Input(0)!.Initializer?.Dims ?? (node.Input(0)!.TensorType?.Shape is { IsStatic: true } inShape ? inShape.ToArray() : null)) is { } inDims
            && (outShape.Rank != inDims.Length || outShape.Dims.Where((d, i) => d.Value is long v && v != inDims[i]).Any()))
            return $"output shape {outShape} is not the input's [{string.Join(",", inDims)}]";
        foreach (var o in node.Outputs)
            if (o?.TensorType is { } t && t.ElementType is not (DataType.Float or DataType.Int64 or DataType.Int32 or DataType.Int8 or DataType.UInt8 or DataType.Bool))
                return $"output type {DataTypes.Name(t.ElementType)}";
        try
        {
            return AttributesOutOfRange(node) ?? rule.Check(node);
        }
        // A check reads attributes and constants as the ONNX spec types them; a corrupt model can hold anything there
        // (axes past the rank, a zero dim, group = 2^31-1): whatever a check trips over makes the node unsupported, named.
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException or NullReferenceException
            or DivideByZeroException or OverflowException or KeyNotFoundException or FormatException)
        {
            return $"its attributes or constant inputs are out of range ({e.GetType().Name}: {e.Message})";
        }
    }

    /// <summary>
    /// Inputs the ONNX spec requires, where more than the first (every op here reads input 0); the converters read them
    /// without a null check, so a corrupt node that lacks one is refused here by name.
    /// </summary>
    private static readonly Dictionary<string, int> RequiredInputs = new(StringComparer.Ordinal)
    {
        ["Conv"] = 2, ["ConvTranspose"] = 2, ["Gemm"] = 2, ["MatMul"] = 2, ["PRelu"] = 2,
        ["Add"] = 2, ["Sub"] = 2, ["Mul"] = 2, ["Div"] = 2, ["Pow"] = 2,
        ["Equal"] = 2, ["Less"] = 2, ["LessOrEqual"] = 2, ["Greater"] = 2, ["GreaterOrEqual"] = 2,
        ["Expand"] = 2, ["Tile"] = 2, ["Reshape"] = 2, ["Gather"] = 2, ["Where"] = 3, ["BatchNormalization"] = 5, ["LayerNormalization"] = 2,
    };

    private static readonly HashSet<string> ShapePreserving = new(StringComparer.Ordinal)
    {
        "Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid", "Softmax", "LogSoftmax", "Exp", "Sqrt", "Log",
        "Neg", "Abs", "Floor", "Ceil", "Round", "Gelu", "Elu", "Identity", "Dropout", "Cast", "LayerNormalization",
    };

    private static readonly HashSet<string> WindowOps = new(StringComparer.Ordinal) { "Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool" };

    /// <summary>
    /// The ranges the ONNX spec gives attribute values, which the converters index and size arrays by: axes within the rank,
    /// window sizes, strides and dilations positive, pads non-negative, one per spatial edge, perm a permutation, group
    /// dividing the channels. Null when all hold; a corrupt model (group = 2^31-1, axis 99) is refused here by name.
    /// </summary>
    private static string? AttributesOutOfRange(Node node)
    {
        int? inRank = node.Input(0) is { } x ? x.Initializer?.Rank ?? x.TensorType?.Shape?.Rank : null;
        int? outRank = node.Outputs.Count > 0 ? node.Outputs[0]?.TensorType?.Shape?.Rank : null;
        int rank = Math.Max(inRank ?? 0, outRank ?? 0);
        bool window = WindowOps.Contains(node.OpType);
        foreach (var a in node.Attributes)
        {
            switch (a.Name)
            {
                case "axis" when a.Kind == AttributeKind.Int && (inRank is not null || outRank is not null):
                    // Flatten's axis may equal the rank.
                    if (a.Int < -rank || a.Int > rank) return $"axis {a.Int} outside a rank-{rank} tensor";
                    break;
                case "axes" when a.Kind == AttributeKind.Ints && (inRank is not null || outRank is not null):
                    if (a.Ints.Any(v => v < -rank || v >= rank)) return $"axes [{string.Join(",", a.Ints)}] outside a rank-{rank} tensor";
                    break;
                case "kernel_shape" or "strides" or "dilations" when a.Kind == AttributeKind.Ints:
                    if (a.Ints.Any(v => v < 1 || v > int.MaxValue)) return $"{a.Name} [{string.Join(",", a.Ints)}] must be positive";
                    if (window && inRank is int r1 && a.Ints.Length != r1 - 2) return $"{a.Name} has {a.Ints.Length} values for {r1 - 2} spatial dims";
                    break;
                case "pads" when a.Kind == AttributeKind.Ints && window:
                    if (a.Ints.Any(v => v < 0 || v > int.MaxValue)) return $"pads [{string.Join(",", a.Ints)}] must be non-negative";
                    if (inRank is int r2 && a.Ints.Length != 2 * (r2 - 2)) return $"pads has {a.Ints.Length} values for {r2 - 2} spatial dims";
                    break;
                case "output_padding" or "output_shape" when a.Kind == AttributeKind.Ints:
                    if (a.Ints.Any(v => v < 0 || v > int.MaxValue)) return $"{a.Name} [{string.Join(",", a.Ints)}] out of range";
                    break;
                case "perm" when a.Kind == AttributeKind.Ints:
                    if (a.Ints.Length != rank || a.Ints.Any(v => v < 0 || v >= rank) || a.Ints.Distinct().Count() != a.Ints.Length)
                        return $"perm [{string.Join(",", a.Ints)}] is not a permutation of a rank-{rank} tensor's axes";
                    break;
                case "group" when a.Kind == AttributeKind.Int:
                    long channels = node.Input(0)?.TensorType?.Shape is { Rank: > 1 } s && s[1].Value is long c ? c : -1;
                    if (a.Int < 1 || a.Int > int.MaxValue || (channels > 0 && channels % a.Int != 0))
                        return $"group {a.Int} does not divide the {(channels > 0 ? channels.ToString(System.Globalization.CultureInfo.InvariantCulture) : "input")} channels";
                    break;
                case "blocksize" when a.Kind == AttributeKind.Int:
                    if (a.Int < 1 || a.Int > int.MaxValue) return $"blocksize {a.Int} must be positive";
                    break;
            }
        }
        return null;
    }

    /// <summary>True when input <paramref name="index"/> of <paramref name="node"/> is read at conversion time only.</summary>
    public static bool ReadsConstantOnly(Node node, int index) =>
        Rules.TryGetValue(node.OpType, out var rule) && rule.ConstantInputs?.Contains(index) == true;

    public static void Convert(Node node, TflConverter converter)
    {
        // Patterns that span several nodes are tried at their first node, before that node's own rule.
        if (GeluPattern.TryConvert(node, converter)) return;
        Rules[node.OpType].Convert(node, converter);
    }

    // ---- helpers shared by the families ----

    public static bool IsConst(Value? v) => v?.Initializer is not null;

    public static long[]? ConstInts(Value? v) => v?.Initializer is { } t && t.ElementType is DataType.Int64 or DataType.Int32 ? t.ToInt64s() : null;

    public static float[]? ConstFloats(Value? v) => v?.Initializer is { } t && DataTypes.IsFloatingPoint(t.ElementType) ? t.ToFloats() : null;

    public static int NormalizeAxis(long axis, int rank) => (int)(axis < 0 ? axis + rank : axis);

    public static string? RequireConst(Node n, int index, string what) =>
        n.Input(index) is { } v && v.Initializer is null ? $"{what} must be a constant" : null;
}
