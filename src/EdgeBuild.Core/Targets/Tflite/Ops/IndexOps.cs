using EdgeBuild.Ir;
using EdgeBuild.Targets.Tflite.Schema;
using static EdgeBuild.Targets.Tflite.Ops.TflOpRegistry;

namespace EdgeBuild.Targets.Tflite.Ops;

/// <summary>
/// Comparisons, selection and index ops that post-processing heads use: Equal / Less / LessOrEqual / Greater /
/// GreaterOrEqual (broadcasting, in their inputs' layout) -> EQUAL / LESS / ..., Where -> SELECT_V2, ArgMax / ArgMin
/// -> ARG_MAX / ARG_MIN (int32 indices), Expand -> BROADCAST_TO, Tile -> TILE; and the float-only Floor / Ceil /
/// Round / Gelu / Elu (alpha 1).
/// </summary>
internal static class IndexOps
{
    public static IEnumerable<(string, OpRule)> Rules()
    {
        yield return ("Equal", new OpRule(_ => null, (n, c) => Compare(n, c, BuiltinOperator.EQUAL)));
        yield return ("Less", new OpRule(_ => null, (n, c) => Compare(n, c, BuiltinOperator.LESS)));
        yield return ("LessOrEqual", new OpRule(_ => null, (n, c) => Compare(n, c, BuiltinOperator.LESS_EQUAL)));
        yield return ("Greater", new OpRule(_ => null, (n, c) => Compare(n, c, BuiltinOperator.GREATER)));
        yield return ("GreaterOrEqual", new OpRule(_ => null, (n, c) => Compare(n, c, BuiltinOperator.GREATER_EQUAL)));
        yield return ("Where", new OpRule(_ => null, ConvertWhere));
        yield return ("ArgMax", new OpRule(CheckArg, (n, c) => Arg(n, c, BuiltinOperator.ARG_MAX)));
        yield return ("ArgMin", new OpRule(CheckArg, (n, c) => Arg(n, c, BuiltinOperator.ARG_MIN)));
        yield return ("Expand", new OpRule(n => RequireConst(n, 1, "shape"), ConvertExpand, [1]));
        yield return ("Tile", new OpRule(n => RequireConst(n, 1, "repeats"), ConvertTile, [1]));
        yield return ("Floor", new OpRule(_ => null, (n, c) => FloatOnly(n, c, BuiltinOperator.FLOOR)));
        yield return ("Ceil", new OpRule(_ => null, (n, c) => FloatOnly(n, c, BuiltinOperator.CEIL)));
        yield return ("Round", new OpRule(_ => null, (n, c) => FloatOnly(n, c, BuiltinOperator.ROUND)));
        yield return ("Gelu", new OpRule(_ => null, (n, c) => FloatOnly(n, c, BuiltinOperator.GELU)));
        yield return ("Elu", new OpRule(n => n.GetFloat("alpha", 1f) == 1f ? null : "alpha other than 1", (n, c) => FloatOnly(n, c, BuiltinOperator.ELU)));
    }

    private static void Compare(Node n, TflConverter c, BuiltinOperator op)
    {
        var a = n.Input(0)!;
        var b = n.Input(1)!;
        var perm = ElementwiseOps.CommonPerm(n, c, [a, b]);
        int ta = ElementwiseOps.Operand(c, a, perm);
        // An int8 operand compares against a constant quantized to its own parameters.
        int tb = c.Tensor(ta).Quantization is { } q && IsConst(b) ? ElementwiseOps.Operand(c, b, perm, q) : ElementwiseOps.Operand(c, b, perm);
        int o = c.Out(n.Output0, perm);
        c.Op(op, [ta, tb], [o], null);
    }

    private static void ConvertWhere(Node n, TflConverter c)
    {
        var inputs = new[] { n.Input(0)!, n.Input(1)!, n.Input(2)! };
        var perm = ElementwiseOps.CommonPerm(n, c, inputs);
        int cond = ElementwiseOps.Operand(c, inputs[0], perm);
        int o = c.Out(n.Output0, perm);
        var oq = c.Tensor(o).Quantization;
        var values = inputs.Skip(1).Select(v => ElementwiseOps.Operand(c, v, perm, IsConst(v) ? oq : null)).ToArray();
        if (oq is not null)
            for (int i = 0; i < values.Length; i++)
            {
                // SELECT_V2 copies int8 values: both branches take the output's parameters.
                var t = c.Tensor(values[i]);
                if (t.Quantization is { } tq && tq.Scale[0] == oq.Scale[0] && tq.ZeroPoint[0] == oq.ZeroPoint[0]) continue;
                int r = c.NewTensor(t.Name + "/requantized", t.Shape.Select(d => (long)d).ToArray(), Schema.TensorType.INT8, oq);
                c.Op(BuiltinOperator.QUANTIZE, [values[i]], [r], null);
                values[i] = r;
            }
        c.Op(BuiltinOperator.SELECT_V2, [cond, values[0], values[1]], [o], null);
    }

    private static string? CheckArg(Node n) => n.GetInt("select_last_index", 0) != 0 ? "select_last_index" : null;

    private static void Arg(Node n, TflConverter c, BuiltinOperator op)
    {
        var x = n.Input(0)!;
        int rank = TflConverter.Rank(x);
        int axis = NormalizeAxis(n.GetInt("axis", 0), rank);
        bool keep = n.GetInt("keepdims", 1) != 0;
        var perm = c.PermOf(x);
        int t = c.In(x, perm);
        // TFLite drops the axis; keepdims puts it back with a RESHAPE (in ONNX order).
        var reducedPerm = perm.Where(p => p != axis).Select(p => p > axis ? p - 1 : p).ToArray();
        var dims = TflConverter.Dims(x);
        var reducedShape = Layout.Apply(perm, dims).Where((_, i) => perm[i] != axis).ToArray();
        int axisTensor = c.Int32Const(n.Output0.Name + "/axis", [Layout.AxisOf(perm, axis)], []);
        var options = op == BuiltinOperator.ARG_MAX ? new ArgMaxOptions(Schema.TensorType.INT32) : (BuiltinOptions)new ArgMinOptionsTable(Schema.TensorType.INT32);
        if (!keep)
        {
            int o = c.Out(n.Output0, reducedPerm);
            c.Op(op, [t, axisTensor], [o], options);
            return;
        }
        int reduced = c.NewTensor(n.Output0.Name + "/reduced", reducedShape, Schema.TensorType.INT32);
        c.Op(op, [t, axisTensor], [reduced], options);
        int onnx = c.Relayout(reduced, reducedPerm, Layout.Identity(reducedPerm.Length));
        ShapeOps.Reshape(c, onnx, n.Output0, TflConverter.Dims(n.Output0).Select(d => (int)d).ToArray());
    }

    private static void ConvertExpand(Node n, TflConverter c)
    {
        var dims = TflConverter.Dims(n.Output0).Select(d => (int)d).ToArray();
        var x = n.Input(0)!;
        // BROADCAST_TO in ONNX order; a lower-rank input is aligned to the output rank first.
        int t = ElementwiseOps.Operand(c, x, Layout.Identity(dims.Length));
        int o = c.Out(n.Output0, Layout.Identity(dims.Length), c.Tensor(t).Quantization);
        c.Op(BuiltinOperator.BROADCAST_TO, [t, c.Int32Const(n.Output0.Name + "/shape", dims)], [o], null);
    }

    private static void ConvertTile(Node n, TflConverter c)
    {
        var x = n.Input(0)!;
        var repeats = ConstInts(n.Input(1))!;
        var perm = c.PermOf(x);
        int t = c.In(x, perm);
        int o = c.Out(n.Output0, perm, c.Tensor(t).Quantization);
        c.Op(BuiltinOperator.TILE, [t, c.Int32Const(n.Output0.Name + "/multiples", perm.Select(p => (int)repeats[p]).ToArray())], [o], new EmptyOptions(BuiltinOptionsType.TileOptions));
    }

    private static void FloatOnly(Node n, TflConverter c, BuiltinOperator op)
    {
        var x = n.Input(0)!;
        var perm = c.PermOf(x);
        int t = c.In(x, perm);
        BuiltinOptions? options = op == BuiltinOperator.GELU ? new GeluOptions(n.GetString("approximate") == "tanh") : null;
        if (c.IsQuantized(n.Output0)) ElementwiseOps.FloatIsland(c, op, [t], n.Output0, perm, options);
        else
        {
            int o = c.Out(n.Output0, perm);
            c.Op(op, [t], [o], options);
        }
    }
}
