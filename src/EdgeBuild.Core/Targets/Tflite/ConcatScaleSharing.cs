using EdgeBuild.Ir;
using EdgeBuild.Quantization.Calibration;

namespace EdgeBuild.Targets.Tflite;

/// <summary>
/// Int8 CONCATENATION needs every input at the output's scale and zero point (TFLite's int8 spec; the kernel checks it).
/// Where a concat input is computed only for the concat, its producer writes it at the concat's range directly instead
/// of at its own range followed by a QUANTIZE (int8 -> int8) requantization: one op and one tensor fewer, and one rounding
/// instead of two; the values the concat holds are the same range and step either way. Walks back through ops that keep
/// their input's scale (reshapes, transposes, max pools, pads, slices, resizes) to the op whose range it sets. Outer
/// concats are visited first, so a concat of concats passes its range down to the inner one's inputs too.
/// </summary>
public static class ConcatScaleSharing
{
    /// <summary>Ops whose int8 output always takes their input's quantization.</summary>
    private static readonly HashSet<string> KeepsInputScale = new(StringComparer.Ordinal)
    {
        "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity", "Dropout", "MaxPool", "Pad", "Slice",
        "Resize", "Upsample", "Gather", "DepthToSpace", "SpaceToDepth",
    };

    /// <summary>The calibrated ranges with each concat-only producer's range replaced by its concat's.</summary>
    public static IReadOnlyDictionary<string, TensorRange> Apply(Graph graph, IReadOnlyDictionary<string, TensorRange> ranges)
    {
        var result = new Dictionary<string, TensorRange>(ranges, StringComparer.Ordinal);
        foreach (var concat in graph.Nodes.Reverse().Where(n => n.IsStandardDomain && n.OpType == "Concat"))
        {
            if (!result.TryGetValue(concat.Output0.Name, out var range)) continue;
            foreach (var input in concat.Inputs)
            {
                var v = input;
                // Only a value nothing else reads: another reader would see it at the concat's scale too.
                while (v is { Initializer: null, IsGraphOutput: false, Uses.Count: 1 } && v.Producer is { } p)
                {
                    if (p.IsStandardDomain && KeepsInputScale.Contains(p.OpType)) v = p.Input(0);
                    else
                    {
                        if (result.ContainsKey(v.Name)) result[v.Name] = range;
                        break;
                    }
                }
            }
        }
        return result;
    }
}
