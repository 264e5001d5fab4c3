using EdgeBuild.Ir;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Quantization;

/// <summary>
/// Cross-layer equalization (Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias Correction",
/// 2019, section 4.1): for Conv -> (Relu | LeakyRelu) -> Conv with group 1 in the second, output channel i of the first
/// is divided by s_i and input channel i of the second multiplied by it. The float model computes the same (both
/// activations are positively homogeneous: relu(x / s) = relu(x) / s for s > 0); with s_i = sqrt(r1_i / r2_i), where
/// r1_i is the largest |weight| of the first layer's channel and r2_i that of the second layer's input channel, both
/// become sqrt(r1_i r2_i), so the second layer's per-output-channel weight scales and the activation between them see
/// channels of similar range. Off by default (<see cref="QuantizeOptions.CrossLayerEqualization"/>): a measurement
/// switch until it is shown to help.
/// </summary>
internal static class CrossLayerEqualization
{
    /// <summary>Equalizes every such pair in place; returns how many pairs changed.</summary>
    public static int Apply(Graph graph)
    {
        int pairs = 0;
        foreach (var first in graph.Nodes.ToList())
        {
            if (!first.Is("Conv") || Weight(first, 1) is not { } w1 || first.Outputs[0] is not { } y || !OnlyReader(y)) continue;
            var z = y;
            var next = y.Uses[0].Node;
            if (next.Is("Relu") || next.Is("LeakyRelu"))
            {
                if (next.Outputs[0] is not { } r || !OnlyReader(r)) continue;
                z = r;
                next = r.Uses[0].Node;
            }
            if (!next.Is("Conv") || next.Input(0) != z || next.GetInt("group", 1) != 1 || Weight(next, 1) is not { } w2) continue;
            if (w2.Rank != w1.Rank || w2.Dims[1] != w1.Dims[0]) continue;
            var b1 = first.Input(2);
            if (b1 is not null && (b1.ConstantValue is not { ElementType: DataType.Float } bt || bt.ElementCount != w1.Dims[0] || b1.Uses.Count != 1)) continue;

            int channels = (int)w1.Dims[0];
            var r1 = QuantMath.AbsMaxPerChannel(w1, 0);
            var r2 = QuantMath.AbsMaxPerChannel(w2, 1);
            var s = new float[channels];
            for (int i = 0; i < channels; i++)
                s[i] = r1[i] > 0 && r2[i] > 0 ? (float)Math.Clamp(Math.Sqrt(r1[i] / r2[i]), 1e-4, 1e4) : 1f;
            if (s.All(v => v == 1f)) continue;

            var a = w1.ToFloats();
            long per1 = a.LongLength / channels;
            for (long k = 0; k < a.LongLength; k++) a[k] /= s[k / per1];
            graph.SetInitializer(first.Input(1)!, Tensor.FromFloats(w1.Dims, a));
            if (b1?.ConstantValue is { } bias)
            {
                var bv = bias.ToFloats();
                for (int i = 0; i < channels; i++) bv[i] /= s[i];
                graph.SetInitializer(b1, Tensor.FromFloats(bias.Dims, bv));
            }
            var c = w2.ToFloats();
            long inner = c.LongLength / (w2.Dims[0] * w2.Dims[1]);
            for (long k = 0; k < c.LongLength; k++) c[k] *= s[k / inner % channels];
            graph.SetInitializer(next.Input(1)!, Tensor.FromFloats(w2.Dims, c));
            pairs++;
        }
        return pairs;
    }

    /// <summary>A constant float weight of rank >= 3 that no other node reads (a shared one would change for its other reader too).</summary>
    private static Tensor? Weight(Node n, int input) =>
        n.Input(input) is { ConstantValue: { ElementType: DataType.Float, Rank: >= 3 } t, Uses.Count: 1, IsGraphOutput: false } ? t : null;

    private static bool OnlyReader(Value v) => !v.IsGraphOutput && v.Uses.Count == 1;
}
