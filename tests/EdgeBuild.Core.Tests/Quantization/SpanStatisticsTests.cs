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
}
