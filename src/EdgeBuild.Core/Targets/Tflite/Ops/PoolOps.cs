using EdgeBuild.Ir;
using EdgeBuild.Targets.Tflite.Schema;
using static EdgeBuild.Targets.Tflite.Ops.TflOpRegistry;

namespace EdgeBuild.Targets.Tflite.Ops;

/// <summary>
/// MaxPool / AveragePool -> MAX_POOL_2D / AVERAGE_POOL_2D (NHWC; explicit pads through PAD / PADV2), GlobalAveragePool
/// -> MEAN over H and W, GlobalMaxPool -> REDUCE_MAX, ReduceMean / ReduceMax / ReduceMin / ReduceSum with their
/// axes mapped through the input's layout. Int8: pools keep their input's scale.
/// </summary>
internal static class PoolOps
{
    public static IEnumerable<(string, OpRule)> Rules()
    {
        yield return ("MaxPool", new OpRule(CheckPool, (n, c) => Pool(n, c, max: true)));
        yield return ("AveragePool", new OpRule(CheckPool, (n, c) => Pool(n, c, max: false)));
        yield return ("GlobalAveragePool", new OpRule(n => TflConverter.Rank(n.Input(0)!) == 4 ? null : "only 4-D input", (n, c) => Global(n, c, BuiltinOperator.MEAN)));
        yield return ("GlobalMaxPool", new OpRule(n => TflConverter.Rank(n.Input(0)!) == 4 ? null : "only 4-D input", (n, c) => Global(n, c, BuiltinOperator.REDUCE_MAX)));
        yield return ("ReduceMean", new OpRule(CheckReduce, (n, c) => Reduce(n, c, BuiltinOperator.MEAN), [1]));
        yield return ("ReduceMax", new OpRule(CheckReduce, (n, c) => Reduce(n, c, BuiltinOperator.REDUCE_MAX), [1]));
        yield return ("ReduceMin", new OpRule(CheckReduce, (n, c) => Reduce(n, c, BuiltinOperator.REDUCE_MIN), [1]));
        yield return ("ReduceSum", new OpRule(CheckReduce, (n, c) => Reduce(n, c, BuiltinOperator.SUM), [1]));
    }

    private static string? CheckPool(Node n)
    {
        if (TflConverter.Rank(n.Input(0)!) != 4) return "only 2-D pooling";
        // Required by the spec; a corrupt node without it has no window to convert.
        if (n.GetInts("kernel_shape") is not { Length: 2 }) return "kernel_shape must give the 2 spatial dims";
        if (n.GetInts("dilations") is { } d && d.Any(x => x != 1)) return "dilations";
        if (n.Outputs.Count(o => o is not null) > 1) return "indices output";
        if (n.GetString("auto_pad") is "SAME_LOWER") return "auto_pad SAME_LOWER";
        if (n.Is("AveragePool") && n.GetInt("count_include_pad", 0) == 0)
        {
            var (padding, pads) = Padding(n);
            if (pads is not null) return "pads other than SAME with count_include_pad=0";
        }
        return null;
    }

    private static (Padding, long[]?) Padding(Node n)
    {
        var x = TflConverter.Dims(n.Input(0)!);
        var y = TflConverter.Dims(n.Output0);
        return ConvOps.ChoosePadding([x[2], x[3]], [y[2], y[3]], n.GetInts("kernel_shape")!, n.GetInts("strides") ?? [1, 1], [1, 1],
            n.GetInts("pads") ?? [0, 0, 0, 0], n.GetString("auto_pad"));
    }

    private static void Pool(Node n, TflConverter c, bool max)
    {
        int input = c.In(n.Input(0)!, Layout.Nhwc);
        var (padding, pads) = Padding(n);
        // TFLite's SAME average leaves the padding out of the count: with count_include_pad=1 the zeros are padded explicitly.
        if (!max && padding == Schema.Padding.SAME && n.GetInt("count_include_pad", 0) != 0 && (n.GetInts("pads") ?? []).Any(p => p != 0))
        {
            pads = n.GetInts("pads");
            padding = Schema.Padding.VALID;
        }
        if (pads is not null) input = ConvOps.PadNhwc(c, input, pads, max ? -3.4028235e38f : null, n.Name.Length > 0 ? n.Name : n.Output0.Name);
        var k = n.GetInts("kernel_shape")!;
        var s = n.GetInts("strides") ?? [1, 1];
        int o = c.Out(n.Output0, Layout.Nhwc, c.Tensor(input).Quantization);
        c.Op(max ? BuiltinOperator.MAX_POOL_2D : BuiltinOperator.AVERAGE_POOL_2D, [input], [o],
            new Pool2DOptions(padding, (int)s[1], (int)s[0], (int)k[1], (int)k[0], ActivationFunctionType.NONE));
    }

    private static void Global(Node n, TflConverter c, BuiltinOperator op)
    {
        int input = c.In(n.Input(0)!, Layout.Nhwc);
        int o = c.Out(n.Output0, Layout.Nhwc, op == BuiltinOperator.REDUCE_MAX ? c.Tensor(input).Quantization : null);
        c.Op(op, [input, c.Int32Const(n.Output0.Name + "/axes", [1, 2])], [o], new ReducerOptions(true));
    }

    private static string? CheckReduce(Node n)
    {
        if (n.Input(1) is { } a && !IsConst(a)) return "axes must be a constant";
        // The pass pipeline removes such a node unless it writes a graph output (an input cannot be renamed onto it).
        bool noAxes = n.GetAttribute("axes") is null && (n.Input(1) is null || n.Input(1)!.ConstantValue is { ElementCount: 0 });
        return noAxes && n.GetInt("noop_with_empty_axes", 0) != 0 ? "noop_with_empty_axes with no axes (an identity; TFLite reads no axes as every axis)" : null;
    }

    private static void Reduce(Node n, TflConverter c, BuiltinOperator op)
    {
        var x = n.Input(0)!;
        int rank = TflConverter.Rank(x);
        var axes = (n.GetInts("axes") ?? ConstInts(n.Input(1)))?.Select(a => NormalizeAxis(a, rank)).Distinct().Order().ToArray();
        if (axes is null || axes.Length == 0)
            axes = n.GetInt("noop_with_empty_axes", 0) != 0 ? [] : Enumerable.Range(0, rank).ToArray();
        bool keep = n.GetInt("keepdims", 1) != 0;
        var perm = c.PermOf(x);
        int input = c.In(x, perm);
        var tflAxes = axes.Select(a => Layout.AxisOf(perm, a)).Order().ToArray();
        var outPerm = keep ? perm : perm.Where(p => !axes.Contains(p)).Select(p => p - axes.Count(a => a < p)).ToArray();
        bool sameScale = op is BuiltinOperator.REDUCE_MAX or BuiltinOperator.REDUCE_MIN;
        int o = c.Out(n.Output0, outPerm, sameScale ? c.Tensor(input).Quantization : null);
        c.Op(op, [input, c.Int32Const(n.Output0.Name + "/axes", tflAxes)], [o], new ReducerOptions(keep));
    }
}
