using EdgeBuild.Ir;
using EdgeBuild.Quantization.Calibration;
using IrAttribute = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Quantization;

/// <summary>
/// Phase two of static quantization: turns the marks of a <see cref="QdqPlan"/> into nodes, once.
/// <list type="bullet">
/// <item>activations: one QuantizeLinear -> DequantizeLinear pair per tensor, every reader moved to the DQ
/// output (a graph output keeps its name: the DQ output takes it);</item>
/// <item>weights: stored as int8 initializers followed by a DequantizeLinear (per channel with axis);</item>
/// <item>biases: int32 initializers with scale s_input * s_weight (zero point 0) followed by a DequantizeLinear.
/// When a bias would not fit int32 at that scale, the weight scale of the channel is raised until it does (ORT
/// does the same since 1.19); this only happens for channels with tiny weights.</item>
/// </list>
/// Ops that move data share their input's scale and zero point initializers (the same values), which is what
/// ORT checks before dropping the Q/DQ around them.
/// </summary>
internal static class QdqInserter
{
    /// <summary>Largest |bias| / scale allowed: 2^30, a factor 2 below int32's limit, so accumulation has headroom.</summary>
    private const double BiasLimit = 1 << 30;

    /// <summary>Inserts the Q/DQ nodes; returns, for each quantized activation, the DequantizeLinear output standing for it.</summary>
    public static Dictionary<Value, Value> Insert(QdqPlan plan, IReadOnlyDictionary<string, TensorRange> ranges)
    {
        var graph = plan.Graph;
        var activationParams = ResolveActivations(plan, ranges);
        var weightScales = WeightScales(plan, activationParams);

        // Scale and zero-point initializers, one set per parameter source, so shared tensors share them.
        var paramValues = new Dictionary<ActivationMark, (Value Scale, Value ZeroPoint)>();
        (Value, Value) ParamValues(ActivationMark mark)
        {
            var root = Root(plan, mark);
            if (paramValues.TryGetValue(root, out var known)) return known;
            var p = activationParams[root];
            string hint = root.Value.Name;
            var made = (GraphEdits.Initializer(graph, hint + "_scale", Tensor.Scalar(p.Scale)),
                        GraphEdits.Initializer(graph, hint + "_zero_point", QuantMath.Scalar(p.Type, p.ZeroPoint)));
            paramValues[root] = made;
            return made;
        }

        // Constants first: they only replace inputs at their marked slots.
        var dequantizedWeights = new Dictionary<(Value, int?), Value>();
        foreach (var mark in plan.Constants)
        {
            var value = mark.Node.Input(mark.Input)!;
            Value replacement;
            switch (mark)
            {
                case WeightMark w:
                    if (!dequantizedWeights.TryGetValue((value, w.Axis), out replacement!))
                    {
                        replacement = DequantizedWeight(graph, value, w.Axis, weightScales[(value, w.Axis)]);
                        dequantizedWeights[(value, w.Axis)] = replacement;
                    }
                    break;
                case BiasMark b:
                    replacement = DequantizedBias(graph, plan, b, activationParams, weightScales);
                    break;
                case ConstantActivationMark:
                    replacement = DequantizedConstant(graph, value, plan.Symmetric);
                    break;
                default:
                    throw new InvalidOperationException($"unknown mark {mark.GetType().Name}");
            }
            mark.Node.SetInput(mark.Input, replacement);
        }

        var dequantized = new Dictionary<Value, Value>();
        foreach (var mark in plan.Activations)
        {
            var v = mark.Value;
            var (scale, zeroPoint) = ParamValues(mark);
            var readers = v.Uses.ToList();
            Value QuantizeDequantize(Value x)
            {
                var q = graph.AddNodeWithFreshOutputs("QuantizeLinear", [x, scale, zeroPoint], 1, x.Name + "_quantized").Output0;
                return graph.AddNodeWithFreshOutputs("DequantizeLinear", [q, scale, zeroPoint], 1, x.Name + "_dequantized").Output0;
            }
            var dq = v.IsGraphOutput ? GraphEdits.AppendToGraphOutput(graph, v, "_QuantizeInput", QuantizeDequantize) : QuantizeDequantize(v);
            foreach (var u in readers) u.Node.SetInput(u.InputIndex, dq);
            dequantized[v] = dq;
        }
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
        foreach (var mark in plan.Activations)
        {
            var root = Root(plan, mark);
            if (result.ContainsKey(root)) continue;
            if (root.Fixed is { } fixedParams) result[root] = fixedParams;
            else if (ranges.TryGetValue(root.CalibrationName, out var r)) result[root] = QuantMath.ForActivation(r.Min, r.Max, plan.Symmetric);
            else throw new InvalidOperationException($"no calibrated range for '{root.CalibrationName}'");
        }
        foreach (var mark in plan.Activations) result[mark] = result[Root(plan, mark)];
        return result;
    }

    /// <summary>Weight scales per (weight, axis), raised where a bias on that weight would overflow int32.</summary>
    private static Dictionary<(Value, int?), float[]> WeightScales(QdqPlan plan, Dictionary<ActivationMark, QuantParams> activationParams)
    {
        var scales = new Dictionary<(Value, int?), float[]>();
        foreach (var w in plan.Constants.OfType<WeightMark>())
        {
            var value = w.Node.Input(w.Input)!;
            if (scales.ContainsKey((value, w.Axis))) continue;
            var t = value.ConstantValue!;
            scales[(value, w.Axis)] = w.Axis is int axis
                ? QuantMath.AbsMaxPerChannel(t, axis).Select(QuantMath.WeightScale).ToArray()
                : [QuantMath.WeightScale(t.ToFloats().Select(x => Math.Abs((double)x)).DefaultIfEmpty(0).Max())];
        }
        foreach (var b in plan.Constants.OfType<BiasMark>())
        {
            var weight = plan.Constants.OfType<WeightMark>().FirstOrDefault(w => w.Node == b.WeightNode && w.Input == b.WeightInput);
            if (weight is null) continue;
            var ws = scales[(b.WeightNode.Input(b.WeightInput)!, weight.Axis)];
            float sx = InputScale(plan, b, activationParams);
            var bias = b.Node.Input(b.Input)!.ConstantValue!.ToFloats();
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

    private static Value DequantizedWeight(Graph graph, Value weight, int? axis, float[] scales)
    {
        var t = weight.ConstantValue!;
        string name = weight.Name;
        if (axis is int a)
        {
            var q = GraphEdits.Initializer(graph, name + "_quantized", QuantMath.QuantizePerChannel(t, a, scales));
            var s = GraphEdits.Initializer(graph, name + "_scale", Tensor.FromFloats([scales.Length], scales));
            var zp = GraphEdits.Initializer(graph, name + "_zero_point", Tensor.FromRaw(DataType.Int8, [scales.Length], new byte[scales.Length]));
            return graph.AddNodeWithFreshOutputs("DequantizeLinear", [q, s, zp], 1, name + "_dequantized", [IrAttribute.Of("axis", (long)a)]).Output0;
        }
        var qv = GraphEdits.Initializer(graph, name + "_quantized", QuantMath.QuantizeSymmetric(t, scales[0]));
        var sv = GraphEdits.Initializer(graph, name + "_scale", Tensor.Scalar(scales[0]));
        var zv = GraphEdits.Initializer(graph, name + "_zero_point", QuantMath.Scalar(DataType.Int8, 0));
        return graph.AddNodeWithFreshOutputs("DequantizeLinear", [qv, sv, zv], 1, name + "_dequantized").Output0;
    }

    private static Value DequantizedBias(Graph graph, QdqPlan plan, BiasMark b, Dictionary<ActivationMark, QuantParams> activationParams,
        Dictionary<(Value, int?), float[]> weightScales)
    {
        var value = b.Node.Input(b.Input)!;
        var t = value.ConstantValue!;
        var bias = t.ToFloats();
        float sx = InputScale(plan, b, activationParams);
        var weight = plan.Constants.OfType<WeightMark>().First(w => w.Node == b.WeightNode && w.Input == b.WeightInput);
        var ws = weightScales[(b.WeightNode.Input(b.WeightInput)!, weight.Axis)];
        bool perChannel = ws.Length > 1 || (weight.Axis is not null && bias.Length == ws.Length && bias.Length > 1);
        // float32 products, as the runtime forms s_x * s_w when it requantizes.
        var scales = perChannel ? ws.Select(w => sx * w * b.Beta).ToArray() : [sx * ws[0] * b.Beta];
        var q = new int[bias.Length];
        for (int c = 0; c < bias.Length; c++)
            q[c] = QuantMath.Quantize(bias[c], scales[perChannel ? c % scales.Length : 0], 0, int.MinValue + 1, int.MaxValue);
        string name = value.Name;
        var qv = GraphEdits.Initializer(graph, name + "_quantized", Tensor.FromSpan<int>(DataType.Int32, t.Dims, q));
        if (perChannel && scales.Length == bias.Length)
        {
            var sv = GraphEdits.Initializer(graph, name + "_scale", Tensor.FromFloats([scales.Length], scales));
            var zv = GraphEdits.Initializer(graph, name + "_zero_point", Tensor.FromSpan<int>(DataType.Int32, [scales.Length], new int[scales.Length]));
            // The channel axis of a [N] bias is 0, of a [1, N] Gemm bias 1: the last one either way.
            return graph.AddNodeWithFreshOutputs("DequantizeLinear", [qv, sv, zv], 1, name + "_dequantized", [IrAttribute.Of("axis", (long)(t.Rank - 1))]).Output0;
        }
        var s = GraphEdits.Initializer(graph, name + "_scale", Tensor.Scalar(scales[0]));
        var z = GraphEdits.Initializer(graph, name + "_zero_point", QuantMath.Scalar(DataType.Int32, 0));
        return graph.AddNodeWithFreshOutputs("DequantizeLinear", [qv, s, z], 1, name + "_dequantized").Output0;
    }

    /// <summary>A constant in an activation's place, quantized per tensor with the activation type over its own min/max.</summary>
    private static Value DequantizedConstant(Graph graph, Value constant, bool symmetric)
    {
        var t = constant.ConstantValue!;
        var (min, max) = MinMaxCalibrator.Extremes(t.ToFloats());
        var p = QuantMath.ForActivation(min, max, symmetric);
        string name = constant.Name;
        var q = GraphEdits.Initializer(graph, name + "_quantized", QuantMath.QuantizeTensor(t, p));
        var s = GraphEdits.Initializer(graph, name + "_scale", Tensor.Scalar(p.Scale));
        var z = GraphEdits.Initializer(graph, name + "_zero_point", QuantMath.Scalar(p.Type, p.ZeroPoint));
        return graph.AddNodeWithFreshOutputs("DequantizeLinear", [q, s, z], 1, name + "_dequantized").Output0;
    }
}
