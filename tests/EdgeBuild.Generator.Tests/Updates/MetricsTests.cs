using System.Diagnostics.Metrics;
using EdgeBuild.Generator.Tests.Models;
using EdgeBuild.Generator.Tests.Support;
using EdgeBuild.Runtime;
using EdgeBuild.Runtime.Updates;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace EdgeBuild.Generator.Tests.Updates;

/// <summary>The meter <c>EdgeBuild.Runtime</c> read through OpenTelemetry's SDK and in-memory exporter, and Run's allocations with it listening.</summary>
public sealed class MetricsTests(ModelFolder models) : IClassFixture<ModelFolder>, IDisposable
{
    private readonly Publisher publisher = new();

    public void Dispose() => publisher.Dispose();

    private static IEnumerable<MetricPoint> Points(Metric metric)
    {
        var list = new List<MetricPoint>();
        foreach (ref readonly var p in metric.GetMetricPoints()) list.Add(p);
        return list;
    }

    private static Dictionary<string, object?> Tags(MetricPoint p)
    {
        var tags = new Dictionary<string, object?>();
        foreach (var t in p.Tags) tags[t.Key] = t.Value;
        return tags;
    }

    [Fact]
    public async Task DurationCountAndErrorsCarryTheModelVersion()
    {
        var exported = new List<Metric>();
        using var provider = Sdk.CreateMeterProviderBuilder().AddMeter(EdgeRuntimeMetrics.MeterName).AddInMemoryExporter(exported).Build()!;
        // Versions no other test publishes: the meter is process-wide and tests run in parallel.
        publisher.Publish(publisher.Package("31.4.1", TestModels.ScaleNet(2)));
        using var updater = new ModelUpdater(ScaleNet.ModelDescription, new ModelUpdaterOptions
        {
            Channel = new Uri(Path.Combine(publisher.Site, "stable.json")), TrustedKeys = [publisher.PublicKey], StateDirectory = publisher.NewDevice(),
            ModelOptions = new EdgeModelOptions { ModelDirectory = models.Path }, Log = _ => { },
        });
        Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
        using (var model = ScaleNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = updater }))
        {
            var y = new float[4];
            for (int i = 0; i < 25; i++) model.Run([1, 2, 3, 4], y);
        }
        // A version whose runs fail: the error counter, same tags.
        publisher.Publish(publisher.Package("31.4.2", TestModels.FailingScaleNet()));
        Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
        using (var model = ScaleNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = updater }))
        {
            var y = new float[4];
            for (int i = 0; i < 3; i++) Assert.ThrowsAny<Exception>(() => model.Run([100, 200, 300, 400], y));
        }
        provider.ForceFlush();

        var duration = exported.Last(m => m.Name == "edgebuild.inference.duration");
        Assert.Equal("s", duration.Unit);
        var point = Points(duration).Single(p => Equals(Tags(p)["edgebuild.model.version"], "31.4.1"));
        Assert.Equal("ScaleNet", Tags(point)["edgebuild.model.name"]);
        Assert.Equal(25, point.GetHistogramCount());
        var bounds = new List<double>();
        foreach (var b in point.GetHistogramBuckets()) bounds.Add(b.ExplicitBound);
        Assert.Equal([.. EdgeRuntimeMetrics.DurationBuckets, double.PositiveInfinity], bounds);

        var count = exported.Last(m => m.Name == "edgebuild.inference.count");
        Assert.Equal(25, Points(count).Single(p => Equals(Tags(p)["edgebuild.model.version"], "31.4.1")).GetSumLong());
        var errors = exported.Last(m => m.Name == "edgebuild.inference.errors");
        Assert.Equal(3, Points(errors).Single(p => Equals(Tags(p)["edgebuild.model.version"], "31.4.2")).GetSumLong());
        Assert.DoesNotContain(Points(errors), p => Equals(Tags(p)["edgebuild.model.version"], "31.4.1"));
        var updates = exported.Last(m => m.Name == "edgebuild.model.updates");
        Assert.Contains(Points(updates), p => Equals(Tags(p)["edgebuild.update.outcome"], "installed"));
    }

    [Fact]
    public void RunAllocatesNothingWithMetricsListeningAndAnUpdaterAttached()
    {
        var exported = new List<Metric>();
        using var provider = Sdk.CreateMeterProviderBuilder().AddMeter(EdgeRuntimeMetrics.MeterName).AddInMemoryExporter(exported).Build()!;
        using var updater = new ModelUpdater(ScaleNet.ModelDescription, new ModelUpdaterOptions
        {
            Channel = new Uri(Path.Combine(publisher.Site, "stable.json")), TrustedKeys = [publisher.PublicKey], StateDirectory = publisher.NewDevice(),
            ModelOptions = new EdgeModelOptions { ModelDirectory = models.Path }, Log = _ => { },
            Rollback = new RollbackPolicy(),
        });
        using var model = ScaleNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = updater });
        float[] x = [1, 2, 3, 4];
        var y = new float[4];
        for (int i = 0; i < 200; i++) model.Run(x, y);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 2000; i++) model.Run(x, y);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        // The policy's ring saw the runs (it holds the last Window = 200).
        Assert.Equal(200, updater.Health.Snapshot().Runs);
    }
}
