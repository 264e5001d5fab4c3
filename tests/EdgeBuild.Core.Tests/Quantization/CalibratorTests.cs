using EdgeBuild.Diagnostics;
using EdgeBuild.Quantization;
using EdgeBuild.Quantization.Calibration;
using Xunit.Abstractions;

namespace EdgeBuild.Tests.Quantization;

/// <summary>The calibration methods on synthetic distributions whose answers are known.</summary>
public class CalibratorTests(ITestOutputHelper output)
{
    private static float[] Uniform(int n, float lo, float hi, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => lo + (float)r.NextDouble() * (hi - lo)).ToArray();
    }

    private static float[] Gaussian(int n, int seed)
    {
        var r = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
            x[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()));
        return x;
    }

    [Fact]
    public void MinMaxIsTheExtremesOverAllSamples()
    {
        var c = new MinMaxCalibrator();
        c.Collect("t", [1f, -2f, 3f]);
        c.Collect("t", [0.5f, -7f, 2f]);
        c.Collect("u", [float.NaN, 4f, float.PositiveInfinity, 5f]);
        var r = c.ComputeRanges();
        Assert.Equal(new TensorRange(-7f, 3f), r["t"]);
        Assert.Equal(new TensorRange(4f, 5f), r["u"]);
    }

    [Fact]
    public void MovingAverageBlendsEachSampleInWithConstant001()
    {
        var c = new MinMaxCalibrator(movingAverage: true);
        c.Collect("t", [-1f, 1f]);
        c.Collect("t", [-101f, 201f]);
        var r = c.ComputeRanges()["t"];
        // ORT: min += 0.01 * (new_min - min), starting from the first sample.
        Assert.Equal(-1 + 0.01 * (-101 + 1), r.Min, 5);
        Assert.Equal(1 + 0.01 * (201 - 1), r.Max, 5);
    }

    [Fact]
    public void PercentileOfUniformIsThatFractionOfTheRange()
    {
        var c = new PercentileCalibrator(99);
        var x = Uniform(1_000_000, 0, 1, 3);
        c.Collect("t", x.AsSpan(0, 500_000));
        c.Collect("t", x.AsSpan(500_000));
        var r = c.ComputeRanges()["t"];
        Assert.Equal(0f, r.Min, 3);
        Assert.InRange(r.Max, 0.99 - 2.0 / 2048, 0.99 + 2.0 / 2048);
    }

    [Fact]
    public void PercentileIsSymmetricForSignedTensorsAndCutToWhatWasSeen()
    {
        // |x| of U(-1, 3): 99 % of |x| lies below 2.96; the negative side only reaches -1.
        var c = new PercentileCalibrator(99);
        c.Collect("t", Uniform(400_000, -1, 3, 4));
        var r = c.ComputeRanges()["t"];
        Assert.InRange(r.Max, 2.96 - 0.01, 2.96 + 0.01);
        Assert.InRange(r.Min, -1.0, -0.999);
    }

    [Fact]
    public void PercentileCutsARareOutlier()
    {
        var x = Uniform(100_000, -1, 1, 5);
        x[17] = 1000f;
        var c = new PercentileCalibrator(99.99);
        c.Collect("t", x);
        var r = c.ComputeRanges()["t"];
        Assert.InRange(r.Max, 0.9, 1.5);
        var all = new PercentileCalibrator(100);
        all.Collect("t", x);
        Assert.InRange(all.ComputeRanges()["t"].Max, 999, 1000);
    }

    [Fact]
    public void HistogramWidensWithoutLosingCounts()
    {
        var h = new AbsHistogram(64);
        h.Add(Uniform(10_000, -1, 1, 6));
        h.Add(Uniform(10_000, -4, 4, 7));
        Assert.Equal(20_000, h.Counts.Sum(), 6);
        Assert.InRange(h.Range, 3.99, 4.0);
        // All of the first sample and a quarter of the second lie below 1: 12500 of 20000.
        double below1 = h.Counts.Take(16).Sum();
        Assert.InRange(below1, 12_200, 12_800);
    }

    [Fact]
    public void EntropyKeepsTheBulkAndDropsAFarOutlier()
    {
        // Bulk in |x| < 1, one value at 100: the KL search must not stretch the range to 100 (TensorRT's point). It
        // starts at 128 of 2048 bins, so 100 * 128 / 2048 = 6.25 is as low as it can go.
        var x = Gaussian(200_000, 8).Select(v => v / 5f).ToArray();
        x[3] = 100f;
        var c = new EntropyCalibrator();
        c.Collect("t", x);
        var r = c.ComputeRanges()["t"];
        output.WriteLine($"entropy range {r}");
        Assert.InRange(r.Max, 6.25, 8);
    }

    [Fact]
    public void EntropyThresholdForAGaussianLiesBetweenTwoAndFiveSigma()
    {
        var x = Gaussian(1_000_000, 9);
        var c = new EntropyCalibrator();
        c.Collect("t", x);
        var r = c.ComputeRanges()["t"];
        output.WriteLine($"gaussian entropy range {r}; max |x| {x.Max(Math.Abs)}");
        Assert.InRange(r.Max, 2, 5);
        Assert.InRange(r.Min, -5, -2);
    }

    [Fact]
    public void EntropyOfUniformKeepsNearlyAllOfIt()
    {
        var c = new EntropyCalibrator();
        c.Collect("t", Uniform(1_000_000, 0, 1, 10));
        var r = c.ComputeRanges()["t"];
        output.WriteLine($"uniform entropy range {r}");
        Assert.InRange(r.Max, 0.9, 1.0);
    }

    [Fact]
    public void TooFewValuesForStatisticsGiveTheFullRange()
    {
        foreach (Calibrator c in new Calibrator[] { new EntropyCalibrator(), new PercentileCalibrator(99) })
        {
            c.Collect("t", [0.1f, -0.3f, 2.5f, 0.2f]);
            Assert.Equal(new TensorRange(-0.3f, 2.5f), c.ComputeRanges()["t"]);
        }
    }

    [Fact]
    public void FactoryMakesOneCalibratorPerKind()
    {
        Assert.IsType<MinMaxCalibrator>(CalibratorFactory.Create(new QuantizeOptions { Calibrator = CalibratorKind.MinMax }));
        Assert.IsType<PercentileCalibrator>(CalibratorFactory.Create(new QuantizeOptions { Calibrator = CalibratorKind.Percentile }));
        Assert.IsType<EntropyCalibrator>(CalibratorFactory.Create(new QuantizeOptions { Calibrator = CalibratorKind.Entropy }));
        var e = Assert.Throws<EdgeBuildException>(() => new PercentileCalibrator(0));
        Assert.Equal("EB3005", e.Code);
    }
}
