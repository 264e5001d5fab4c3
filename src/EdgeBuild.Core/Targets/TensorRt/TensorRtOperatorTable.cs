using EdgeBuild.Ir;

namespace EdgeBuild.Targets.TensorRt;

/// <summary>
/// Which ONNX operators TensorRT's ONNX parser imports, per TensorRT major version, with the restrictions EdgeBuild can
/// check on a graph. Data, not logic.
/// Sources: onnx/onnx-tensorrt <c>docs/operators.md</c>, "Operator Support Matrix": the TensorRT 8.4 release of the
/// table (commit 009d6541) for every 8.x release (8.5 and 8.6 import a few more operators, which this table therefore
/// reports as unsupported: conservative), and for 10.x/11.x that table plus the operators the 10.x releases of the
/// table and the onnx-tensorrt changelog add (listed in <see cref="AddedIn10"/>).
/// </summary>
internal static class TensorRtOperatorTable
{
    /// <summary>Operators the 8.4 table marks supported ("Y").</summary>
    private static readonly HashSet<string> Supported8 = new(StringComparer.Ordinal)
    {
        "Abs", "Acos", "Acosh", "Add", "And", "ArgMax", "ArgMin", "Asin", "Asinh", "Atan", "Atanh", "AveragePool",
        "BatchNormalization", "Cast", "Ceil", "Celu", "Clip", "Concat", "Constant", "ConstantOfShape", "Conv", "ConvTranspose",
        "Cos", "Cosh", "CumSum", "DepthToSpace", "DequantizeLinear", "Div", "Dropout", "Einsum", "Elu", "Equal", "Erf", "Exp",
        "Expand", "EyeLike", "Flatten", "Floor", "Gather", "GatherElements", "GatherND", "Gemm", "GlobalAveragePool",
        "GlobalLpPool", "GlobalMaxPool", "Greater", "GreaterOrEqual", "GRU", "HardSigmoid", "Identity", "If", "ImageScaler",
        "InstanceNormalization", "IsNaN", "LeakyRelu", "Less", "LessOrEqual", "Log", "LogSoftmax", "Loop", "LRN", "LSTM",
        "LpNormalization", "LpPool", "MatMul", "Max", "MaxPool", "Mean", "Min", "Mul", "Neg", "NonMaxSuppression", "Not", "Or",
        "Pad", "ParametricSoftplus", "Pow", "PRelu", "QuantizeLinear", "RandomUniform", "RandomUniformLike", "Range",
        "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd",
        "ReduceSum", "ReduceSumSquare", "Relu", "Reshape", "Resize", "ReverseSequence", "RNN", "Round", "ScaledTanh", "Scan",
        "Scatter", "ScatterElements", "ScatterND", "Selu", "Shape", "Sigmoid", "Sign", "Sin", "Sinh", "Size", "Slice", "Softmax",
        "Softplus", "Softsign", "SpaceToDepth", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Tan", "Tanh", "ThresholdedRelu",
        "Tile", "TopK", "Transpose", "Unsqueeze", "Upsample", "Where", "Xor",
    };

    /// <summary>Operators TensorRT 10 imports that the 8.4 table does not.</summary>
    private static readonly HashSet<string> AddedIn10 = new(StringComparer.Ordinal)
    {
        "Gelu", "GridSample", "GroupNormalization", "HardSwish", "Hardmax", "IsInf", "LayerNormalization", "Mod", "NonZero",
        "OneHot", "RandomNormal", "RandomNormalLike", "Reciprocal", "RoiAlign", "Trilu",
    };

    private static readonly HashSet<string> Pools = new(StringComparer.Ordinal) { "AveragePool", "MaxPool", "LpPool" };

    /// <summary>Why TensorRT <paramref name="version"/> cannot import <paramref name="node"/>; null when it can.</summary>
    public static string? Unsupported(Node node, TensorRtVersion version)
    {
        if (!node.IsStandardDomain)
            return $"operator domain '{node.Domain}' is not ONNX's: TensorRT needs a plugin for it";
        string op = node.OpType;
        bool known = Supported8.Contains(op) || (version.Major >= 10 && AddedIn10.Contains(op));
        if (!known)
            return $"{op} is not in TensorRT {version.Major}.x's ONNX operator table";
        switch (op)
        {
            case "Conv" or "ConvTranspose":
                if (node.Input(1) is { } w && w.ConstantValue is null && w.Producer?.OpType != "DequantizeLinear")
                    return "weights must be an initializer";
                if (RankOf(node.Input(0)) is int r && r is not (4 or 5) && version.Major < 10)
                    return $"{op} on rank-{r} input: TensorRT {version.Major}.x imports 2D or 3D convolutions only";
                break;
            case var pool when Pools.Contains(pool):
                if (RankOf(node.Input(0)) is int pr && pr is not (4 or 5))
                    return $"{op} on rank-{pr} input: 2D or 3D pooling only";
                if (op == "MaxPool" && node.Outputs.Count > 1 && node.Outputs[1] is { IsUsed: true } or { IsGraphOutput: true })
                    return "MaxPool's Indices output is not supported";
                break;
            case "Resize":
                string mode = node.GetAttribute("mode")?.StringValue ?? "nearest";
                if (mode == "cubic" && version.Major < 10)
                    return $"Resize mode 'cubic' is not supported before TensorRT 10 (nearest and linear are)";
                break;
        }
        return null;
    }

    private static int? RankOf(Value? v) => v?.TensorType?.Shape?.Rank;
}
