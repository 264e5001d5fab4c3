using EdgeBuild.Ir;
using EdgeBuild.Quantization.Calibration;
using IrAttribute = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Quantization;

/// <summary>
/// Phase two of static quantization: turns the marks of a <see cref="QdqPlan"/> into nodes, once.
/// <list type="bullet">
/// <item>activations: one QuantizeLinear -> DequantizeLinear pair per tensor, every reader moved to the DQ
/// output (a tensor that is also a model output stays float there: only its readers see the pair);</item>
/// <item>weights: stored as int8 initializers followed by a DequantizeLinear (per channel with axis). The zero
/// point input is left out: it is optional and 0 by default, and a per-channel int8 zero tensor would cost one
/// byte per channel (four per channel for int32 biases) for nothing;</item>
/// <item>biases: int32 initializers with scale s_input * s_weight (zero point 0) followed by a DequantizeLinear.
/// When a bias would not fit int32 at that scale, the weight scale of the channel is raised until it does (ORT
/// does the same since 1.19); this only happens for channels with tiny weights.</item>
/// </list>
/// Ops that move data share their input's scale and zero point initializers (the same values), which is what
/// ORT checks before dropping the Q/DQ around them.
/// </summary>
internal static class QdqInserter
{
    // Short suffixes on purpose: in a small model the names of the added tensors weigh as much as its weights.
    /// <summary>Int8 integers: a QuantizeLinear output or a quantized weight.</summary>
    public const string QuantizedSuffix = "_q";
    public const string DequantizedSuffix = "_dq";
    public const string ScaleSuffix = "_s";
    public const string ZeroPointSuffix = "_zp";

    /// <summary>Largest |bias| / scale allowed: 2^30, a factor 2 below int32's limit, so accumulation has headroom.</summary>
    private const double BiasLimit = 1 << 30;

    /// <summary>
    /// Inserts the Q/DQ nodes; returns, for each quantized activation, the DequantizeLinear output standing for it.
    /// Weights are symmetric int8 in [-<paramref name="weightMax"/>, <paramref name="weightMax"/>] (127, or
    /// <see cref="QuantMath.SaturationFreeWeightMax"/> where ONNX Runtime's x86 int8 kernels run the artifact).
    /// </summary>
    public static Dictionary<Value, Value> Insert(QdqPlan plan, IReadOnlyDictionary<string, TensorRange> ranges, int weightMax = 127)
    {
        var graph = plan.Graph;
        // The constants as marked, before any slot is rewired to a DequantizeLinear output.
        var original = new Dictionary<(Node, int), Value>();
        foreach (var m in plan.Constants) original[(m.Node, m.Input)] = m.Node.Input(m.Input)!;
        Value Original(Node node, int input) => original.TryGetValue((node, input), out var v) ? v : node.Input(input)!;
        var activationParams = ResolveActivations(plan, ranges);
        var weightScales = WeightScales(plan, activationParams, Original, weightMax);

        // Scale and zero-point initializers, one set per parameter source, so shared tensors share them; equal
        // values share one initializer (a small model's bytes are mostly these scalars and their names).
        var paramValues = new Dictionary<ActivationMark, (Value Scale, Value? ZeroPoint)>();
        var scalesByValue = new Dictionary<float, Value>();
        var zeroPointsByValue = new Dictionary<(DataType, int), Value>();
        // A uint8 zero point of 0 is left out: it is QuantizeLinear's default (after every Relu, most of them).
        (Value, Value?) ParamValues(ActivationMark mark)
        {
            var root = Root(plan, mark);
            if (paramValues.TryGetValue(root, out var known)) return known;
            var p = activationParams[root];
            string hint = root.Value.Name;
            if (!scalesByValue.TryGetValue(p.Scale, out var scale))
                scalesByValue[p.Scale] = scale = GraphEdits.Initializer(graph, hint + ScaleSuffix, Tensor.Scalar(p.Scale));
            if (p is { Type: DataType.UInt8, ZeroPoint: 0 }) return paramValues[root] = (scale, null);
            if (!zeroPointsByValue.TryGetValue((p.Type, p.ZeroPoint), out var zeroPoint))
                zeroPointsByValue[(p.Type, p.ZeroPoint)] = zeroPoint = GraphEdits.Initializer(graph,
                    string.Create(System.Globalization.CultureInfo.InvariantCulture, $"zp_{DataTypes.Name(p.Type)}_{p.ZeroPoint}"), QuantMath.Scalar(p.Type, p.ZeroPoint));
            return paramValues[root] = (scale, zeroPoint);
        }

        // Constants first. Weights and biases replace the input at their marked slot only; a constant in an
        // activation's place gets one DequantizeLinear that every reader without a mark of its own shares, so
        // the float copy can go (a prior-box table read by a quantized Mul and a float one is stored once).
        var dequantizedWeights = new Dictionary<(Value, int?), Value>();
        var dequantizedConstants = new Dictionary<Value, Value>();
        var markedSlots = plan.Constants.Select(m => (m.Node, m.Input)).ToHashSet();
        Value DequantizedWeightOf(Value weight, int? axis)
        {
            if (!dequantizedWeights.TryGetValue((weight, axis), out var dq))
                dequantizedWeights[(weight, axis)] = dq = DequantizedWeight(graph, weight, axis, weightScales[(weight, axis)], weightMax);
            return dq;
        }
        foreach (var mark in plan.Constants)
        {
            var value = Original(mark.Node, mark.Input);
            Value replacement;
            switch (mark)
            {
                case WeightMark w:
                    replacement = DequantizedWeightOf(value, w.Axis);
                    break;
                case BiasMark b:
                {
                    var weightValue = Original(b.WeightNode, b.WeightInput);
                    var weight = plan.Constants.OfType<WeightMark>().First(w => w.Node == b.WeightNode && w.Input == b.WeightInput);
                    // The weight's scale initializer (input 1 of its DequantizeLinear) and the input's scale.
                    var weightScale = DequantizedWeightOf(weightValue, weight.Axis).Producer!.Input(1)!;
                    var inputScale = ParamValues(plan.MarkOf(b.Activation)!).Item1;
                    replacement = DequantizedBias(graph, plan, b, value, weightValue, activationParams, weightScales, inputScale, weightScale);
                    break;
                }
                case ConstantActivationMark:
                    if (!dequantizedConstants.TryGetValue(value, out replacement!))
                    {
                        replacement = DequantizedConstant(graph, value, plan.Symmetric);
                        dequantizedConstants[value] = replacement;
                        foreach (var u in value.Uses.ToList())
                            if (u.Node.Graph == graph && !markedSlots.Contains((u.Node, u.InputIndex))) u.Node.SetInput(u.InputIndex, replacement);
                    }
                    break;
                default:
                    throw new InvalidOperationException($"unknown mark {mark.GetType().Name}");
            }
            mark.Node.SetInput(mark.Input, replacement);
        }

        var dequantized = new Dictionary<Value, Value>();
        var quantized = new Dictionary<Value, Value>();
        var rescaledMuls = new List<Node>();
        var created = new List<Node>();
        foreach (var mark in plan.Activations)
        {
            var v = mark.Value;
            var (scale, zeroPoint) = ParamValues(mark);
            var readers = v.Uses.ToList();
            Value q;
            if (mark.RescaleOf is { } source)
            {
                // Same integers as the source, read with a larger scale; the Mul that made v goes away.
                q = quantized[source];
                rescaledMuls.Add(v.Producer!);
            }
            else
            {
                var qNode = graph.AddNodeWithFreshOutputs("QuantizeLinear", zeroPoint is null ? [v, scale] : [v, scale, zeroPoint], 1, v.Name + QuantizedSuffix, named: false);
                created.Add(qNode);
                q = qNode.Output0;
            }
            quantized[v] = q;
            var dqNode = graph.AddNodeWithFreshOutputs("DequantizeLinear", zeroPoint is null ? [q, scale] : [q, scale, zeroPoint], 1, v.Name + DequantizedSuffix, named: false);
            created.Add(dqNode);
            var dq = dqNode.Output0;
            foreach (var u in readers) u.Node.SetInput(u.InputIndex, dq);
            dequantized[v] = dq;
        }
        foreach (var mul in rescaledMuls) graph.RemoveNode(mul);
        RemoveUnread(graph, created);
        graph.SortTopologically();
        return dequantized;
    }

    /// <summary>The mark whose parameters a mark uses (following "same as input" links to the source).</summary>
    private static ActivationMark Root(QdqPlan plan, ActivationMark mark)
    {
        var seen = new HashSet<ActivationMark>();
        while (mark.SameAs is { } source && plan.MarkOf(source) is { } sourceMark && seen.Add(mark)) mark = sourceMark;
        return mark;
    }

    private static Dictionary<ActivationMark, QuantParams> ResolveActivations(QdqPlan plan, IReadOnlyDictionary<string, TensorRange> ranges)
    {
        var result = new Dictionary<ActivationMark, QuantParams>();
        QuantParams Resolve(ActivationMark mark, int depth)
        {
            if (result.TryGetValue(mark, out var known)) return known;
            if (depth > 10_000) throw new InvalidOperationException($"quantization parameters of '{mark.Value.Name}' refer to themselves");
            QuantParams p;
            if (mark.Fixed is { } fixedParams) p = fixedParams;
            else if (mark.SameAs is { } same && plan.MarkOf(same) is { } sameMark) p = Resolve(sameMark, depth + 1);
            else if (mark.RescaleOf is { } source && plan.MarkOf(source) is { } sourceMark)
            {
                var s = Resolve(sourceMark, depth + 1);
                p = s with { Scale = s.Scale * mark.Factor };
            }
            else if (ranges.TryGetValue(mark.CalibrationName, out var r)) p = QuantMath.ForActivation(r.Min, r.Max, plan.Symmetric);
            else if (mark.Value.IsGraphInput && mark.Value.Initializer is { ElementType: DataType.Float } defaultValue)
            {
                // An initializer also listed as a graph input (exporters that keep initializers as inputs) is an
                // overridable default, so it is quantized as an activation; calibration feeds the model's own inputs
                // only, so this tensor always held its default: that is its calibrated range.
                var (min, max) = MinMaxCalibrator.Extremes(defaultValue.ToFloats());
                p = QuantMath.ForActivation(min, max, plan.Symmetric);
            }
            else throw new InvalidOperationException($"no calibrated range for '{mark.CalibrationName}'");
            result[mark] = p;
            return p;
        }
        foreach (var mark in plan.Activations) Resolve(mark, 0);
        return result;
    }

    /// <summary>Q/DQ nodes nobody reads any more (the DequantizeLinear of a tensor whose only reader was a removed Mul).</summary>
    private static void RemoveUnread(Graph graph, List<Node> created)
    {
        // Reverse creation order: a DequantizeLinear goes before the QuantizeLinear it reads.
        for (int i = created.Count - 1; i >= 0; i--)
        {
            var n = created[i];
            if (n.Graph == graph && n.Outputs.All(o => o is null || !o.IsUsed)) graph.RemoveNode(n);
        }
    }

    /// <summary>Weight scales per (weight, axis), raised where a bias on that weight would overflow int32.</summary>
    private static Dictionary<(Value, int?), float[]> WeightScales(QdqPlan plan, Dictionary<ActivationMark, QuantParams> activationParams,
        Func<Node, int, Value> original, int weightMax)
    {
        var scales = new Dictionary<(Value, int?), float[]>();
        foreach (var w in plan.Constants.OfType<WeightMark>())
        {
            var value = original(w.Node, w.Input);
            if (scales.ContainsKey((value, w.Axis))) continue;
            var t = value.ConstantValue!;
            scales[(value, w.Axis)] = w.Axis is int axis
                ? QuantMath.AbsMaxPerChannel(t, axis).Select(a => QuantMath.WeightScaleWithin(a, weightMax)).ToArray()
                : [QuantMath.WeightScaleWithin(t.ToFloats().Select(x => Math.Abs((double)x)).DefaultIfEmpty(0).Max(), weightMax)];
        }
        foreach (var b in plan.Constants.OfType<BiasMark>())
        {
            var weight = plan.Constants.OfType<WeightMark>().FirstOrDefault(w => w.Node == b.WeightNode && w.Input == b.WeightInput);
            if (weight is null) continue;
            var ws = scales[(original(b.WeightNode, b.WeightInput), weight.Axis)];
            float sx = InputScale(plan, b, activationParams);
            var bias = original(b.Node, b.Input).ConstantValue!.ToFloats();
            for (int c = 0; c < bias.Length; c++)
            {
                int k = ws.Length == 1 ? 0 : c % ws.Length;
                double needed = Math.Abs(bias[c]) / (sx * (double)b.Beta * BiasLimit);
                if (needed > ws[k]) ws[k] = (float)(needed * (1 + 1e-6));
            }
        }
        return scales;
    }

    private static float InputScale(QdqPlan plan, BiasMark b, Dictionary<ActivationMark, QuantParams> activationParams)
    {
        if (plan.MarkOf(b.Activation) is { } mark) return activationParams[mark].Scale;
        throw new InvalidOperationException($"bias '{b.Node.Input(b.Input)!.Name}' of {b.Node} has an unquantized input");
    }

    private static Value DequantizedWeight(Graph graph, Value weight, int? axis, float[] scales, int weightMax)
    {
        var t = weight.ConstantValue!;
        string name = weight.Name;
        if (axis is int a)
        {
            var q = GraphEdits.Initializer(graph, name + QuantizedSuffix, QuantMath.QuantizePerChannel(t, a, scales, qmax: weightMax));
            var s = GraphEdits.Initializer(graph, name + ScaleSuffix, Tensor.FromFloats([scales.Length], scales));
            return graph.AddNodeWithFreshOutputs("DequantizeLinear", [q, s], 1, name + DequantizedSuffix, [IrAttribute.Of("axis", (long)a)], named: false).Output0;
        }
        var qv = GraphEdits.Initializer(graph, name + QuantizedSuffix, QuantMath.QuantizeSymmetric(t, scales[0], weightMax));
        var sv = GraphEdits.Initializer(graph, name + ScaleSuffix, Tensor.Scalar(scales[0]));
        return graph.AddNodeWithFreshOutputs("DequantizeLinear", [qv, sv], 1, name + DequantizedSuffix, null, named: false).Output0;
    }

    private static Value DequantizedBias(Graph graph, QdqPlan plan, BiasMark b, Value value, Value weightValue,
        Dictionary<ActivationMark, QuantParams> activationParams, Dictionary<(Value, int?), float[]> weightScales, Value inputScale, Value weightScale)
    {
        var t = value.ConstantValue!;
        var bias = t.ToFloats();
        float sx = InputScale(plan, b, activationParams);
        var weight = plan.Constants.OfType<WeightMark>().First(w => w.Node == b.WeightNode && w.Input == b.WeightInput);
        var ws = weightScales[(weightValue, weight.Axis)];
        bool perChannel = ws.Length > 1 || (weight.Axis is not null && bias.Length == ws.Length && bias.Length > 1);
        // float32 products, as the runtime forms s_x * s_w when it requantizes.
        var scales = perChannel ? ws.Select(w => sx * w * b.Beta).ToArray() : [sx * ws[0] * b.Beta];
        var q = new int[bias.Length];
        for (int c = 0; c < bias.Length; c++)
            q[c] = QuantMath.Quantize(bias[c], scales[perChannel ? c % scales.Length : 0], 0, int.MinValue + 1, int.MaxValue);
        string name = value.Name;
        var qv = GraphEdits.Initializer(graph, name + QuantizedSuffix, Tensor.FromSpan<int>(DataType.Int32, t.Dims, q));
        if (perChannel && scales.Length == bias.Length)
        {
            // The per-channel bias scale is by definition s_x * s_w: a Mul of the two stored scales, folded to a
            // constant when the runtime loads the model (ORT folds before it fuses QDQ), instead of a third vector
            // as long as the bias itself. Only with beta 1, where the product is exactly what quantized the bias.
            var sv = b.Beta == 1f
                ? graph.AddNodeWithFreshOutputs("Mul", [inputScale, weightScale], 1, name + ScaleSuffix, null, named: false).Output0
                : GraphEdits.Initializer(graph, name + ScaleSuffix, Tensor.FromFloats([scales.Length], scales));
            // The channel axis of a [N] bias is 0, of a [1, N] Gemm bias 1: the last one either way.
            return graph.AddNodeWithFreshOutputs("DequantizeLinear", [qv, sv], 1, name + DequantizedSuffix, [IrAttribute.Of("axis", (long)(t.Rank - 1))], named: false).Output0;
        }
        var s = GraphEdits.Initializer(graph, name + ScaleSuffix, Tensor.Scalar(scales[0]));
        return graph.AddNodeWithFreshOutputs("DequantizeLinear", [qv, s], 1, name + DequantizedSuffix, null, named: false).Output0;
    }

    /// <summary>A constant in an activation's place, quantized per tensor with the activation type over its own min/max.</summary>
    private static Value DequantizedConstant(Graph graph, Value constant, bool symmetric)
    {
        var t = constant.ConstantValue!;
        var (min, max) = MinMaxCalibrator.Extremes(t.ToFloats());
        var p = QuantMath.ForActivation(min, max, symmetric);
        string name = constant.Name;
        var q = GraphEdits.Initializer(graph, name + QuantizedSuffix, QuantMath.QuantizeTensor(t, p));
        var s = GraphEdits.Initializer(graph, name + ScaleSuffix, Tensor.Scalar(p.Scale));
        var z = GraphEdits.Initializer(graph, name + ZeroPointSuffix, QuantMath.Scalar(p.Type, p.ZeroPoint));
        return graph.AddNodeWithFreshOutputs("DequantizeLinear", [q, s, z], 1, name + DequantizedSuffix, null, named: false).Output0;
    }
}
