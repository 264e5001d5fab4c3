using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// Concat(x, zeros) along one axis, with the zeros from a ConstantOfShape of 0 (or a zero initializer), is a Pad of x
/// with zeros at the end of that axis (at the start for Concat(zeros, x)). TensorFlow exports of BlazeFace widen their
/// residual channels that way; one Pad replaces two nodes, and no tensor of zeros is built on each run. Only where x's
/// dims off the axis are known and equal the zeros' (Concat would reject anything else, Pad would not).
/// </summary>
public sealed class ConcatZerosToPad : IPass
{
    public string Name => "concat-zeros-to-pad";
    public string Description => "Concat of a tensor with constant zeros becomes a Pad";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        long opset = model.DefaultOpset;
        // Pad-2 took its amounts as an attribute; before that they were "paddings" (opset 1): not written here.
        if (opset < 2) return result;
        foreach (var graph in model.Graph.SelfAndSubgraphs().Where(PassHelpers.HasFixedShapes).ToList())
            foreach (var concat in graph.Nodes.Where(n => n.Is("Concat") && n.Inputs.Count == 2).ToList())
            {
                if (concat.Outputs[0] is not { } output || concat.Input(0) is not { } first || concat.Input(1) is not { } second) continue;
                bool zerosFirst = ZeroDims(first) is not null;
                var (x, zeros) = zerosFirst ? (second, first) : (first, second);
                if (ZeroDims(zeros) is not { } zeroDims || ZeroDims(x) is not null) continue;
                if (x.TensorType is not { Shape: { IsStatic: true } shape } type || shape.Rank != zeroDims.Length) continue;
                if (ZeroType(zeros) != type.ElementType) continue;
                int rank = shape.Rank;
                long axis = concat.GetInt("axis", opset < 4 ? 1 : long.MinValue);
                if (axis == long.MinValue) continue;
                if (axis < 0) axis += rank;
                if (axis < 0 || axis >= rank) continue;
                var dims = shape.ToArray();
                if (Enumerable.Range(0, rank).Any(i => i != axis && dims[i] != zeroDims[i])) continue;

                var pads = new long[2 * rank];
                pads[(zerosFirst ? 0 : rank) + (int)axis] = zeroDims[axis];
                Node pad = opset >= 11
                    ? graph.AddNodeWithFreshOutputs("Pad", [x, graph.AddInitializer(graph.UniqueName(PassHelpers.Hint(concat, "pads")), Tensor.FromInt64s([pads.Length], pads))], 1, PassHelpers.Hint(concat, "pad"))
                    : graph.AddNodeWithFreshOutputs("Pad", [x], 1, PassHelpers.Hint(concat, "pad"), [Ir.Attribute.Of("pads", pads)]);
                if (!PassHelpers.Bypass(graph, concat, pad.Output0))
                {
                    graph.RemoveNode(pad);
                    continue;
                }
                result.Count("concats_replaced");
            }
        // Each Pad was added at the end of its graph's list.
        if (result.Changed)
            foreach (var graph in model.Graph.SelfAndSubgraphs().ToList()) graph.SortTopologically();
        return result;
    }

    /// <summary>The dims of a tensor that is zero everywhere: ConstantOfShape of 0 with a constant shape, or a zero initializer.</summary>
    private static long[]? ZeroDims(Value v)
    {
        if (v.ConstantValue is { Strings: null } t) return t.Raw.All(b => b == 0) ? t.Dims : null;
        if (v.Producer is not { } p || !p.Is("ConstantOfShape") || p.Input(0)?.ConstantValue is not { ElementType: DataType.Int64, Rank: 1 } shape) return null;
        if (p.GetAttribute("value")?.Tensor is { } value && !value.Raw.All(b => b == 0)) return null;
        // A negative dim makes ConstantOfShape fail; as a pad amount it would crop instead.
        var dims = shape.ToInt64s();
        return dims.All(d => d >= 0) ? dims : null;
    }

    private static DataType ZeroType(Value v) =>
        v.ConstantValue is { } t ? t.ElementType
        : v.Producer?.GetAttribute("value")?.Tensor is { } value ? value.ElementType
        : DataType.Float; // ConstantOfShape without a value makes float zeros
}
