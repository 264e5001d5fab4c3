using EdgeBuild.Ir;

namespace EdgeBuild.Devices;

/// <summary>
/// Which TFLite builtin operators an ONNX node becomes, so that a delegate's published list (written in builtin names)
/// can judge it before any .tflite file exists. The mapping follows TFLite's schema (<c>schema.fbs</c>, BuiltinOperator)
/// and what EdgeBuild's own converter emits (docs/tflite.md, the op table): attributes decide where one ONNX op has
/// several targets (a Conv with one group per channel is DEPTHWISE_CONV_2D; a Resize in linear mode RESIZE_BILINEAR).
/// An op that disappears in conversion (Identity, Dropout, Constant) maps to nothing; one with no builtin to null.
/// </summary>
public static class TfliteBuiltins
{
    private static readonly Dictionary<string, string[]> Direct = new(StringComparer.Ordinal)
    {
        ["Relu"] = ["RELU"], ["LeakyRelu"] = ["LEAKY_RELU"], ["PRelu"] = ["PRELU"], ["Elu"] = ["ELU"], ["Sigmoid"] = ["LOGISTIC"],
        ["Tanh"] = ["TANH"], ["HardSwish"] = ["HARD_SWISH"], ["Softmax"] = ["SOFTMAX"], ["LogSoftmax"] = ["LOG_SOFTMAX"], ["Gelu"] = ["GELU"],
        ["Add"] = ["ADD"], ["Sub"] = ["SUB"], ["Mul"] = ["MUL"], ["Div"] = ["DIV"], ["Sqrt"] = ["SQRT"], ["Reciprocal"] = ["DIV"],
        ["Abs"] = ["ABS"], ["Neg"] = ["NEG"], ["Exp"] = ["EXP"], ["Log"] = ["LOG"], ["Floor"] = ["FLOOR"], ["Ceil"] = ["CEIL"],
        ["Round"] = ["ROUND"], ["Max"] = ["MAXIMUM"], ["Min"] = ["MINIMUM"], ["Sin"] = ["SIN"], ["Cos"] = ["COS"],
        ["Equal"] = ["EQUAL"], ["Greater"] = ["GREATER"], ["GreaterOrEqual"] = ["GREATER_EQUAL"], ["Less"] = ["LESS"],
        ["LessOrEqual"] = ["LESS_EQUAL"], ["Not"] = ["LOGICAL_NOT"], ["And"] = ["LOGICAL_AND"], ["Or"] = ["LOGICAL_OR"],
        ["Where"] = ["SELECT_V2"], ["If"] = ["SELECT_V2"],
        ["MaxPool"] = ["MAX_POOL_2D"], ["AveragePool"] = ["AVERAGE_POOL_2D"], ["GlobalAveragePool"] = ["MEAN"], ["GlobalMaxPool"] = ["REDUCE_MAX"],
        ["ReduceMean"] = ["MEAN"], ["ReduceMax"] = ["REDUCE_MAX"], ["ReduceMin"] = ["REDUCE_MIN"], ["ReduceSum"] = ["SUM"], ["ReduceProd"] = ["REDUCE_PROD"],
        ["Reshape"] = ["RESHAPE"], ["Flatten"] = ["RESHAPE"], ["Squeeze"] = ["RESHAPE"], ["Unsqueeze"] = ["RESHAPE"],
        // docs/tflite.md, layouts: an ONNX Transpose emits nothing (it changes the layout its output is held in); TRANSPOSE
        // ops appear only where a consumer needs another layout, which this per-node view does not see.
        ["Transpose"] = [], ["Concat"] = ["CONCATENATION"], ["Slice"] = ["STRIDED_SLICE"], ["Gather"] = ["GATHER"],
        ["GatherND"] = ["GATHER_ND"], ["DepthToSpace"] = ["DEPTH_TO_SPACE"], ["SpaceToDepth"] = ["SPACE_TO_DEPTH"], ["Cast"] = ["CAST"],
        ["Shape"] = ["SHAPE"], ["Expand"] = ["BROADCAST_TO"], ["Tile"] = ["TILE"], ["ArgMax"] = ["ARG_MAX"], ["ArgMin"] = ["ARG_MIN"],
        ["TopK"] = ["TOPK_V2"], ["LSTM"] = ["UNIDIRECTIONAL_SEQUENCE_LSTM"], ["ConstantOfShape"] = ["FILL"], ["Range"] = ["RANGE"],
        ["CumSum"] = ["CUMSUM"], ["LRN"] = ["LOCAL_RESPONSE_NORMALIZATION"], ["ConvTranspose"] = ["TRANSPOSE_CONV"], ["Gemm"] = ["FULLY_CONNECTED"],
        ["Sum"] = ["ADD"], ["NonZero"] = ["WHERE"], ["ScatterND"] = ["SCATTER_ND"], ["Einsum"] = ["BATCH_MATMUL"],
        // Decompositions: TFLite has no single builtin, the converter writes these.
        ["BatchNormalization"] = ["MUL", "ADD"],
        ["LayerNormalization"] = ["MEAN", "SQUARED_DIFFERENCE", "MEAN", "ADD", "RSQRT", "MUL", "ADD"],
        ["InstanceNormalization"] = ["MEAN", "SQUARED_DIFFERENCE", "MEAN", "ADD", "RSQRT", "MUL", "ADD"],
        ["HardSigmoid"] = ["MUL", "ADD", "RELU_0_TO_1"],
        ["Identity"] = [], ["Dropout"] = [], ["Constant"] = [],
    };

    /// <summary>The builtins <paramref name="node"/> becomes; empty when it vanishes in conversion; null when TFLite has none for it.</summary>
    public static IReadOnlyList<string>? Of(Node node)
    {
        if (!node.IsStandardDomain) return null;
        switch (node.OpType)
        {
            case "Conv":
                int rank = node.Input(0)?.TensorType?.Shape?.Rank ?? 4;
                if (rank == 5) return ["CONV_3D"];
                long group = node.GetInt("group", 1);
                if (group == 1) return ["CONV_2D"];
                // Depthwise: one group per input channel (the weight's second dim is 1 then); other groups are split into
                // one CONV_2D each and concatenated (docs/tflite.md, the Conv row).
                return node.Input(1)?.ConstantValue?.Dims is { Length: >= 2 } w && w[1] == 1 ? ["DEPTHWISE_CONV_2D"] : ["SPLIT", "CONV_2D", "CONCATENATION"];
            case "MatMul":
                // A constant 2-D right operand is a fully-connected layer; two activations multiply in BATCH_MATMUL.
                return node.Input(1)?.ConstantValue?.Dims is { Length: 2 } ? ["FULLY_CONNECTED"] : ["BATCH_MATMUL"];
            case "Clip":
                var (low, high) = ClipBounds(node);
                return (low, high) switch
                {
                    (0, 6) => ["RELU6"],
                    (-1, 1) => ["RELU_N1_TO_1"],
                    (0, null) => ["RELU"],
                    _ => ["MAXIMUM", "MINIMUM"],
                };
            case "Pow":
                return node.Input(1)?.ConstantValue is { ElementCount: 1 } e ? e.ToFloats()[0] switch { 2f => ["SQUARE"], 0.5f => ["SQRT"], _ => ["POW"] } : ["POW"];
            case "Pad":
                return node.GetString("mode") is "reflect" or "edge" ? ["MIRROR_PAD"] : ["PAD"];
            case "Resize" or "Upsample":
                return node.GetString("mode") is "linear" or "bilinear" ? ["RESIZE_BILINEAR"] : ["RESIZE_NEAREST_NEIGHBOR"];
            case "Split":
                return ["SPLIT"];
            case "Erf":
                // x * 0.5 * (1 + erf(x / sqrt 2)) is converted as one GELU (the converter's GeluPattern); a lone Erf has no builtin.
                return node.Output0.Consumers.Any(c => c.Is("Add")) ? ["GELU"] : null;
        }
        return Direct.TryGetValue(node.OpType, out var builtins) ? builtins : null;
    }

    private static (float? Low, float? High) ClipBounds(Node node)
    {
        float? Bound(int input, string attribute) =>
            node.Input(input)?.ConstantValue is { ElementCount: 1 } t ? t.ToFloats()[0]
            : node.GetAttribute(attribute) is { Kind: AttributeKind.Float } a ? a.Float : null;
        return (Bound(1, "min"), Bound(2, "max"));
    }
}
