using EdgeBuild.Generator.Tests.Models;
using EdgeBuild.Generator.Tests.Support;
using EdgeBuild.Runtime;
using EdgeBuild.Runtime.Updates;

namespace EdgeBuild.Generator.Tests.Updates;

/// <summary>Staged rollouts: a channel offering a version to N % of devices, each device's place fixed by its id.</summary>
public sealed class RolloutTests(ModelFolder models) : IClassFixture<ModelFolder>, IDisposable
{
    private readonly Publisher publisher = new();

    public void Dispose() => publisher.Dispose();

    private ModelUpdater Device(string id, string? state = null) => new(ScaleNet.ModelDescription, new ModelUpdaterOptions
    {
        Channel = new Uri(Path.Combine(publisher.Site, "stable.json")), TrustedKeys = [publisher.PublicKey],
        StateDirectory = state ?? publisher.NewDevice(), DeviceId = id, ModelOptions = new EdgeModelOptions { ModelDirectory = models.Path }, Log = _ => { },
    });

    [Fact]
    public void BucketsSpreadEvenlyAndStayPut()
    {
        var buckets = Enumerable.Range(0, 2000).Select(i => ModelUpdater.RolloutBucket("ScaleNet", "1.2.0", "device-" + i)).ToList();
        Assert.All(buckets, b => Assert.InRange(b, 0, 100));
        double share = buckets.Count(b => b < 20) / (double)buckets.Count;
        Assert.InRange(share, 0.17, 0.23);
        Assert.Equal(buckets[7], ModelUpdater.RolloutBucket("ScaleNet", "1.2.0", "device-7"));
        // Another version draws another cohort.
        Assert.NotEqual(buckets[7], ModelUpdater.RolloutBucket("ScaleNet", "1.3.0", "device-7"));
    }

    [Fact]
    public async Task OnlyDevicesInsideTheShareInstallAndRaisingTheShareBringsTheRest()
    {
        string package = publisher.Package("1.2.0", TestModels.ScaleNet(2));
        string inside = Enumerable.Range(0, 100).Select(i => "device-" + i).First(id => ModelUpdater.RolloutBucket("ScaleNet", "1.2.0", id) < 30);
        string outside = Enumerable.Range(0, 100).Select(i => "device-" + i).First(id => ModelUpdater.RolloutBucket("ScaleNet", "1.2.0", id) >= 30);
        publisher.Publish(package);
        ModelPackagerPublish(package, 30);

        using var a = Device(inside);
        string outsideState = publisher.NewDevice();
        using (var b = Device(outside, outsideState))
        {
            Assert.Equal(UpdateOutcome.Installed, (await a.CheckAsync()).Outcome);
            var skipped = await b.CheckAsync();
            Assert.Equal((UpdateOutcome.Unchanged, "0.0.0"), (skipped.Outcome, skipped.ActiveVersion));
            Assert.Contains("offered to 30 % of devices", skipped.Message);
        }
        ModelPackagerPublish(package, 100);
        using var again = Device(outside, outsideState);
        Assert.Equal(UpdateOutcome.Installed, (await again.CheckAsync()).Outcome);
        using var model = ScaleNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = again });
        var y = new float[4];
        model.Run([1, 2, 3, 4], y);
        Assert.Equal(2f, y[0]);
    }

    [Fact]
    public void WithoutADeviceIdOneIsMadeAndKept()
    {
        string state = publisher.NewDevice();
        string id;
        using (var first = new ModelUpdater(ScaleNet.ModelDescription, new ModelUpdaterOptions
        {
            Channel = new Uri(Path.Combine(publisher.Site, "stable.json")), TrustedKeys = [publisher.PublicKey], StateDirectory = state, Log = _ => { },
            ModelOptions = new EdgeModelOptions { ModelDirectory = models.Path },
        }))
            id = first.DeviceId;
        Assert.Equal(32, id.Length);
        using var second = new ModelUpdater(ScaleNet.ModelDescription, new ModelUpdaterOptions
        {
            Channel = new Uri(Path.Combine(publisher.Site, "stable.json")), TrustedKeys = [publisher.PublicKey], StateDirectory = state, Log = _ => { },
            ModelOptions = new EdgeModelOptions { ModelDirectory = models.Path },
        });
        Assert.Equal(id, second.DeviceId);
    }

    private static void ModelPackagerPublish(string package, double percent) =>
        EdgeBuild.Packaging.ModelPackager.Publish(package, "stable", rollback: false, rolloutPercent: percent);
}
