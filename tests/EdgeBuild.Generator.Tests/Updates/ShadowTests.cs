using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using EdgeBuild.Generator.Tests.Models;
using EdgeBuild.Generator.Tests.Support;
using EdgeBuild.Runtime;
using EdgeBuild.Runtime.Updates;

namespace EdgeBuild.Generator.Tests.Updates;

/// <summary>Shadow mode: a candidate from a second channel runs on sampled calls, compared with the live version, never returned.</summary>
public sealed class ShadowTests(ModelFolder models) : IClassFixture<ModelFolder>, IDisposable
{
    private readonly Publisher publisher = new();

    public void Dispose() => publisher.Dispose();

    private ModelUpdater Updater(int every = 4) => new(ScaleNet.ModelDescription, new ModelUpdaterOptions
    {
        Channel = new Uri(Path.Combine(publisher.Site, "stable.json")), ShadowChannel = new Uri(Path.Combine(publisher.Site, "canary.json")),
        ShadowSampleEvery = every, TrustedKeys = [publisher.PublicKey], StateDirectory = publisher.NewDevice(),
        ModelOptions = new EdgeModelOptions { ModelDirectory = models.Path }, Log = _ => { },
    });

    [Fact]
    public async Task CandidateRunsOnSampledCallsAndItsOutputsAreNeverReturned()
    {
        var outcomes = new ConcurrentQueue<(string Version, string Outcome)>();
        using var listener = new MeterListener();
        // By name: the instrument may be published from inside EdgeRuntimeMetrics' static initializer, before its property is set.
        listener.InstrumentPublished = (i, l) => { if (i.Meter.Name == EdgeRuntimeMetrics.MeterName && i.Name == "edgebuild.shadow.runs") l.EnableMeasurementEvents(i); };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            string? v = null, o = null;
            foreach (var t in tags)
            {
                if (t.Key == "edgebuild.shadow.version") v = (string?)t.Value;
                if (t.Key == "edgebuild.shadow.outcome") o = (string?)t.Value;
            }
            outcomes.Enqueue((v!, o!));
        });
        listener.Start();

        publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        publisher.Publish(publisher.Package("42.0.1", TestModels.ScaleNet(3)), channel: "canary");
        using var updater = Updater(every: 4);
        Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
        Assert.Equal(UpdateOutcome.Installed, (await updater.CheckShadowAsync()).Outcome);
        Assert.Equal("42.0.1", updater.Shadow!.Version);

        using var model = ScaleNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = updater });
        var y = new float[4];
        for (int i = 0; i < 40; i++)
        {
            model.Run([1, 2, 3, 4], y);
            Assert.Equal([2f, 4f, 6f, 8f], y);
        }
        Assert.Equal((10L, 0L), updater.ShadowAgreement);
        Assert.Equal(10, outcomes.Count(o => o == ("42.0.1", "disagree")));
        Assert.Equal("1.0.0", updater.ActiveVersion);

        // A candidate with the live weights agrees.
        publisher.Publish(publisher.Package("42.0.2", TestModels.ScaleNet(2)), channel: "canary");
        Assert.Equal(UpdateOutcome.Installed, (await updater.CheckShadowAsync()).Outcome);
        for (int i = 0; i < 40; i++) model.Run([1, 2, 3, 4], y);
        Assert.Equal((10L, 10L), updater.ShadowAgreement);
        Assert.Equal(10, outcomes.Count(o => o == ("42.0.2", "agree")));

        // A candidate whose runs fail: counted, never thrown to the caller.
        publisher.Publish(publisher.Package("42.0.3", TestModels.FailingScaleNet()), channel: "canary");
        Assert.Equal(UpdateOutcome.Installed, (await updater.CheckShadowAsync()).Outcome);
        for (int i = 0; i < 8; i++) model.Run([5, 6, 7, 8], y);
        Assert.Equal(10f, y[0]);
        Assert.Equal(2, outcomes.Count(o => o == ("42.0.3", "error")));

        updater.ClearShadow();
        model.Run([1, 2, 3, 4], y);
        int before = outcomes.Count;
        for (int i = 0; i < 8; i++) model.Run([1, 2, 3, 4], y);
        Assert.Equal(before, outcomes.Count);
    }

    [Fact]
    public async Task ShadowRunsAllocateNothing()
    {
        publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        publisher.Publish(publisher.Package("1.0.1", TestModels.ScaleNet(3)), channel: "canary");
        using var updater = Updater(every: 1);
        await updater.CheckAsync();
        await updater.CheckShadowAsync();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) => { if (i.Meter.Name == EdgeRuntimeMetrics.MeterName) l.EnableMeasurementEvents(i); };
        listener.SetMeasurementEventCallback<long>((_, _, _, _) => { });
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => { });
        listener.Start();
        using var model = ScaleNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = updater });
        float[] x = [1, 2, 3, 4];
        var y = new float[4];
        for (int i = 0; i < 200; i++) model.Run(x, y);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) model.Run(x, y);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1200, updater.ShadowAgreement.Runs);
    }
}
