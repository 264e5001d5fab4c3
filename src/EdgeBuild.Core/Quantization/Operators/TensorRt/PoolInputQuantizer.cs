using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Operators.TensorRt;

/// <summary>
/// MaxPool, AveragePool, GlobalAveragePool fed by an INT8 layer: TensorRT has INT8 pooling kernels; a Q/DQ pair on the
/// input lets that layer write INT8 and the pool read it.
/// </summary>
internal sealed class PoolInputQuantizer : OpQuantizer
{
    public override IReadOnlyList<string> OpTypes => ["MaxPool", "AveragePool", "GlobalAveragePool"];

    public override bool Mark(Node node, QdqPlan plan)
    {
        var x = node.Input(0);
        if (!plan.IsQuantizable(x) || plan.IsConstant(x) || !TensorRtQuantizerRegistry.FedByInt8Layer(x, plan)) return false;
        plan.QuantizeInput(node, 0);
        return true;
    }
}
