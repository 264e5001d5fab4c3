using EdgeBuild.Measure;

namespace EdgeBuild.Tests.Measure;

public sealed class StatisticsTests
{
    [Fact]
    public void QuantilesOfOneToHundredAreTheNearestRanks()
    {
        var sorted = Enumerable.Range(1, 100).Select(i => (double)i).ToArray();
        Assert.Equal(50, Quantiles.Of(sorted, 0.5).Value);
        Assert.Equal(99, Quantiles.Of(sorted, 0.99).Value);
        var p50 = Quantiles.Of(sorted, 0.5);
        Assert.True(p50.Low < 50 && p50.High > 50, $"{p50}");
    }

    /// <summary>The order-statistic interval of the P99 covers the true P99 of an exponential distribution about 95 % of the time.</summary>
    [Fact]
    public void P99IntervalCoversTheTrueQuantileAboutNinetyFivePercentOfTheTime()
    {
        double truth = Math.Log(100); // P99 of Exp(1)
        int covered = 0, trials = 300;
        for (int t = 0; t < trials; t++)
        {
            var random = new Random(t);
            var sample = Enumerable.Range(0, 2000).Select(_ => -Math.Log(1 - random.NextDouble())).Order().ToArray();
            var e = Quantiles.Of(sample, 0.99);
            if (e.Low <= truth && truth <= e.High) covered++;
        }
        double rate = (double)covered / trials;
        Assert.InRange(rate, 0.90, 0.99);
    }

    [Fact]
    public void MeanIntervalShrinksWithMoreSamples()
    {
        var random = new Random(3);
        var small = Quantiles.Mean(Enumerable.Range(0, 100).Select(_ => random.NextDouble()).ToList());
        var large = Quantiles.Mean(Enumerable.Range(0, 10000).Select(_ => random.NextDouble()).ToList());
        Assert.InRange(large.Value, 0.48, 0.52);
        Assert.True(large.High - large.Low < (small.High - small.Low) / 5);
    }

    [Fact]
    public void HistogramCountsEverySample()
    {
        var sorted = Enumerable.Range(0, 1000).Select(i => i / 10.0).ToArray();
        var h = Quantiles.Histogram(sorted, 20);
        Assert.Equal(1000, h.Counts.Sum());
        Assert.Equal(20, h.Counts.Count);
        Assert.Equal(0, h.StartMs);
    }

    /// <summary>Load that changes slower than a block slows model and reference alike: block normalization cancels it, a global reference median would not.</summary>
    [Fact]
    public void BlockNormalizationCancelsLoadThatLastsLongerThanABlock()
    {
        var samples = new List<double>();
        var reference = new List<double>();
        var starts = new List<int>();
        var referenceStarts = new List<int>();
        for (int block = 0; block < 50; block++)
        {
            double load = block % 10 < 5 ? 1.0 : 2.5; // half the blocks run 2.5x slower (another build on the sibling core)
            starts.Add(samples.Count);
            for (int i = 0; i < 20; i++) samples.Add(3.0 * load);
            referenceStarts.Add(reference.Count);
            for (int i = 0; i < 10; i++) reference.Add(0.5 * load);
        }
        var ratios = ModelBenchmark.BlockNormalized(samples, starts, reference, referenceStarts);
        Assert.All(ratios, r => Assert.Equal(6.0, r, 9));
        // The same samples over one global reference median would put the loaded blocks 2.5x apart.
        double global = reference.Order().ElementAt(reference.Count / 2);
        Assert.True(samples.Max() / global / (samples.Min() / global) > 2.4);
    }
}
