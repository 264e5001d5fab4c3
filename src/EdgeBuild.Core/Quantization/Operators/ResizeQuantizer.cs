using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Operators;

/// <summary>
/// Resize (and Upsample), when the input is quantized already: the output shares the input's scale, because
/// nearest and linear interpolation stay inside the input's range, and ORT runs Resize on uint8 directly after
/// dropping the Q/DQ pair. Only the data input is quantized; roi, scales and sizes stay as they are.
/// </summary>
internal sealed class ResizeQuantizer : OpQuantizer
{
    public override IReadOnlyList<string> OpTypes => ["Resize", "Upsample"];

    public override bool Mark(Node node, QdqPlan plan)
    {
        var x = node.Input(0);
        if (!plan.IsQuantized(x) || !plan.IsQuantizable(node.Outputs[0])) return false;
        // Cubic interpolation overshoots the input range; it gets its own range instead.
        if (node.GetString("mode") == "cubic") QuantizeOutput(node, plan);
        else plan.QuantizeOutputSameAsInput(node.Outputs[0]!, x!);
        return true;
    }
}
