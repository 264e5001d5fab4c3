using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Operators;

/// <summary>
/// Add and Mul: both operands and the output per tensor with their own ranges, so ORT fuses them into
/// QLinearAdd/QLinearMul (which rescale each operand). A constant operand is quantized with the activation type,
/// because the fusion wants both inputs and the output of one integer type. Only done when a non-constant
/// operand is already quantized: an Add between float ops would get Q/DQ pairs and no integer kernel.
/// </summary>
internal sealed class BinaryQuantizer : OpQuantizer
{
    public override IReadOnlyList<string> OpTypes => ["Add", "Mul"];

    public override bool Mark(Node node, QdqPlan plan)
    {
        if (node.Inputs.Count != 2 || !node.Inputs.All(plan.IsQuantizable) || !plan.IsQuantizable(node.Outputs[0])) return false;
        if (!node.Inputs.Any(v => !plan.IsConstant(v) && plan.IsQuantized(v))) return false;
        if (node.Inputs.All(plan.IsConstant)) return false;
        plan.QuantizeInput(node, 0);
        plan.QuantizeInput(node, 1);
        QuantizeOutput(node, plan);
        return true;
    }
}
