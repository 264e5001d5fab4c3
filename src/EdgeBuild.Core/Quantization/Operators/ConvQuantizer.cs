using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Operators;

/// <summary>
/// Conv and ConvTranspose: input and output per tensor, weights int8 per output channel (axis 0 for Conv's
/// [M, C/g, k...]; axis 1 for ConvTranspose's [C, M/g, k...]), bias int32 with scale s_x * s_w[channel]. ORT's
/// CPU provider turns DQ-Conv-Q into QLinearConv (per-channel weights supported); ConvTranspose has no QDQ fusion
/// there and runs on the dequantized weights, which still saves the size.
/// </summary>
internal sealed class ConvQuantizer : OpQuantizer
{
    public override IReadOnlyList<string> OpTypes => ["Conv", "ConvTranspose"];

    public override bool Mark(Node node, QdqPlan plan)
    {
        var x = node.Input(0);
        var w = node.Input(1);
        if (!plan.IsQuantizable(x) || !plan.IsConstant(w) || w!.ConstantValue!.Rank < 3 || !plan.IsQuantizable(node.Outputs[0])) return false;
        plan.QuantizeInput(node, 0);
        plan.QuantizeWeight(node, 1, WeightAxis(node));
        if (node.Input(2) is { } b && plan.IsConstant(b)) plan.QuantizeBias(node, 2, x!, node, 1);
        QuantizeOutput(node, plan);
        plan.ObservedName[node] = node.Outputs[0]!.Name;
        return true;
    }

    /// <summary>The axis the weights are quantized along: per output channel; per tensor for a grouped ConvTranspose.</summary>
    public static int? WeightAxis(Node node) =>
        // Per-channel ConvTranspose weights are per slice of axis 1, which is the output channel only without groups.
        node.OpType == "ConvTranspose" ? (node.GetInt("group", 1) == 1 ? 1 : null) : 0;
}
