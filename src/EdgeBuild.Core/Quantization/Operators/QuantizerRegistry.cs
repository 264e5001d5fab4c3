using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Operators;

/// <summary>
/// THE table of per-op quantizers (ORT's registry.py): op type to quantizer, one place. An op not listed stays
/// float (<see cref="DefaultQuantizer"/>).
/// </summary>
internal static class QuantizerRegistry
{
    private static readonly OpQuantizer[] Quantizers =
    [
        new ConvQuantizer(),
        new MatMulQuantizer(),
        new BinaryQuantizer(),
        new ConcatQuantizer(),
        new PoolQuantizer(),
        new ResizeQuantizer(),
        new ActivationQuantizer(),
        new ShapeOpQuantizer(),
        new SoftmaxQuantizer(),
    ];

    private static readonly OpQuantizer Fallback = new DefaultQuantizer();

    private static readonly Dictionary<string, OpQuantizer> ByOpType = Build();

    private static Dictionary<string, OpQuantizer> Build()
    {
        var table = new Dictionary<string, OpQuantizer>(StringComparer.Ordinal);
        foreach (var q in Quantizers)
            foreach (var op in q.OpTypes)
                table.Add(op, q); // Add, not indexer: an op claimed twice is a bug found at start-up.
        return table;
    }

    /// <summary>The op types that have a quantizer.</summary>
    public static IReadOnlyCollection<string> OpTypes => ByOpType.Keys;

    public static OpQuantizer For(Node node) =>
        node.IsStandardDomain && ByOpType.TryGetValue(node.OpType, out var q) ? q : Fallback;

    /// <summary>The compute ops reported per layer (with SQNR).</summary>
    public static bool IsComputeOp(Node node) => node.IsStandardDomain && node.OpType is "Conv" or "ConvTranspose" or "Gemm" or "MatMul";
}
