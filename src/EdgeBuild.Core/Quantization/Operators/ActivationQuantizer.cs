using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Operators;

/// <summary>
/// Activations after a quantized producer. Relu and Clip (with 0 inside the clamp) are folded into the producer's
/// quantization when activations are asymmetric (ORT's QDQRemovableActivation): the producer's output gets the
/// activation's range, the uint8 QuantizeLinear does the clamping, and ORT fuses Conv+Relu into one QLinearConv.
/// Otherwise (and for Sigmoid, HardSigmoid, LeakyRelu, PRelu) input and output get their own ranges; ORT has
/// QLinearSigmoid and QLinearLeakyRelu kernels, the others run in float between the pairs. The PRelu slope stays float.
/// </summary>
internal sealed class ActivationQuantizer : OpQuantizer
{
    public override IReadOnlyList<string> OpTypes => ["Relu", "Clip", "Sigmoid", "HardSigmoid", "PRelu", "LeakyRelu"];

    public override bool Mark(Node node, QdqPlan plan)
    {
        var x = node.Input(0);
        if (!plan.IsQuantized(x) || !plan.IsQuantizable(node.Outputs[0])) return false;
        if (node.OpType is "Relu" or "Clip" && plan.TryFoldActivation(node)) return true;
        plan.QuantizeInput(node, 0);
        QuantizeOutput(node, plan);
        return true;
    }
}
