using EdgeBuild.Ir;
using EdgeBuild.Targets.Tflite.Schema;
using static EdgeBuild.Targets.Tflite.Ops.TflOpRegistry;

namespace EdgeBuild.Targets.Tflite.Ops;

/// <summary>
/// Conv -> CONV_2D (filters OHWI), DEPTHWISE_CONV_2D (group = channels, filters 1HW(C*M)) or a SPLIT into
/// groups with one CONV_2D each and a CONCATENATION; ConvTranspose -> TRANSPOSE_CONV (+ a crop for pads).
/// Explicit pads that are not TFLite's SAME become a PAD before a VALID convolution. Int8: symmetric per-channel
/// weights (CONV dim 0, DEPTHWISE dim 3), int32 bias with scale s_input x s_weight. A 1-D Conv ([N, C, L], audio
/// front ends and temporal convolutions) is the 2-D one over [N, 1, L, C]: its input is held channels-last
/// ([N, L, C], perm [0, 2, 1]), so a chain of 1-D convolutions needs no TRANSPOSE, only free RESHAPEs around each.
/// </summary>
internal static class ConvOps
{
    public static IEnumerable<(string, OpRule)> Rules()
    {
        yield return ("Conv", new OpRule(CheckConv, ConvertConv));
        yield return ("ConvTranspose", new OpRule(CheckConvTranspose, ConvertConvTranspose));
    }

    private static string? CheckConv(Node n)
    {
        if (n.Input(1)?.Initializer is not { Rank: 3 or 4 }) return "only 1-D and 2-D convolutions with constant weights";
        if (n.Input(2) is { } b && b.Initializer is null) return "bias must be a constant";
        if (n.GetString("auto_pad") is "SAME_LOWER") return "auto_pad SAME_LOWER";
        return null;
    }

    private static string? CheckConvTranspose(Node n)
    {
        if (n.Input(1)?.Initializer is not { Rank: 4 }) return "only 2-D transposed convolutions with constant weights";
        if (n.GetInt("group", 1) != 1) return "group > 1";
        if (n.GetInts("dilations") is { } d && d.Any(x => x != 1)) return "dilations";
        if (n.Input(2) is { } b && b.Initializer is null) return "bias must be a constant";
        if (n.GetString("auto_pad") is { } ap && ap != "NOTSET") return $"auto_pad {ap}";
        var x = TflConverter.Dims(n.Input(0)!);
        var y = TflConverter.Dims(n.Output0);
        var w = n.Input(1)!.Initializer!.Dims;
        var s = n.GetInts("strides") ?? [1, 1];
        for (int i = 0; i < 2; i++)
            if ((x[2 + i] - 1) * s[i] + w[2 + i] < y[2 + i] + Pads(n)[i]) return "output_padding beyond the padding";
        return null;
    }

    private static long[] Pads(Node n) => n.GetInts("pads") ?? [0, 0, 0, 0];

    /// <summary>TFLite padding for a window op: VALID, SAME, or VALID after explicit pads (hb, wb, he, we).</summary>
    public static (Padding Padding, long[]? Explicit) ChoosePadding(long[] input, long[] output, long[] kernel, long[] strides, long[] dilations, long[] pads, string? autoPad)
    {
        if (autoPad is "SAME_UPPER") return (Padding.SAME, null);
        if (autoPad is "VALID" || pads.All(p => p == 0))
        {
            bool validFits = true;
            for (int i = 0; i < 2; i++)
            {
                long ke = (kernel[i] - 1) * dilations[i] + 1;
                if ((input[i] - ke) / strides[i] + 1 != output[i]) validFits = false;
            }
            if (validFits) return (Padding.VALID, null);
        }
        bool same = true;
        for (int i = 0; i < 2; i++)
        {
            long ke = (kernel[i] - 1) * dilations[i] + 1;
            long outSame = (input[i] + strides[i] - 1) / strides[i];
            long total = Math.Max((outSame - 1) * strides[i] + ke - input[i], 0);
            if (outSame != output[i] || pads[i] != total / 2 || pads[i + 2] != total - total / 2) same = false;
        }
        if (same) return (Padding.SAME, null);
        // Explicit: pad so that a VALID window gives the ONNX output size (ceil_mode may need more at the end).
        var p = (long[])pads.Clone();
        for (int i = 0; i < 2; i++)
        {
            long ke = (kernel[i] - 1) * dilations[i] + 1;
            long need = (output[i] - 1) * strides[i] + ke - input[i] - p[i];
            p[i + 2] = Math.Max(p[i + 2], need);
        }
        return (Padding.VALID, p);
    }

    /// <summary>Pads an NHWC tensor on H and W (value: 0, or <paramref name="fill"/> through PADV2).</summary>
    public static int PadNhwc(TflConverter c, int input, long[] pads, float? fill, string name)
    {
        var t = c.Tensor(input);
        var shape = new long[] { t.Shape[0], t.Shape[1] + pads[0] + pads[2], t.Shape[2] + pads[1] + pads[3], t.Shape[3] };
        int result = c.NewTensor(name + "/padded", shape, t.Type, t.Quantization);
        int paddings = c.Int32Const(name + "/paddings", [0, 0, (int)pads[0], (int)pads[2], (int)pads[1], (int)pads[3], 0, 0], [4, 2]);
        if (fill is float f && f != 0)
        {
            int value = t.Type == Schema.TensorType.INT8
                ? c.NewTensor(name + "/pad_value", [], t.Type, t.Quantization, [unchecked((byte)(sbyte)-128)])
                : c.NewTensor(name + "/pad_value", [], t.Type, null, TflConverter.FloatBytes([f]));
            c.Op(BuiltinOperator.PADV2, [input, paddings, value], [result], new EmptyOptions(BuiltinOptionsType.PadV2Options));
        }
        else c.Op(BuiltinOperator.PAD, [input, paddings], [result], new EmptyOptions(BuiltinOptionsType.PadOptions));
        return result;
    }

    /// <summary>Channels-last order of a rank-3 [N, C, L] value.</summary>
    private static readonly int[] Nlc = [0, 2, 1];

    /// <summary>Strides, dilations and pads of a Conv as 2-D ones (a 1-D window gets a height of 1).</summary>
    private sealed record Window(long[] Strides, long[] Dilations, long[] Pads, string? AutoPad)
    {
        public static Window Of(Node n, bool oneD)
        {
            long[] strides = n.GetInts("strides") ?? (oneD ? [1] : [1, 1]);
            long[] dilations = n.GetInts("dilations") ?? (oneD ? [1] : [1, 1]);
            long[] pads = n.GetInts("pads") ?? (oneD ? [0, 0] : [0, 0, 0, 0]);
            return oneD
                ? new Window([1, strides[0]], [1, dilations[0]], [0, pads[0], 0, pads[1]], n.GetString("auto_pad"))
                : new Window(strides, dilations, pads, n.GetString("auto_pad"));
        }
    }

    private static void ConvertConv(Node n, TflConverter c)
    {
        var x = n.Input(0)!;
        bool oneD = TflConverter.Rank(x) == 3;
        var w = n.Input(1)!.Initializer!;
        if (oneD) w = w.WithDims([w.Dims[0], w.Dims[1], 1, w.Dims[2]]);
        var window = Window.Of(n, oneD);
        var xd = TflConverter.Dims(x);
        long channels = xd[1], group = n.GetInt("group", 1), outChannels = w.Dims[0];
        int input = oneD ? Lift(c, x) : c.In(x, Layout.Nhwc);
        var (act, result) = c.FuseActivation(n.Output0);
        var od = TflConverter.Dims(result);
        long[] outNhwc = oneD ? [od[0], 1, od[2], od[1]] : [od[0], od[2], od[3], od[1]];
        var q = c.IsQuantized(result) ? c.ActivationQuant(result.Name) : null;
        // A 1-D result is computed as [N, 1, L, O] and reshaped (free) to [N, L, O], held channels-last.
        int target = oneD
            ? c.NewTensor(result.Name + "/2d", outNhwc, q is null ? c.Tensor(input).Type : Schema.TensorType.INT8, q)
            : group == 1 || (group == channels && w.Dims[1] == 1) ? c.Out(result, Layout.Nhwc) : -1;
        string name = n.Name.Length > 0 ? n.Name : n.Output0.Name;
        if (group == 1) EmitConv(c, input, w, n.Input(2)?.Initializer, target, depthwise: false, act, name, window);
        else if (group == channels && w.Dims[1] == 1) EmitConv(c, input, w, n.Input(2)?.Initializer, target, depthwise: true, act, name, window);
        else
        {
            // Grouped: SPLIT along channels, one CONV_2D per group, CONCATENATION.
            var it = c.Tensor(input);
            int perIn = (int)(channels / group), perOut = (int)(outChannels / group);
            var parts = new int[group];
            for (int g = 0; g < group; g++) parts[g] = c.NewTensor($"{x.Name}/group{g}", [it.Shape[0], it.Shape[1], it.Shape[2], perIn], it.Type, it.Quantization);
            c.Op(BuiltinOperator.SPLIT, [c.Int32Const(name + "/split_axis", [3], []), input], parts, new SplitOptions(BuiltinOptionsType.SplitOptions, (int)group));
            var outputs = new int[group];
            var wf = w.ToFloats();
            float[]? bf = n.Input(2)?.Initializer?.ToFloats();
            long wPer = w.ElementCount / group;
            for (int g = 0; g < group; g++)
            {
                var wg = Ir.Tensor.FromFloats([perOut, w.Dims[1], w.Dims[2], w.Dims[3]], wf.AsSpan((int)(g * wPer), (int)wPer));
                var bg = bf is null ? null : Ir.Tensor.FromFloats([perOut], bf.AsSpan(g * perOut, perOut));
                outputs[g] = c.NewTensor($"{result.Name}/group{g}", [outNhwc[0], outNhwc[1], outNhwc[2], perOut], q is null ? c.Tensor(input).Type : Schema.TensorType.INT8, q);
                EmitConv(c, parts[g], wg, bg, outputs[g], depthwise: false, act, $"{name}/group{g}", window);
            }
            if (target < 0) target = c.Out(result, Layout.Nhwc, q);
            c.Op(BuiltinOperator.CONCATENATION, outputs, [target], new ConcatenationOptions(3, ActivationFunctionType.NONE));
        }
        if (oneD)
        {
            var tt = c.Tensor(target);
            int o = c.Out(result, Nlc, tt.Quantization);
            int[] dims = [(int)od[0], (int)od[2], (int)od[1]];
            c.Op(BuiltinOperator.RESHAPE, [target, c.Int32Const(result.Name + "/shape", dims)], [o], new ReshapeOptions(dims));
        }
    }

    /// <summary>A rank-3 [N, C, L] input as [N, 1, L, C]: held channels-last, the RESHAPE moves no byte.</summary>
    private static int Lift(TflConverter c, Value x)
    {
        int t = c.In(x, Nlc);
        var tt = c.Tensor(t);
        int[] dims = [tt.Shape[0], 1, tt.Shape[1], tt.Shape[2]];
        int r = c.NewTensor(x.Name + "/2d", dims.Select(d => (long)d).ToArray(), tt.Type, tt.Quantization);
        c.Op(BuiltinOperator.RESHAPE, [t, c.Int32Const(x.Name + "/2d_shape", dims)], [r], new ReshapeOptions(dims));
        return r;
    }

    private static void EmitConv(TflConverter c, int input, Ir.Tensor w, Ir.Tensor? bias, int output, bool depthwise, ActivationFunctionType act, string name, Window window)
    {
        var it = c.Tensor(input);
        var ot = c.Tensor(output);
        long[] kernel = [w.Dims[2], w.Dims[3]];
        long[] strides = window.Strides;
        long[] dilations = window.Dilations;
        var (padding, pads) = ChoosePadding([it.Shape[1], it.Shape[2]], [ot.Shape[1], ot.Shape[2]], kernel, strides, dilations, window.Pads, window.AutoPad);
        if (pads is not null) input = PadNhwc(c, input, pads, null, name);
        // Filters: CONV_2D OHWI from OIHW; DEPTHWISE_CONV_2D [1,H,W,C*M] from [C*M,1,H,W].
        var filter = Layout.Transpose(w, depthwise ? [1, 2, 3, 0] : [0, 2, 3, 1]);
        int channelAxis = depthwise ? 3 : 0;
        var (wt, bt) = WeightsAndBias(c, name, filter, channelAxis, bias, (int)w.Dims[0], c.Tensor(input).Quantization, perChannel: true);
        BuiltinOptions options = depthwise
            ? new DepthwiseConv2DOptions(padding, (int)strides[1], (int)strides[0], (int)(w.Dims[0] / it.Shape[3]), act, (int)dilations[1], (int)dilations[0])
            : new Conv2DOptions(padding, (int)strides[1], (int)strides[0], act, (int)dilations[1], (int)dilations[0]);
        c.Op(depthwise ? BuiltinOperator.DEPTHWISE_CONV_2D : BuiltinOperator.CONV_2D, [input, wt, bt], [output], options);
    }

    /// <summary>
    /// The filter and bias tensors. Float: as they are (float16 behind DEQUANTIZE for Fp16). Int8: int8 symmetric
    /// weights in [-127, 127], per channel along <paramref name="channelAxis"/> or per tensor, and an int32 bias
    /// (zero when absent) with scale s_input x s_weight.
    /// </summary>
    public static (int Weights, int Bias) WeightsAndBias(TflConverter c, string name, Ir.Tensor filter, int channelAxis, Ir.Tensor? bias, int outChannels,
        TflQuantization? inputQuant, bool perChannel)
    {
        if (!c.Int8 || inputQuant is null)
        {
            int wt = c.ConstTensor(name + "/weights", filter, weights: filter.ElementCount >= TflConverter.Fp16MinWeights);
            var b = bias ?? Ir.Tensor.FromFloats([outChannels], new float[outChannels]);
            int bt = c.ConstTensor(name + "/bias", b);
            return (wt, bt);
        }
        var wf = filter.ToFloats();
        var dims = filter.Dims;
        long inner = 1;
        for (int i = channelAxis + 1; i < dims.Length; i++) inner *= dims[i];
        long channels = dims[channelAxis];
        var absMax = new double[channels];
        for (long k = 0; k < wf.Length; k++)
        {
            long ch = k / inner % channels;
            absMax[ch] = Math.Max(absMax[ch], Math.Abs(wf[k]));
        }
        if (!perChannel)
        {
            double all = absMax.Length == 0 ? 0 : absMax.Max();
            Array.Fill(absMax, all);
        }
        var scales = absMax.Select(a => a > 0 && double.IsFinite(a) ? (float)(a / 127.0) : 1f).ToArray();
        var q = new byte[wf.Length];
        for (long k = 0; k < wf.Length; k++)
        {
            long ch = k / inner % channels;
            q[k] = unchecked((byte)(sbyte)Quantization.QuantMath.Quantize(wf[k], scales[ch], 0, -127, 127));
        }
        var wq = perChannel ? new TflQuantization(scales, new long[channels], channelAxis) : TflQuantization.PerTensor(scales[0], 0);
        int weights = c.NewTensor(name + "/weights", dims, Schema.TensorType.INT8, wq, q);
        float sIn = inputQuant.Scale[0];
        var biasScales = new float[outChannels];
        var biasData = new byte[outChannels * 4];
        var bf = bias?.ToFloats();
        for (int o = 0; o < outChannels; o++)
        {
            float s = sIn * scales[perChannel ? o : 0];
            biasScales[o] = s;
            double v = bf is null ? 0 : Math.Round(bf[o] / (double)s, MidpointRounding.ToEven);
            BitConverter.TryWriteBytes(biasData.AsSpan(o * 4), (int)Math.Clamp(v, int.MinValue + 1, int.MaxValue));
        }
        var bq = perChannel ? new TflQuantization(biasScales, new long[outChannels], 0) : TflQuantization.PerTensor(biasScales[0], 0);
        int biasTensor = c.NewTensor(name + "/bias", [outChannels], Schema.TensorType.INT32, bq, biasData);
        return (weights, biasTensor);
    }

    private static void ConvertConvTranspose(Node n, TflConverter c)
    {
        var x = n.Input(0)!;
        var w = n.Input(1)!.Initializer!;
        var bias = n.Input(2)?.Initializer;
        string name = n.Name.Length > 0 ? n.Name : n.Output0.Name;
        int input = c.In(x, Layout.Nhwc);
        var it = c.Tensor(input);
        long[] strides = n.GetInts("strides") ?? [1, 1];
        var pads = Pads(n);
        long outC = w.Dims[1];
        long fullH = (it.Shape[1] - 1) * strides[0] + w.Dims[2], fullW = (it.Shape[2] - 1) * strides[1] + w.Dims[3];
        var od = TflConverter.Dims(n.Output0);
        bool crop = fullH != od[2] || fullW != od[3];
        var (act, result) = c.FuseActivation(n.Output0);
        // Filters [M,kH,kW,C] from ONNX [C,M,kH,kW].
        var filter = Layout.Transpose(w, [1, 2, 3, 0]);
        var (wt, bt) = WeightsAndBias(c, name, filter, 0, bias, (int)outC, it.Quantization, perChannel: true);
        int outShape = c.Int32Const(name + "/output_shape", [(int)od[0], (int)fullH, (int)fullW, (int)outC]);
        int full;
        if (crop)
        {
            var q = c.IsQuantized(result) ? c.ActivationQuant(result.Name) : null;
            full = c.NewTensor(name + "/full", [od[0], fullH, fullW, outC], q is null ? it.Type : Schema.TensorType.INT8, q);
        }
        else full = c.Out(result, Layout.Nhwc);
        c.Op(BuiltinOperator.TRANSPOSE_CONV, [outShape, wt, input, bt], [full], new TransposeConvOptions(Padding.VALID, (int)strides[1], (int)strides[0], act),
            act == ActivationFunctionType.NONE ? 3 : 4); // 3: the bias input; 4: a fused activation
        if (crop)
        {
            int o = c.Out(result, Layout.Nhwc, c.Tensor(full).Quantization);
            int begin = c.Int32Const(name + "/crop_begin", [0, (int)pads[0], (int)pads[1], 0]);
            int size = c.Int32Const(name + "/crop_size", [(int)od[0], (int)od[2], (int)od[3], (int)outC]);
            c.Op(BuiltinOperator.SLICE, [full, begin, size], [o], new EmptyOptions(BuiltinOptionsType.SliceOptions));
        }
    }
}
