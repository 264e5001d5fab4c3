using EdgeBuild.Ir;
using EdgeBuild.Targets.Tflite.Schema;
using static EdgeBuild.Targets.Tflite.Ops.TflOpRegistry;

namespace EdgeBuild.Targets.Tflite.Ops;

/// <summary>
/// Activations and other one-input ops, in the layout of their input: Relu / Clip / LeakyRelu / PRelu / Sigmoid /
/// Tanh / HardSigmoid / HardSwish / Softmax / LogSoftmax / Exp / Sqrt / Neg / Abs / Log. Relu and Clip(0,6) right
/// after a conv, fully connected or arithmetic op are fused into it instead. Int8: LOGISTIC (1/256, -128),
/// SOFTMAX (1/256, -128), LOG_SOFTMAX (16/256, 127) and TANH (1/128, 0) have fixed output parameters.
/// </summary>
internal static class ActivationOps
{
    public static readonly TflQuantization LogisticQuant = TflQuantization.PerTensor(1f / 256, -128);
    public static readonly TflQuantization SoftmaxQuant = TflQuantization.PerTensor(1f / 256, -128);
    public static readonly TflQuantization TanhQuant = TflQuantization.PerTensor(1f / 128, 0);
    public static readonly TflQuantization LogSoftmaxQuant = TflQuantization.PerTensor(16f / 256, 127);

    public static IEnumerable<(string, OpRule)> Rules()
    {
        yield return ("Relu", new OpRule(_ => null, (n, c) => Unary(n, c, BuiltinOperator.RELU, null)));
        yield return ("Clip", new OpRule(CheckClip, ConvertClip, [1, 2]));
        yield return ("LeakyRelu", new OpRule(_ => null, (n, c) => Unary(n, c, BuiltinOperator.LEAKY_RELU, new LeakyReluOptions(n.GetFloat("alpha", 0.01f)))));
        yield return ("PRelu", new OpRule(n => IsConst(n.Input(1)) ? null : "slope must be a constant", ConvertPRelu));
        yield return ("Sigmoid", new OpRule(_ => null, (n, c) => Unary(n, c, BuiltinOperator.LOGISTIC, null, LogisticQuant)));
        yield return ("Tanh", new OpRule(_ => null, (n, c) => Unary(n, c, BuiltinOperator.TANH, null, TanhQuant)));
        yield return ("HardSwish", new OpRule(_ => null, (n, c) => Unary(n, c, BuiltinOperator.HARD_SWISH, null)));
        yield return ("HardSigmoid", new OpRule(_ => null, ConvertHardSigmoid));
        yield return ("Softmax", new OpRule(_ => null, (n, c) => ConvertSoftmax(n, c, BuiltinOperator.SOFTMAX)));
        yield return ("LogSoftmax", new OpRule(_ => null, (n, c) => ConvertSoftmax(n, c, BuiltinOperator.LOG_SOFTMAX)));
        yield return ("Exp", new OpRule(_ => null, (n, c) => Unary(n, c, BuiltinOperator.EXP, new EmptyOptions(BuiltinOptionsType.ExpOptions))));
        yield return ("Sqrt", new OpRule(_ => null, (n, c) => FloatUnary(n, c, BuiltinOperator.SQRT)));
        yield return ("Log", new OpRule(_ => null, (n, c) => FloatUnary(n, c, BuiltinOperator.LOG)));
        yield return ("Neg", new OpRule(_ => null, (n, c) => Unary(n, c, BuiltinOperator.NEG, new EmptyOptions(BuiltinOptionsType.NegOptions))));
        yield return ("Abs", new OpRule(_ => null, (n, c) => Unary(n, c, BuiltinOperator.ABS, new EmptyOptions(BuiltinOptionsType.AbsOptions))));
        // Converted with its whole GELU pattern at the pattern's first node (GeluPattern.TryConvert); never alone.
        yield return ("Erf", new OpRule(
            n => GeluPattern.Match(n) is null ? "TFLite has no ERF kernel; only the GELU pattern x * 0.5 * (1 + erf(x / sqrt 2)) converts" : null,
            (n, _) => throw new InvalidOperationException($"Erf '{n.Name}' outside the GELU pattern it was checked in")));
    }

    /// <summary>Clip's bounds (attributes before opset 11, constant inputs after); infinite when absent.</summary>
    public static (float Min, float Max) ClipRange(Node n)
    {
        float min = n.GetAttribute("min") is { Kind: AttributeKind.Float } a ? a.Float : float.NegativeInfinity;
        float max = n.GetAttribute("max") is { Kind: AttributeKind.Float } b ? b.Float : float.PositiveInfinity;
        if (ConstFloats(n.Input(1)) is { Length: 1 } lo) min = lo[0];
        if (ConstFloats(n.Input(2)) is { Length: 1 } hi) max = hi[0];
        return (min, max);
    }

    /// <summary>Constant bounds, or computed ones that broadcast to the input (a log-mel floor of max - 80 dB).</summary>
    private static string? CheckClip(Node n)
    {
        var input = n.Input(0)?.TensorType?.Shape;
        foreach (var bound in new[] { n.Input(1), n.Input(2) })
        {
            if (bound is not { Initializer: null }) continue;
            Shape? joined;
            try
            {
                joined = input is not null && bound.TensorType?.Shape is { } s ? ShapeInference.Broadcast(s, input) : null;
            }
            catch (ArgumentException)
            {
                joined = null;
            }
            if (joined is null || !joined.Equals(input)) return $"computed bound '{bound.Name}' does not broadcast to the input";
        }
        return null;
    }

    /// <summary>Clip with a computed min or max: MAXIMUM and MINIMUM with the bound tensors (requantized to the input's parameters in int8, which both ops need).</summary>
    private static void ConvertComputedClip(Node n, TflConverter c)
    {
        var x = n.Input(0)!;
        var perm = c.PermOf(x);
        int t = c.In(x, perm);
        var tt = c.Tensor(t);
        var shape = tt.Shape.Select(d => (long)d).ToArray();
        var steps = new List<(BuiltinOperator Op, Value Bound)>();
        if (n.Input(1) is { } lo) steps.Add((BuiltinOperator.MAXIMUM, lo));
        if (n.Input(2) is { } hi) steps.Add((BuiltinOperator.MINIMUM, hi));
        for (int i = 0; i < steps.Count; i++)
        {
            var (op, bound) = steps[i];
            int b = ElementwiseOps.Operand(c, bound, perm, IsConst(bound) && tt.Quantization is { } cq && bound.Initializer!.ElementCount > 1 ? cq : null);
            if (IsConst(bound) && bound.Initializer!.ElementCount == 1 && tt.Type == Schema.TensorType.INT8)
                b = c.Constant(bound, Layout.Identity(bound.Initializer.Rank), tt.Quantization);
            else if (tt.Quantization is { } q && c.Tensor(b).Quantization is { } bq && (bq.Scale[0] != q.Scale[0] || bq.ZeroPoint[0] != q.ZeroPoint[0]))
            {
                var bt = c.Tensor(b);
                int r = c.NewTensor(bt.Name + "/requantized", bt.Shape.Select(d => (long)d).ToArray(), Schema.TensorType.INT8, q);
                c.Op(BuiltinOperator.QUANTIZE, [b], [r], null);
                b = r;
            }
            int o = i == steps.Count - 1 ? c.Out(n.Output0, perm, tt.Quantization) : c.NewTensor(n.Output0.Name + "/lower", shape, tt.Type, tt.Quantization);
            c.Op(op, [t, b], [o], new EmptyOptions(BuiltinOptionsType.MaximumMinimumOptions));
            t = o;
        }
    }

    public static int Unary(Node n, TflConverter c, BuiltinOperator op, BuiltinOptions? options, TflQuantization? fixedQuant = null, bool sameScale = false)
    {
        var x = n.Input(0)!;
        var perm = c.PermOf(x);
        int tx = c.In(x, perm);
        int o = c.Out(n.Output0, perm, c.Int8 ? (fixedQuant ?? (sameScale ? c.Tensor(tx).Quantization : null)) : null);
        c.Op(op, [tx], [o], options);
        return o;
    }

    private static void FloatUnary(Node n, TflConverter c, BuiltinOperator op)
    {
        if (!c.IsQuantized(n.Output0))
        {
            Unary(n, c, op, null);
            return;
        }
        var x = n.Input(0)!;
        var perm = c.PermOf(x);
        ElementwiseOps.FloatIsland(c, op, [c.In(x, perm)], n.Output0, perm, null);
    }

    private static void ConvertClip(Node n, TflConverter c)
    {
        if ((n.Input(1) is { } lo && !IsConst(lo)) || (n.Input(2) is { } hi && !IsConst(hi)))
        {
            ConvertComputedClip(n, c);
            return;
        }
        var (min, max) = ClipRange(n);
        switch (min, max)
        {
            case (0f, 6f): Unary(n, c, BuiltinOperator.RELU6, null); return;
            case (-1f, 1f): Unary(n, c, BuiltinOperator.RELU_N1_TO_1, null); return;
            case (0f, float.PositiveInfinity): Unary(n, c, BuiltinOperator.RELU, null); return;
        }
        // General bounds: MAXIMUM then MINIMUM with scalar constants (same scale in int8).
        var x = n.Input(0)!;
        var perm = c.PermOf(x);
        int t = c.In(x, perm);
        var tt = c.Tensor(t);
        int Bound(float value, string what) => tt.Type == Schema.TensorType.INT8
            ? c.NewTensor($"{n.Output0.Name}/{what}", [], Schema.TensorType.INT8, tt.Quantization,
                [unchecked((byte)(sbyte)Quantization.QuantMath.Quantize(value, tt.Quantization!.Scale[0], (int)tt.Quantization.ZeroPoint[0], -128, 127))])
            : c.NewTensor($"{n.Output0.Name}/{what}", [], tt.Type, null, TflConverter.FloatBytes([value]));
        if (!float.IsNegativeInfinity(min))
        {
            int o = float.IsPositiveInfinity(max) ? c.Out(n.Output0, perm, tt.Quantization) : c.NewTensor(n.Output0.Name + "/lower", tt.Shape.Select(d => (long)d).ToArray(), tt.Type, tt.Quantization);
            c.Op(BuiltinOperator.MAXIMUM, [t, Bound(min, "min")], [o], new EmptyOptions(BuiltinOptionsType.MaximumMinimumOptions));
            t = o;
        }
        if (!float.IsPositiveInfinity(max))
        {
            int o = c.Out(n.Output0, perm, tt.Quantization);
            c.Op(BuiltinOperator.MINIMUM, [t, Bound(max, "max")], [o], new EmptyOptions(BuiltinOptionsType.MaximumMinimumOptions));
        }
        else if (float.IsNegativeInfinity(min))
        {
            int o = c.Out(n.Output0, perm, tt.Quantization);
            var shape = tt.Shape;
            c.Op(BuiltinOperator.RESHAPE, [t, c.Int32Const(n.Output0.Name + "/shape", shape)], [o], new ReshapeOptions(shape));
        }
    }

    private static void ConvertPRelu(Node n, TflConverter c)
    {
        var x = n.Input(0)!;
        var perm = c.PermOf(x);
        int tx = c.In(x, perm);
        var slope = n.Input(1)!;
        // The slope broadcasts against x: aligned to x's rank and held in x's layout.
        int ts = c.Constant(slope, perm);
        int o = c.Out(n.Output0, perm);
        c.Op(BuiltinOperator.PRELU, [tx, ts], [o], null);
    }

    /// <summary>HardSigmoid = clamp(alpha x + beta, 0, 1) = RELU6(6 alpha x + 6 beta) / 6: MUL, ADD with a fused RELU6, MUL.</summary>
    private static void ConvertHardSigmoid(Node n, TflConverter c)
    {
        float alpha = n.GetFloat("alpha", 0.2f), beta = n.GetFloat("beta", 0.5f);
        var x = n.Input(0)!;
        var perm = c.PermOf(x);
        int tx = c.In(x, perm);
        var xt = c.Tensor(tx);
        var shape = xt.Shape.Select(d => (long)d).ToArray();
        TflQuantization? scaledQ = null, reluQ = null;
        if (xt.Type == Schema.TensorType.INT8 && xt.Quantization is { } q)
        {
            double lo = (-128 - q.ZeroPoint[0]) * q.Scale[0], hi = (127 - q.ZeroPoint[0]) * q.Scale[0];
            scaledQ = TflConverter.RangeQuant(Math.Min(6 * alpha * lo, 6 * alpha * hi), Math.Max(6 * alpha * lo, 6 * alpha * hi));
            reluQ = TflConverter.RangeQuant(0, 6);
        }
        string name = n.Output0.Name;
        int scaled = c.NewTensor(name + "/scaled", shape, xt.Type, scaledQ);
        c.Op(BuiltinOperator.MUL, [tx, c.ConstTensor(name + "/6alpha", Ir.Tensor.Scalar(6 * alpha))], [scaled], new ArithmeticOptions(BuiltinOptionsType.MulOptions, ActivationFunctionType.NONE));
        int relu = c.NewTensor(name + "/relu6", shape, xt.Type, reluQ);
        c.Op(BuiltinOperator.ADD, [scaled, c.ConstTensor(name + "/6beta", Ir.Tensor.Scalar(6 * beta))], [relu], new ArithmeticOptions(BuiltinOptionsType.AddOptions, ActivationFunctionType.RELU6));
        int o = c.Out(n.Output0, perm, reluQ is null ? null : TflConverter.RangeQuant(0, 1));
        c.Op(BuiltinOperator.MUL, [relu, c.ConstTensor(name + "/sixth", Ir.Tensor.Scalar(1f / 6))], [o], new ArithmeticOptions(BuiltinOptionsType.MulOptions, ActivationFunctionType.NONE));
    }

    private static void ConvertSoftmax(Node n, TflConverter c, BuiltinOperator op)
    {
        var x = n.Input(0)!;
        int rank = TflConverter.Rank(x);
        int axis = NormalizeAxis(n.GetInt("axis", c.OpsetBelow13 ? 1 : -1), rank);
        var perm = c.PermOf(x);
        if (c.OpsetBelow13 && axis != rank - 1)
        {
            // Before opset 13 the op works on the input flattened to 2-D at axis: softmax over everything after it.
            int tx = c.InOnnx(x);
            var dims = TflConverter.Dims(x);
            long inner = dims.Skip(axis).Aggregate(1L, (a, b) => a * b), outer = dims.Take(axis).Aggregate(1L, (a, b) => a * b);
            var tt = c.Tensor(tx);
            int flat = c.NewTensor(x.Name + "/flat", [outer, inner], tt.Type, tt.Quantization);
            c.Op(BuiltinOperator.RESHAPE, [tx, c.Int32Const(x.Name + "/flat_shape", [(int)outer, (int)inner])], [flat], new ReshapeOptions([(int)outer, (int)inner]));
            var q = op == BuiltinOperator.SOFTMAX ? SoftmaxQuant : LogSoftmaxQuant;
            int soft = c.NewTensor(n.Output0.Name + "/flat", [outer, inner], tt.Type, tt.Type == Schema.TensorType.INT8 ? q : null);
            c.Op(op, [flat], [soft], op == BuiltinOperator.SOFTMAX ? new SoftmaxOptions(1f) : new EmptyOptions(BuiltinOptionsType.LogSoftmaxOptions));
            var outDims = dims.Select(d => (int)d).ToArray();
            int o = c.Out(n.Output0, Layout.Identity(rank), c.Tensor(soft).Quantization);
            c.Op(BuiltinOperator.RESHAPE, [soft, c.Int32Const(n.Output0.Name + "/shape", outDims)], [o], new ReshapeOptions(outDims));
            return;
        }
        // TFLite normalizes over the last dim: keep the layout when it puts the axis last, else move the axis last.
        if (Layout.AxisOf(perm, axis) != rank - 1)
        {
            var moved = Enumerable.Range(0, rank).Where(d => d != axis).Append(axis).ToArray();
            perm = moved;
        }
        int input = c.In(x, perm);
        int output = c.Out(n.Output0, perm, c.Int8 ? (op == BuiltinOperator.SOFTMAX ? SoftmaxQuant : LogSoftmaxQuant) : null);
        c.Op(op, [input], [output], op == BuiltinOperator.SOFTMAX ? new SoftmaxOptions(1f) : new EmptyOptions(BuiltinOptionsType.LogSoftmaxOptions));
    }
}

/// <summary>
/// GELU written out with Erf, as PyTorch exports BERT's feed-forward activation: x * 0.5 * (1 + erf(x / sqrt 2)) in
/// either grouping. TFLite has no ERF kernel, so the whole pattern becomes one GELU (exact, not the tanh approximation).
/// </summary>
internal static class GeluPattern
{
    /// <summary>The pattern around an Erf node: its input x, the nodes it spans (first the scaling) and the value it produces; null when it is not GELU.</summary>
    public static (Value X, Node[] Nodes, Value Output)? Match(Node erf)
    {
        if (!erf.Is("Erf") || erf.Input(0) is not { Producer: { } scale } scaled || scaled.Uses.Count != 1 || scaled.IsGraphOutput) return null;
        Value? x = scale.OpType switch
        {
            "Div" when Scalar(scale.Input(1)) is float d && Near(d, MathF.Sqrt(2f)) => scale.Input(0),
            "Mul" when Scalar(scale.Input(1)) is float m && Near(m, 1f / MathF.Sqrt(2f)) => scale.Input(0),
            "Mul" when Scalar(scale.Input(0)) is float m && Near(m, 1f / MathF.Sqrt(2f)) => scale.Input(1),
            _ => null,
        };
        if (x is null || !scale.IsStandardDomain) return null;
        if (Single(erf.Output0) is not { } add || !add.Is("Add") || OtherOperand(add, erf.Output0) is not { } one || Scalar(one) is not 1f) return null;
        if (Single(add.Output0) is not { } times || !times.Is("Mul") || OtherOperand(times, add.Output0) is not { } factor) return null;
        // (x * (1 + erf)) * 0.5
        if (factor == x && Single(times.Output0) is { } half && half.Is("Mul") && OtherOperand(half, times.Output0) is { } h && Scalar(h) is 0.5f)
            return (x, [scale, erf, add, times, half], half.Output0);
        // (x * 0.5) * (1 + erf)
        if (factor.Producer is { } xHalf && xHalf.Is("Mul") && factor.Uses.Count == 1 && !factor.IsGraphOutput && OtherOperand(xHalf, x) is { } hh && Scalar(hh) is 0.5f
            && (xHalf.Input(0) == x || xHalf.Input(1) == x))
            return (x, [scale, xHalf, erf, add, times], times.Output0);
        return null;
    }

    /// <summary>Called on every node before its own rule: at the scaling node of a GELU pattern emits GELU and marks the rest done.</summary>
    public static bool TryConvert(Node node, TflConverter c)
    {
        if (!(node.Is("Div") || node.Is("Mul")) || node.Outputs.Count != 1 || node.Output0.Uses.Count != 1) return false;
        var erf = node.Output0.Uses[0].Node;
        if (Match(erf) is not { } m || m.Nodes[0] != node) return false;
        foreach (var n in m.Nodes.Skip(1)) c.Absorb(n);
        var perm = c.PermOf(m.X);
        int t = c.In(m.X, perm);
        var options = new GeluOptions(false);
        if (c.IsQuantized(m.Output)) ElementwiseOps.FloatIsland(c, BuiltinOperator.GELU, [t], m.Output, perm, options);
        else c.Op(BuiltinOperator.GELU, [t], [c.Out(m.Output, perm)], options);
        return true;
    }

    private static Node? Single(Value v) => v.Uses.Count == 1 && !v.IsGraphOutput ? v.Uses[0].Node : null;

    private static Value? OtherOperand(Node n, Value known) =>
        n.Inputs.Count != 2 ? null : n.Input(0) == known ? n.Input(1) : n.Input(1) == known ? n.Input(0) : null;

    private static float? Scalar(Value? v) => ConstFloats(v) is { Length: 1 } f ? f[0] : null;

    private static bool Near(float a, float b) => MathF.Abs(a - b) <= 1e-4f * MathF.Abs(b);
}
