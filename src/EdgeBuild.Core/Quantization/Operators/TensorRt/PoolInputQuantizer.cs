using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Operators.TensorRt;

/// <summary>
/// MaxPool, AveragePool, GlobalAveragePool: TensorRT has INT8 pooling kernels; a Q/DQ pair on a computed input lets
/// the producer write INT8 and the pool read it.
/// </summary>
internal sealed class PoolInputQuantizer : OpQuantizer
{
    public override IReadOnlyList<string> OpTypes => ["MaxPool", "AveragePool", "GlobalAveragePool"];

    public override bool Mark(Node node, QdqPlan plan)
    {
        var x = node.Input(0);
        if (!plan.IsQuantizable(x) || plan.IsConstant(x)) return false;
        plan.QuantizeInput(node, 0);
        return true;
    }
}
