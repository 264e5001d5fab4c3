namespace EdgeBuild.Quantization.Calibration;

/// <summary>
/// TensorRT's entropy calibration (Migacz, "8-bit Inference with TensorRT", GTC 2017; the NVIDIA
/// pytorch-quantization implementation): over a 2048-bin histogram of |x|, try every threshold from bin 128 up;
/// for each, fold the tail into the last kept bin (P), merge the kept bins into 128 quantization levels and
/// spread each level back over its non-empty bins (Q), and keep the threshold with the smallest KL(P || Q).
/// Both distributions are smoothed before the divergence (see <see cref="Smooth"/>). The search starts at 128
/// bins, so the threshold is never below 1/16 of the largest |x| seen: a known property of the method.
/// The count of exact zeros is replaced by its neighbour's first, as pytorch-quantization does: after a ReLU
/// half the tensor is 0 and would otherwise dominate the divergence.
/// A tensor that is never negative is quantized to uint8 over [0, t] when activations are asymmetric, i.e. to
/// 256 levels, not 128; the search then uses 256 quantized bins (pytorch-quantization's "unsigned" case), which
/// keeps a wider threshold. Signed tensors and symmetric activations use 128.
/// </summary>
public sealed class EntropyCalibrator(int bins = AbsHistogram.DefaultBins, int quantizedBins = 128, int stride = 1, bool unsignedWhenNonNegative = true)
    : HistogramCalibrator(bins)
{
    public override CalibratorKind Kind => CalibratorKind.Entropy;

    public override double Threshold(AbsHistogram histogram)
    {
        int levels = unsignedWhenNonNegative && histogram.Min >= 0 ? 2 * quantizedBins : quantizedBins;
        return histogram.BinWidth * BestBinCount(histogram.Counts, levels, stride);
    }

    /// <summary>How many histogram bins the best threshold keeps.</summary>
    public static int BestBinCount(double[] histogram, int quantizedBins = 128, int stride = 1)
    {
        int n = histogram.Length;
        if (n <= quantizedBins) return n;
        var bins = (double[])histogram.Clone();
        bins[0] = bins[1];
        double total = bins.Sum();
        if (total <= 0) return n;

        var p = new double[n];
        var q = new double[n];
        double best = double.PositiveInfinity;
        int bestCount = n;
        // suffix[i]: the mass beyond the first i bins.
        var suffix = new double[n + 1];
        for (int i = n - 1; i >= 0; i--) suffix[i] = suffix[i + 1] + bins[i];
        for (int i = quantizedBins; i <= n; i += stride)
        {
            // P: the first i bins, everything beyond folded into the last one.
            Array.Copy(bins, p, i);
            p[i - 1] += suffix[i];

            // Q: the first i bins merged into quantizedBins levels, each level's mass spread evenly over its
            // non-empty bins (empty bins stay empty: they must not get probability P does not have).
            for (int level = 0; level < quantizedBins; level++)
            {
                int start = (int)((long)level * i / quantizedBins);
                int end = (int)((long)(level + 1) * i / quantizedBins);
                double sum = 0;
                int nonEmpty = 0;
                for (int k = start; k < end; k++)
                {
                    sum += bins[k];
                    if (bins[k] != 0) nonEmpty++;
                }
                double each = nonEmpty > 0 ? sum / nonEmpty : 0;
                for (int k = start; k < end; k++) q[k] = bins[k] != 0 ? each : 0;
            }

            Smooth(p, i);
            Smooth(q, i);
            double divergence = KlDivergence(p, q, i);
            // "<=": of equal divergences the widest threshold wins (pytorch-quantization takes the last argmin).
            if (divergence <= best)
            {
                best = divergence;
                bestCount = i;
            }
        }
        return bestCount;
    }

    /// <summary>
    /// MXNet's smooth_distribution (which ORT's entropy calibrator uses): empty bins get a tiny count taken evenly
    /// from the others, so Q is never 0 where P is not. Without it, a single far outlier folded into an empty bin
    /// makes every threshold below it "infinitely" bad and the search returns the maximum.
    /// </summary>
    private static void Smooth(double[] d, int length, double eps = 1e-4)
    {
        int zeros = 0;
        for (int k = 0; k < length; k++) if (d[k] == 0) zeros++;
        int nonZeros = length - zeros;
        if (zeros == 0 || nonZeros == 0) return;
        double take = eps * zeros / nonZeros;
        for (int k = 0; k < length; k++) d[k] = d[k] == 0 ? eps : d[k] - take;
    }

    /// <summary>KL(P || Q) over the first <paramref name="length"/> entries, both normalized first; infinite where Q is 0 and P is not.</summary>
    private static double KlDivergence(double[] p, double[] q, int length)
    {
        double sp = 0, sq = 0;
        for (int k = 0; k < length; k++) { sp += p[k]; sq += q[k]; }
        if (sp <= 0 || sq <= 0) return double.PositiveInfinity;
        double kl = 0;
        for (int k = 0; k < length; k++)
        {
            if (p[k] == 0) continue;
            double pk = p[k] / sp, qk = q[k] / sq;
            if (qk == 0) return double.PositiveInfinity;
            kl += pk * Math.Log(pk / qk);
        }
        return kl;
    }
}
