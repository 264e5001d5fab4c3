using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// Folds a per-channel (or scalar) constant Mul, Div, Add or Sub applied to a Conv's output into the
/// Conv's weights and bias. Exporters produce these for decomposed BatchNorm, affine layers and
/// input scaling. Same preconditions as BatchNorm folding: the Conv output has no other reader.
/// </summary>
public sealed class ConvMulAddFolding : IPass
{
    public string Name => "conv-mul-add-folding";
    public string Description => "Constant Mul/Div/Add/Sub after a Conv folded into its weights and bias";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        var graph = model.Graph;
        foreach (var node in graph.Nodes.ToList())
        {
            if (node.Graph is null || !(node.Is("Mul") || node.Is("Div") || node.Is("Add") || node.Is("Sub"))) continue;
            if (node.Inputs.Count != 2 || node.GetAttribute("broadcast") is not null) continue;
            string? done = TryFold(graph, node);
            if (done is not null) result.Count(done);
        }
        return result;
    }

    private static string? TryFold(Graph graph, Node node)
    {
        // Mul and Add commute; Div and Sub only fold with the Conv on the left.
        for (int convSide = 0; convSide < 2; convSide++)
        {
            if (convSide == 1 && node.OpType is "Div" or "Sub") break;
            var y = node.Input(convSide);
            var c = PassHelpers.FloatConstant(node.Input(1 - convSide));
            if (y is not { Producer: { } conv } || c is null || !conv.Is("Conv")) continue;
            if (!PassHelpers.IsOnlyConsumedBy(y, node) || conv.Outputs.Count != 1) continue;
            var w = PassHelpers.FloatConstant(conv.Input(1));
            if (w is null || w.Rank < 3) continue;
            long channels = w.Dims[0];
            var perChannel = PerChannel(c, channels, w.Rank);
            if (perChannel is null) continue;
            var bias = conv.Input(2) is null ? null : PassHelpers.FloatConstant(conv.Input(2));
            if (conv.Input(2) is not null && (bias is null || bias.ElementCount != channels)) continue;

            var oldBias = bias?.ToFloats() ?? new float[channels];
            var newBias = new float[channels];
            float[] newWeights = w.ToFloats();
            long inner = w.ElementCount / channels;
            bool scales = node.OpType is "Mul" or "Div";
            for (int m = 0; m < channels; m++)
            {
                double k = perChannel[m];
                if (node.OpType == "Div")
                {
                    if (k == 0) return null;
                    k = 1.0 / k;
                }
                if (scales)
                {
                    for (long i = m * inner; i < (m + 1) * inner; i++) newWeights[i] = (float)(newWeights[i] * k);
                    newBias[m] = (float)(oldBias[m] * k);
                }
                else newBias[m] = (float)(node.OpType == "Sub" ? oldBias[m] - k : oldBias[m] + k);
            }
            if (scales) conv.SetInput(1, PassHelpers.AddFloatInitializer(graph, PassHelpers.Hint(conv, "W_scaled"), w.Dims, newWeights));
            conv.SetInput(2, PassHelpers.AddFloatInitializer(graph, PassHelpers.Hint(conv, scales ? "B_scaled" : "B_shifted"), [channels], newBias));
            if (!PassHelpers.Bypass(graph, node, y)) throw new InvalidOperationException("bypass failed after folding");
            return node.OpType.ToLowerInvariant() + "_folded";
        }
        return null;
    }

    /// <summary>
    /// The constant as one value per output channel, when it broadcasts against [N, M, spatial...] along M
    /// only: a scalar, or a shape like [M,1,1], [1,M,1,1]. Null otherwise (a constant that varies over space or batch).
    /// </summary>
    private static double[]? PerChannel(Tensor c, long channels, int outputRank)
    {
        var data = c.ToFloats();
        if (c.ElementCount == 1) return Enumerable.Repeat((double)data[0], (int)channels).ToArray();
        if (c.Rank > outputRank || c.ElementCount != channels) return null;
        // Align from the right: the channel axis of the output is at outputRank - 1 - (spatial count).
        int channelAxisFromRight = outputRank - 2;
        int axis = c.Rank - 1 - channelAxisFromRight;
        if (axis < 0 || c.Dims[axis] != channels) return null;
        return data.Select(v => (double)v).ToArray();
    }
}
