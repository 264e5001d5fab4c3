using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Operators.TensorRt;

/// <summary>
/// An Add of two computed tensors, one of them the output of a weighted layer that runs in INT8 (a residual connection): both inputs
/// get Q/DQ, so TensorRT can fuse the addition into that layer in INT8. An Add that is not such a join keeps
/// its inputs float.
/// </summary>
internal sealed class ResidualAddQuantizer : OpQuantizer
{
    public override IReadOnlyList<string> OpTypes => ["Add"];

    public override bool Mark(Node node, QdqPlan plan)
    {
        if (node.Inputs.Count != 2) return false;
        var a = node.Input(0);
        var b = node.Input(1);
        if (!plan.IsQuantizable(a) || !plan.IsQuantizable(b) || plan.IsConstant(a) || plan.IsConstant(b)) return false;
        bool joinsInt8Layer = (TensorRtQuantizerRegistry.IsWeightedLayer(a!.Producer) && plan.QuantizedNodes.Contains(a.Producer!))
            || (TensorRtQuantizerRegistry.IsWeightedLayer(b!.Producer) && plan.QuantizedNodes.Contains(b.Producer!));
        if (!joinsInt8Layer) return false;
        plan.QuantizeInput(node, 0);
        plan.QuantizeInput(node, 1);
        return true;
    }
}
