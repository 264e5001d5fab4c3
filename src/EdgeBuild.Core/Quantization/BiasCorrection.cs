using EdgeBuild.Ir;
using EdgeBuild.Quantization.Operators;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Quantization;

/// <summary>
/// Empirical bias correction (Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias Correction",
/// 2019, section 4.2, with the expectation measured on calibration data instead of derived from BatchNorm statistics):
/// rounding a layer's weights to int8 gives its output an error W_err * x whose mean per output channel,
/// E[W_err * x] = W_err * E[x], is not zero where inputs have a non-zero mean (after every Relu) and the rounding
/// errors of a channel do not cancel. Subtracting that mean from the channel's bias removes the shift; only the
/// zero-mean part of the error is left. The shift is measured per layer by <see cref="PostTrainingStatistics"/>;
/// this applies it to the layers the plan quantizes, before the Q/DQ insertion quantizes the biases.
/// </summary>
internal static class BiasCorrection
{
    /// <summary>A layer whose weights are quantized: the weight's quantization axis, the output's channel axis (negative: from the end) and the channel count.</summary>
    internal sealed record LayerShape(int? WeightAxis, int OutputAxis, long Channels);

    /// <summary>The shape of a Conv, ConvTranspose, Gemm or MatMul with constant float weights as its quantizer marks them; null for anything else.</summary>
    public static LayerShape? Layer(Node n)
    {
        if (!n.IsStandardDomain || n.Input(0) is not { ConstantValue: null } || n.Input(1)?.ConstantValue is not { ElementType: DataType.Float } w) return null;
        switch (n.OpType)
        {
            case "Conv" when w.Rank >= 3:
                return new LayerShape(ConvQuantizer.WeightAxis(n), 1, w.Dims[0]);
            case "ConvTranspose" when w.Rank >= 3:
                return new LayerShape(ConvQuantizer.WeightAxis(n), 1, w.Dims[1] * n.GetInt("group", 1));
            case "Gemm" when w.Rank == 2:
                return new LayerShape(MatMulQuantizer.WeightAxis(n), 1, w.Dims[n.GetInt("transB", 0) != 0 ? 0 : 1]);
            case "MatMul" when w.Rank == 2:
                return new LayerShape(MatMulQuantizer.WeightAxis(n), -1, w.Dims[1]);
            default:
                return null;
        }
    }

    /// <summary>
    /// Corrects the bias of every quantized layer with int8 weights that has a measured shift: Conv, ConvTranspose and
    /// Gemm in their bias input (one is created, and quantized like a bias, where the layer has none: all three ops
    /// take an optional one), MatMul in the per-column constant of the Add that reads it alone (a MatMul has no bias of
    /// its own; one without such an Add is left as it is). <paramref name="keys"/> names each node as it was named when
    /// the statistics were measured. Returns how many layers were corrected.
    /// </summary>
    public static int Apply(QdqPlan plan, PostTrainingStatistics statistics, IReadOnlyDictionary<Node, string> keys)
    {
        int corrected = 0;
        var weighted = plan.Constants.OfType<WeightMark>().Where(w => w.Input == 1).Select(w => w.Node).ToHashSet();
        foreach (var node in plan.QuantizedNodes.Where(weighted.Contains).ToList())
        {
            if (node.Graph != plan.Graph || !keys.TryGetValue(node, out var key) || !statistics.BiasShifts.TryGetValue(key, out var shift)) continue;
            if (Layer(node) is not { } layer || layer.Channels != shift.Length || shift.All(s => s == 0)) continue;
            bool done = node.OpType switch
            {
                "Conv" or "ConvTranspose" => CorrectBias(plan, node, shift, 1f),
                "Gemm" => CorrectBias(plan, node, shift, node.GetFloat("beta", 1f)),
                _ => CorrectFollowingAdd(plan, node, shift),
            };
            if (done) corrected++;
        }
        return corrected;
    }

    /// <summary>bias -= shift / beta at input 2; a missing bias is created (-shift / beta) and marked as an int32 bias.</summary>
    private static bool CorrectBias(QdqPlan plan, Node node, float[] shift, float beta)
    {
        if (!(beta != 0) || !float.IsFinite(beta)) return false;
        var graph = plan.Graph;
        var bias = node.Input(2);
        if (bias is null)
        {
            var created = graph.AddInitializer(graph.UniqueName(NodePatterns.NameOf(node) + "_bias"), Tensor.FromFloats([shift.Length], shift.Select(s => -s / beta).ToArray()));
            node.SetInput(2, created);
            plan.QuantizeBias(node, 2, node.Input(0)!, node, 1, beta);
            return true;
        }
        // A bias that is not a plain per-channel constant (a Gemm's [M, N] C, a computed one) is left alone.
        if (bias.ConstantValue is not { ElementType: DataType.Float } t || t.ElementCount != shift.Length || (t.Rank != 1 && !(t.Rank == 2 && t.Dims[0] == 1))) return false;
        var values = t.ToFloats();
        for (int c = 0; c < values.Length; c++) values[c] -= shift[c] / beta;
        Replace(graph, node, 2, bias, Tensor.FromFloats(t.Dims, values));
        return true;
    }

    /// <summary>MatMul then Add(constant [N]) with the MatMul's output read by that Add alone: the constant is the bias.</summary>
    private static bool CorrectFollowingAdd(QdqPlan plan, Node matMul, float[] shift)
    {
        if (matMul.Outputs[0] is not { } y || y.IsGraphOutput || y.Uses.Count != 1) return false;
        var add = y.Uses[0].Node;
        if (!add.Is("Add") || add.Inputs.Count != 2) return false;
        int slot = 1 - y.Uses[0].InputIndex;
        var c = add.Input(slot);
        if (c?.ConstantValue is not { ElementType: DataType.Float } t || t.ElementCount != shift.Length || t.Dims.Take(t.Rank - 1).Any(d => d != 1)) return false;
        var values = t.ToFloats();
        for (int k = 0; k < values.Length; k++) values[k] -= shift[k];
        Replace(plan.Graph, add, slot, c, Tensor.FromFloats(t.Dims, values));
        return true;
    }

    /// <summary>A constant read by this slot alone is changed in place; a shared one (deduplicated zeros) gets a copy for this slot.</summary>
    private static void Replace(Graph graph, Node node, int input, Value constant, Tensor corrected)
    {
        if (constant.Uses.Count == 1 && !constant.IsGraphOutput && !constant.IsGraphInput && constant.Initializer is not null) graph.SetInitializer(constant, corrected);
        else node.SetInput(input, graph.AddInitializer(graph.UniqueName(constant.Name + "_corrected"), corrected));
    }
}
