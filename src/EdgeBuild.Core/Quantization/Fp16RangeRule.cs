using System.Globalization;
using System.Text.Json.Serialization;
using EdgeBuild.Ir;
using EdgeBuild.Quantization.Calibration;

namespace EdgeBuild.Quantization;

/// <summary>Why the FP16 range rule kept a node in float32.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<Fp16RangeKind>))]
public enum Fp16RangeKind
{
    /// <summary>A tensor it reads or writes reached past half of ±65504 on the calibration data: float16 would hold infinity at twice that.</summary>
    Overflow,

    /// <summary>A single-signed tensor it writes (or, for a division, reads) has nonzero values under float16's smallest normal, and it reaches a Log, a division or a negative power.</summary>
    Underflow,

    /// <summary>A constant it reads holds a finite value past ±65504 (the conversion would saturate it).</summary>
    ConstantOverflow,

    /// <summary>A constant it (or a node upstream on the way to a Log or division) reads is nonzero but every nonzero element rounds to 0 in float16: an epsilon or a clamp bound that would vanish.</summary>
    ConstantUnderflow,
}

/// <summary>One node the FP16 range rule kept in float32: the tensor, the value measured and the limit it crossed.</summary>
/// <param name="Node">The node's name.</param>
/// <param name="OpType">Its operator.</param>
/// <param name="Tensor">The tensor (or constant) whose range decided.</param>
/// <param name="Kind">Which limit.</param>
/// <param name="Value">The measured magnitude: max |x| for overflows, the smallest nonzero |x| for underflows.</param>
/// <param name="Limit">The float16 limit it crossed.</param>
/// <param name="Reaches">For underflows and vanishing constants, the zero-sensitive reader the small values reach ("Log 'Log_17'"); empty otherwise.</param>
public sealed record Fp16RangeFinding(string Node, string OpType, string Tensor, Fp16RangeKind Kind, double Value, double Limit, string Reaches)
{
    /// <summary>"range: ..." as reports and the build's output print it.</summary>
    public string Reason => Kind switch
    {
        Fp16RangeKind.Overflow => Inv($"range: max |x| of '{Tensor}' is {Value:G4} > {Limit:G5} (half of float16's 65504)"),
        Fp16RangeKind.Underflow => Inv($"range: smallest nonzero |x| of '{Tensor}' is {Value:G3} < {Limit:G3} (float16's smallest normal) before {Reaches}"),
        Fp16RangeKind.ConstantOverflow => Inv($"range: constant '{Tensor}' holds {Value:G4} > {Limit:G5}"),
        _ => Inv($"range: constant '{Tensor}' ({Value:G3}) is 0 in float16 (under {Limit:G3}) on the way to {Reaches}"),
    };

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// Which nodes that could compute in float16 must stay float32 because of the values they meet, decided by op pattern
/// and by ranges measured on the calibration data (<see cref="ValueExtremes"/>), never by model.
/// </summary>
/// <remarks>
/// Float16 holds magnitudes up to 65504 and keeps its 11-bit relative precision only down to 2^-14 (6.1e-5); below,
/// subnormals lose a bit per halving and values under 2^-25 (3e-8) round to 0. Two things break a model:
/// <list type="bullet">
/// <item>Overflow: a tensor past 65504 becomes infinity wherever it is float16 (written by a float16 node, or cast to
/// float16 for one), and infinity minus infinity is NaN downstream (a power spectrum of int16-scaled audio, an
/// unnormalized logit sum). So the writer and every reader of a tensor whose calibration maximum passes half of 65504
/// (<see cref="OverflowLimit"/>: one bit of headroom over a sample's maximum) stay float32; the non-finite check after
/// conversion (<see cref="NonFiniteOutputCheck"/>) catches what the calibration data did not reach.</item>
/// <item>Underflow before a zero-sensitive op: Log, Reciprocal, a division's divisor and a power with a negative
/// exponent turn a small positive value into a large finite one, and 0 into infinity; their error is the input's
/// relative error, which float16 bounds only above its smallest normal. The small values that matter are those of a
/// single-signed quantity (a power spectrum, a variance, a norm): a signed activation's tiny values are zero crossings,
/// and where one reaches a divisor the float32 model is unstable too. So from each such input the rule walks up through
/// the nodes that write single-signed tensors with nonzero values under 2^-14 (the sums and products that built the
/// small quantity), or signed tensors whose every value is under 2^-14, keeping them float32, and stops at the first
/// tensor that is neither. A division
/// whose divisor qualifies stays float32 itself (Log, Reciprocal and Pow already do: <see cref="Fp16Converter.SensitiveOps"/>).
/// The threshold is the smallest normal, not the rounding-to-zero point, because these ops pass the relative error on
/// unchanged (log(x(1+e)) = log x + e): a subnormal input at 1e-7 carries 25 % error, enough to move a log-mel band by 1 dB.</item>
/// </list>
/// Constants are judged without data: a finite constant past 65504 would be saturated (its reader stays float32), and a
/// constant whose nonzero elements all round to 0 in float16 is an epsilon or a clamp bound (Clip(x, 1e-10) before a
/// Log, var + 1e-12 before a LayerNorm's Sqrt and Div) that exists to keep a value away from zero; in float16 it is 0 and
/// the guard is gone. Where such a guard reaches a zero-sensitive input within a few nodes, the nodes from its reader to
/// that input stay float32. A weight tensor with some tiny elements among larger ones is not a guard, and rounding
/// those is float16's ordinary error.
/// </remarks>
internal static class Fp16RangeRule
{
    /// <summary>The largest finite float16.</summary>
    public const float HalfMax = QuantMath.Fp16Max;

    /// <summary>float16's smallest normal, 2^-14: below it the relative precision falls with every halving.</summary>
    public const float HalfMinNormal = 6.1035156e-5f;

    /// <summary>
    /// The calibration maximum past which a tensor stays float32: half of float16's largest value. The calibration data
    /// is a sample and its maximum an underestimate of what deployment feeds; one bit of headroom costs nothing on the
    /// measured models (the largest activation a float16 node would touch in the 19 models of docs/quantization.md is
    /// 2893, blazeface-back256) and moves a tensor the calibration data saw at 40,000 out of float16.
    /// </summary>
    public const float OverflowLimit = HalfMax / 2;

    /// <summary>Half of float16's smallest subnormal, 2^-25: magnitudes below it round to 0.</summary>
    public const float HalfRoundsToZero = 2.9802322e-8f;

    /// <summary>
    /// The nodes of <paramref name="candidates"/> (those that would compute in float16) that stay float32, each with its
    /// first reason. Without <paramref name="extremes"/> only the constant rules apply.
    /// </summary>
    public static IReadOnlyDictionary<Node, Fp16RangeFinding> Find(Graph graph, IReadOnlySet<Node> candidates, IReadOnlyDictionary<string, ValueExtremes>? extremes)
    {
        var found = new Dictionary<Node, Fp16RangeFinding>();
        void Keep(Node n, string tensor, Fp16RangeKind kind, double value, double limit, string reaches = "")
        {
            if (candidates.Contains(n) && !found.ContainsKey(n))
                found[n] = new Fp16RangeFinding(NodePatterns.NameOf(n), n.OpType, tensor, kind, value, limit, reaches);
        }

        foreach (var n in graph.Nodes)
        {
            if (!candidates.Contains(n)) continue;
            foreach (var v in n.Inputs)
            {
                if (v?.ConstantValue is not { ElementType: DataType.Float } t) continue;
                var (absMax, largestVanishing, anyKept) = ConstantRange(t.AsSpan<float>());
                if (absMax > HalfMax) Keep(n, v.Name, Fp16RangeKind.ConstantOverflow, absMax, HalfMax);
                else if (largestVanishing > 0 && !anyKept && GuardedPath(n) is { } path)
                    foreach (var (node, reaches) in path) Keep(node, v.Name, Fp16RangeKind.ConstantUnderflow, largestVanishing, HalfRoundsToZero, reaches);
            }
        }
        if (extremes is null || extremes.Count == 0) return found;

        // A dequantized tensor of an int8 build (KeepFp16 layers beside int8 ones) carries the float tensor's values:
        // its extremes are those of the tensor its QuantizeLinear read.
        bool TryExtremes(Value v, out ValueExtremes e)
        {
            for (var at = v; ;)
            {
                if (extremes.TryGetValue(at.Name, out e)) return true;
                if (at.Producer is { OpType: "DequantizeLinear" } dq && dq.Input(0)?.Producer is { OpType: "QuantizeLinear" } q && q.Input(0) is { } source) at = source;
                else return false;
            }
        }

        var values = graph.Inputs.Concat(graph.Nodes.SelectMany(n => n.Outputs).OfType<Value>()).Distinct().ToList();
        foreach (var v in values)
        {
            if (!TryExtremes(v, out var e) || !(e.AbsMax > OverflowLimit)) continue;
            if (v.Producer is { } producer) Keep(producer, v.Name, Fp16RangeKind.Overflow, e.AbsMax, OverflowLimit);
            foreach (var u in v.Uses) Keep(u.Node, v.Name, Fp16RangeKind.Overflow, e.AbsMax, OverflowLimit);
        }

        // Single-signed with values under the smallest normal, or signed but wholly under it (x * 1e-5: no value keeps full precision).
        bool Small(Value v, out ValueExtremes e) =>
            TryExtremes(v, out e) && e.SmallestNonZero < HalfMinNormal && (e.Min >= 0 || e.Max <= 0 || e.AbsMax < HalfMinNormal);
        foreach (var n in graph.Nodes)
        {
            foreach (int slot in ZeroSensitiveInputs(n))
            {
                if (n.Input(slot) is not { } start || !Small(start, out var first)) continue;
                string reaches = $"{n.OpType} '{NodePatterns.NameOf(n)}'";
                Keep(n, start.Name, Fp16RangeKind.Underflow, first.SmallestNonZero, HalfMinNormal, reaches);
                var seen = new HashSet<Value>();
                var queue = new Queue<Value>([start]);
                while (queue.TryDequeue(out var v))
                {
                    if (!seen.Add(v) || v.Producer is not { } producer || !Small(v, out var e)) continue;
                    Keep(producer, v.Name, Fp16RangeKind.Underflow, e.SmallestNonZero, HalfMinNormal, reaches);
                    foreach (var input in producer.Inputs)
                        if (input is not null && input.ConstantValue is null) queue.Enqueue(input);
                }
            }
        }
        return found;
    }

    /// <summary>
    /// From the reader of a vanishing constant, the nodes down to the first zero-sensitive input they reach within
    /// <see cref="GuardReach"/> nodes (the guard's reader, the nodes between, and the zero-sensitive reader itself), each
    /// with that reader's description; null when none is reached. Float16 between the guard and the op it protects
    /// would round the guarded value to 0 again (a LayerNorm's var + 1e-12 cast to float16 before its Sqrt and Div), and a
    /// guard that reaches no such op protects nothing float16 can break.
    /// </summary>
    private static List<(Node Node, string Reaches)>? GuardedPath(Node reader)
    {
        var parent = new Dictionary<Node, Node?> { [reader] = null };
        var frontier = new List<Node> { reader };
        for (int depth = 0; depth < GuardReach && frontier.Count > 0; depth++)
        {
            var next = new List<Node>();
            foreach (var n in frontier)
                foreach (var o in n.Outputs)
                    foreach (var u in o?.Uses ?? [])
                    {
                        if (ZeroSensitiveInputs(u.Node).Contains(u.InputIndex))
                        {
                            string reaches = $"{u.Node.OpType} '{NodePatterns.NameOf(u.Node)}'";
                            var path = new List<(Node, string)> { (u.Node, reaches) };
                            for (Node? at = n; at is not null; at = parent[at]) path.Add((at, reaches));
                            return path;
                        }
                        if (parent.TryAdd(u.Node, n)) next.Add(u.Node);
                    }
            frontier = next;
        }
        return null;
    }

    /// <summary>How many nodes downstream of a guard's reader its zero-sensitive op may be (Add(var, eps) -> Sqrt -> Div is 2).</summary>
    private const int GuardReach = 3;

    /// <summary>The inputs where a value near 0 becomes a value near infinity.</summary>
    private static IEnumerable<int> ZeroSensitiveInputs(Node n)
    {
        if (!n.IsStandardDomain) yield break;
        switch (n.OpType)
        {
            case "Log" or "Reciprocal":
                yield return 0;
                break;
            case "Div":
                yield return 1;
                break;
            case "Pow":
                // x^p for p < 0 is a division; an exponent known only at run time may be negative.
                if (n.Input(1) is not { ConstantValue: { } p } || p.ToFloats().Any(e => e < 0)) yield return 0;
                break;
        }
    }

    /// <summary>A float constant's largest finite magnitude, its largest nonzero magnitude that rounds to 0 in float16, and whether any nonzero element survives.</summary>
    private static (double AbsMax, double LargestVanishing, bool AnyKept) ConstantRange(ReadOnlySpan<float> x)
    {
        double absMax = 0, vanishing = 0;
        bool kept = false;
        foreach (float v in x)
        {
            if (!float.IsFinite(v)) continue;
            double a = Math.Abs((double)v);
            if (a > absMax) absMax = a;
            if (a == 0) continue;
            if (a < HalfRoundsToZero) vanishing = Math.Max(vanishing, a);
            else kept = true;
        }
        return (absMax, vanishing, kept);
    }
}
