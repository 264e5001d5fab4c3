namespace EdgeBuild.Quantization.Calibration;

/// <summary>
/// A histogram of |x| over [0, Range] with a fixed number of equal bins, plus the signed extremes. When a sample
/// exceeds the range, the old counts are spread over the wider bins in proportion to their overlap, so the
/// histogram always spans exactly [0, largest |x| seen] (ORT instead appends bins, which changes the bin count;
/// TensorRT and ORT's threshold searches both assume a fixed count, hence this form). Counts are doubles for
/// the proportional spreading.
/// </summary>
public sealed class AbsHistogram(int bins = AbsHistogram.DefaultBins)
{
    public const int DefaultBins = 2048;

    public double[] Counts { get; private set; } = new double[bins];
    public double Range { get; private set; }
    public float Min { get; private set; } = float.PositiveInfinity;
    public float Max { get; private set; } = float.NegativeInfinity;
    public bool IsEmpty => Min > Max;
    public int Bins => Counts.Length;
    public double BinWidth => Range / Counts.Length;

    public void Add(ReadOnlySpan<float> values)
    {
        var (min, max) = SpanStatistics.FiniteMinMax(values);
        Add(values, min, max);
    }

    /// <summary>Adds values whose smallest and largest finite value the caller measured already (+inf and -inf when none is finite).</summary>
    public void Add(ReadOnlySpan<float> values, float finiteMin, float finiteMax)
    {
        var (min, max) = MinMaxCalibrator.Extremes(finiteMin, finiteMax);
        if (values.Length == 0) return;
        Min = Math.Min(Min, min);
        Max = Math.Max(Max, max);
        double absMax = Math.Max(Math.Abs((double)min), Math.Abs((double)max));
        if (absMax > Range) Widen(absMax);
        if (Range <= 0)
        {
            Counts[0] += values.Length;
            return;
        }
        SpanStatistics.AddToAbsHistogram(values, Counts, Counts.Length / Range);
    }

    private void Widen(double range)
    {
        if (Range > 0)
        {
            var wider = new double[Counts.Length];
            double oldWidth = Range / Counts.Length, newWidth = range / Counts.Length;
            for (int i = 0; i < Counts.Length; i++)
            {
                if (Counts[i] == 0) continue;
                double lo = i * oldWidth, hi = lo + oldWidth;
                int first = (int)(lo / newWidth), lastBin = Math.Min((int)(hi / newWidth), Counts.Length - 1);
                for (int j = first; j <= lastBin; j++)
                {
                    double overlap = Math.Min(hi, (j + 1) * newWidth) - Math.Max(lo, j * newWidth);
                    if (overlap > 0) wider[j] += Counts[i] * overlap / oldWidth;
                }
            }
            Counts = wider;
        }
        Range = range;
    }

    /// <summary>A signed range from a threshold on |x|: [-t, t] cut to the values actually seen (so a ReLU output gets [0, t]).</summary>
    public TensorRange Clip(double threshold)
    {
        if (IsEmpty) return default;
        return new TensorRange((float)Math.Max(Min, -threshold), (float)Math.Min(Max, threshold));
    }
}

/// <summary>
/// A calibrator deciding a threshold on |x| from a histogram. A tensor with fewer values than bins (a pooled
/// [1, C, 1, 1] vector over a few samples) has no distribution to speak of: it keeps its full range.
/// </summary>
public abstract class HistogramCalibrator(int bins) : Calibrator<AbsHistogram>
{
    protected override AbsHistogram NewState() => new(bins);
    protected override void Update(AbsHistogram state, ReadOnlySpan<float> values) => state.Add(values);
    protected override void Update(AbsHistogram state, ReadOnlySpan<float> values, float finiteMin, float finiteMax) => state.Add(values, finiteMin, finiteMax);

    protected override TensorRange RangeOf(AbsHistogram state)
    {
        if (state.IsEmpty || state.Range <= 0) return state.Clip(0);
        if (state.Counts.Sum() < state.Bins) return state.Clip(state.Range);
        return state.Clip(Threshold(state));
    }

    /// <summary>The threshold on |x| beyond which values saturate.</summary>
    public abstract double Threshold(AbsHistogram histogram);
}
