using EdgeBuild.Quantization.Calibration;

namespace EdgeBuild.Tests.Quantization;

/// <summary>The SIMD reductions of calibration give what the plain loops give, non-finite values, zeros and tails included.</summary>
public class SpanStatisticsTests
{
    /// <summary>Values as activations come: ReLU zeros, a wide spread, a NaN or infinity now and then, negative zero.</summary>
    private static float[] Activations(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => random.Next(20) switch
        {
            < 8 => 0f,
            8 => float.NaN,
            9 => random.Next(2) == 0 ? float.PositiveInfinity : float.NegativeInfinity,
            10 => -0f,
            11 => (float)(random.NextDouble() * 1e-30),
            _ => (float)((random.NextDouble() - 0.3) * Math.Pow(10, random.Next(-3, 4))),
        }).ToArray();
    }

    public static TheoryData<int, int> Lengths() => new() { { 0, 1 }, { 1, 2 }, { 7, 3 }, { 8, 4 }, { 17, 5 }, { 64, 6 }, { 1001, 7 }, { 100_003, 8 } };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void ExtremesAndSumAreThoseOfThePlainLoop(int length, int seed)
    {
        var values = Activations(length, seed);
        var finite = values.Where(float.IsFinite).ToArray();
        var (min, max, tiny) = SpanStatistics.FiniteExtremes(values);
        Assert.Equal(finite.DefaultIfEmpty(float.PositiveInfinity).Min(), min);
        Assert.Equal(finite.DefaultIfEmpty(float.NegativeInfinity).Max(), max);
        Assert.Equal(finite.Select(Math.Abs).Where(a => a != 0).DefaultIfEmpty(float.PositiveInfinity).Min(), tiny);
        Assert.Equal((min, max), SpanStatistics.FiniteMinMax(values));

        var summable = finite.Select(v => (double)v).ToArray();
        double expected = summable.Sum();
        Assert.Equal(expected, SpanStatistics.Sum(finite), Math.Max(1e-9, summable.Sum(Math.Abs) * 1e-12));
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void HistogramBinsAreThoseOfThePlainLoop(int length, int seed)
    {
        var values = Activations(length, seed);
        const int Bins = 2048;
        double range = values.Where(float.IsFinite).Select(v => (double)Math.Abs(v)).DefaultIfEmpty(1).Max();
        double perUnit = Bins / range;
        var expected = new double[Bins];
        foreach (float v in values)
            if (float.IsFinite(v)) expected[Math.Min(Bins - 1, (int)(Math.Abs(v) * perUnit))]++;
        var counts = new double[Bins];
        counts[5] = 2.5;   // earlier samples' counts stay and are added to
        SpanStatistics.AddToAbsHistogram(values, counts, perUnit);
        expected[5] += 2.5;
        Assert.Equal(expected, counts);
    }

    /// <summary>
    /// Values on bin edges (where a product rounded in float instead of double, or truncated in another way, lands one
    /// bin off), values past the range the bins cover (clamped into the last bin), products that overflow to infinity
    /// and tiny values, at lengths that leave tails: every bin as the plain loop puts it.
    /// </summary>
    [Theory]
    [InlineData(2048, 3.0, 1)]
    [InlineData(2048, 0.001, 2)]
    [InlineData(128, 7.5, 3)]
    [InlineData(2048, 1e-30, 4)]
    public void HistogramBinsOnEdgesAndPastTheRangeAreThoseOfThePlainLoop(int bins, double range, int seed)
    {
        var random = new Random(seed);
        double perUnit = bins / range;
        var values = new List<float>();
        for (int k = 0; k <= bins + 3; k++)
        {
            float edge = (float)(k / perUnit);
            values.AddRange([edge, -edge, MathF.BitIncrement(edge), MathF.BitDecrement(edge)]);
        }
        values.AddRange([(float)(range * 3), float.MaxValue, -float.MaxValue, float.Epsilon, -float.Epsilon, float.NaN, float.NegativeInfinity]);
        values.AddRange(Enumerable.Range(0, 1001).Select(_ => (float)((random.NextDouble() * 2.2 - 1.1) * range)));
        foreach (int length in new[] { values.Count, values.Count - 3, 15, 16, 17 })
        {
            var slice = values.Take(length).ToArray();
            var expected = new double[bins];
            foreach (float v in slice)
                if (float.IsFinite(v)) expected[Math.Min(bins - 1, (int)(Math.Abs(v) * perUnit))]++;
            var counts = new double[bins];
            SpanStatistics.AddToAbsHistogram(slice, counts, perUnit);
            Assert.Equal(expected, counts);
        }
    }
}
