namespace EdgeBuild.Measure;

/// <summary>A measured figure with its 95 % confidence interval [<see cref="Low"/>, <see cref="High"/>].</summary>
public sealed record Estimate(double Value, double Low, double High)
{
    /// <summary>Half the interval's width relative to the value: 0.05 means "within about 5 %".</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public double RelativeHalfWidth => Value > 0 ? (High - Low) / 2 / Value : double.PositiveInfinity;

    /// <summary>Every bound multiplied by <paramref name="factor"/> (unit changes: ms to fps, normalization).</summary>
    public Estimate Scale(double factor) => new(Value * factor, Low * factor, High * factor);

    /// <summary><c>12.34 ms [12.10, 12.80]</c>.</summary>
    public string Format(string unit, int decimals = 3) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{Value.ToString("F" + decimals, System.Globalization.CultureInfo.InvariantCulture)}{unit} [95 % CI {Low.ToString("F" + decimals, System.Globalization.CultureInfo.InvariantCulture)}, {High.ToString("F" + decimals, System.Globalization.CultureInfo.InvariantCulture)}]");
}

/// <summary>
/// Quantiles of a sample with distribution-free confidence intervals. Latencies are skewed and multi-modal (cache
/// misses, preemption), so no normal model is assumed: the interval of the q-quantile is the pair of order statistics
/// whose ranks bound n·q ± 1.96·sqrt(n·q·(1 - q)) (the binomial argument of Hahn and Meeker, Statistical Intervals,
/// 2nd ed., section 5.2), which covers the true quantile with about 95 % probability whatever the distribution.
/// </summary>
public static class Quantiles
{
    private const double Z95 = 1.959964;

    /// <summary>The q-quantile of <paramref name="sorted"/> (ascending) by nearest rank, with its order-statistic interval.</summary>
    public static Estimate Of(IReadOnlyList<double> sorted, double q)
    {
        int n = sorted.Count;
        if (n == 0) throw new ArgumentException("no samples", nameof(sorted));
        int rank = Math.Clamp((int)Math.Ceiling(q * n), 1, n);
        double spread = Z95 * Math.Sqrt(n * q * (1 - q));
        int lowRank = Math.Clamp((int)Math.Floor(n * q - spread), 1, n);
        int highRank = Math.Clamp((int)Math.Ceiling(n * q + spread) + 1, 1, n);
        return new Estimate(sorted[rank - 1], sorted[lowRank - 1], sorted[highRank - 1]);
    }

    /// <summary>The mean with its normal-theory interval (mean ± 1.96 standard errors; timed runs number in the hundreds or more).</summary>
    public static Estimate Mean(IReadOnlyList<double> samples)
    {
        int n = samples.Count;
        if (n == 0) throw new ArgumentException("no samples", nameof(samples));
        double mean = samples.Average();
        double variance = n > 1 ? samples.Sum(x => (x - mean) * (x - mean)) / (n - 1) : 0;
        double half = Z95 * Math.Sqrt(variance / n);
        return new Estimate(mean, Math.Max(0, mean - half), mean + half);
    }

    /// <summary>
    /// Counts of <paramref name="sorted"/> in <paramref name="bins"/> equal-width bins from the minimum to the P99.9 or
    /// twice the P99, whichever is lower (the rest in the last bin): a few preempted runs would otherwise squeeze
    /// every other run into one bar.
    /// </summary>
    public static LatencyHistogram Histogram(IReadOnlyList<double> sorted, int bins = 40)
    {
        double min = sorted[0];
        double max = Math.Min(sorted[Math.Clamp((int)Math.Ceiling(0.999 * sorted.Count) - 1, 0, sorted.Count - 1)],
            2 * sorted[Math.Clamp((int)Math.Ceiling(0.99 * sorted.Count) - 1, 0, sorted.Count - 1)]);
        if (max <= min) max = min + 1e-6;
        double width = (max - min) / bins;
        var counts = new int[bins];
        foreach (var x in sorted) counts[Math.Clamp((int)((x - min) / width), 0, bins - 1)]++;
        return new LatencyHistogram(min, width, counts);
    }
}

/// <summary>Equal-width latency bins: bin i covers [Start + i·Width, Start + (i+1)·Width) milliseconds; the last also holds the slower tail.</summary>
public sealed record LatencyHistogram(double StartMs, double WidthMs, IReadOnlyList<int> Counts);
