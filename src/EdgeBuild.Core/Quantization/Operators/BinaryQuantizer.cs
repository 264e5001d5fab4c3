using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Operators;

/// <summary>
/// Add and Mul: both operands and the output per tensor with their own ranges, so ORT fuses them into
/// QLinearAdd/QLinearMul (which rescale each operand). A constant operand is quantized with the activation type,
/// because the fusion wants both inputs and the output of one integer type. Only done when a non-constant
/// operand is already quantized: an Add between float ops would get Q/DQ pairs and no integer kernel.
/// Div by a constant (hard-swish's "/ 6") becomes Mul by its reciprocal first, since ORT has no QLinearDiv:
/// left in float it would cost a DequantizeLinear, the Div and a QuantizeLinear at full resolution.
/// Mul by a positive scalar of a quantized tensor costs nothing at all: it only changes the scale
/// (<see cref="QdqPlan.TryRescale"/>).
/// </summary>
internal sealed class BinaryQuantizer : OpQuantizer
{
    public override IReadOnlyList<string> OpTypes => ["Add", "Mul", "Div"];

    public override bool Mark(Node node, QdqPlan plan)
    {
        if (node.Inputs.Count != 2 || !node.Inputs.All(plan.IsQuantizable) || !plan.IsQuantizable(node.Outputs[0])) return false;
        if (!node.Inputs.Any(v => !plan.IsConstant(v) && plan.IsQuantized(v))) return false;
        if (node.Inputs.All(plan.IsConstant)) return false;
        if (node.OpType == "Div" && !TryDivToMul(node, plan)) return false;
        if (plan.TryRescale(node)) return true;
        plan.QuantizeInput(node, 0);
        plan.QuantizeInput(node, 1);
        QuantizeOutput(node, plan);
        return true;
    }

    /// <summary>x / c as x * (1 / c) for a constant c whose reciprocal is finite everywhere (differs from x / c by at most 1 ulp).</summary>
    private static bool TryDivToMul(Node div, QdqPlan plan)
    {
        if (!plan.IsQuantized(div.Input(0)) || !plan.IsConstant(div.Input(1))) return false;
        var c = div.Input(1)!.ConstantValue!;
        var reciprocal = c.ToFloats().Select(v => 1f / v).ToArray();
        if (!reciprocal.All(float.IsFinite)) return false;
        var graph = plan.Graph;
        var r = graph.AddInitializer(graph.UniqueName(div.Input(1)!.Name + "_reciprocal"), Tensor.FromFloats(c.Dims, reciprocal));
        div.SetInput(1, r);
        div.OpType = "Mul";
        return true;
    }
}
