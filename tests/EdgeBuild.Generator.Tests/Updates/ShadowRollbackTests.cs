using EdgeBuild.Generator.Tests.Models;
using EdgeBuild.Generator.Tests.Support;
using EdgeBuild.Runtime;
using EdgeBuild.Runtime.Updates;

namespace EdgeBuild.Generator.Tests.Updates;

/// <summary>
/// The shadow rule of the rollback policy (<see cref="RollbackPolicy.MaxShadowDisagreement"/>): a shadow candidate whose
/// outputs really differ from the live version's is rejected before promotion, persisted; one that agrees is promoted.
/// </summary>
public sealed class ShadowRollbackTests(ModelFolder models) : IClassFixture<ModelFolder>, IDisposable
{
    private readonly Publisher publisher = new();
    private readonly List<string> log = [];

    public void Dispose() => publisher.Dispose();

    private ModelUpdater Updater(string device, RollbackPolicy policy, int every) => new(ScaleNet.ModelDescription, new ModelUpdaterOptions
    {
        Channel = new Uri(Path.Combine(publisher.Site, "stable.json")), ShadowChannel = new Uri(Path.Combine(publisher.Site, "canary.json")),
        ShadowSampleEvery = every, TrustedKeys = [publisher.PublicKey], StateDirectory = device, Rollback = policy,
        ModelOptions = new EdgeModelOptions { ModelDirectory = models.Path }, Log = line => { lock (log) log.Add(line); },
    });

    private static RollbackPolicy Policy(double maxDisagreement) =>
        new() { Window = 40, MinRuns = 20, MaxShadowDisagreement = maxDisagreement, MaxP99Factor = null };

    [Fact]
    public async Task CandidateThatDisagreesIsRejectedNeverPromotedAndStaysRejectedAfterARestart()
    {
        string device = publisher.NewDevice();
        publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        string candidate = publisher.Package("1.1.0", TestModels.ScaleNet(3));
        publisher.Publish(candidate, channel: "canary");
        using (var updater = Updater(device, Policy(0.1), every: 2))
        {
            Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
            Assert.Equal(UpdateOutcome.Installed, (await updater.CheckShadowAsync()).Outcome);
            using var model = ScaleNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = updater });
            var y = new float[4];
            for (int i = 0; i < 38; i++) model.Run([1, 2, 3, 4], y);
            Assert.Equal((19L, 0L), updater.ShadowAgreement);
            Assert.Null(updater.EvaluateHealth()); // 19 shadow runs, fewer than MinRuns
            Assert.Equal("1.1.0", updater.Shadow?.Version);

            for (int i = 0; i < 2; i++) model.Run([1, 2, 3, 4], y);
            string? reason = updater.EvaluateHealth();
            Assert.NotNull(reason);
            Assert.StartsWith("shadow disagreement 100.0 % over its last 20 shadow runs, above 10.0 %", reason);
            Assert.Null(updater.Shadow);
            Assert.Equal("1.0.0", updater.ActiveVersion);
            Assert.Equal(reason, updater.RolledBack["1.1.0"]);
            Assert.Single(log, l => l.Contains("shadow candidate 1.1.0 rejected, it will not be installed: shadow disagreement 100.0 %", StringComparison.Ordinal));
            Assert.DoesNotContain(log, l => l.Contains("rolled back from", StringComparison.Ordinal));

            // Dropped by every session at its next run: no further shadow runs.
            for (int i = 0; i < 10; i++) model.Run([1, 2, 3, 4], y);
            Assert.Equal((20L, 0L), updater.ShadowAgreement);

            // The stable channel promotes it: refused; the live version keeps serving.
            publisher.Publish(candidate);
            var promoted = await updater.CheckAsync();
            Assert.Equal((UpdateOutcome.Refused, UpdateFailure.PreviouslyRolledBack), (promoted.Outcome, promoted.Failure));
            model.Run([1, 2, 3, 4], y);
            Assert.Equal([2f, 4f, 6f, 8f], y);
        }
        using var restarted = Updater(device, Policy(0.1), every: 2);
        Assert.Equal("1.0.0", restarted.ActiveVersion);
        var shadowAgain = await restarted.CheckShadowAsync();
        Assert.Equal((UpdateOutcome.Refused, UpdateFailure.PreviouslyRolledBack), (shadowAgain.Outcome, shadowAgain.Failure));
        Assert.Null(restarted.Shadow);
        publisher.Publish(candidate, rollback: true);
        var installAgain = await restarted.CheckAsync();
        Assert.Equal((UpdateOutcome.Refused, UpdateFailure.PreviouslyRolledBack), (installAgain.Outcome, installAgain.Failure));
        Assert.Equal("1.0.0", restarted.ActiveVersion);
    }

    [Fact]
    public void ThePollingLoopRejectsADisagreeingCandidateWhileTheBundledVersionServes()
    {
        // No stable channel yet: the bundled ScaleNet (y = x) serves, which the active rules leave alone.
        publisher.Publish(publisher.Package("1.1.0", TestModels.ScaleNet(3)), channel: "canary");
        using var updater = new ModelUpdater(ScaleNet.ModelDescription, new ModelUpdaterOptions
        {
            Channel = new Uri(Path.Combine(publisher.Site, "stable.json")), ShadowChannel = new Uri(Path.Combine(publisher.Site, "canary.json")),
            ShadowSampleEvery = 1, TrustedKeys = [publisher.PublicKey], StateDirectory = publisher.NewDevice(),
            Rollback = new RollbackPolicy { Window = 20, MinRuns = 10, MaxShadowDisagreement = 0.2, MaxP99Factor = null },
            PollInterval = TimeSpan.FromMilliseconds(200), ModelOptions = new EdgeModelOptions { ModelDirectory = models.Path },
            Log = line => { lock (log) log.Add(line); },
        });
        using var model = ScaleNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = updater });
        var y = new float[4];
        updater.Start();
        bool shadowed = false;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(60))
        {
            model.Run([1, 2, 3, 4], y);
            Assert.Equal([1f, 2f, 3f, 4f], y);
            if (updater.Shadow is not null) shadowed = true;
            else if (shadowed) break;
            Thread.Sleep(5);
        }
        Assert.True(shadowed, "the loop never staged the shadow candidate");
        Assert.Null(updater.Shadow);
        Assert.StartsWith("shadow disagreement 100.0 % over its last ", updater.RolledBack["1.1.0"]);
        Assert.Equal("0.0.0", updater.ActiveVersion);
        lock (log) Assert.Single(log, l => l.Contains("shadow candidate 1.1.0 rejected", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PromotionOfADisagreeingCandidateIsRefusedEvenBeforeThePolicyLoopRan()
    {
        publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        string candidate = publisher.Package("1.1.0", TestModels.ScaleNet(3));
        publisher.Publish(candidate, channel: "canary");
        using var updater = Updater(publisher.NewDevice(), Policy(0.1), every: 1);
        await updater.CheckAsync();
        await updater.CheckShadowAsync();
        using var model = ScaleNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = updater });
        var y = new float[4];
        for (int i = 0; i < 20; i++) model.Run([1, 2, 3, 4], y);
        publisher.Publish(candidate);
        var promoted = await updater.CheckAsync();
        Assert.Equal((UpdateOutcome.Refused, UpdateFailure.PreviouslyRolledBack), (promoted.Outcome, promoted.Failure));
        Assert.Contains("shadow disagreement 100.0 %", promoted.Message);
        Assert.Equal("1.0.0", updater.ActiveVersion);
        Assert.Null(updater.Shadow);
    }

    [Fact]
    public async Task CandidateThatAgreesWithinTheToleranceIsNotRejectedAndIsPromoted()
    {
        publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        // Not bit-identical: y differs by up to 4e-5, inside the default tolerance of 1e-4.
        string candidate = publisher.Package("1.1.0", TestModels.ScaleNet(2.00001f));
        publisher.Publish(candidate, channel: "canary");
        using var updater = Updater(publisher.NewDevice(), Policy(0), every: 2);
        await updater.CheckAsync();
        Assert.Equal(UpdateOutcome.Installed, (await updater.CheckShadowAsync()).Outcome);
        using var model = ScaleNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = updater });
        var y = new float[4];
        for (int i = 0; i < 100; i++) model.Run([1, 2, 3, 4], y);
        Assert.Equal((50L, 50L), updater.ShadowAgreement);
        Assert.Null(updater.EvaluateHealth());
        Assert.Equal("1.1.0", updater.Shadow?.Version);
        Assert.Empty(updater.RolledBack);

        publisher.Publish(candidate);
        Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
        Assert.Equal("1.1.0", updater.ActiveVersion);
        Assert.Null(updater.Shadow); // it serves now; shadowing it against itself would only cost time
        model.Run([1, 2, 3, 4], y);
        Assert.Equal(4 * 2.00001f, y[3]);
    }

    [Theory]
    [InlineData(0.5, false)]
    [InlineData(0.45, true)]
    public async Task TheShareOfDisagreeingRunsIsComparedWithTheLimit(double limit, bool rejected)
    {
        publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        publisher.Publish(publisher.Package("1.1.0", TestModels.ScaleNet(3)), channel: "canary");
        using var updater = Updater(publisher.NewDevice(), new RollbackPolicy { Window = 40, MinRuns = 40, MaxShadowDisagreement = limit, MaxP99Factor = null }, every: 1);
        await updater.CheckAsync();
        await updater.CheckShadowAsync();
        using var model = ScaleNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = updater });
        var y = new float[4];
        // Zeros give 0 from both versions (agree), other inputs do not: half the window disagrees.
        for (int i = 0; i < 60; i++) model.Run(i % 2 == 0 ? [0, 0, 0, 0] : [1, 2, 3, 4], y);
        Assert.Equal((60L, 30L), updater.ShadowAgreement);
        string? reason = updater.EvaluateHealth();
        Assert.Equal(rejected, reason is not null);
        Assert.Equal(rejected ? null : "1.1.0", updater.Shadow?.Version);
        if (rejected) Assert.StartsWith("shadow disagreement 50.0 % over its last 40 shadow runs, above 45.0 %", reason);
    }

    [Fact]
    public async Task RunAllocatesNothingWithTheShadowRuleOn()
    {
        publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        publisher.Publish(publisher.Package("1.1.0", TestModels.ScaleNet(3)), channel: "canary");
        using var updater = Updater(publisher.NewDevice(), new RollbackPolicy { MaxShadowDisagreement = 0.5, MaxP99Factor = null }, every: 1);
        await updater.CheckAsync();
        await updater.CheckShadowAsync();
        using var model = ScaleNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = updater });
        float[] x = [1, 2, 3, 4];
        var y = new float[4];
        for (int i = 0; i < 200; i++) model.Run(x, y);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) model.Run(x, y);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal((1200L, 0L), updater.ShadowAgreement);
        Assert.NotNull(updater.EvaluateHealth());
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    public void ALimitOutsideZeroToOneIsRefused(double limit)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Updater(publisher.NewDevice(), Policy(limit), every: 1));
        Assert.Equal(nameof(RollbackPolicy.MaxShadowDisagreement), e.ParamName);
    }
}
