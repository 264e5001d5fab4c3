using EdgeBuild.Ir;

namespace EdgeBuild.Quantization;

/// <summary>The scale and zero point of one quantized tensor (per-tensor), and its integer type.</summary>
internal readonly record struct QuantParams(float Scale, int ZeroPoint, DataType Type);

/// <summary>
/// The arithmetic of linear quantization, as ONNX QuantizeLinear defines it: q = saturate(round(x / scale) + zero_point),
/// rounding half to even. Parameters follow ORT's compute_scale_zp (quant_utils.py), so models quantized here and
/// there agree.
/// </summary>
internal static class QuantMath
{
    /// <summary>Largest finite float16.</summary>
    public const float Fp16Max = 65504f;

    /// <summary>
    /// Activation parameters for a calibrated range. The range is widened to include 0 so that 0 (padding, ReLU
    /// output) is exact. Asymmetric: uint8 over [min, max]; symmetric: int8 in [-127, 127] with zero point 0.
    /// A degenerate range gets scale 1 (ORT does the same), so no scale is ever 0.
    /// </summary>
    public static QuantParams ForActivation(float min, float max, bool symmetric)
    {
        double rmin = Math.Min(min, 0.0), rmax = Math.Max(max, 0.0);
        if (symmetric)
        {
            double absMax = Math.Max(Math.Abs(rmin), Math.Abs(rmax));
            float s = (float)(absMax / 127.0);
            return new QuantParams(s > 0 && float.IsFinite(s) ? s : 1f, 0, DataType.Int8);
        }
        float scale = (float)((rmax - rmin) / 255.0);
        if (!(scale > 0) || !float.IsFinite(scale)) return new QuantParams(1f, 0, DataType.UInt8);
        int zp = (int)Math.Clamp(Math.Round(-rmin / scale, MidpointRounding.ToEven), 0, 255);
        return new QuantParams(scale, zp, DataType.UInt8);
    }

    /// <summary>Symmetric int8 scale for weights with largest magnitude <paramref name="absMax"/> (values in [-127, 127]).</summary>
    public static float WeightScale(double absMax) => WeightScaleWithin(absMax, 127);

    /// <summary>Symmetric int8 scale for weights with largest magnitude <paramref name="absMax"/>, values in [-<paramref name="qmax"/>, <paramref name="qmax"/>].</summary>
    public static float WeightScaleWithin(double absMax, int qmax)
    {
        float s = (float)(absMax / qmax);
        return s > 0 && float.IsFinite(s) ? s : 1f;
    }

    /// <summary>
    /// The largest int8 weight that ONNX Runtime's x86 uint8 x int8 kernels can take on every CPU: without VNNI (AVX2,
    /// AVX-512 before VNNI) they sum pairs of uint8 x int8 products into int16 with saturation (vpmaddubsw), so
    /// 255 x 127 x 2 overflows and outputs silently degrade; with weights in [-64, 64] a pair sums to at most 32640.
    /// ONNX Runtime's own quantizer calls this reduce_range. Used where the artifact runs those kernels.
    /// </summary>
    public const int SaturationFreeWeightMax = 64;

    public static int Quantize(float x, float scale, int zeroPoint, int qmin, int qmax)
    {
        double q = Math.Round(x / (double)scale, MidpointRounding.ToEven) + zeroPoint;
        if (double.IsNaN(q)) return zeroPoint;
        return (int)Math.Clamp(q, qmin, qmax);
    }

    public static (int Min, int Max) Limits(DataType type) => type switch
    {
        DataType.UInt8 => (0, 255),
        DataType.Int8 => (-128, 127),
        DataType.Int32 => (int.MinValue, int.MaxValue),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a quantized type"),
    };

    /// <summary>A float tensor quantized per-tensor to <see cref="QuantParams.Type"/> (uint8 or int8).</summary>
    public static Tensor QuantizeTensor(Tensor data, QuantParams p)
    {
        var x = data.ToFloats();
        var (qmin, qmax) = Limits(p.Type);
        var raw = new byte[x.Length];
        for (int i = 0; i < x.Length; i++) raw[i] = unchecked((byte)Quantize(x[i], p.Scale, p.ZeroPoint, qmin, qmax));
        return Tensor.FromRaw(p.Type, data.Dims, raw);
    }

    /// <summary>Largest |w| of each slice of <paramref name="w"/> along <paramref name="axis"/>.</summary>
    public static double[] AbsMaxPerChannel(Tensor w, int axis)
    {
        var x = w.ToFloats();
        var dims = w.Dims;
        long channels = dims[axis];
        long inner = 1;
        for (int i = axis + 1; i < dims.Length; i++) inner *= dims[i];
        var result = new double[channels];
        for (long i = 0; i < x.LongLength; i++)
        {
            long c = i / inner % channels;
            double a = Math.Abs((double)x[i]);
            if (a > result[c]) result[c] = a;
        }
        return result;
    }

    /// <summary>Symmetric int8 quantization of <paramref name="w"/>, one scale per slice along <paramref name="axis"/> (values in [-qmax, qmax], [-127, 127] by default).</summary>
    public static Tensor QuantizePerChannel(Tensor w, int axis, float[] scales, int offset = 0, DataType type = DataType.Int8, int qmax = 127)
    {
        var x = w.ToFloats();
        var dims = w.Dims;
        long channels = dims[axis];
        long inner = 1;
        for (int i = axis + 1; i < dims.Length; i++) inner *= dims[i];
        var raw = new byte[x.Length];
        for (long i = 0; i < x.LongLength; i++)
        {
            long c = i / inner % channels;
            raw[i] = unchecked((byte)(Quantize(x[i], scales[c], 0, -qmax, qmax) + offset));
        }
        return Tensor.FromRaw(type, dims, raw);
    }

    /// <summary>Symmetric int8 quantization with one scale for the whole tensor (values in [-qmax, qmax], [-127, 127] by default).</summary>
    public static Tensor QuantizeSymmetric(Tensor w, float scale, int qmax = 127)
    {
        var x = w.ToFloats();
        var raw = new byte[x.Length];
        for (int i = 0; i < x.Length; i++) raw[i] = unchecked((byte)Quantize(x[i], scale, 0, -qmax, qmax));
        return Tensor.FromRaw(DataType.Int8, w.Dims, raw);
    }

    /// <summary>Float32 to float16 with saturation to ±65504 (values past it become the largest finite half, not infinity).</summary>
    public static Half ToHalf(float x) => float.IsNaN(x) ? Half.NaN : (Half)Math.Clamp(x, -Fp16Max, Fp16Max);

    public static Tensor ToFloat16(Tensor t)
    {
        var x = t.AsSpan<float>();
        var h = new Half[x.Length];
        for (int i = 0; i < x.Length; i++) h[i] = ToHalf(x[i]);
        return Tensor.FromSpan<Half>(DataType.Float16, t.Dims, h);
    }

    public static Tensor Scalar(DataType type, int value) => type switch
    {
        DataType.UInt8 => Tensor.FromRaw(DataType.UInt8, [], [(byte)value]),
        DataType.Int8 => Tensor.FromRaw(DataType.Int8, [], [unchecked((byte)(sbyte)value)]),
        DataType.Int32 => Tensor.FromSpan<int>(DataType.Int32, [], [value]),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a quantized type"),
    };
}
