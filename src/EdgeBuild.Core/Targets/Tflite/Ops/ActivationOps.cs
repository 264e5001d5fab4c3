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

    private static string? CheckClip(Node n) =>
        (n.Input(1) is { } a && !IsConst(a)) || (n.Input(2) is { } b && !IsConst(b)) ? "min and max must be constants" : null;

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
