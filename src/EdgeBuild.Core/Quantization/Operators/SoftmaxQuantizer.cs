using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Operators;

/// <summary>
/// Softmax after a quantized producer: the input with its calibrated range, the output with the fixed range
/// [0, 1) (scale 1/256; zero point 0 for uint8, -128 for int8), as ORT's QDQSoftmax: probabilities need no
/// calibration. ORT fuses the group into QLinearSoftmax.
/// </summary>
internal sealed class SoftmaxQuantizer : OpQuantizer
{
    public override IReadOnlyList<string> OpTypes => ["Softmax"];

    public override bool Mark(Node node, QdqPlan plan)
    {
        var x = node.Input(0);
        if (!plan.IsQuantized(x) || !plan.IsQuantizable(node.Outputs[0])) return false;
        plan.QuantizeInput(node, 0);
        plan.QuantizeOutputFixed(node.Outputs[0]!, plan.Symmetric
            ? new QuantParams(1f / 256, -128, DataType.Int8)
            : new QuantParams(1f / 256, 0, DataType.UInt8));
        return true;
    }
}
