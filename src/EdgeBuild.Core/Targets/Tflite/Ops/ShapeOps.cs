using EdgeBuild.Ir;
using EdgeBuild.Targets.Tflite.Schema;
using static EdgeBuild.Targets.Tflite.Ops.TflOpRegistry;

namespace EdgeBuild.Targets.Tflite.Ops;

/// <summary>
/// Data movement: Transpose (absorbed into the layout: no op), Reshape / Flatten / Squeeze / Unsqueeze (RESHAPE in
/// ONNX order), Concat (axis mapped; a concat with constant fills is a PAD), Split (SPLIT / SPLIT_V), Slice
/// (STRIDED_SLICE), Pad (PAD / PADV2 / MIRROR_PAD), Gather, Cast, Identity, ConstantOfShape, DepthToSpace /
/// SpaceToDepth. Int8: all keep their input's scale; Concat requantizes inputs to its own.
/// </summary>
internal static class ShapeOps
{
    public static IEnumerable<(string, OpRule)> Rules()
    {
        yield return ("Transpose", new OpRule(_ => null, ConvertTranspose));
        yield return ("Reshape", new OpRule(n => RequireConst(n, 1, "shape"), ConvertReshape, [1]));
        yield return ("Flatten", new OpRule(_ => null, ConvertReshape));
        yield return ("Squeeze", new OpRule(n => RequireConst(n, 1, "axes"), ConvertReshape, [1]));
        yield return ("Unsqueeze", new OpRule(n => RequireConst(n, 1, "axes"), ConvertReshape, [1]));
        yield return ("Identity", new OpRule(_ => null, Alias));
        yield return ("Dropout", new OpRule(n => n.Outputs.Count(o => o is not null) == 1 ? null : "mask output", Alias));
        yield return ("Cast", new OpRule(_ => null, ConvertCast));
        yield return ("Concat", new OpRule(_ => null, ConvertConcat));
        yield return ("Split", new OpRule(n => RequireConst(n, 1, "split"), ConvertSplit, [1]));
        yield return ("Slice", new OpRule(CheckSlice, ConvertSlice, [1, 2, 3, 4]));
        yield return ("Pad", new OpRule(CheckPad, ConvertPad, [1, 2, 3]));
        yield return ("Gather", new OpRule(CheckGather, ConvertGather));
        yield return ("ConstantOfShape", new OpRule(n => RequireConst(n, 0, "shape") ?? FillTooLarge(n), ConvertConstantOfShape, [0]));
        yield return ("DepthToSpace", new OpRule(n => n.GetString("mode") is null or "DCR" ? null : "CRD mode", (n, c) => Space(n, c, BuiltinOperator.DEPTH_TO_SPACE)));
        yield return ("SpaceToDepth", new OpRule(_ => null, (n, c) => Space(n, c, BuiltinOperator.SPACE_TO_DEPTH)));
    }

    private static void ConvertTranspose(Node n, TflConverter c)
    {
        var x = n.Input(0)!;
        int rank = TflConverter.Rank(x);
        var p = n.GetInts("perm")?.Select(v => (int)v).ToArray() ?? Enumerable.Range(0, rank).Reverse().ToArray();
        var (t, q) = c.Bound(x);
        // No op: the output is the same data, held in the layout r with p[r] = q.
        c.Bind(n.Output0, t, Layout.AfterTranspose(p, q));
    }

    private static void Alias(Node n, TflConverter c)
    {
        var (t, q) = c.Bound(n.Input(0)!);
        c.Bind(n.Output0, t, q);
    }

    public static int Reshape(TflConverter c, int input, Value output, int[] dims)
    {
        int o = c.Out(output, Layout.Identity(dims.Length), c.Tensor(input).Quantization);
        c.Op(BuiltinOperator.RESHAPE, [input, c.Int32Const(output.Name + "/shape", dims)], [o], new ReshapeOptions(dims));
        return o;
    }

    private static void ConvertReshape(Node n, TflConverter c)
    {
        var x = n.Input(0)!;
        var dims = TflConverter.Dims(n.Output0).Select(d => (int)d).ToArray();
        Reshape(c, c.InOnnx(x), n.Output0, dims);
    }

    private static void ConvertCast(Node n, TflConverter c)
    {
        var x = n.Input(0)!;
        var from = TflConverter.TypeOf(x.TensorType?.ElementType ?? x.Initializer!.ElementType);
        var to = TflConverter.TypeOf(n.Output0.TensorType!.ElementType);
        if (from == to)
        {
            Alias(n, c);
            return;
        }
        var perm = c.PermOf(x);
        int t = c.In(x, perm);
        if (c.Tensor(t).Type == Schema.TensorType.INT8)
        {
            int f = c.NewTensor(x.Name + "/float", c.Tensor(t).Shape.Select(d => (long)d).ToArray(), Schema.TensorType.FLOAT32);
            c.Op(BuiltinOperator.DEQUANTIZE, [t], [f], null);
            t = f;
        }
        int o = c.Out(n.Output0, perm);
        c.Op(BuiltinOperator.CAST, [t], [o], new CastOptions(c.Tensor(t).Type, to));
    }

    /// <summary>A value every element of which is <paramref name="value"/>: a constant, or ConstantOfShape of a constant shape.</summary>
    private static bool IsFill(Value v, out float value)
    {
        value = 0;
        if (v.Initializer is { } t && DataTypes.IsFloatingPoint(t.ElementType))
        {
            var x = t.ToFloats();
            if (x.Length == 0 || x.Any(e => e != x[0])) return false;
            value = x[0];
            return true;
        }
        if (v.Producer is { } p && p.Is("ConstantOfShape") && IsConst(p.Input(0)))
        {
            value = p.GetAttribute("value")?.Tensor?.ToFloats() is { Length: 1 } f ? f[0] : 0f;
            return true;
        }
        return false;
    }

    private static void ConvertConcat(Node n, TflConverter c)
    {
        var inputs = n.Inputs.Where(v => v is not null && TflConverter.Dims(v).All(d => d > 0)).Cast<Value>().ToList();
        int rank = TflConverter.Rank(n.Output0);
        int axis = NormalizeAxis(n.GetInt("axis", 0), rank);
        var perm = ElementwiseOps.CommonPerm(n, c, inputs);
        int tflAxis = Layout.AxisOf(perm, axis);

        // A concat of one tensor with constant fills (tf2onnx's channel padding) is a PAD.
        var fills = inputs.Select(v => IsFill(v, out float f) ? f : (float?)null).ToList();
        if (fills.Count(f => f is null) == 1 && fills.Where(f => f is not null).Distinct().Count() == 1 && DataTypes.IsFloatingPoint(n.Output0.TensorType!.ElementType))
        {
            int k = fills.IndexOf(null);
            long before = inputs.Take(k).Sum(v => TflConverter.Dims(v)[axis]), after = inputs.Skip(k + 1).Sum(v => TflConverter.Dims(v)[axis]);
            float fill = fills.First(f => f is not null)!.Value;
            int x = c.In(inputs[k], perm);
            var xt = c.Tensor(x);
            var paddings = new int[rank * 2];
            paddings[tflAxis * 2] = (int)before;
            paddings[tflAxis * 2 + 1] = (int)after;
            int pads = c.Int32Const(n.Output0.Name + "/paddings", paddings, [rank, 2]);
            int o = c.Out(n.Output0, perm, xt.Quantization);
            if (fill == 0) c.Op(BuiltinOperator.PAD, [x, pads], [o], new EmptyOptions(BuiltinOptionsType.PadOptions));
            else
            {
                int value = xt.Type == Schema.TensorType.INT8
                    ? c.NewTensor(n.Output0.Name + "/pad_value", [], xt.Type, xt.Quantization, TflConverter.QuantizeInt8([fill], xt.Quantization!.Scale[0], (int)xt.Quantization.ZeroPoint[0]))
                    : c.NewTensor(n.Output0.Name + "/pad_value", [], xt.Type, null, TflConverter.FloatBytes([fill]));
                c.Op(BuiltinOperator.PADV2, [x, pads, value], [o], new EmptyOptions(BuiltinOptionsType.PadV2Options));
            }
            return;
        }

        var tensors = inputs.Select(v => ElementwiseOps.Operand(c, v, perm)).ToList();
        if (tensors.Count == 1)
        {
            var dims = Layout.Apply(perm, TflConverter.Dims(n.Output0)).Select(d => (int)d).ToArray();
            int o1 = c.Out(n.Output0, perm, c.Tensor(tensors[0]).Quantization);
            c.Op(BuiltinOperator.RESHAPE, [tensors[0], c.Int32Const(n.Output0.Name + "/shape", dims)], [o1], new ReshapeOptions(dims));
            return;
        }
        int output = c.Out(n.Output0, perm);
        if (c.Tensor(output).Quantization is { } q)
        {
            // Same scale for every input and the output (TFLite's int8 spec): requantize the inputs that differ.
            for (int i = 0; i < tensors.Count; i++)
            {
                var t = c.Tensor(tensors[i]);
                if (t.Quantization is { } tq && tq.Scale[0] == q.Scale[0] && tq.ZeroPoint[0] == q.ZeroPoint[0]) continue;
                int r = c.NewTensor(t.Name + "/requantized", t.Shape.Select(d => (long)d).ToArray(), Schema.TensorType.INT8, q);
                c.Op(BuiltinOperator.QUANTIZE, [tensors[i]], [r], null);
                tensors[i] = r;
            }
        }
        c.Op(BuiltinOperator.CONCATENATION, tensors.ToArray(), [output], new ConcatenationOptions(tflAxis, ActivationFunctionType.NONE));
    }

    private static void ConvertSplit(Node n, TflConverter c)
    {
        var x = n.Input(0)!;
        int rank = TflConverter.Rank(x);
        int axis = NormalizeAxis(n.GetInt("axis", 0), rank);
        var perm = c.PermOf(x);
        int t = c.In(x, perm);
        var outs = n.Outputs.Select(o => o is null ? -1 : c.Out(o, perm, c.Tensor(t).Quantization)).ToArray();
        if (outs.Any(o => o < 0)) throw new InvalidOperationException("Split with an omitted output");
        var sizes = n.Outputs.Select(o => (int)TflConverter.Dims(o!)[axis]).ToArray();
        int tflAxis = Layout.AxisOf(perm, axis);
        if (sizes.All(s => s == sizes[0]))
            c.Op(BuiltinOperator.SPLIT, [c.Int32Const(n.Output0.Name + "/axis", [tflAxis], []), t], outs, new SplitOptions(BuiltinOptionsType.SplitOptions, sizes.Length));
        else
            c.Op(BuiltinOperator.SPLIT_V, [t, c.Int32Const(n.Output0.Name + "/sizes", sizes), c.Int32Const(n.Output0.Name + "/axis", [tflAxis], [])], outs,
                new SplitOptions(BuiltinOptionsType.SplitVOptions, sizes.Length));
    }

    private static string? CheckSlice(Node n)
    {
        for (int i = 1; i < n.Inputs.Count; i++)
            if (RequireConst(n, i, "starts, ends, axes and steps") is { } why) return why;
        // The spec requires starts and ends (inputs from opset 10, attributes before), and every list one value per sliced
        // axis; the converter indexes them in step, so a corrupt node missing one (or an int list of floats) stops here.
        long[]?[] lists = n.Inputs.Count > 1
            ? [ConstInts(n.Input(1)), ConstInts(n.Input(2)), n.Input(3) is null ? [] : ConstInts(n.Input(3)), n.Input(4) is null ? [] : ConstInts(n.Input(4))]
            : [n.GetInts("starts"), n.GetInts("ends"), n.GetInts("axes") ?? []];
        if (lists[0] is null || lists[1] is null) return "starts and ends must be constant integers";
        if (lists[1]!.Length != lists[0]!.Length || lists.Any(l => l is null || (l.Length > 0 && l.Length != lists[0]!.Length)))
            return "starts, ends, axes and steps must be integer lists of one length";
        if (lists.Length > 3 && lists[3]!.Contains(0)) return "a step of 0";
        return null;
    }

    private static void ConvertSlice(Node n, TflConverter c)
    {
        var x = n.Input(0)!;
        var dims = TflConverter.Dims(x);
        int rank = dims.Length;
        long[] starts, ends, axes, steps;
        if (n.Inputs.Count > 1)
        {
            starts = ConstInts(n.Input(1))!;
            ends = ConstInts(n.Input(2))!;
            axes = ConstInts(n.Input(3)) ?? Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
            steps = ConstInts(n.Input(4)) ?? Enumerable.Repeat(1L, starts.Length).ToArray();
        }
        else
        {
            starts = n.GetInts("starts")!;
            ends = n.GetInts("ends")!;
            axes = n.GetInts("axes") ?? Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
            steps = Enumerable.Repeat(1L, starts.Length).ToArray();
        }
        var begin = new int[rank];
        var end = dims.Select(d => (int)d).ToArray();
        var stride = Enumerable.Repeat(1, rank).ToArray();
        var endOpen = new bool[rank];
        for (int i = 0; i < axes.Length; i++)
        {
            int a = NormalizeAxis(axes[i], rank);
            long d = dims[a], s = steps[i];
            long b = starts[i] < 0 ? starts[i] + d : starts[i];
            long e = ends[i] < 0 ? ends[i] + d : ends[i];
            if (s > 0)
            {
                b = Math.Clamp(b, 0, d);
                e = Math.Clamp(e, 0, d);
            }
            else
            {
                b = Math.Clamp(b, 0, d - 1);
                e = Math.Clamp(e, -1, d - 1);
                if (e < 0) endOpen[a] = true;
            }
            begin[a] = (int)b;
            end[a] = (int)e;
            stride[a] = (int)s;
        }
        var perm = c.PermOf(x);
        int t = c.In(x, perm);
        int endMask = 0;
        for (int i = 0; i < rank; i++) if (endOpen[perm[i]]) endMask |= 1 << i;
        string name = n.Output0.Name;
        int o = c.Out(n.Output0, perm, c.Tensor(t).Quantization);
        c.Op(BuiltinOperator.STRIDED_SLICE, [t, c.Int32Const(name + "/begin", perm.Select(p => begin[p]).ToArray()),
            c.Int32Const(name + "/end", perm.Select(p => endOpen[p] ? 0 : end[p]).ToArray()), c.Int32Const(name + "/strides", perm.Select(p => stride[p]).ToArray())],
            [o], new StridedSliceOptions(0, endMask, 0));
    }

    private static string? CheckPad(Node n)
    {
        string mode = n.GetString("mode") ?? "constant";
        if (mode is not ("constant" or "reflect")) return $"mode {mode}";
        for (int i = 1; i < n.Inputs.Count; i++)
            if (RequireConst(n, i, "pads, constant_value and axes") is { } why) return why;
        return null;
    }

    private static void ConvertPad(Node n, TflConverter c)
    {
        var x = n.Input(0)!;
        int rank = TflConverter.Rank(x);
        var pads = n.GetInts("pads") ?? ConstInts(n.Input(1))!;
        float value = n.GetAttribute("value") is { Kind: AttributeKind.Float } v ? v.Float : ConstFloats(n.Input(2)) is { Length: 1 } cv ? cv[0] : 0f;
        var full = new long[rank * 2];
        if (ConstInts(n.Input(3)) is { } axes)
            for (int i = 0; i < axes.Length; i++)
            {
                int a = NormalizeAxis(axes[i], rank);
                full[a] = pads[i];
                full[rank + a] = pads[axes.Length + i];
            }
        else Array.Copy(pads, full, rank * 2);
        var perm = c.PermOf(x);
        int t = c.In(x, perm);
        var tt = c.Tensor(t);
        var paddings = new int[rank * 2];
        for (int i = 0; i < rank; i++)
        {
            paddings[i * 2] = (int)full[perm[i]];
            paddings[i * 2 + 1] = (int)full[rank + perm[i]];
        }
        int pt = c.Int32Const(n.Output0.Name + "/paddings", paddings, [rank, 2]);
        int o = c.Out(n.Output0, perm, tt.Quantization);
        if ((n.GetString("mode") ?? "constant") == "reflect")
            c.Op(BuiltinOperator.MIRROR_PAD, [t, pt], [o], new MirrorPadOptions(MirrorPadMode.REFLECT));
        else if (value == 0) c.Op(BuiltinOperator.PAD, [t, pt], [o], new EmptyOptions(BuiltinOptionsType.PadOptions));
        else
        {
            int vt = tt.Type == Schema.TensorType.INT8
                ? c.NewTensor(n.Output0.Name + "/pad_value", [], tt.Type, tt.Quantization, TflConverter.QuantizeInt8([value], tt.Quantization!.Scale[0], (int)tt.Quantization.ZeroPoint[0]))
                : c.NewTensor(n.Output0.Name + "/pad_value", [], tt.Type, null, TflConverter.FloatBytes([value]));
            c.Op(BuiltinOperator.PADV2, [t, pt, vt], [o], new EmptyOptions(BuiltinOptionsType.PadV2Options));
        }
    }

    /// <summary>Constant indices, or computed integer ones (token ids into an embedding table).</summary>
    private static string? CheckGather(Node n) =>
        IsConst(n.Input(1)) || n.Input(1)?.TensorType?.ElementType is DataType.Int64 or DataType.Int32 ? null : "indices must be integers";

    private static void ConvertGather(Node n, TflConverter c)
    {
        var x = n.Input(0)!;
        int rank = TflConverter.Rank(x);
        int axis = NormalizeAxis(n.GetInt("axis", 0), rank);
        long d = TflConverter.Dims(x)[axis];
        if (n.Input(1)!.Initializer is null)
        {
            // Computed indices: ONNX counts negative ones from the end, TFLite's GATHER refuses them; FLOOR_MOD by the
            // axis length maps [-d, d) onto [0, d) and leaves valid ones as they are.
            var iv = n.Input(1)!;
            int raw = c.InOnnx(iv);
            var rt = c.Tensor(raw);
            int wrapped = c.NewTensor(iv.Name + "/wrapped", rt.Shape.Select(v => (long)v).ToArray(), Schema.TensorType.INT32);
            c.Op(BuiltinOperator.FLOOR_MOD, [raw, c.Int32Const(iv.Name + "/axis_length", [(int)d], [])], [wrapped], null);
            int source = c.InOnnx(x);
            int result = c.Out(n.Output0, Layout.Identity(TflConverter.Rank(n.Output0)), c.Tensor(source).Quantization);
            c.Op(BuiltinOperator.GATHER, [source, wrapped], [result], new GatherOptions(axis));
            return;
        }
        var idx = n.Input(1)!.Initializer!;
        var values = idx.ToInt64s().Select(i => (int)(i < 0 ? i + d : i)).ToArray();
        int data = c.InOnnx(x);
        int indices = c.Int32Const(n.Input(1)!.Name, values, idx.Dims);
        int o = c.Out(n.Output0, Layout.Identity(TflConverter.Rank(n.Output0)), c.Tensor(data).Quantization);
        c.Op(BuiltinOperator.GATHER, [data, indices], [o], new GatherOptions(axis));
    }

    /// <summary>Nothing at its place in the graph: the fill is made when something reads it (<see cref="MaterializeConstantOfShape"/>).</summary>
    private static void ConvertConstantOfShape(Node n, TflConverter c)
    {
    }

    /// <summary>Largest ConstantOfShape the writer stores as constant data (a few bytes of ONNX can ask for gigabytes).</summary>
    public const long MaxFillBytes = 64L << 20;

    private static string? FillTooLarge(Node n)
    {
        var dims = ConstInts(n.Input(0));
        if (dims is null) return null;
        long size = Math.Max(1, n.GetAttribute("value")?.Tensor?.Raw.Length ?? 4);
        foreach (var d in dims)
        {
            if (d < 0) return $"negative dim {d} in its shape";
            size = d != 0 && size > long.MaxValue / d ? long.MaxValue : size * d;
        }
        return size > MaxFillBytes ? $"its fill of shape [{string.Join(",", dims)}] would be stored as {size >> 20} MiB of constant data, over {MaxFillBytes >> 20} MiB" : null;
    }

    public static void MaterializeConstantOfShape(Node n, TflConverter c)
    {
        var dims = ConstInts(n.Input(0))!;
        var value = n.GetAttribute("value")?.Tensor;
        var type = value?.ElementType ?? DataType.Float;
        long count = Ir.Tensor.CountElements(dims);
        var one = value?.Raw ?? new byte[4];
        var raw = new byte[count * one.Length];
        for (long i = 0; i < count; i++) Buffer.BlockCopy(one, 0, raw, (int)(i * one.Length), one.Length);
        var t = c.ConstTensor(n.Output0.Name, Ir.Tensor.FromRaw(type, dims, raw));
        c.Bind(n.Output0, t, Layout.Identity(dims.Length));
    }

    private static void Space(Node n, TflConverter c, BuiltinOperator op)
    {
        int input = c.In(n.Input(0)!, Layout.Nhwc);
        int o = c.Out(n.Output0, Layout.Nhwc, c.Tensor(input).Quantization);
        c.Op(op, [input], [o], new DepthToSpaceOptions(op == BuiltinOperator.DEPTH_TO_SPACE ? BuiltinOptionsType.DepthToSpaceOptions : BuiltinOptionsType.SpaceToDepthOptions,
            (int)n.GetInt("blocksize", 2)));
    }
}
