using EdgeBuild.Ir;
using EdgeBuild.Targets.Tflite.Schema;
using static EdgeBuild.Targets.Tflite.Ops.TflOpRegistry;

namespace EdgeBuild.Targets.Tflite.Ops;

/// <summary>
/// LayerNormalization (opset 17; what the layer-norm-fusion pass makes of a decomposed one, and what PyTorch exports at
/// 17 and later). TFLite's builtins have no layer norm, so it is written out again the way TensorFlow Lite's own
/// converter lowers Keras' LayerNormalization: MEAN, SUB, MUL (the square), MEAN, ADD epsilon, RSQRT, MUL, then MUL by
/// scale and ADD of bias. Computed in float; at Int8 the input is dequantized first and the result quantized to its
/// calibrated range (a float island, as ONNX Runtime runs the op between its Q/DQ pair).
/// </summary>
internal static class NormalizationOps
{
    public static IEnumerable<(string, OpRule)> Rules()
    {
        yield return ("LayerNormalization", new OpRule(CheckLayerNorm, ConvertLayerNorm, [1, 2]));
    }

    private static string? CheckLayerNorm(Node n)
    {
        if (n.Outputs.Skip(1).Any(o => o is not null && o.IsUsed)) return "mean and inverse standard deviation outputs";
        if (n.Input(0)?.TensorType?.ElementType is not DataType.Float) return "only float32 input";
        if (n.GetInt("stash_type", 1) != 1) return "stash_type other than float32";
        if (!IsConst(n.Input(1)) || n.Input(2) is { } bias && !IsConst(bias)) return "scale and bias must be constants";
        return null;
    }

    private static void ConvertLayerNorm(Node n, TflConverter c)
    {
        var x = n.Input(0)!;
        int rank = TflConverter.Rank(x);
        long axis = n.GetInt("axis", -1);
        if (axis < 0) axis += rank;
        // The scale and bias broadcast from the right over the ONNX order: keep x in a layout whose trailing axes are
        // the normalized ones, in order (ONNX order itself when the bound layout moves them).
        var perm = c.PermOf(x);
        bool trailing = Enumerable.Range((int)axis, rank - (int)axis).All(a => Layout.AxisOf(perm, a) == a);
        if (!trailing) perm = Layout.Identity(rank);
        int input = c.In(x, perm);
        string name = n.Output0.Name;
        var shape = c.Tensor(input).Shape.Select(d => (long)d).ToArray();
        if (c.Tensor(input).Type == Schema.TensorType.INT8)
        {
            int f = c.NewTensor(name + "/x_float", shape, Schema.TensorType.FLOAT32);
            c.Op(BuiltinOperator.DEQUANTIZE, [input], [f], null);
            input = f;
        }
        var reducedShape = shape.Select((d, i) => i >= axis ? 1 : d).ToArray();
        int axes = c.Int32Const(name + "/axes", Enumerable.Range((int)axis, rank - (int)axis).ToArray());
        int Float(string suffix, long[] dims) => c.NewTensor(name + "/" + suffix, dims, Schema.TensorType.FLOAT32);
        ArithmeticOptions Arith(BuiltinOptionsType kind) => new(kind, ActivationFunctionType.NONE);

        int mean = Float("mean", reducedShape);
        c.Op(BuiltinOperator.MEAN, [input, axes], [mean], new ReducerOptions(true));
        int centred = Float("centred", shape);
        c.Op(BuiltinOperator.SUB, [input, mean], [centred], Arith(BuiltinOptionsType.SubOptions));
        int square = Float("square", shape);
        c.Op(BuiltinOperator.MUL, [centred, centred], [square], Arith(BuiltinOptionsType.MulOptions));
        int variance = Float("variance", reducedShape);
        c.Op(BuiltinOperator.MEAN, [square, axes], [variance], new ReducerOptions(true));
        int shifted = Float("variance_eps", reducedShape);
        c.Op(BuiltinOperator.ADD, [variance, c.ConstTensor(name + "/epsilon", Ir.Tensor.Scalar(n.GetFloat("epsilon", 1e-5f)), keepFloat: true)], [shifted],
            Arith(BuiltinOptionsType.AddOptions));
        int inverse = Float("inv_std", reducedShape);
        c.Op(BuiltinOperator.RSQRT, [shifted], [inverse], null);
        int normalized = Float("normalized", shape);
        c.Op(BuiltinOperator.MUL, [centred, inverse], [normalized], Arith(BuiltinOptionsType.MulOptions));

        bool hasBias = n.Input(2) is not null;
        bool quantized = c.IsQuantized(n.Output0);
        int Last() => quantized ? Float("result", shape) : c.Out(n.Output0, perm);
        int scaled = hasBias ? Float("scaled", shape) : Last();
        c.Op(BuiltinOperator.MUL, [normalized, c.ConstTensor(n.Input(1)!.Name, n.Input(1)!.Initializer!, keepFloat: true)], [scaled], Arith(BuiltinOptionsType.MulOptions));
        int result = scaled;
        if (hasBias)
        {
            result = Last();
            c.Op(BuiltinOperator.ADD, [scaled, c.ConstTensor(n.Input(2)!.Name, n.Input(2)!.Initializer!, keepFloat: true)], [result], Arith(BuiltinOptionsType.AddOptions));
        }
        if (quantized) c.Op(BuiltinOperator.QUANTIZE, [result], [c.Out(n.Output0, perm)], null);
    }
}
