using EdgeBuild.Ir;

namespace EdgeBuild.Targets.TensorRt;

/// <summary>
/// Which ONNX operators TensorRT's ONNX parser imports, per TensorRT major version, with the restrictions EdgeBuild can
/// check on a graph. Data, not logic.
/// Sources: onnx/onnx-tensorrt <c>docs/operators.md</c>, "Operator Support Matrix", at three releases: TensorRT 8.4
/// (commit 009d6541), used for every 8.x (8.5 and 8.6 import a few more operators, which this table therefore reports as
/// unsupported: conservative); TensorRT 9.2, the base of 10.x and 11.x (<see cref="AddedIn9"/>); TensorRT 10.15, whose
/// further operators count from 10.15 on (<see cref="AddedIn10_15"/>). Restrictions are the tables' "Restrictions" column
/// where a graph shows them.
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

    /// <summary>Operators the 9.2 table marks supported that the 8.4 table does not: imported by every 10.x and 11.x.</summary>
    private static readonly HashSet<string> AddedIn9 = new(StringComparer.Ordinal)
    {
        "CastLike", "GridSample", "GroupNormalization", "HardSwish", "Hardmax", "IsInf", "LayerNormalization",
        "MeanVarianceNormalization", "Mod", "NonZero", "OneHot", "RandomNormal", "RandomNormalLike", "Reciprocal", "RoiAlign",
        "Shrink", "Trilu",
    };

    /// <summary>Operators the 10.15 table marks supported that the 9.2 table does not (added somewhere in 10.x: counted from 10.15).</summary>
    private static readonly HashSet<string> AddedIn10_15 = new(StringComparer.Ordinal)
    {
        "Attention", "BlackmanWindow", "DeformConv", "Gelu", "HammingWindow", "HannWindow", "Mish", "RMSNormalization",
        "RotaryEmbedding", "STFT", "TensorScatter",
    };

    private static readonly HashSet<string> Pools = new(StringComparer.Ordinal) { "AveragePool", "MaxPool", "LpPool" };

    /// <summary>Why TensorRT <paramref name="version"/> cannot import <paramref name="node"/>; null when it can.</summary>
    public static string? Unsupported(Node node, TensorRtVersion version)
    {
        if (!node.IsStandardDomain)
            return $"operator domain '{node.Domain}' is not ONNX's: TensorRT needs a plugin for it";
        string op = node.OpType;
        bool known = Supported8.Contains(op)
            || (version.Major >= 10 && AddedIn9.Contains(op))
            || (version >= new TensorRtVersion(10, 15, 0) && AddedIn10_15.Contains(op));
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
                if (node.GetAttribute("dilations")?.Ints is { } dilations && dilations.Any(d => d != 1))
                    return $"{op} with dilations other than 1 is not supported";
                break;
            case "If" when node.GetAttribute("then_branch")?.Graph is { } then && node.GetAttribute("else_branch")?.Graph is { } otherwise:
                // The tables' restriction: the branches' outputs need different names, and broadcastable shapes (8.4, 9.2)
                // or the same rank (10.15; counted from there like the operators that table adds).
                for (int i = 0; i < Math.Min(then.Outputs.Count, otherwise.Outputs.Count); i++)
                {
                    if (then.Outputs[i].Name == otherwise.Outputs[i].Name)
                        return $"both branches return the same tensor '{then.Outputs[i].Name}' as output {i}: TensorRT needs the branches' outputs to have different names";
                    var (a, b) = (then.Outputs[i].TensorType?.Shape, otherwise.Outputs[i].TensorType?.Shape);
                    if (a is null || b is null) continue;
                    if (version >= new TensorRtVersion(10, 15, 0) && a.Rank != b.Rank)
                        return $"output {i} has rank {a.Rank} in then_branch and {b.Rank} in else_branch: TensorRT {version} needs the branches' outputs to have the same rank";
                    if (!Broadcasts(a, b))
                        return $"output {i} is {a} in then_branch and {b} in else_branch: TensorRT needs the branches' output shapes to broadcast";
                }
                break;
            case "Resize":
                string mode = node.GetAttribute("mode")?.StringValue ?? "nearest";
                if (mode == "cubic")
                    return "Resize mode 'cubic' is not supported (nearest and linear are)";
                if (node.GetInt("antialias", 0) != 0)
                    return "Resize with antialias is not supported";
                break;
        }
        return null;
    }

    private static int? RankOf(Value? v) => v?.TensorType?.Shape?.Rank;

    private static bool Broadcasts(Shape a, Shape b)
    {
        try
        {
            return ShapeInference.Broadcast(a, b) is not null;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
