using EdgeBuild.Diagnostics;

namespace EdgeBuild.Quantization.Calibration;

/// <summary>
/// The range keeps <c>percentile</c> percent of |x| inside (ORT's PercentileCalibrater with symmetric ranges):
/// the threshold is the upper edge of the first bin where the cumulative share of |x| reaches the percentile,
/// and the range is [-t, t] cut to the values seen. Rare outliers saturate instead of stretching the scale.
/// </summary>
public sealed class PercentileCalibrator : HistogramCalibrator
{
    private readonly double percentile;

    public PercentileCalibrator(double percentile = 99.999, int bins = AbsHistogram.DefaultBins) : base(bins)
    {
        if (!(percentile > 0 && percentile <= 100))
            throw new EdgeBuildException(DiagnosticCodes.InvalidQuantizeOption, "Percentile", $"{percentile} is not a percentile in (0, 100]");
        this.percentile = percentile;
    }

    public override CalibratorKind Kind => CalibratorKind.Percentile;

    public override double Threshold(AbsHistogram histogram)
    {
        var counts = histogram.Counts;
        double total = counts.Sum();
        if (total <= 0) return 0;
        double target = percentile / 100.0 * total, cumulative = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            cumulative += counts[i];
            // A little slack for the rounding of the running sum; at 100 % this lands on the last non-empty bin.
            if (cumulative >= target * (1 - 1e-12)) return (i + 1) * histogram.BinWidth;
        }
        return histogram.Range;
    }
}
