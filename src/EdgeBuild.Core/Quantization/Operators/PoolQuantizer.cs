using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Operators;

/// <summary>
/// Pools, when their input is quantized already. MaxPool only selects values, so its output shares the input's
/// scale and ORT drops the Q/DQ around it (uint8 MaxPool). Average pools produce new values with a narrower
/// range: their output gets its own range, and ORT fuses them into QLinearAveragePool / QLinearGlobalAveragePool.
/// </summary>
internal sealed class PoolQuantizer : OpQuantizer
{
    public override IReadOnlyList<string> OpTypes => ["MaxPool", "AveragePool", "GlobalAveragePool"];

    public override bool Mark(Node node, QdqPlan plan)
    {
        var x = node.Input(0);
        if (!plan.IsQuantized(x) || !plan.IsQuantizable(node.Outputs[0])) return false;
        if (node.OpType == "MaxPool")
        {
            // The Indices output (int64) is unaffected; a used one still works on the dequantized values.
            plan.QuantizeOutputSameAsInput(node.Outputs[0]!, x!);
            return true;
        }
        plan.QuantizeInput(node, 0);
        QuantizeOutput(node, plan);
        return true;
    }
}
