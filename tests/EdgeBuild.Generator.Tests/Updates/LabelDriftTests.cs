using EdgeBuild.Generator.Tests.Models;
using EdgeBuild.Generator.Tests.Support;
using EdgeBuild.Runtime;
using EdgeBuild.Runtime.Updates;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace EdgeBuild.Generator.Tests.Updates;

/// <summary>
/// Drift of integer outputs: LabelNet's ArgMax label (int64, counted by value) and its bucket (int32 x x 100, too many
/// values to count apart: deciles). The package records both on held-out files, the device's PSI over the labels it
/// produced reads the mix, and MaxPsi rolls a version back when the mix moves.
/// </summary>
public sealed class LabelDriftTests(ModelFolder models) : IClassFixture<ModelFolder>, IDisposable
{
    private readonly Publisher publisher = new();
    private readonly List<string> log = [];

    public void Dispose() => publisher.Dispose();

    private ModelUpdater Updater(string device, RollbackPolicy? policy = null) => new(LabelNet.ModelDescription, new ModelUpdaterOptions
    {
        Channel = new Uri(Path.Combine(publisher.Site, "stable.json")), TrustedKeys = [publisher.PublicKey], StateDirectory = device,
        ModelOptions = new EdgeModelOptions { ModelDirectory = models.Path }, Rollback = policy,
        Log = line => { lock (log) log.Add(line); },
    });

    private string Package(string version, IReadOnlyList<string> holdout) =>
        publisher.Package(version, TestModels.LabelNet(), name: "LabelNet", outputs: [("label", "int64", "[1]"), ("bucket", "int32", "[1, 4]")], holdout: holdout);

    /// <summary>Inputs whose label (the index of the largest element) is drawn with <paramref name="shares"/>, and those labels.</summary>
    private static (List<float[]> Inputs, List<long> Labels) Mix(double[] shares, int count, int seed)
    {
        var random = new Random(seed);
        var inputs = new List<float[]>();
        var labels = new List<long>();
        for (int i = 0; i < count; i++)
        {
            double u = random.NextDouble();
            int label = 0;
            for (double cumulative = shares[0]; label < shares.Length - 1 && u >= cumulative; cumulative += shares[++label]) { }
            var x = new float[4];
            for (int j = 0; j < 4; j++) x[j] = (float)random.NextDouble();
            x[label] += 2;
            inputs.Add(x);
            labels.Add(label);
        }
        return (inputs, labels);
    }

    private static readonly double[] Even = [0.25, 0.25, 0.25, 0.25];

    [Fact]
    public void IntegerOutputsGetOneBinPerValueUpToTheLimitAndDecilesBeyond()
    {
        var labels = OutputStatistics.ComputeIntegers("label", Enumerable.Range(0, 400).Select(i => (long)(i % 4)));
        Assert.Equal([0L, 1, 2, 3], labels.Categories!);
        Assert.Empty(labels.BinEdges);
        Assert.Equal([0.25, 0.25, 0.25, 0.25, 0], labels.BinFractions);
        Assert.Equal(1.5, labels.Mean, 12);
        Assert.Equal(Math.Sqrt(1.25), labels.Std, 12);
        Assert.Equal((2, 4, 4), (OutputStatistics.Category([0, 1, 2, 3], 2), OutputStatistics.Category([0, 1, 2, 3], 7), OutputStatistics.Category([0, 1, 2, 3], -1)));

        Assert.Equal(0, labels.Psi([100, 100, 100, 100, 0]), 12);
        Assert.True(labels.Psi([250, 50, 50, 50, 0]) > 0.25);
        // A label the held-out data never gave (5 % of runs) lands in the last bin, whose recorded share is 0.
        Assert.True(labels.Psi([95, 95, 95, 95, 20]) > 0.25);

        var flags = OutputStatistics.ComputeIntegers("flag", [0, 1, 1, 1]);
        Assert.Equal([0L, 1], flags.Categories!);
        Assert.Equal([0.25, 0.75, 0], flags.BinFractions);

        var atLimit = OutputStatistics.ComputeIntegers("id", Enumerable.Range(0, OutputStatistics.MaxCategories).Select(i => (long)i));
        Assert.Equal(OutputStatistics.MaxCategories, atLimit.Categories!.Count);
        // One more distinct value: binned by deciles like a float output.
        var ids = OutputStatistics.ComputeIntegers("id", Enumerable.Range(0, OutputStatistics.MaxCategories + 1).Select(i => (long)i));
        Assert.Null(ids.Categories);
        Assert.Equal(OutputStatistics.TargetBins - 1, ids.BinEdges.Count);
        Assert.Equal(1, ids.BinFractions.Sum(), 9);
    }

    [Fact]
    public void PackageRecordsTheLabelMixItsArtifactGivesOnTheHeldOutFiles()
    {
        var (inputs, labels) = Mix([0.4, 0.3, 0.2, 0.1], 50, seed: 1);
        string package = Package("1.0.0", publisher.SamplesOf(inputs));
        var stats = ModelPackage.Verify(package, [publisher.PublicKey]).Manifest.OutputStatistics;
        Assert.NotNull(stats);
        Assert.Equal(50, stats.Samples);
        Assert.Equal(["label", "bucket"], stats.Outputs.Select(o => o.Output));
        var label = stats.Outputs[0];
        Assert.Equal(("label", 50L), (label.Output, label.Count));
        var seen = labels.Distinct().Order().ToList();
        Assert.Equal(seen, label.Categories!);
        Assert.Equal(seen.Select(l => labels.Count(x => x == l) / 50.0).Append(0), label.BinFractions);
        Assert.Equal(labels.Average(l => (double)l), label.Mean, 12);

        // x x 100 truncated takes about 200 values here: deciles, as for a float output, over the int32 values.
        var bucket = stats.Outputs[1];
        var buckets = inputs.SelectMany(x => x.Select(v => (double)(int)(v * 100f))).ToList();
        Assert.True(buckets.Distinct().Count() > OutputStatistics.MaxCategories);
        Assert.Null(bucket.Categories);
        Assert.Equal(OutputStatistics.TargetBins - 1, bucket.BinEdges.Count);
        Assert.Equal((200L, buckets.Average()), (bucket.Count, bucket.Mean));
        Assert.Equal(buckets.Count(v => v <= bucket.BinEdges[0]) / 200.0, bucket.BinFractions[0], 12);
    }

    [Fact]
    public async Task ChangedLabelMixIsDetectedAndRolledBackTheSameMixIsNot()
    {
        var exported = new List<Metric>();
        using var provider = Sdk.CreateMeterProviderBuilder().AddMeter(EdgeRuntimeMetrics.MeterName).AddInMemoryExporter(exported).Build()!;
        string device = publisher.NewDevice();
        var policy = new RollbackPolicy { Window = 100, MinRuns = 50, MaxPsi = 0.25, MaxP99Factor = null };
        // A version no other test publishes: the meter is process-wide and tests run in parallel.
        string package = Package("42.0.0", publisher.SamplesOf(Mix(Even, 80, seed: 2).Inputs));
        publisher.Publish(package);
        using (var updater = Updater(device, policy))
        {
            Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
            using var model = LabelNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = updater });
            var label = new long[1];
            var bucket = new int[4];

            // The device sees the mix the package was recorded on: no drift, no verdict, and Run allocates nothing.
            var (same, sameLabels) = Mix(Even, 150, seed: 3);
            for (int i = 0; i < 50; i++) model.Run(same[i], label, bucket);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 50; i < 150; i++) model.Run(same[i], label, bucket);
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            Assert.Equal(sameLabels[149], label[0]);
            var readings = updater.Drift!.Read();
            Assert.Equal(["label", "bucket"], readings.Select(r => r.Output));
            var calm = readings[0];
            Assert.InRange(calm.Runs, 100, 150);
            Assert.True(calm.Psi < 0.1, $"PSI {calm.Psi} on the mix 42.0.0 was recorded on");
            // The buckets of the runs read (the int32 values, by the package's deciles): their mean is the one computed here.
            var buckets = readings[1];
            Assert.Equal(calm.Runs * 4, buckets.Values);
            var counted = same.Skip(150 - (int)calm.Runs).SelectMany(x => x.Select(v => (double)(int)(v * 100f))).ToList();
            Assert.Equal(counted.Average(), buckets.Mean, 9);
            Assert.True(buckets.Psi < 0.25, $"bucket PSI {buckets.Psi}");
            Assert.Null(updater.EvaluateHealth());
            provider.ForceFlush();
            var psi = exported.Last(m => m.Name == "edgebuild.output.psi");
            var points = new List<MetricPoint>();
            foreach (ref readonly var p in psi.GetMetricPoints()) points.Add(p);
            var point = Assert.Single(points, p =>
            {
                var tags = new Dictionary<string, object?>();
                foreach (var t in p.Tags) tags[t.Key] = t.Value;
                return Equals(tags["edgebuild.model.version"], "42.0.0") && Equals(tags["edgebuild.output.name"], "label");
            });
            Assert.Equal(calm.Psi, point.GetGaugeLastValueDouble(), 6);

            // The mix moves: most inputs are now class 0. Within one window the PSI passes 0.25 and the version goes.
            var (skewed, _) = Mix([0.85, 0.05, 0.05, 0.05], 100, seed: 4);
            string? reason = null;
            for (int i = 0; i < skewed.Count && reason is null; i++)
            {
                model.Run(skewed[i], label, bucket);
                reason = updater.EvaluateHealth();
            }
            Assert.NotNull(reason);
            Assert.StartsWith("output 'label' drifted: PSI ", reason);
            Assert.Equal("0.0.0", updater.ActiveVersion);
            Assert.Single(log, l => l.Contains("rolled back from 42.0.0 to 0.0.0: output 'label' drifted", StringComparison.Ordinal));
        }
        using var restarted = Updater(device, policy);
        Assert.Equal("0.0.0", restarted.ActiveVersion);
        Assert.Equal((UpdateOutcome.Unchanged, "0.0.0"), ((await restarted.CheckAsync()).Outcome, restarted.ActiveVersion));
        // The channel file rewritten, still offering 42.0.0: refused by name.
        publisher.Publish(package, rollback: true);
        var again = await restarted.CheckAsync();
        Assert.Equal((UpdateOutcome.Refused, UpdateFailure.PreviouslyRolledBack), (again.Outcome, again.Failure));
    }
}
