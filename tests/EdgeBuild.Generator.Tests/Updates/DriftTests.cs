using EdgeBuild.Generator.Tests.Models;
using EdgeBuild.Generator.Tests.Support;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Runtime;
using EdgeBuild.Runtime.Updates;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace EdgeBuild.Generator.Tests.Updates;

/// <summary>
/// Output drift: the package's statistics on held-out data (<c>edgebuild package --holdout</c>), the device's PSI against
/// them, the <c>edgebuild.output.*</c> gauges, the MaxPsi rollback rule, and Run still allocation-free with it on.
/// </summary>
public sealed class DriftTests(ModelFolder models) : IClassFixture<ModelFolder>, IDisposable
{
    private readonly Publisher publisher = new();
    private readonly List<string> log = [];

    public void Dispose() => publisher.Dispose();

    private ModelUpdater Updater(string device, RollbackPolicy? policy = null) => new(ScaleNet.ModelDescription, new ModelUpdaterOptions
    {
        Channel = new Uri(Path.Combine(publisher.Site, "stable.json")), TrustedKeys = [publisher.PublicKey], StateDirectory = device,
        ModelOptions = new EdgeModelOptions { ModelDirectory = models.Path }, Rollback = policy,
        Log = line => { lock (log) log.Add(line); },
    });

    private static IEnumerable<float> Uniform(int count, double low, double high, int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < count; i++) yield return (float)(low + random.NextDouble() * (high - low));
    }

    private static long[] Counts(OutputStatistics stats, IEnumerable<float> values)
    {
        var counts = new long[stats.BinFractions.Count];
        foreach (float v in values) counts[OutputStatistics.Bin(stats.BinEdges, v)]++;
        return counts;
    }

    [Fact]
    public void PsiIsNearZeroForTheSameDistributionAndLargeForAShiftedOne()
    {
        var stats = OutputStatistics.Compute("y", Uniform(4000, 0, 1, 1));
        Assert.Equal(OutputStatistics.TargetBins - 1, stats.BinEdges.Count);
        Assert.All(stats.BinFractions, f => Assert.InRange(f, 0.099, 0.101));
        Assert.InRange(stats.Psi(Counts(stats, Uniform(4000, 0, 1, 2))), 0, 0.02);
        // Half the mass moved above every edge: far beyond the 0.25 that marks a large shift.
        Assert.True(stats.Psi(Counts(stats, Uniform(4000, 0.5, 1.5, 3))) > 1);

        // A ReLU-like output, 70 % zeros: the tied deciles merge into one bin holding 70 %, the shares still sum to 1.
        var relu = OutputStatistics.Compute("r", Uniform(1000, -2.333, 1, 4).Select(v => Math.Max(0f, v)));
        Assert.Equal(0, relu.BinEdges[0]);
        Assert.InRange(relu.BinFractions[0], 0.65, 0.75);
        Assert.Equal(1, relu.BinFractions.Sum(), 9);
        Assert.Equal(relu.BinEdges.Count + 1, relu.BinFractions.Count);
    }

    [Fact]
    public void PackageRecordsTheStatisticsOfItsArtifactOnTheHeldOutFilesAndSignsThem()
    {
        var holdout = publisher.Samples(40, 0, 10, seed: 11);
        string package = publisher.Package("1.0.0", TestModels.ScaleNet(2), holdout: holdout);
        var stats = ModelPackage.Verify(package, [publisher.PublicKey]).Manifest.OutputStatistics;
        Assert.NotNull(stats);
        Assert.Equal(40, stats.Samples);
        var y = Assert.Single(stats.Outputs);
        Assert.Equal("y", y.Output);
        // The artifact computed y = 2x: the statistics are those of 2x over every element of every file.
        var expected = holdout.SelectMany(f => NpyFile.Read(f).ToFloats()).Select(v => 2.0 * v).ToList();
        Assert.Equal(expected.Count, y.Count);
        Assert.Equal(expected.Average(), y.Mean, 9);
        Assert.Equal(Math.Sqrt(expected.Sum(v => (v - expected.Average()) * (v - expected.Average())) / expected.Count), y.Std, 9);
        Assert.Equal(expected.Count(v => v <= y.BinEdges[0]) / (double)expected.Count, y.BinFractions[0], 9);
        Assert.Equal(1, y.BinFractions.Sum(), 9);
    }

    [Fact]
    public async Task VersionWhoseOutputsDriftIsRolledBackAndStaysRolledBackAfterARestart()
    {
        string device = publisher.NewDevice();
        var policy = new RollbackPolicy { Window = 100, MinRuns = 50, MaxPsi = 0.25, MaxP99Factor = null };
        var traffic = Uniform(4 * 400, 0, 10, 99).ToArray();
        string drifting = "";
        using (var updater = Updater(device, policy))
        {
            // 1.0.0 recorded its outputs on data like the device's traffic: no drift, no verdict.
            publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2), holdout: publisher.Samples(60, 0, 10, seed: 1)));
            Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
            using var model = ScaleNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = updater });
            var y = new float[4];
            for (int i = 0; i < 100; i++) model.Run(traffic.AsSpan(4 * i, 4), y);
            var calm = Assert.Single(updater.Drift!.Read());
            Assert.Equal(100, calm.Runs);
            Assert.True(calm.Psi < 0.25, $"PSI {calm.Psi} on the traffic 1.0.0 was recorded on");
            Assert.Null(updater.EvaluateHealth());

            // 1.1.0's held-out data covered inputs up to 2.5 only: on this device's traffic its outputs leave what it recorded.
            drifting = publisher.Package("1.1.0", TestModels.ScaleNet(3), holdout: publisher.Samples(60, 0, 2.5f, seed: 2));
            publisher.Publish(drifting);
            Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
            for (int i = 0; i < 49; i++) model.Run(traffic.AsSpan(4 * (100 + i), 4), y);
            Assert.Equal(3f * traffic[4 * 148], y[0]);
            Assert.Null(updater.EvaluateHealth()); // fewer runs than MinRuns
            model.Run(traffic.AsSpan(4 * 149, 4), y);
            string? reason = updater.EvaluateHealth();
            Assert.NotNull(reason);
            Assert.StartsWith("output 'y' drifted: PSI ", reason);
            Assert.Contains("over the last 50 runs, above 0.25", reason);
            Assert.Equal("1.0.0", updater.ActiveVersion);
            model.Run([1, 2, 3, 4], y);
            Assert.Equal(2f, y[0]);
            Assert.Single(log, l => l.Contains("rolled back from 1.1.0 to 1.0.0: output 'y' drifted", StringComparison.Ordinal));
        }
        using var restarted = Updater(device, policy);
        Assert.Equal("1.0.0", restarted.ActiveVersion);
        Assert.Equal((UpdateOutcome.Unchanged, "1.0.0"), ((await restarted.CheckAsync()).Outcome, restarted.ActiveVersion));
        // The channel file rewritten, still offering 1.1.0: refused by name.
        publisher.Publish(drifting, rollback: true);
        var again = await restarted.CheckAsync();
        Assert.Equal((UpdateOutcome.Refused, UpdateFailure.PreviouslyRolledBack), (again.Outcome, again.Failure));
    }

    [Fact]
    public async Task RunAllocatesNothingWithDriftMonitoredAndTheGaugesCarryEachOutput()
    {
        var exported = new List<Metric>();
        using var provider = Sdk.CreateMeterProviderBuilder().AddMeter(EdgeRuntimeMetrics.MeterName).AddInMemoryExporter(exported).Build()!;
        // A version no other test publishes: the meter is process-wide and tests run in parallel.
        publisher.Publish(publisher.Package("41.0.0", TestModels.ScaleNet(2), holdout: publisher.Samples(30, 0, 10, seed: 5)));
        using var updater = Updater(publisher.NewDevice(), new RollbackPolicy { MaxPsi = 0.25 });
        Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
        using var model = ScaleNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = updater });
        float[] x = [1, 2, 3, 4];
        var y = new float[4];
        for (int i = 0; i < 200; i++) model.Run(x, y);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 2000; i++) model.Run(x, y);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);

        var reading = Assert.Single(updater.Drift!.Read());
        // Every run gives 2, 4, 6, 8: mean 5, std sqrt(5), counted over the last window or two (Window 200).
        Assert.InRange(reading.Runs, 200, 400);
        Assert.Equal(5, reading.Mean, 9);
        Assert.Equal(Math.Sqrt(5), reading.Std, 6);
        provider.ForceFlush();
        foreach (var (name, value) in new[] { ("edgebuild.output.psi", reading.Psi), ("edgebuild.output.mean", 5.0), ("edgebuild.output.std", Math.Sqrt(5)) })
        {
            var metric = exported.Last(m => m.Name == name);
            var points = new List<MetricPoint>();
            foreach (ref readonly var p in metric.GetMetricPoints()) points.Add(p);
            var point = Assert.Single(points, p =>
            {
                var tags = new Dictionary<string, object?>();
                foreach (var t in p.Tags) tags[t.Key] = t.Value;
                return Equals(tags["edgebuild.model.version"], "41.0.0") && Equals(tags["edgebuild.output.name"], "y") && Equals(tags["edgebuild.model.name"], "ScaleNet");
            });
            Assert.Equal(value, point.GetGaugeLastValueDouble(), 6);
        }
    }
}
