using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeBuild.Quantization.Calibration;

/// <summary>
/// The per-sample reductions calibration runs over every activation (tens of millions of values per sample on a
/// 320x320 detector), in SIMD registers of the machine's width (<see cref="Vector{T}"/>) with a scalar tail. The extremes
/// and the histogram give exactly what the plain loop over the values gives (they do not depend on order); the sum adds
/// in double precision in another order than the plain loop, so its last bits may differ.
/// </summary>
internal static class SpanStatistics
{
    /// <summary>Smallest and largest finite value; (+inf, -inf) when there is none.</summary>
    public static (float Min, float Max) FiniteMinMax(ReadOnlySpan<float> values)
    {
        var (min, max, _) = FiniteExtremes(values, smallestNonZero: false);
        return (min, max);
    }

    /// <summary>
    /// Smallest and largest finite value and, when asked, the smallest nonzero finite |x| (+inf where none); NaN and
    /// infinities are left out.
    /// </summary>
    public static (float Min, float Max, float SmallestNonZero) FiniteExtremes(ReadOnlySpan<float> values, bool smallestNonZero = true)
    {
        float min = float.PositiveInfinity, max = float.NegativeInfinity, tiny = float.PositiveInfinity;
        int i = 0;
        if (Vector.IsHardwareAccelerated && values.Length >= 2 * Vector<float>.Count)
        {
            var infinity = new Vector<float>(float.PositiveInfinity);
            var negativeInfinity = new Vector<float>(float.NegativeInfinity);
            Vector<float> vmin = infinity, vmax = negativeInfinity, vtiny = infinity;
            for (; i <= values.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var v = new Vector<float>(values.Slice(i, Vector<float>.Count));
                var abs = Vector.Abs(v);
                // |NaN| < inf is false, as is |inf| < inf: one comparison keeps the finite lanes.
                var finite = Vector.LessThan(abs, infinity);
                vmin = Vector.Min(vmin, Vector.ConditionalSelect(finite, v, infinity));
                vmax = Vector.Max(vmax, Vector.ConditionalSelect(finite, v, negativeInfinity));
                if (smallestNonZero)
                    vtiny = Vector.Min(vtiny, Vector.ConditionalSelect(finite & ~Vector.Equals(abs, Vector<float>.Zero), abs, infinity));
            }
            for (int k = 0; k < Vector<float>.Count; k++)
            {
                min = Math.Min(min, vmin[k]);
                max = Math.Max(max, vmax[k]);
                tiny = Math.Min(tiny, vtiny[k]);
            }
        }
        for (; i < values.Length; i++)
        {
            float v = values[i];
            if (!float.IsFinite(v)) continue;
            if (v < min) min = v;
            if (v > max) max = v;
            float a = Math.Abs(v);
            if (smallestNonZero && a != 0 && a < tiny) tiny = a;
        }
        return (min, max, tiny);
    }

    /// <summary>The sum of the values in double precision (NaN and infinities included, as a plain loop would add them).</summary>
    public static double Sum(ReadOnlySpan<float> values)
    {
        double sum = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated && values.Length >= 2 * Vector<float>.Count)
        {
            Vector<double> low = Vector<double>.Zero, high = Vector<double>.Zero;
            for (; i <= values.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                Vector.Widen(new Vector<float>(values.Slice(i, Vector<float>.Count)), out var a, out var b);
                low += a;
                high += b;
            }
            sum = Vector.Sum(low + high);
        }
        for (; i < values.Length; i++) sum += values[i];
        return sum;
    }

    /// <summary>
    /// Adds the finite values of <paramref name="values"/> to <paramref name="counts"/>, a histogram of |x| whose bin is
    /// (int)(|x| * <paramref name="binsPerUnit"/>), clamped to the last bin. Four partial histograms take the values in
    /// turn, so a run of equal bins (the zeros after a ReLU, half of every such tensor) does not wait on one counter.
    /// </summary>
    public static void AddToAbsHistogram(ReadOnlySpan<float> values, double[] counts, double binsPerUnit)
    {
        int bins = counts.Length;
        // One slot past the last bin takes the values that are not finite; it is dropped.
        int stride = bins + 1;
        var partial = new int[4 * stride];
        int i = Avx.IsSupported ? AbsBinsAvx(values, partial, stride, binsPerUnit) : AbsBinsVector(values, partial, stride, binsPerUnit);
        int lastBin = bins - 1;
        for (; i < values.Length; i++)
        {
            float v = values[i];
            if (!float.IsFinite(v)) continue;
            int bin = (int)(Math.Abs(v) * binsPerUnit);
            partial[bin > lastBin ? lastBin : bin]++;
        }
        for (int b = 0; b < bins; b++) counts[b] += partial[b] + partial[stride + b] + partial[2 * stride + b] + partial[3 * stride + b];
    }

    /// <summary>
    /// The histogram's bins of the leading multiple of 8 values on x86: the double product truncated to int32 in one
    /// instruction (vcvttpd2dq). Vector.ConvertToInt64 has no AVX2 instruction and runs element by element, which made
    /// the histogram 5 to 8 times the cost of a min/max pass over the same values. Clamping the product to the last bin
    /// before truncating gives the scalar loop's bin: both are the last bin from a product of bins - 1 up, infinity included.
    /// </summary>
    private static int AbsBinsAvx(ReadOnlySpan<float> values, int[] partial, int stride, double binsPerUnit)
    {
        int i = 0;
        if (values.Length < 2 * Vector256<float>.Count) return 0;
        var infinity = Vector256.Create(float.PositiveInfinity);
        var scale = Vector256.Create(binsPerUnit);
        var last = Vector256.Create((double)(stride - 2));
        var dropped = Vector256.Create(stride - 1);
        ref float start = ref MemoryMarshal.GetReference(values);
        Span<int> lanes = stackalloc int[Vector256<int>.Count];
        for (; i <= values.Length - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            var abs = Vector256.Abs(Vector256.LoadUnsafe(ref start, (nuint)i));
            // |NaN| < inf is false, as is |inf| < inf: one comparison keeps the finite lanes.
            var finite = Vector256.LessThan(abs, infinity);
            var clean = Vector256.ConditionalSelect(finite, abs, Vector256<float>.Zero);
            var low = Avx.ConvertToVector128Int32WithTruncation(Vector256.Min(Avx.ConvertToVector256Double(clean.GetLower()) * scale, last));
            var high = Avx.ConvertToVector128Int32WithTruncation(Vector256.Min(Avx.ConvertToVector256Double(clean.GetUpper()) * scale, last));
            Vector256.ConditionalSelect(finite.AsInt32(), Vector256.Create(low, high), dropped).CopyTo(lanes);
            partial[lanes[0]]++;
            partial[stride + lanes[1]]++;
            partial[2 * stride + lanes[2]]++;
            partial[3 * stride + lanes[3]]++;
            partial[lanes[4]]++;
            partial[stride + lanes[5]]++;
            partial[2 * stride + lanes[6]]++;
            partial[3 * stride + lanes[7]]++;
        }
        return i;
    }

    /// <summary>The same bins in <see cref="Vector{T}"/> registers (other CPUs); returns how many values it took.</summary>
    private static int AbsBinsVector(ReadOnlySpan<float> values, int[] partial, int stride, double binsPerUnit)
    {
        int i = 0;
        int bins = stride - 1;
        if (Vector.IsHardwareAccelerated && values.Length >= 2 * Vector<float>.Count)
        {
            var infinity = new Vector<float>(float.PositiveInfinity);
            var scale = new Vector<double>(binsPerUnit);
            var last = new Vector<long>(bins - 1);
            var dropped = new Vector<long>(bins);
            Span<long> lanes = stackalloc long[Vector<float>.Count];
            for (; i <= values.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var abs = Vector.Abs(new Vector<float>(values.Slice(i, Vector<float>.Count)));
                var finite = Vector.LessThan(abs, infinity);
                // The same double product and truncation as the scalar loop, so a value on a bin edge lands where it always did.
                Vector.Widen(Vector.ConditionalSelect(finite, abs, Vector<float>.Zero), out var a, out var b);
                Vector.Widen(finite, out var finiteLow, out var finiteHigh);
                var binLow = Vector.ConditionalSelect(finiteLow, Vector.Min(Vector.ConvertToInt64(a * scale), last), dropped);
                var binHigh = Vector.ConditionalSelect(finiteHigh, Vector.Min(Vector.ConvertToInt64(b * scale), last), dropped);
                binLow.CopyTo(lanes);
                binHigh.CopyTo(lanes[Vector<long>.Count..]);
                for (int k = 0; k < lanes.Length; k++) partial[(k & 3) * stride + (int)lanes[k]]++;
            }
        }
        return i;
    }
}
