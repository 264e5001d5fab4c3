using EdgeBuild.Ir;
using EdgeBuild.Quantization.Operators;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Quantization;

/// <summary>
/// Activation equalization: a per-channel affine (BatchNormalization, Mul or Div by a per-channel constant, or such a
/// Mul/Div followed by an Add/Sub of a per-channel constant) feeding a positively homogeneous activation (Relu,
/// LeakyRelu, PRelu: f(s x) = s f(x) for s > 0, whatever the slope of each channel) whose output only Conv (group 1),
/// Gemm and MatMul read as their data input with constant weights. Channel c of the affine is multiplied by s_c and
/// input channel c of every reader's weights divided by it: the float model computes the same, and the tensor between
/// them, which ONNX Runtime placement quantizes with one scale, sees channels of closer range. Clip is left out: its
/// bound is one scalar for all channels, so it cannot follow a per-channel rescale exactly.
/// <para>
/// s_c comes from the calibration's per-channel ranges of the affine's output (<see cref="PostTrainingStatistics.Channels"/>,
/// measured for the affine-input placement anyway), taken through the activation: w_c the width of channel c's range
/// (0 included, as asymmetric uint8 includes it), w_max the widest. s_c = sqrt(w_max / w_c), clamped to [1, 16]: the
/// widest channel sets the tensor's scale and keeps it; a narrow channel is brought to the geometric mean of its width
/// and w_max, so the bits it gains in the activation are shared with the bits its weights lose in the reader's
/// per-output-channel scale (the same split as cross-layer equalization's sqrt). The clamp keeps a near-dead channel
/// from having its weights divided below their reader's int8 resolution.
/// </para>
/// </summary>
internal static class ActivationEqualization
{
    /// <summary>The largest factor one channel is scaled by.</summary>
    public const double MaxScale = 16;

    /// <summary>
    /// A tensor is rescaled only when some channel gains at least one bit (s_c >= 2, a width ratio of 4 or more): below
    /// that the rescale mostly re-rounds the readers' weights for nothing.
    /// </summary>
    public const double MinGain = 2;

    /// <summary>The per-channel constants to multiply (or, for a Div, divide) by s, and the channel axis of the activation.</summary>
    private sealed record Affine(Node Last, int Axis, List<(Value Constant, bool Divide)> Parameters);

    /// <summary>A reader of the activation and the axis of its constant weight that runs over the activation's channels.</summary>
    private sealed record Reader(Node Node, Value Weight, int InputAxis);

    /// <summary>Rescales every matching affine/activation/readers group in place; returns how many were rescaled.</summary>
    public static int Apply(Graph graph, PostTrainingStatistics statistics)
    {
        int rescaled = 0;
        foreach (var act in graph.Nodes.ToList())
        {
            if (!(act.Is("Relu") || act.Is("LeakyRelu") || act.Is("PRelu"))) continue;
            if (act.Input(0) is not { } t || !OnlyReader(t) || act.Outputs.Count != 1 || act.Outputs[0] is not { } u || u.IsGraphOutput) continue;
            if (t.Producer is not { } producer || AffineOf(producer) is not { } affine || affine.Last.Outputs[0] != t) continue;
            if (t.TensorType?.Shape is not { } shape || shape.Rank < 2) continue;
            int axis = affine.Axis < 0 ? affine.Axis + shape.Rank : affine.Axis;
            if (shape[axis].Value is not long channelsLong) continue;
            int channels = (int)channelsLong;
            if (!statistics.Channels.TryGetValue(t.Name, out var ranges) || ranges.Min.Length != channels) continue;
            if (Slopes(act, channels, axis, shape.Rank) is not { } slopes) continue;
            var readers = Readers(u, axis, shape.Rank, channels);
            if (readers is null || affine.Parameters.Any(p => p.Constant.ConstantValue!.ElementCount != channels)) continue;

            var s = Scales(ranges, slopes);
            if (s.Max() < MinGain) continue;
            foreach (var (constant, divide) in affine.Parameters)
            {
                var v = constant.ConstantValue!.ToFloats();
                for (int c = 0; c < channels; c++) v[c] = divide ? v[c] / s[c] : v[c] * s[c];
                graph.SetInitializer(constant, Tensor.FromFloats(constant.ConstantValue!.Dims, v));
            }
            foreach (var r in readers)
            {
                var w = r.Weight.ConstantValue!;
                var values = w.ToFloats();
                long inner = 1;
                for (int i = r.InputAxis + 1; i < w.Rank; i++) inner *= w.Dims[i];
                for (long k = 0; k < values.LongLength; k++) values[k] /= s[k / inner % channels];
                graph.SetInitializer(r.Weight, Tensor.FromFloats(w.Dims, values));
            }
            rescaled++;
        }
        return rescaled;
    }

    /// <summary>
    /// s_c from the affine output's ranges through the activation. An activation f linear on each side of 0 takes its
    /// extremes over [lo, hi] at lo, hi or 0.
    /// </summary>
    private static float[] Scales(ChannelRanges ranges, float[] slopes)
    {
        int channels = ranges.Min.Length;
        var widths = new double[channels];
        for (int c = 0; c < channels; c++)
        {
            if (!(ranges.Min[c] <= ranges.Max[c])) continue;
            double F(double x) => x >= 0 ? x : slopes[c] * x;
            double a = F(ranges.Min[c]), b = F(ranges.Max[c]);
            widths[c] = Math.Max(Math.Max(a, b), 0) - Math.Min(Math.Min(a, b), 0);
        }
        double widest = widths.Max();
        var s = new float[channels];
        for (int c = 0; c < channels; c++)
            s[c] = widths[c] > 0 && double.IsFinite(widths[c]) ? (float)Math.Clamp(Math.Sqrt(widest / widths[c]), 1, MaxScale) : 1f;
        return s;
    }

    /// <summary>The negative-side slope per channel; null when a PRelu's slope is not a constant broadcast along the channel axis alone.</summary>
    private static float[]? Slopes(Node act, int channels, int axis, int rank)
    {
        if (act.OpType == "Relu") return new float[channels];
        if (act.OpType == "LeakyRelu") return Enumerable.Repeat(act.GetFloat("alpha", 0.01f), channels).ToArray();
        if (act.Input(1)?.ConstantValue is not { ElementType: DataType.Float } slope || slope.Rank > rank) return null;
        var v = slope.ToFloats();
        if (v.Length == 1) return Enumerable.Repeat(v[0], channels).ToArray();
        // Right-aligned broadcast: the slope must vary along the activation's channel axis and nowhere else.
        for (int i = 0; i < slope.Rank; i++)
        {
            int activationAxis = rank - slope.Rank + i;
            if (slope.Dims[i] != (activationAxis == axis ? channels : 1)) return null;
        }
        return v;
    }

    /// <summary>
    /// The affine ending in <paramref name="last"/> with the constants that scale its output: BatchNormalization's scale
    /// and B; a Mul's or Div's constant; for an Add/Sub of a constant, that constant and the Mul/Div or BatchNormalization
    /// before it (read by the Add alone), on the same channel axis. Every constant must be per-channel (one element per
    /// channel: <see cref="AffineInputPlacement.Affine"/>) and read by this node alone.
    /// </summary>
    private static Affine? AffineOf(Node last)
    {
        if (AffineInputPlacement.Affine(last) is not { } a || last.Outputs.Count(o => o is not null && o.IsUsed) > 1) return null;
        switch (last.OpType)
        {
            case "BatchNormalization":
                return PerChannel(last.Input(1)) && PerChannel(last.Input(2)) ? new Affine(last, a.Axis, [(last.Input(1)!, false), (last.Input(2)!, false)]) : null;
            case "Mul" or "Div":
            {
                var constant = last.Input(0) == a.Input ? last.Input(1)! : last.Input(0)!;
                return PerChannel(constant) ? new Affine(last, a.Axis, [(constant, last.OpType == "Div")]) : null;
            }
            default:
            {
                // Add or Sub: a shift alone cannot take a scale; the scaling affine before it does.
                var constant = last.Input(0) == a.Input ? last.Input(1)! : last.Input(0)!;
                if (!PerChannel(constant) || !OnlyReader(a.Input) || a.Input.Producer is not { } before || before.OpType == "Add" || before.OpType == "Sub") return null;
                if (AffineOf(before) is not { } scale || Normalize(scale.Axis, a.Input) != Normalize(a.Axis, a.Input)) return null;
                return new Affine(last, a.Axis, [.. scale.Parameters, (constant, false)]);
            }
        }
    }

    private static int Normalize(int axis, Value v) => axis < 0 && v.TensorType?.Shape is { } s ? axis + s.Rank : axis;

    /// <summary>A float constant with one element per channel (at most one dim above 1), read by one node only (a shared one would change for its other reader too).</summary>
    private static bool PerChannel(Value? v) =>
        v is { ConstantValue: { ElementType: DataType.Float } t, Uses.Count: 1, IsGraphOutput: false, IsGraphInput: false }
        && t.Dims.Count(d => d != 1) <= 1;

    /// <summary>Every reader of <paramref name="u"/>, when all are Conv/Gemm/MatMul reading it as data with constant weights over its channel axis; null otherwise.</summary>
    private static List<Reader>? Readers(Value u, int axis, int rank, int channels)
    {
        var readers = new List<Reader>();
        foreach (var use in u.Uses)
        {
            var n = use.Node;
            if (use.InputIndex != 0 || n.Inputs.Skip(1).Contains(u)) return null;
            Reader? r = n.OpType switch
            {
                "Conv" when n.IsStandardDomain && axis == 1 && n.GetInt("group", 1) == 1 && Weight(n.Input(1), rank) is { } w && w.Dims[1] == channels => new Reader(n, n.Input(1)!, 1),
                "Gemm" when n.IsStandardDomain && rank == 2 && axis == 1 && n.GetInt("transA", 0) == 0 && Weight(n.Input(1), 2) is { } w
                    && w.Dims[n.GetInt("transB", 0) == 1 ? 1 : 0] == channels => new Reader(n, n.Input(1)!, n.GetInt("transB", 0) == 1 ? 1 : 0),
                "MatMul" when n.IsStandardDomain && axis == rank - 1 && Weight(n.Input(1), 2) is { } w && w.Dims[0] == channels => new Reader(n, n.Input(1)!, 0),
                _ => null,
            };
            if (r is null || readers.Any(x => x.Weight == r.Weight)) return null;
            readers.Add(r);
        }
        return readers.Count > 0 ? readers : null;
    }

    /// <summary>A constant float weight of the given rank that no other node reads.</summary>
    private static Tensor? Weight(Value? v, int rank) =>
        v is { ConstantValue: { ElementType: DataType.Float } t, Uses.Count: 1, IsGraphOutput: false, IsGraphInput: false } && t.Rank == rank ? t : null;

    private static bool OnlyReader(Value v) => !v.IsGraphOutput && v.Uses.Count == 1;
}
