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

    /// <summary>The layers TensorRT runs with weights that Q/DQ can quantize (and whose outputs an Add can fuse with).</summary>
    public static bool IsWeightedLayer(Node? node) =>
        node is not null && node.IsStandardDomain && node.OpType is "Conv" or "ConvTranspose" or "Gemm" or "MatMul";
}
