using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// Folds an inference-mode BatchNormalization into the Conv, ConvTranspose, Gemm or matrix MatMul that feeds it:
/// y = (x - mean) * gamma / sqrt(var + eps) + beta is a per-channel scale s and shift, so the producer's
/// weights are scaled by s and its bias becomes (b - mean) * s + beta. Arithmetic is done in double.
/// Never folds when the producer's output has another reader or is a graph output (the unscaled tensor
/// would be lost). A BatchNormalization that cannot fold (after Concat, Add, a graph input...) stays and
/// is counted.
/// </summary>
public sealed class BatchNormFolding : IPass
{
    public string Name => "batchnorm-folding";
    public string Description => "BatchNormalization folded into the preceding Conv, ConvTranspose, Gemm or MatMul";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        var graph = model.Graph;
        foreach (var bn in graph.Nodes.Where(n => n.Is("BatchNormalization")).ToList())
        {
            string? outcome = TryFold(graph, bn, model.DefaultOpset);
            if (outcome is null) result.Note("not_folded");
            else result.Count(outcome);
        }
        return result;
    }

    private static string? TryFold(Graph graph, Node bn, long opset)
    {
        if (!PassHelpers.OnlyFirstOutputUsed(bn)) return null;
        if (bn.GetInt("training_mode", 0) != 0 || bn.GetInt("spatial", 1) != 1) return null;
        if (bn.Input(0) is not { Producer: { } producer } x || !PassHelpers.IsOnlyConsumedBy(x, bn)) return null;
        var gamma = PassHelpers.FloatConstant(bn.Input(1));
        var beta = PassHelpers.FloatConstant(bn.Input(2));
        var mean = PassHelpers.FloatConstant(bn.Input(3));
        var variance = PassHelpers.FloatConstant(bn.Input(4));
        if (gamma is null || beta is null || mean is null || variance is null) return null;
        long channels = gamma.ElementCount;
        if (new[] { gamma, beta, mean, variance }.Any(t => t.Rank != 1 || t.ElementCount != channels)) return null;

        double eps = bn.GetFloat("epsilon", 1e-5f);
        var g = gamma.AsSpan<float>();
        var v = variance.AsSpan<float>();
        var scale = new double[channels];
        for (int c = 0; c < channels; c++) scale[c] = g[c] / Math.Sqrt(v[c] + eps);
        var shift = new double[channels];
        var b = beta.AsSpan<float>();
        var m = mean.AsSpan<float>();
        for (int c = 0; c < channels; c++) shift[c] = b[c] - m[c] * scale[c];

        string? folded = producer switch
        {
            _ when producer.Is("Conv") => FoldIntoConv(graph, producer, scale, shift, transposed: false),
            _ when producer.Is("ConvTranspose") => FoldIntoConv(graph, producer, scale, shift, transposed: true),
            _ when producer.Is("Gemm") => FoldIntoGemm(graph, producer, scale, shift, opset),
            _ when producer.Is("MatMul") => FoldIntoMatMul(graph, producer, scale, shift, opset),
            _ => null,
        };
        if (folded is null) return null;
        if (!PassHelpers.Bypass(graph, bn, x)) throw new InvalidOperationException("BatchNormalization bypass failed after folding");
        return folded;
    }

    /// <summary>Conv weights are [M, C/group, k...]; ConvTranspose weights are [C, M/group, k...].</summary>
    private static string? FoldIntoConv(Graph graph, Node conv, double[] scale, double[] shift, bool transposed)
    {
        var w = PassHelpers.FloatConstant(conv.Input(1));
        if (w is null || w.Rank < 3) return null;
        long group = conv.GetInt("group", 1);
        long outChannels = transposed ? w.Dims[1] * group : w.Dims[0];
        if (outChannels != scale.Length) return null;
        var bias = conv.Input(2) is { } bv ? PassHelpers.FloatConstant(bv) : null;
        if (conv.Input(2) is not null && (bias is null || bias.ElementCount != outChannels)) return null;

        var weights = w.AsSpan<float>();
        var newWeights = new float[weights.Length];
        long inner = w.ElementCount / (w.Dims[0] * w.Dims[1]);
        for (long i = 0; i < w.Dims[0]; i++)
            for (long j = 0; j < w.Dims[1]; j++)
            {
                long channel = transposed ? (i / (w.Dims[0] / group)) * w.Dims[1] + j : i;
                double s = scale[channel];
                long start = (i * w.Dims[1] + j) * inner;
                for (long k = 0; k < inner; k++) newWeights[start + k] = (float)(weights[(int)(start + k)] * s);
            }
        var newBias = new float[outChannels];
        var oldBias = bias is null ? [] : bias.AsSpan<float>();
        for (int c = 0; c < outChannels; c++) newBias[c] = (float)((bias is null ? 0 : oldBias[c]) * scale[c] + shift[c]);

        conv.SetInput(1, PassHelpers.AddFloatInitializer(graph, PassHelpers.Hint(conv, "W_bn"), w.Dims, newWeights));
        conv.SetInput(2, PassHelpers.AddFloatInitializer(graph, PassHelpers.Hint(conv, "B_bn"), [outChannels], newBias));
        return transposed ? "folded_into_conv_transpose" : "folded_into_conv";
    }

    /// <summary>
    /// MatMul of a matrix (rank 2, as inferred) by a constant [K, C] matrix is a Gemm without C; the BatchNormalization then
    /// folds into it as into any Gemm (a face-attribute head: MatMul -> BatchNormalization -> MatMul).
    /// </summary>
    private static string? FoldIntoMatMul(Graph graph, Node matMul, double[] scale, double[] shift, long opset)
    {
        if (matMul.Input(0)?.TensorType is not { ElementType: DataType.Float, Shape.Rank: 2 }) return null;
        if (PassHelpers.FloatConstant(matMul.Input(1)) is not { Rank: 2 } b || b.Dims[1] != scale.Length) return null;
        matMul.OpType = "Gemm";
        if (FoldIntoGemm(graph, matMul, scale, shift, opset) is null)
        {
            matMul.OpType = "MatMul";
            return null;
        }
        return "folded_into_matmul";
    }

    /// <summary>Gemm: Y = alpha * A' * B' + beta * C with channels along Y's columns (BatchNormalization axis 1).</summary>
    private static string? FoldIntoGemm(Graph graph, Node gemm, double[] scale, double[] shift, long opset)
    {
        var bT = PassHelpers.FloatConstant(gemm.Input(1));
        if (bT is null || bT.Rank != 2) return null;
        bool transB = gemm.GetInt("transB", 0) != 0;
        long n = transB ? bT.Dims[0] : bT.Dims[1];
        if (n != scale.Length) return null;
        double betaAttr = gemm.GetFloat("beta", 1f);
        float[] cPerColumn;
        if (gemm.Input(2) is null) cPerColumn = new float[n];
        else
        {
            var c = PassHelpers.FloatConstant(gemm.Input(2));
            if (c is null) return null;
            var cd = c.AsSpan<float>();
            if (c.ElementCount == 1) cPerColumn = Enumerable.Repeat(cd[0], (int)n).ToArray();
            else if (c.ElementCount == n && (c.Rank == 1 || (c.Rank == 2 && c.Dims[0] == 1))) cPerColumn = cd.ToArray();
            else return null; // a per-row or full [M,N] C is rare after a Gemm feeding BN; left alone.
        }

        var bd = bT.AsSpan<float>();
        var newB = new float[bd.Length];
        long rows = bT.Dims[0], cols = bT.Dims[1];
        for (long r = 0; r < rows; r++)
            for (long col = 0; col < cols; col++)
            {
                long channel = transB ? r : col;
                newB[r * cols + col] = (float)(bd[(int)(r * cols + col)] * scale[channel]);
            }
        var newC = new float[n];
        for (int j = 0; j < n; j++) newC[j] = (float)(betaAttr * cPerColumn[j] * scale[j] + shift[j]);

        gemm.SetInput(1, PassHelpers.AddFloatInitializer(graph, PassHelpers.Hint(gemm, "B_bn"), bT.Dims, newB));
        gemm.SetInput(2, PassHelpers.AddFloatInitializer(graph, PassHelpers.Hint(gemm, "C_bn"), [n], newC));
        gemm.SetAttribute(Ir.Attribute.Of("beta", 1f));
        // Before opset 7, Gemm broadcast C only when asked to.
        if (opset < 7) gemm.SetAttribute(Ir.Attribute.Of("broadcast", 1L));
        return "folded_into_gemm";
    }
}
