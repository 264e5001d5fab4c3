using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Operators;

/// <summary>
/// Ops that only move or select data (ORT's QDQDirect8BitOp): when the data input is quantized already, the
/// output shares its scale and zero point, so ORT drops the DQ/Q around them and moves uint8 instead of float.
/// Shape inputs (indices, axes, the target shape) are never touched.
/// </summary>
internal sealed class ShapeOpQuantizer : OpQuantizer
{
    public override IReadOnlyList<string> OpTypes =>
        ["Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Slice", "Gather", "GatherElements", "Expand", "Tile", "Identity", "DepthToSpace", "SpaceToDepth"];

    public override bool Mark(Node node, QdqPlan plan)
    {
        var x = node.Input(0);
        if (!plan.IsQuantized(x) || !plan.IsQuantizable(node.Outputs[0])) return false;
        plan.QuantizeOutputSameAsInput(node.Outputs[0]!, x!);
        return true;
    }
}
