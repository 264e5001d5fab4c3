using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// Folds a zero constant Pad into the Conv, AveragePool or MaxPool that reads it: the Pad's spatial amounts are added
/// to the consumer's own pads. Exports of TensorFlow and Keras models write "same" padding as an explicit Pad before
/// each convolution; PyTorch exports AvgPool2d(padding, count_include_pad=True) at opset 9 as Pad + AveragePool. Only
/// where the meaning is the same for certain: mode constant with value 0 (or none), batch and channel axes not
/// padded, no negative pads, the consumer's auto_pad NOTSET, and the Pad read by that one node.
/// AveragePool: its pads count as zeros in the average with count_include_pad=1; with 0 it may only take the Pad
/// when it has no pads of its own, and then counts them (ceil_mode 0 in both cases, where the windows are the same).
/// MaxPool pads with -inf, not 0: only when its input cannot be negative (Relu, Sigmoid, ...; max(x, 0) = max(x)
/// then) and every window keeps a real element (pads below the kernel, no dilation), its indices output unused.
/// </summary>
public sealed class PadFusion : IPass
{
    public string Name => "pad-fusion";
    public string Description => "A zero constant Pad is folded into the next Conv or AveragePool's pads";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        long opset = model.DefaultOpset;
        foreach (var graph in model.Graph.SelfAndSubgraphs().ToList())
            foreach (var pad in graph.Nodes.Where(n => n.Is("Pad")).ToList())
            {
                if (pad.Graph is null || pad.Outputs.Count == 0 || pad.Outputs[0] is not { } padded || pad.Input(0) is not { } data) continue;
                if (padded.Uses.Count != 1 || padded.IsGraphOutput) continue;
                var consumer = padded.Uses[0].Node;
                if (padded.Uses[0].InputIndex != 0 || consumer.Graph != graph || !PassHelpers.IsOnlyConsumedBy(padded, consumer)) continue;
                if (!AcceptsZeroPads(consumer, data)) continue;
                int spatial = SpatialRank(consumer);
                if (spatial < 1 || SpatialPads(pad, opset, spatial + 2) is not { } added)
                {
                    result.Note("not_fusable");
                    continue;
                }
                var existing = consumer.GetInts("pads") ?? new long[2 * spatial];
                if (existing.Length != 2 * spatial) continue;
                var fused = new long[2 * spatial];
                for (int i = 0; i < fused.Length; i++) fused[i] = existing[i] + added[i];
                bool countPads = consumer.Is("AveragePool") && consumer.GetInt("count_include_pad", 0) == 0;
                if (countPads && existing.Any(p => p != 0)) continue;
                if (consumer.Is("MaxPool") && (consumer.GetInts("kernel_shape") is not { } kernel || Enumerable.Range(0, fused.Length).Any(i => fused[i] >= kernel[i % spatial]))) continue;
                consumer.SetAttribute(Ir.Attribute.Of("pads", fused));
                if (countPads) consumer.SetAttribute(Ir.Attribute.Of("count_include_pad", 1L));
                consumer.SetInput(0, data);
                graph.RemoveNode(pad);
                result.Count(consumer.OpType switch { "Conv" => "fused_into_conv", "MaxPool" => "fused_into_max_pool", _ => "fused_into_average_pool" });
            }
        return result;
    }

    /// <summary>Conv, AveragePool, and MaxPool of a non-negative input, with explicit pads (auto_pad NOTSET).</summary>
    private static bool AcceptsZeroPads(Node consumer, Value data)
    {
        if (consumer.GetString("auto_pad") is { } autoPad && autoPad is not ("NOTSET" or "")) return false;
        if (consumer.Is("Conv")) return true;
        if (consumer.Is("AveragePool")) return consumer.GetInt("ceil_mode", 0) == 0;
        if (consumer.Is("MaxPool"))
            return consumer.GetInt("ceil_mode", 0) == 0 && (consumer.GetInts("dilations") ?? []).All(d => d == 1)
                && PassHelpers.OnlyFirstOutputUsed(consumer) && IsNonNegative(data);
        return false;
    }

    /// <summary>True when every element of <paramref name="value"/> is &gt;= 0 whatever the input (NaN aside, which max propagates either way).</summary>
    private static bool IsNonNegative(Value value)
    {
        if (value.Producer is not { } p || !p.IsStandardDomain) return false;
        switch (p.OpType)
        {
            case "Relu" or "Sigmoid" or "Softmax" or "Exp" or "Abs" or "Softplus": return true;
            case "Clip":
                // Clip-11 takes min as input 1; before, as an attribute.
                float? min = p.Inputs.Count > 1 ? (p.Input(1)?.ConstantValue is { ElementCount: 1 } t ? t.ToFloats()[0] : null) : p.GetAttribute("min") is { Kind: AttributeKind.Float } a ? a.Float : null;
                return min >= 0;
            default: return false;
        }
    }

    /// <summary>Spatial axes of the consumer's input: from kernel_shape, else the Conv weight's rank; 0 when unknown.</summary>
    private static int SpatialRank(Node consumer)
    {
        if (consumer.GetInts("kernel_shape") is { Length: > 0 } kernel) return kernel.Length;
        if (consumer.Is("Conv") && consumer.Input(1)?.TensorType?.Shape is { Rank: > 2 } w) return w.Rank - 2;
        if (consumer.Input(0)?.TensorType?.Shape is { Rank: > 2 } x) return x.Rank - 2;
        return 0;
    }

    /// <summary>
    /// The Pad's amounts on the spatial axes of a rank-<paramref name="rank"/> tensor in the consumer's pads layout
    /// (all begins, then all ends), or null when it is not a zero constant pad of the spatial axes only.
    /// </summary>
    internal static long[]? SpatialPads(Node pad, long opset, int rank)
    {
        string mode = pad.GetString("mode") ?? "constant";
        if (mode != "constant") return null;
        long[]? pads;
        if (opset < 11)
        {
            // Pad-1 called them paddings; Pad-2 pads; the fill value was the attribute "value" (default 0).
            pads = pad.GetInts("pads") ?? pad.GetInts("paddings");
            if (pad.GetFloat("value", 0f) != 0f) return null;
        }
        else
        {
            pads = pad.Input(1)?.ConstantValue?.ToInt64s();
            if (pad.Input(2) is { } fill && !IsZero(fill)) return null;
            if (pad.Input(3) is { } axesValue)
            {
                // Pad-18: the pads apply to these axes only; spread them out over all axes.
                if (pads is null || axesValue.ConstantValue?.ToInt64s() is not { } axes || pads.Length != 2 * axes.Length) return null;
                var full = new long[2 * rank];
                for (int i = 0; i < axes.Length; i++)
                {
                    long axis = axes[i] < 0 ? axes[i] + rank : axes[i];
                    if (axis < 0 || axis >= rank) return null;
                    full[axis] += pads[i];
                    full[rank + axis] += pads[axes.Length + i];
                }
                pads = full;
            }
        }
        if (pads is null || pads.Length != 2 * rank) return null;
        if (pads.Any(p => p < 0)) return null;
        // Axis 0 (batch) and 1 (channels) must stay as they are: the consumer only pads the axes after them.
        if (pads[0] != 0 || pads[1] != 0 || pads[rank] != 0 || pads[rank + 1] != 0) return null;
        int spatial = rank - 2;
        var result = new long[2 * spatial];
        for (int i = 0; i < spatial; i++)
        {
            result[i] = pads[2 + i];
            result[spatial + i] = pads[rank + 2 + i];
        }
        return result;
    }

    private static bool IsZero(Value fill)
    {
        if (fill.ConstantValue is not { } t || t.Strings is not null) return false;
        return t.Raw.All(b => b == 0) || t.ElementType switch
        {
            // -0.0 pads like 0.0 for a convolution and an average.
            DataType.Float or DataType.Double or DataType.Float16 => t.ToFloats().All(v => v == 0f),
            _ => false,
        };
    }
}
