using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Operators;

/// <summary>
/// Phase one of static quantization for one family of operators (ORT's quantization/operators/*.py): looks at
/// a node and marks in the <see cref="QdqPlan"/> which of its tensors are quantized and how. Stateless.
/// </summary>
internal abstract class OpQuantizer
{
    /// <summary>The default-domain op types this quantizer handles (the registry's keys).</summary>
    public abstract IReadOnlyList<string> OpTypes { get; }

    /// <summary>Marks <paramref name="node"/>'s tensors; returns true when the node will run quantized.</summary>
    public abstract bool Mark(Node node, QdqPlan plan);

    /// <summary>Marks the node's output with its own calibrated range when it is a quantizable tensor and not a model output.</summary>
    protected static bool QuantizeOutput(Node node, QdqPlan plan)
    {
        var o = node.Outputs.Count > 0 ? node.Outputs[0] : null;
        if (!plan.CanQuantizeOutput(o)) return false;
        plan.QuantizeActivation(o!);
        return true;
    }
}

/// <summary>Everything without a quantizer stays float: its readers see the DequantizeLinear output of a quantized input.</summary>
internal sealed class DefaultQuantizer : OpQuantizer
{
    public override IReadOnlyList<string> OpTypes => [];
    public override bool Mark(Node node, QdqPlan plan) => false;
}
