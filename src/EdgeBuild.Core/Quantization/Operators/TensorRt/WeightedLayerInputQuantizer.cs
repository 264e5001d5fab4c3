using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Operators.TensorRt;

/// <summary>
/// Conv, ConvTranspose, Gemm, MatMul for TensorRT: the activation input per tensor, constant weights int8 per output
/// channel (Conv axis 0 of [M, C/g, k...]; ConvTranspose axis 1 of [C, M/g, k...], per tensor with groups; MatMul
/// axis 1 of [K, N]; Gemm axis 0 with transB, else 1), a non-constant second operand as an activation. The bias stays
/// float and the output gets no pair: TensorRT fuses the bias and quantizes the output where the next layer's input
/// Q/DQ says so.
/// </summary>
internal sealed class WeightedLayerInputQuantizer : OpQuantizer
{
    public override IReadOnlyList<string> OpTypes => ["Conv", "ConvTranspose", "Gemm", "MatMul"];

    public override bool Mark(Node node, QdqPlan plan)
    {
        var x = node.Input(0);
        var w = node.Input(1);
        if (!plan.IsQuantizable(x) || !plan.IsQuantizable(w) || plan.IsConstant(x)) return false;
        if (node.OpType is "Conv" or "ConvTranspose")
        {
            // TensorRT needs convolution weights as initializers: a computed kernel stays float (the compatibility report says why).
            if (!plan.IsConstant(w) || w!.ConstantValue!.Rank < 3) return false;
            int? axis = node.OpType == "Conv" ? 0 : node.GetInt("group", 1) == 1 ? 1 : null;
            plan.QuantizeInput(node, 0);
            plan.QuantizeWeight(node, 1, axis);
        }
        else if (plan.IsConstant(w))
        {
            var b = w!.ConstantValue!;
            if (node.OpType == "Gemm" && node.GetInt("transA", 0) != 0 && b.Rank != 2) return false;
            plan.QuantizeInput(node, 0);
            // Per output column for a 2-D B; a batched constant B gets one scale.
            int? axis = b.Rank != 2 ? null : node.OpType == "Gemm" && node.GetInt("transB", 0) != 0 ? 0 : 1;
            plan.QuantizeWeight(node, 1, axis);
        }
        else
        {
            plan.QuantizeInput(node, 0);
            plan.QuantizeInput(node, 1);
        }
        plan.ObservedName[node] = node.Outputs[0]?.Name ?? "";
        return true;
    }
}
