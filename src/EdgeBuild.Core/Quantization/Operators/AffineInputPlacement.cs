using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Operators;

/// <summary>
/// Placement rule for tensors whose channels span orders of magnitude: a Concat of features from different depths
/// (DenseNet) or any tensor that only a per-channel affine reads (BatchNormalization, Mul/Add/Sub/Div by a per-channel
/// constant) because the affine rebalances it. One scale for the whole tensor gives its small channels a handful of the
/// 256 levels; quantizing after the affine, where the channels are balanced, keeps them. The decision is measured: the
/// calibration's per-channel ranges (<see cref="PostTrainingStatistics.Channels"/>) of the tensor and of each affine's
/// output. The tensor stays float (its producer's output, Concat included, is not quantized; the affine runs in float)
/// and the next quantized op quantizes the affine's output as its own input.
/// </summary>
internal static class AffineInputPlacement
{
    /// <summary>
    /// A tensor is kept float when its channels lose 4 bits on average to the shared scale (<see cref="ChannelRanges.Spread"/>
    /// 16): the average channel keeps 16 of the 256 levels, an SQNR of about 6 x 4 = 24 dB for a signal that fills them,
    /// which leaves no room under the build's 20 dB output floor once the layers after it add their own error ...
    /// </summary>
    public const double SpreadThreshold = 16;

    /// <summary>... and every affine reading it brings the spread down at least 4-fold (2 bits back for the median channel); otherwise moving the pair gains nothing.</summary>
    public const double MinSpreadReduction = 4;

    /// <summary>The activation a per-channel affine scales and its channel axis (negative: from the end).</summary>
    internal sealed record AffineInput(Value Input, int Axis);

    /// <summary>The activation input of a per-channel affine node, or null when the node is not one.</summary>
    public static AffineInput? Affine(Node n)
    {
        if (!n.IsStandardDomain || n.Outputs.Count == 0 || n.Outputs[0] is null) return null;
        if (n.OpType == "BatchNormalization")
            return n.Input(0) is { ConstantValue: null } x && GraphEdits.IsFloat32(x) ? new AffineInput(x, 1) : null;
        if (n.OpType is not ("Mul" or "Add" or "Sub" or "Div") || n.Inputs.Count != 2) return null;
        int constant = n.Input(1)?.ConstantValue is not null ? 1 : n.Input(0)?.ConstantValue is not null ? 0 : -1;
        if (constant < 0 || n.Input(1 - constant) is not { ConstantValue: null } input || !GraphEdits.IsFloat32(input)) return null;
        // Division of a constant by the activation is not an affine of it.
        if (n.OpType is "Sub" or "Div" && constant == 0) return null;
        var c = n.Input(constant)!.ConstantValue!;
        if (input.TensorType?.Shape is not { } shape || c.Rank > shape.Rank) return null;
        int axis = -1;
        for (int i = 0; i < c.Rank; i++)
        {
            if (c.Dims[i] == 1) continue;
            if (axis >= 0) return null;
            axis = shape.Rank - c.Rank + i;
        }
        if (axis < 0 || (shape[axis].Value is long d && d != c.Dims[axis - (shape.Rank - c.Rank)])) return null;
        return new AffineInput(input, axis);
    }

    /// <summary>Marks in the plan the tensors to keep float; returns their names.</summary>
    public static IReadOnlyList<string> Apply(QdqPlan plan, PostTrainingStatistics statistics)
    {
        var kept = new List<string>();
        var candidates = new Dictionary<Value, List<Node>>();
        foreach (var n in plan.Graph.Nodes)
            if (Affine(n) is { } a)
            {
                if (!candidates.TryGetValue(a.Input, out var readers)) candidates[a.Input] = readers = [];
                readers.Add(n);
            }
        foreach (var (v, affines) in candidates)
        {
            // Another reader (a Conv) would want the tensor quantized: keeping it float would cost that reader its int8 kernel.
            if (v.IsGraphOutput || v.Uses.Select(u => u.Node).Distinct().Count() != affines.Count) continue;
            if (!statistics.Channels.TryGetValue(v.Name, out var input) || input.Spread < SpreadThreshold) continue;
            bool balanced = affines.All(a => a.Outputs[0] is { } o && statistics.Channels.TryGetValue(o.Name, out var output)
                && output.Spread * MinSpreadReduction <= input.Spread);
            if (!balanced) continue;
            plan.KeepFloat(v);
            kept.Add(v.Name);
        }
        return kept;
    }
}
