using EdgeBuild.Ir;

namespace EdgeBuild.Targets.Tflite;

/// <summary>
/// Permutations between an ONNX value and the TFLite tensor that holds it. A value carries a permutation
/// <c>perm</c>: the TFLite tensor is <c>numpy.transpose(onnx_value, perm)</c>, so TFLite dim i is ONNX dim
/// perm[i]. NCHW held as NHWC is [0,2,3,1]; the identity means "as in ONNX".
/// </summary>
public static class Layout
{
    public static readonly int[] Nhwc = [0, 2, 3, 1];

    public static int[] Identity(int rank) => Enumerable.Range(0, rank).ToArray();

    public static bool IsIdentity(int[] perm)
    {
        for (int i = 0; i < perm.Length; i++) if (perm[i] != i) return false;
        return true;
    }

    public static bool Same(int[] a, int[] b) => a.AsSpan().SequenceEqual(b);

    public static int[] Inverse(int[] perm)
    {
        var inv = new int[perm.Length];
        for (int i = 0; i < perm.Length; i++) inv[perm[i]] = i;
        return inv;
    }

    /// <summary>The TFLite position of ONNX axis <paramref name="onnxAxis"/> under <paramref name="perm"/>.</summary>
    public static int AxisOf(int[] perm, int onnxAxis) => Array.IndexOf(perm, onnxAxis);

    /// <summary>
    /// The TRANSPOSE permutation that turns a tensor held in <paramref name="from"/> into one held in
    /// <paramref name="to"/>: transpose(transpose(V, from), t) = transpose(V, from[t]) must equal transpose(V, to).
    /// </summary>
    public static int[] Between(int[] from, int[] to)
    {
        var inv = Inverse(from);
        return to.Select(d => inv[d]).ToArray();
    }

    /// <summary>
    /// The layout of the output of ONNX Transpose(x, p) when x is held in <paramref name="q"/> and no TFLite op
    /// is emitted: r with p[r] = q (the transpose is absorbed into the layout).
    /// </summary>
    public static int[] AfterTranspose(int[] p, int[] q)
    {
        var pinv = Inverse(p);
        return q.Select(d => pinv[d]).ToArray();
    }

    public static long[] Apply(int[] perm, IReadOnlyList<long> dims) => perm.Select(p => dims[p]).ToArray();

    /// <summary>Transposes constant data: the result is numpy.transpose(t, perm).</summary>
    public static Tensor Transpose(Tensor t, int[] perm)
    {
        if (IsIdentity(perm)) return t;
        int rank = t.Rank;
        var dims = t.Dims;
        var outDims = Apply(perm, dims);
        int size = DataTypes.BitsPerElement(t.ElementType) / 8;
        var src = t.Raw;
        var dst = new byte[src.Length];
        // Strides of the source, in elements.
        var srcStride = new long[rank];
        long s = 1;
        for (int i = rank - 1; i >= 0; i--) { srcStride[i] = s; s *= dims[i]; }
        var step = perm.Select(p => srcStride[p]).ToArray();
        var index = new long[rank];
        long count = t.ElementCount;
        long from = 0;
        for (long k = 0; k < count; k++)
        {
            Buffer.BlockCopy(src, (int)(from * size), dst, (int)(k * size), size);
            for (int d = rank - 1; d >= 0; d--)
            {
                index[d]++;
                from += step[d];
                if (index[d] < outDims[d]) break;
                from -= step[d] * outDims[d];
                index[d] = 0;
            }
        }
        return Tensor.FromRaw(t.ElementType, outDims, dst);
    }
}
