using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Operators.TensorRt;

/// <summary>
/// The per-op rules of <see cref="QdqPlacement.TensorRt"/>: where TensorRT's explicit quantization wants Q/DQ pairs.
/// TensorRT's developer guide ("Q/DQ layer-placement recommendations") asks for Q/DQ on all inputs of weighted
/// operations, on the residual input of element-wise additions that follow them, and not on the outputs of weighted
/// operations: its optimizer propagates and fuses the pairs itself. An op not listed gets no pair (it runs in the
/// build's float precision, FP16 on the device).
/// </summary>
internal static class TensorRtQuantizerRegistry
{
    private static readonly OpQuantizer[] Quantizers =
    [
        new WeightedLayerInputQuantizer(),
        new ResidualAddQuantizer(),
        new PoolInputQuantizer(),
    ];

    private static readonly OpQuantizer Fallback = new DefaultQuantizer();

    private static readonly Dictionary<string, OpQuantizer> ByOpType = Quantizers
        .SelectMany(q => q.OpTypes.Select(op => (op, q)))
        .ToDictionary(p => p.op, p => p.q, StringComparer.Ordinal);

    public static OpQuantizer For(Node node) =>
        node.IsStandardDomain && ByOpType.TryGetValue(node.OpType, out var q) ? q : Fallback;

    private static readonly HashSet<string> PointwiseActivations = new(StringComparer.Ordinal)
    {
        "Relu", "Clip", "LeakyRelu", "PRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu",
    };

    /// <summary>
    /// True when <paramref name="v"/> is made by a layer that runs in INT8 here (a quantized weighted layer or residual Add),
    /// possibly through pointwise activations TensorRT fuses into it: then a pair on <paramref name="v"/> lets that layer
    /// write INT8. A tensor from a layer kept in float gets no pair from the ops downstream of it, so keeping a layer
    /// in float keeps its neighbourhood float too.
    /// </summary>
    public static bool FedByInt8Layer(Value? v, QdqPlan plan)
    {
        for (int depth = 0; v?.Producer is { } p && depth < 8; depth++)
        {
            if (!p.IsStandardDomain) return false;
            if (IsWeightedLayer(p) || p.OpType == "Add") return plan.QuantizedNodes.Contains(p);
            if (!PointwiseActivations.Contains(p.OpType)) return false;
            v = p.Input(0);
        }
        return false;
    }

    /// <summary>The layers TensorRT runs with weights that Q/DQ can quantize (and whose outputs an Add can fuse with).</summary>
    public static bool IsWeightedLayer(Node? node) =>
        node is not null && node.IsStandardDomain && node.OpType is "Conv" or "ConvTranspose" or "Gemm" or "MatMul";
}
