using System.Globalization;
using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// What constant folding may evaluate at build time: each result within <see cref="OptimizeOptions.MaxFoldingResultBytes"/>,
/// the region within <see cref="OptimizeOptions.MaxFoldingRegionBytes"/>, each MatMul/Gemm/convolution within
/// <see cref="OptimizeOptions.MaxFoldingMacs"/>, all judged from inferred shapes before ONNX Runtime runs anything.
/// A result whose size shape inference does not know is folded only for ops whose output cannot outgrow their inputs.
/// </summary>
internal static class FoldingBudget
{
    /// <summary>Ops whose output has at most as many elements as their inputs together (or a handful more, Shape and Size).</summary>
    private static readonly HashSet<string> NotGrowing = new(StringComparer.Ordinal)
    {
        "Identity", "Cast", "CastLike", "Relu", "Sigmoid", "Tanh", "Neg", "Abs", "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil",
        "Round", "Sign", "Not", "Erf", "Sin", "Cos", "IsNaN", "IsInf", "Clip", "Softmax", "LogSoftmax", "Dropout",
        "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Slice", "GatherElements", "Split", "Concat",
        "Shape", "Size", "NonZero", "ArgMax", "ArgMin", "TopK", "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd",
        "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "CumSum", "Compress", "ScatterND", "ScatterElements",
    };

    /// <summary>Null when <paramref name="node"/> may be folded (its bytes added to <paramref name="regionBytes"/>), else why not.</summary>
    public static string? Exceeded(Node node, OptimizeOptions options, ref long regionBytes)
    {
        long bytes = 0;
        foreach (var o in node.Outputs)
        {
            if (o is null) continue;
            if (o.TensorType is not { Shape: { } shape } type || shape.ElementCount() is not long count)
            {
                if (NotGrowing.Contains(node.OpType)) continue;
                return "has a result of a size not known before running it";
            }
            long size = Saturating(count, Math.Max(1, DataTypes.BitsPerElement(type.ElementType) / 8));
            if (size > options.MaxFoldingResultBytes)
                return $"would produce {Mib(size)} MiB, over the {Mib(options.MaxFoldingResultBytes)} MiB folding budget";
            bytes += size;
        }
        if (Macs(node) is long macs && macs > options.MaxFoldingMacs)
            return $"would take {macs.ToString("E1", CultureInfo.InvariantCulture)} multiply-adds, over the folding budget of {options.MaxFoldingMacs.ToString("E1", CultureInfo.InvariantCulture)}";
        if (regionBytes + bytes > options.MaxFoldingRegionBytes)
            return $"would bring the constant region to {Mib(regionBytes + bytes)} MiB, over the {Mib(options.MaxFoldingRegionBytes)} MiB folding budget";
        regionBytes += bytes;
        return null;
    }

    /// <summary>Multiply-adds of a MatMul, Gemm, Conv or ConvTranspose from its output size and reduction length; null for other ops.</summary>
    private static long? Macs(Node node)
    {
        if (node.Outputs.Count == 0 || node.Outputs[0]?.TensorType?.Shape?.ElementCount() is not long outputs) return null;
        long[]? a = Dims(node.Input(0));
        long[]? w = Dims(node.Input(1));
        long reduction = node.OpType switch
        {
            "MatMul" or "MatMulInteger" => a is { Length: > 0 } ? a[^1] : long.MaxValue,
            "Gemm" => a is { Length: 2 } ? (node.GetInt("transA", 0) != 0 ? a[0] : a[1]) : long.MaxValue,
            "Conv" or "ConvInteger" => w is { Length: > 1 } ? Product(w.Skip(1)) : long.MaxValue,
            // Each input element is spread over C_out/group x kernel outputs: input count x that, over output count.
            "ConvTranspose" => w is { Length: > 1 } && a is not null ? Saturating(Product(a), Product(w.Skip(1))) / Math.Max(1, outputs) : long.MaxValue,
            "Einsum" => long.MaxValue,
            _ => -1,
        };
        if (reduction < 0) return null;
        return Saturating(outputs, Math.Max(1, reduction));
    }

    private static long[]? Dims(Value? v) => v?.ConstantValue?.Dims ?? (v?.TensorType?.Shape is { IsStatic: true } s ? s.ToArray() : null);

    private static long Product(IEnumerable<long> dims) => dims.Aggregate(1L, (n, d) => Saturating(n, Math.Max(d, 0)));

    private static long Saturating(long a, long b) => b != 0 && a > long.MaxValue / b ? long.MaxValue : a * b;

    private static string Mib(long bytes) => (bytes / (1024.0 * 1024.0)).ToString(bytes < 10L << 20 ? "0.#" : "0", CultureInfo.InvariantCulture);
}
