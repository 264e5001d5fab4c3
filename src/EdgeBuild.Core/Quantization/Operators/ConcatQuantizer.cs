using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Operators;

/// <summary>
/// Concat: every input and the output per tensor with their own ranges; ORT's QLinearConcat requantizes each
/// input to the output's scale. Only when all inputs are float and at least one is already quantized.
/// </summary>
internal sealed class ConcatQuantizer : OpQuantizer
{
    public override IReadOnlyList<string> OpTypes => ["Concat"];

    public override bool Mark(Node node, QdqPlan plan)
    {
        if (node.Inputs.Count == 0 || !node.Inputs.All(plan.IsQuantizable) || !plan.IsQuantizable(node.Outputs[0])) return false;
        if (!node.Inputs.Any(plan.IsQuantized)) return false;
        for (int i = 0; i < node.Inputs.Count; i++) plan.QuantizeInput(node, i);
        QuantizeOutput(node, plan);
        return true;
    }
}
