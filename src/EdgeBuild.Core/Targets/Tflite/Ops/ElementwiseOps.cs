using EdgeBuild.Ir;
using EdgeBuild.Targets.Tflite.Schema;
using static EdgeBuild.Targets.Tflite.Ops.TflOpRegistry;

namespace EdgeBuild.Targets.Tflite.Ops;

/// <summary>
/// Broadcasting arithmetic: Add / Sub / Mul / Div / Max / Min / Pow / Sum, and BatchNormalization as MUL + ADD.
/// Element-wise ops keep the layout of their inputs (no transposes): constants are broadcast-aligned and
/// transposed at conversion time. Div by a constant is MUL by its reciprocal; ADD, SUB, MUL and DIV take a
/// following Relu / Relu6 as their fused activation.
/// </summary>
internal static class ElementwiseOps
{
    public static IEnumerable<(string, OpRule)> Rules()
    {
        yield return ("Add", new OpRule(CheckBinary, (n, c) => Binary(n, c, BuiltinOperator.ADD)));
        yield return ("Sub", new OpRule(CheckBinary, (n, c) => Binary(n, c, BuiltinOperator.SUB)));
        yield return ("Mul", new OpRule(CheckBinary, (n, c) => Binary(n, c, BuiltinOperator.MUL)));
        yield return ("Div", new OpRule(CheckBinary, ConvertDiv));
        yield return ("Max", new OpRule(CheckBinary, (n, c) => Binary(n, c, BuiltinOperator.MAXIMUM)));
        yield return ("Min", new OpRule(CheckBinary, (n, c) => Binary(n, c, BuiltinOperator.MINIMUM)));
        yield return ("Pow", new OpRule(CheckPow, ConvertPow));
        yield return ("Sum", new OpRule(n => n.Inputs.Count is >= 1 and <= 8 ? null : "more than 8 inputs", ConvertSum));
        yield return ("BatchNormalization", new OpRule(CheckBatchNorm, ConvertBatchNorm));
    }

    private static string? CheckBinary(Node n) => n.Inputs.Count == 2 && n.Input(0) is not null && n.Input(1) is not null ? null : "needs two inputs";

    private static string? CheckPow(Node n) => CheckBinary(n) ?? (ConstFloats(n.Input(1)) is { Length: 1 } ? null : "the exponent must be one constant");

    private static string? CheckBatchNorm(Node n) =>
        n.Inputs.Skip(1).Take(4).All(IsConst) && n.Outputs.Count(o => o is not null) == 1 ? null : "training mode or non-constant statistics";

    /// <summary>The layout element-wise inputs share: the first non-constant input of the output's rank decides.</summary>
    public static int[] CommonPerm(Node n, TflConverter c, IEnumerable<Value?> inputs)
    {
        int rank = TflConverter.Rank(n.Output0);
        foreach (var v in inputs)
            if (v is not null && !IsConst(v) && TflConverter.Rank(v) == rank) return c.PermOf(v);
        return Layout.Identity(rank);
    }

    /// <summary>An element-wise input held in <paramref name="perm"/>: constants aligned and transposed, lower-rank activations reshaped first.</summary>
    public static int Operand(TflConverter c, Value v, int[] perm, TflQuantization? quantization = null)
    {
        if (IsConst(v))
        {
            if (v.Initializer!.ElementCount == 1 && quantization is null)
            {
                // A scalar stays a scalar whatever the layout.
                return c.Constant(v, Layout.Identity(v.Initializer.Rank));
            }
            return c.Constant(v, perm, quantization);
        }
        int rank = TflConverter.Rank(v);
        if (rank == perm.Length) return c.In(v, perm);
        // Lower rank: RESHAPE to the full rank (leading 1s) in ONNX order, then to the layout.
        int t = c.InOnnx(v);
        var dims = Enumerable.Repeat(1L, perm.Length - rank).Concat(TflConverter.Dims(v)).ToArray();
        var tt = c.Tensor(t);
        int r = c.NewTensor(v.Name + "/expanded", dims, tt.Type, tt.Quantization);
        c.Op(BuiltinOperator.RESHAPE, [t, c.Int32Const(v.Name + "/expanded_shape", dims.Select(d => (int)d).ToArray())], [r], new ReshapeOptions(dims.Select(d => (int)d).ToArray()));
        return c.Relayout(r, Layout.Identity(perm.Length), perm);
    }

    public static void Binary(Node n, TflConverter c, BuiltinOperator op)
    {
        var a = n.Input(0)!;
        var b = n.Input(1)!;
        var perm = CommonPerm(n, c, [a, b]);
        bool sameScale = op is BuiltinOperator.MAXIMUM or BuiltinOperator.MINIMUM;
        int ta = Operand(c, a, perm), tb;
        // MAXIMUM / MINIMUM compare raw int8 values: a constant operand takes the other operand's parameters.
        if (sameScale && c.Int8 && IsConst(b)) tb = Operand(c, b, perm, c.Tensor(ta).Quantization ?? TflQuantization.PerTensor(1, 0));
        else tb = Operand(c, b, perm);
        if (sameScale && c.Int8 && IsConst(a)) ta = Operand(c, a, perm, c.Tensor(tb).Quantization ?? TflQuantization.PerTensor(1, 0));
        bool fusable = op is BuiltinOperator.ADD or BuiltinOperator.SUB or BuiltinOperator.MUL or BuiltinOperator.DIV;
        var (act, result) = fusable ? c.FuseActivation(n.Output0) : (ActivationFunctionType.NONE, n.Output0);
        if (c.Int8 && op == BuiltinOperator.DIV && c.IsQuantized(result))
        {
            FloatIsland(c, op, [ta, tb], result, perm, new ArithmeticOptions(BuiltinOptionsType.DivOptions, act));
            return;
        }
        int o = c.Out(result, perm, sameScale && c.Int8 && !IsConst(a) ? c.Tensor(ta).Quantization : null);
        BuiltinOptions? options = op switch
        {
            BuiltinOperator.ADD => new ArithmeticOptions(BuiltinOptionsType.AddOptions, act),
            BuiltinOperator.SUB => new ArithmeticOptions(BuiltinOptionsType.SubOptions, act),
            BuiltinOperator.MUL => new ArithmeticOptions(BuiltinOptionsType.MulOptions, act),
            BuiltinOperator.DIV => new ArithmeticOptions(BuiltinOptionsType.DivOptions, act),
            BuiltinOperator.MAXIMUM or BuiltinOperator.MINIMUM => new EmptyOptions(BuiltinOptionsType.MaximumMinimumOptions),
            BuiltinOperator.POW => new EmptyOptions(BuiltinOptionsType.PowOptions),
            _ => null,
        };
        c.Op(op, [ta, tb], [o], options);
    }

    /// <summary>Int8 model, float-only kernel: DEQUANTIZE the inputs, run the op in float, QUANTIZE the result.</summary>
    public static void FloatIsland(TflConverter c, BuiltinOperator op, int[] inputs, Value result, int[] perm, BuiltinOptions? options)
    {
        var floats = inputs.Select(t =>
        {
            var tt = c.Tensor(t);
            if (tt.Type != Schema.TensorType.INT8) return t;
            int f = c.NewTensor(tt.Name + "/float", tt.Shape.Select(d => (long)d).ToArray(), Schema.TensorType.FLOAT32);
            c.Op(BuiltinOperator.DEQUANTIZE, [t], [f], null);
            return f;
        }).ToArray();
        var shape = Layout.Apply(perm, TflConverter.Dims(result));
        int fo = c.NewTensor(result.Name + "/float", shape, Schema.TensorType.FLOAT32);
        c.Op(op, floats, [fo], options);
        int o = c.Out(result, perm);
        c.Op(BuiltinOperator.QUANTIZE, [fo], [o], null);
    }

    private static void ConvertDiv(Node n, TflConverter c)
    {
        var b = n.Input(1)!;
        if (b.Initializer is { } divisor && DataTypes.IsFloatingPoint(divisor.ElementType))
        {
            // x / k = x * (1 / k): MUL runs in int8 and is what converters emit.
            var a = n.Input(0)!;
            var perm = CommonPerm(n, c, [a]);
            var reciprocal = Ir.Tensor.FromFloats(divisor.Dims, divisor.ToFloats().Select(x => 1f / x).ToArray());
            int ta = Operand(c, a, perm);
            var aligned = reciprocal.Rank < perm.Length && reciprocal.ElementCount > 1
                ? reciprocal.WithDims(Enumerable.Repeat(1L, perm.Length - reciprocal.Rank).Concat(reciprocal.Dims).ToArray()) : reciprocal;
            if (aligned.Rank == perm.Length) aligned = Layout.Transpose(aligned, perm);
            int tb = c.ConstTensor(b.Name + "/reciprocal", aligned);
            var (act, result) = c.FuseActivation(n.Output0);
            int o = c.Out(result, perm);
            c.Op(BuiltinOperator.MUL, [ta, tb], [o], new ArithmeticOptions(BuiltinOptionsType.MulOptions, act));
            return;
        }
        Binary(n, c, BuiltinOperator.DIV);
    }

    private static void ConvertPow(Node n, TflConverter c)
    {
        var a = n.Input(0)!;
        float e = ConstFloats(n.Input(1))![0];
        var perm = CommonPerm(n, c, [a]);
        int ta = Operand(c, a, perm);
        if (e == 2f)
        {
            int o = c.Out(n.Output0, perm);
            c.Op(BuiltinOperator.MUL, [ta, ta], [o], new ArithmeticOptions(BuiltinOptionsType.MulOptions, ActivationFunctionType.NONE));
        }
        else if (e == 0.5f && !c.Int8)
        {
            int o = c.Out(n.Output0, perm);
            c.Op(BuiltinOperator.SQRT, [ta], [o], null);
        }
        else if (e == 1f)
        {
            int o = c.Out(n.Output0, perm, c.Tensor(ta).Quantization);
            var shape = c.Tensor(o).Shape;
            c.Op(BuiltinOperator.RESHAPE, [ta, c.Int32Const(n.Output0.Name + "/shape", shape)], [o], new ReshapeOptions(shape));
        }
        else if (c.Int8 && c.IsQuantized(n.Output0))
        {
            FloatIsland(c, e == 0.5f ? BuiltinOperator.SQRT : BuiltinOperator.POW, e == 0.5f ? [ta] : [ta, c.ConstTensor(n.Input(1)!.Name, Ir.Tensor.Scalar(e), keepFloat: true)],
                n.Output0, perm, e == 0.5f ? null : new EmptyOptions(BuiltinOptionsType.PowOptions));
        }
        else
        {
            int o = c.Out(n.Output0, perm);
            c.Op(BuiltinOperator.POW, [ta, c.ConstTensor(n.Input(1)!.Name, Ir.Tensor.Scalar(e))], [o], new EmptyOptions(BuiltinOptionsType.PowOptions));
        }
    }

    private static void ConvertSum(Node n, TflConverter c)
    {
        var inputs = n.Inputs.Where(v => v is not null).Cast<Value>().ToList();
        var perm = CommonPerm(n, c, inputs);
        int acc = Operand(c, inputs[0], perm);
        if (inputs.Count == 1)
        {
            int o = c.Out(n.Output0, perm, c.Tensor(acc).Quantization);
            var shape = c.Tensor(o).Shape;
            c.Op(BuiltinOperator.RESHAPE, [acc, c.Int32Const(n.Output0.Name + "/shape", shape)], [o], new ReshapeOptions(shape));
            return;
        }
        for (int i = 1; i < inputs.Count; i++)
        {
            int next = Operand(c, inputs[i], perm);
            int o;
            if (i == inputs.Count - 1) o = c.Out(n.Output0, perm);
            else
            {
                var shape = Layout.Apply(perm, TflConverter.Dims(n.Output0));
                o = c.NewTensor($"{n.Output0.Name}/partial{i}", shape, c.IsQuantized(n.Output0) ? Schema.TensorType.INT8 : Schema.TensorType.FLOAT32,
                    c.IsQuantized(n.Output0) ? c.ActivationQuant(n.Output0.Name) : null);
            }
            c.Op(BuiltinOperator.ADD, [acc, next], [o], new ArithmeticOptions(BuiltinOptionsType.AddOptions, ActivationFunctionType.NONE));
            acc = o;
        }
    }

    private static void ConvertBatchNorm(Node n, TflConverter c)
    {
        var x = n.Input(0)!;
        var scale = n.Input(1)!.Initializer!.ToFloats();
        var bias = n.Input(2)!.Initializer!.ToFloats();
        var mean = n.Input(3)!.Initializer!.ToFloats();
        var variance = n.Input(4)!.Initializer!.ToFloats();
        float eps = n.GetFloat("epsilon", 1e-5f);
        int channels = scale.Length, rank = TflConverter.Rank(x);
        var mul = new float[channels];
        var add = new float[channels];
        for (int i = 0; i < channels; i++)
        {
            mul[i] = (float)(scale[i] / Math.Sqrt(variance[i] + (double)eps));
            add[i] = (float)(bias[i] - mean[i] * (double)mul[i]);
        }
        var perm = c.PermOf(x);
        var dims = Enumerable.Range(0, rank).Select(i => i == 1 ? (long)channels : 1L).ToArray();
        int tx = c.In(x, perm);
        int tm = c.ConstTensor(n.Name + "/scale", Layout.Transpose(Ir.Tensor.FromFloats(dims, mul), perm));
        int ta = c.ConstTensor(n.Name + "/shift", Layout.Transpose(Ir.Tensor.FromFloats(dims, add), perm));
        var (act, result) = c.FuseActivation(n.Output0);
        var shape = Layout.Apply(perm, TflConverter.Dims(x));
        TflQuantization? mq = null;
        if (c.IsQuantized(result) && c.ActivationQuant(result.Name) is { } rq)
        {
            // The scaled value before the shift has no calibrated range: the output's, moved by the shifts.
            double lo = (-128 - rq.ZeroPoint[0]) * rq.Scale[0], hi = (127 - rq.ZeroPoint[0]) * rq.Scale[0];
            mq = TflConverter.RangeQuant(lo - add.Max(), hi - add.Min());
        }
        int scaled = c.NewTensor(n.Output0.Name + "/scaled", shape, mq is null ? c.Tensor(tx).Type : Schema.TensorType.INT8, mq);
        c.Op(BuiltinOperator.MUL, [tx, tm], [scaled], new ArithmeticOptions(BuiltinOptionsType.MulOptions, ActivationFunctionType.NONE));
        int o = c.Out(result, perm);
        c.Op(BuiltinOperator.ADD, [scaled, ta], [o], new ArithmeticOptions(BuiltinOptionsType.AddOptions, act));
    }
}
