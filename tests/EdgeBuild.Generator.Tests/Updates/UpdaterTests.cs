using EdgeBuild.Generator.Tests.Models;
using EdgeBuild.Generator.Tests.Support;
using EdgeBuild.Runtime;
using EdgeBuild.Runtime.Updates;

namespace EdgeBuild.Generator.Tests.Updates;

/// <summary>
/// The updater against a real HTTP server on 127.0.0.1: ScaleNet (y = x * k) ships with k = 1 (bundled, 0.0.0);
/// published versions differ in k, so every output says which version computed it.
/// </summary>
public sealed class UpdaterTests(ModelFolder models) : IClassFixture<ModelFolder>, IDisposable
{
    private static readonly float[] X = [1, 2, 3, 4];
    private readonly Publisher publisher = new();
    private readonly List<string> log = [];
    private ChannelServer? server;

    public void Dispose()
    {
        server?.Dispose();
        publisher.Dispose();
    }

    private ChannelServer Server => server ??= new ChannelServer(publisher.Site);

    private ModelUpdater Updater(string device, TimeSpan? timeout = null, RollbackPolicy? policy = null, Uri? channel = null, int keep = 2) =>
        new(ScaleNet.ModelDescription, new ModelUpdaterOptions
        {
            Channel = channel ?? new Uri(Server.BaseUri, "stable.json"),
            TrustedKeys = [publisher.PublicKey],
            StateDirectory = device,
            ModelOptions = new EdgeModelOptions { ModelDirectory = models.Path },
            RequestTimeout = timeout ?? TimeSpan.FromSeconds(10),
            Rollback = policy,
            KeepVersions = keep,
            Log = line => { lock (log) log.Add(line); },
        });

    private static float Factor(ScaleNet model)
    {
        var y = new float[4];
        model.Run(X, y);
        return y[0];
    }

    private ScaleNet Create(ModelUpdater updater) => ScaleNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = updater });

    [Fact]
    public async Task PublishedVersionIsInstalledAndRunsAtTheNextRun()
    {
        using var updater = Updater(publisher.NewDevice());
        using var model = Create(updater);
        Assert.Equal(1f, Factor(model));
        Assert.Equal("0.0.0", updater.ActiveVersion);

        publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        var result = await updater.CheckAsync();
        Assert.Equal((UpdateOutcome.Installed, "1.0.0"), (result.Outcome, result.ActiveVersion));
        Assert.Equal(2f, Factor(model));

        publisher.Publish(publisher.Package("1.1.0", TestModels.ScaleNet(3)));
        Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
        Assert.Equal(3f, Factor(model));
        Assert.Contains(log, l => l.Contains("installed 1.1.0 (was 1.0.0)", StringComparison.Ordinal));

        // Nothing new: the server answers 304 to the ETag it sent.
        Assert.Equal(UpdateOutcome.Unchanged, (await updater.CheckAsync()).Outcome);
        var last = Server.Log.Last(e => e.Path == "stable.json");
        Assert.Equal(304, last.Status);
        Assert.NotNull(last.IfNoneMatch);
    }

    [Fact]
    public async Task ACorrectedPublishWithinTheSecondReachesTheDevice()
    {
        // A publisher points stable at the wrong model and corrects it at once. Both channel files have the same length
        // and the server's ETag is the file's whole-second time and length: unless publishing moves the time, the
        // corrected file is answered 304 to the refused file's ETag and the device never sees it.
        string wrong = publisher.Package("1.0.0", TestModels.ScaleNet(2), name: "WrongNet");
        string right = publisher.Package("1.0.0", TestModels.ScaleNet(2));
        using var updater = Updater(publisher.NewDevice());
        // Warm up the connection and the code, then start at the top of a second, so both publishes fall in one.
        var nothingYet = await updater.CheckAsync();
        Assert.Equal((UpdateOutcome.Failed, UpdateFailure.ServerError), (nothingYet.Outcome, nothingYet.Failure));
        await Task.Delay(1000 - DateTime.UtcNow.Millisecond);
        var first = publisher.Publish(wrong);
        var refused = await updater.CheckAsync();
        Assert.Equal((UpdateOutcome.Refused, UpdateFailure.WrongModel), (refused.Outcome, refused.Failure));
        var second = publisher.Publish(right);
        Assert.Equal(first.ToJson().Length, second.ToJson().Length);
        Assert.Equal((UpdateOutcome.Installed, "1.0.0"), ((await updater.CheckAsync()).Outcome, updater.ActiveVersion));
        var polls = Server.Log.Where(e => e.Path == "stable.json").Skip(1).ToList();
        Assert.Equal([200, 200], polls.Select(e => e.Status));
        Assert.NotNull(polls[1].IfNoneMatch);
    }

    [Fact]
    public async Task StartPollsAndSwitchesWithinOnePoll()
    {
        using var updater = new ModelUpdater(ScaleNet.ModelDescription, new ModelUpdaterOptions
        {
            Channel = new Uri(Server.BaseUri, "stable.json"), TrustedKeys = [publisher.PublicKey], StateDirectory = publisher.NewDevice(),
            ModelOptions = new EdgeModelOptions { ModelDirectory = models.Path }, PollInterval = TimeSpan.FromMilliseconds(200), Log = _ => { },
        });
        using var model = Create(updater);
        updater.Start();
        Assert.Equal(1f, Factor(model));
        publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (updater.ActiveVersion != "1.0.0" && clock.Elapsed < TimeSpan.FromSeconds(20)) await Task.Delay(50);
        Assert.Equal("1.0.0", updater.ActiveVersion);
        Assert.Equal(2f, Factor(model));
    }

    [Fact]
    public async Task UntrustedKeyIsRefused()
    {
        using var updater = Updater(publisher.NewDevice());
        using var other = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2), key: other));
        var result = await updater.CheckAsync();
        Assert.Equal((UpdateOutcome.Refused, UpdateFailure.UntrustedKey), (result.Outcome, result.Failure));
        Assert.Equal("0.0.0", updater.ActiveVersion);
    }

    [Fact]
    public async Task ChangedPackageManifestBreaksTheSignature()
    {
        using var updater = Updater(publisher.NewDevice());
        string package = publisher.Package("1.0.0", TestModels.ScaleNet(2));
        Rewrite(package, "package.json", text => text.Replace("\"minRuntimeVersion\": \"", "\"minRuntimeVersion\":  \"", StringComparison.Ordinal));
        publisher.Publish(package);
        var result = await updater.CheckAsync();
        Assert.Equal((UpdateOutcome.Refused, UpdateFailure.BadSignature), (result.Outcome, result.Failure));
    }

    [Fact]
    public async Task TamperedArtifactIsRefused()
    {
        using var updater = Updater(publisher.NewDevice());
        string package = publisher.Package("1.0.0", TestModels.ScaleNet(2));
        // The weights changed inside a validly signed package: package.json's sha256 for the file no longer matches.
        string bad = Path.Combine(publisher.Site, "tampered.edgepkg");
        using (var source = System.IO.Compression.ZipFile.OpenRead(package))
        using (var target = System.IO.Compression.ZipFile.Open(bad, System.IO.Compression.ZipArchiveMode.Create))
        {
            foreach (var e in source.Entries)
            {
                using var s = e.Open();
                using var m = new MemoryStream();
                s.CopyTo(m);
                var bytes = m.ToArray();
                if (e.FullName.EndsWith(".onnx", StringComparison.Ordinal)) bytes[^2] ^= 0x40;
                using var t = target.CreateEntry(e.FullName).Open();
                t.Write(bytes);
            }
        }
        publisher.Publish(bad);
        var result = await updater.CheckAsync();
        Assert.Equal((UpdateOutcome.Refused, UpdateFailure.HashMismatch), (result.Outcome, result.Failure));
        Assert.Contains("changed after signing", result.Message);
    }

    [Fact]
    public async Task ChannelHashThatDoesNotMatchTheDownloadIsRefused()
    {
        using var updater = Updater(publisher.NewDevice());
        var channel = publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        publisher.WriteChannel(channel with { Sha256 = new string('a', 64) });
        var result = await updater.CheckAsync();
        Assert.Equal((UpdateOutcome.Refused, UpdateFailure.HashMismatch), (result.Outcome, result.Failure));
        Assert.Equal("0.0.0", updater.ActiveVersion);
    }

    [Fact]
    public async Task TruncatedDownloadResumesWithARangeRequest()
    {
        using var updater = Updater(publisher.NewDevice());
        var channel = publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        Server.FailOnce(channel.Package, new Fault.Truncate(channel.Bytes / 2));
        var first = await updater.CheckAsync();
        Assert.True((UpdateOutcome.Failed, UpdateFailure.Incomplete) == (first.Outcome, first.Failure), first.Message);
        Assert.Equal("0.0.0", updater.ActiveVersion);

        var second = await updater.CheckAsync();
        Assert.Equal(UpdateOutcome.Installed, second.Outcome);
        var resumed = Server.Log.Last(e => e.Path == channel.Package);
        Assert.Equal(206, resumed.Status);
        Assert.StartsWith("bytes=", resumed.Range);
        Assert.NotEqual("bytes=0-", resumed.Range);
    }

    [Fact]
    public async Task ServerErrorAndTimeOutKeepTheActiveVersionAndAreRetried()
    {
        string device = publisher.NewDevice();
        var channel = publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        using (var updater = Updater(device, timeout: TimeSpan.FromSeconds(1.5)))
        {
            Server.FailOnce("stable.json", new Fault.Status(503));
            var result = await updater.CheckAsync();
            Assert.Equal((UpdateOutcome.Failed, UpdateFailure.ServerError), (result.Outcome, result.Failure));

            Server.FailOnce(channel.Package, new Fault.Delay(TimeSpan.FromSeconds(8)));
            result = await updater.CheckAsync();
            Assert.Equal((UpdateOutcome.Failed, UpdateFailure.Unreachable), (result.Outcome, result.Failure));
            Assert.Equal("0.0.0", updater.ActiveVersion);
        }
        // The next poll (here: after a restart, with the default time-out) installs it.
        using var again = Updater(device);
        Assert.Equal(UpdateOutcome.Installed, (await again.CheckAsync()).Outcome);
    }

    [Fact]
    public async Task OtherInterfaceIsRefused()
    {
        using var updater = Updater(publisher.NewDevice());
        publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2), outputShape: "[1, 8]"));
        var result = await updater.CheckAsync();
        Assert.Equal((UpdateOutcome.Refused, UpdateFailure.InterfaceMismatch), (result.Outcome, result.Failure));
        Assert.Contains("output 'y' has shape [1,8], the class has [1,4]", result.Message);
    }

    [Fact]
    public async Task PackageOverTheSizeLimitIsNotDownloaded()
    {
        using var updater = new ModelUpdater(ScaleNet.ModelDescription, new ModelUpdaterOptions
        {
            Channel = new Uri(Server.BaseUri, "stable.json"), TrustedKeys = [publisher.PublicKey], StateDirectory = publisher.NewDevice(),
            ModelOptions = new EdgeModelOptions { ModelDirectory = models.Path }, MaxPackageBytes = 100, Log = _ => { },
        });
        var channel = publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        var result = await updater.CheckAsync();
        Assert.Equal((UpdateOutcome.Refused, UpdateFailure.TooLarge), (result.Outcome, result.Failure));
        Assert.DoesNotContain(Server.Log, e => e.Path == channel.Package);
    }

    [Fact]
    public async Task StorageFailureKeepsTheActiveVersionAndLeavesNoStaging()
    {
        string device = publisher.NewDevice();
        using var updater = Updater(device);
        publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        // Where versions/1.0.0 must go, a file: the rename of the staged folder fails as a full or read-only disk would.
        File.WriteAllText(Path.Combine(device, "versions", "1.0.0"), "in the way");
        var result = await updater.CheckAsync();
        Assert.Equal((UpdateOutcome.Failed, UpdateFailure.StorageFailed), (result.Outcome, result.Failure));
        Assert.Equal("0.0.0", updater.ActiveVersion);
        Assert.Empty(Directory.GetDirectories(Path.Combine(device, "versions")));
        File.Delete(Path.Combine(device, "versions", "1.0.0"));
        Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
    }

    [Fact]
    public async Task PackageOfAnotherModelIsRefused()
    {
        using var updater = Updater(publisher.NewDevice());
        publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2), name: "OtherNet"));
        var result = await updater.CheckAsync();
        Assert.Equal((UpdateOutcome.Refused, UpdateFailure.WrongModel), (result.Outcome, result.Failure));
    }

    [Fact]
    public async Task PackageForANewerRuntimeIsRefused()
    {
        using var updater = Updater(publisher.NewDevice());
        publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2), minRuntime: "99.0.0"));
        var result = await updater.CheckAsync();
        Assert.Equal((UpdateOutcome.Refused, UpdateFailure.NeedsNewerRuntime), (result.Outcome, result.Failure));
    }

    [Fact]
    public async Task DowngradeIsRefusedUnlessTheChannelMarksARollback()
    {
        using var updater = Updater(publisher.NewDevice());
        string v1 = publisher.Package("1.0.0", TestModels.ScaleNet(2));
        publisher.Publish(publisher.Package("2.0.0", TestModels.ScaleNet(3)));
        Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);

        publisher.Publish(v1);
        var refused = await updater.CheckAsync();
        Assert.Equal((UpdateOutcome.Refused, UpdateFailure.Downgrade), (refused.Outcome, refused.Failure));
        Assert.Equal("2.0.0", updater.ActiveVersion);

        publisher.Publish(v1, rollback: true);
        var rolledBack = await updater.CheckAsync();
        Assert.Equal((UpdateOutcome.Installed, "1.0.0"), (rolledBack.Outcome, rolledBack.ActiveVersion));
    }

    [Fact]
    public async Task EightThreadsRunThroughASwitchAndEachResultIsFromOneVersion()
    {
        using var updater = Updater(publisher.NewDevice());
        publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
        publisher.Publish(publisher.Package("1.1.0", TestModels.ScaleNet(3)));

        using var stop = new CancellationTokenSource();
        var seen = new HashSet<float>[8];
        var threads = Enumerable.Range(0, 8).Select(i => Task.Factory.StartNew(() =>
        {
            seen[i] = [];
            using var model = Create(updater);
            var y = new float[4];
            bool sawNew = false;
            while (!stop.IsCancellationRequested || !sawNew)
            {
                model.Run(X, y);
                // Every element from the same version: y = x * k for one k.
                float k = y[0] / X[0];
                for (int j = 1; j < 4; j++) Assert.Equal(k, y[j] / X[j]);
                seen[i].Add(k);
                sawNew = k == 3f;
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        await Task.Delay(200);
        Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
        stop.CancelAfter(500);
        await Task.WhenAll(threads).WaitAsync(TimeSpan.FromSeconds(60));
        foreach (var s in seen) Assert.Subset(new HashSet<float> { 2f, 3f }, s);
        Assert.All(seen, s => Assert.Contains(3f, s));
    }

    [Fact]
    public async Task RestartServesThePersistedVersionAndIgnoresAnInterruptedStaging()
    {
        string device = publisher.NewDevice();
        using (var updater = Updater(device))
        {
            publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
            Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
        }
        // What a SIGKILL leaves mid-staging or mid-write: a half-extracted staging folder and a torn temp state file.
        var staging = Directory.CreateDirectory(Path.Combine(device, "versions", ".1.1.0.0123.staging"));
        File.WriteAllText(Path.Combine(staging.FullName, "package.json"), "{ \"kind\": ");
        File.WriteAllText(Path.Combine(device, "state.json.tmp"), "{ \"active\": \"1.1");
        File.WriteAllText(Path.Combine(device, "downloads", new string('b', 64) + ".partial"), "half");

        using var restarted = Updater(device);
        Assert.Equal("1.0.0", restarted.ActiveVersion);
        using var model = Create(restarted);
        Assert.Equal(2f, Factor(model));
        Assert.False(Directory.Exists(staging.FullName));
        Assert.False(File.Exists(Path.Combine(device, "state.json.tmp")));
    }

    [Fact]
    public async Task RestartSkipsAStagedVersionWhoseFilesChanged()
    {
        string device = publisher.NewDevice();
        using (var updater = Updater(device))
        {
            publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
            Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
            publisher.Publish(publisher.Package("1.1.0", TestModels.ScaleNet(3)));
            Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
        }
        string onnx = Path.Combine(device, "versions", "1.1.0", "model", "ScaleNet.onnx");
        var bytes = File.ReadAllBytes(onnx);
        bytes[^2] ^= 1;
        File.WriteAllBytes(onnx, bytes);

        using var restarted = Updater(device);
        Assert.Equal("1.0.0", restarted.ActiveVersion);
        Assert.Contains(log, l => l.Contains("staged version 1.1.0 does not verify", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ManualRollbackIsPersistedAndTheVersionIsNotReinstalled()
    {
        string device = publisher.NewDevice();
        string v11 = publisher.Package("1.1.0", TestModels.ScaleNet(3));
        using (var updater = Updater(device))
        {
            publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
            await updater.CheckAsync();
            publisher.Publish(v11);
            await updater.CheckAsync();
            using var model = Create(updater);
            Assert.Equal(3f, Factor(model));
            Assert.Equal("1.0.0", updater.Rollback("operator asked"));
            Assert.Equal(2f, Factor(model));
            Assert.Single(log, l => l.Contains("rolled back from 1.1.0 to 1.0.0: operator asked", StringComparison.Ordinal));
        }
        using var restarted = Updater(device);
        Assert.Equal("1.0.0", restarted.ActiveVersion);
        Assert.Equal("operator asked", restarted.RolledBack["1.1.0"]);
        // The channel offers 1.1.0 again (a changed channel file, so no 304): refused, without a download.
        publisher.Publish(v11, rollback: true);
        int downloads = Server.Log.Count(e => e.Path.EndsWith(".edgepkg", StringComparison.Ordinal));
        var result = await restarted.CheckAsync();
        Assert.Equal((UpdateOutcome.Refused, UpdateFailure.PreviouslyRolledBack), (result.Outcome, result.Failure));
        Assert.Equal("1.0.0", restarted.ActiveVersion);
        Assert.Equal(downloads, Server.Log.Count(e => e.Path.EndsWith(".edgepkg", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task LocalFolderChannelInstallsToo()
    {
        var channel = publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        using var updater = Updater(publisher.NewDevice(), channel: new Uri(Path.Combine(publisher.Site, "stable.json")));
        Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
        Assert.Equal(UpdateOutcome.Unchanged, (await updater.CheckAsync()).Outcome);
        using var model = Create(updater);
        Assert.Equal(2f, Factor(model));
    }

    [Fact]
    public async Task OnlyTheLastVersionsAreKept()
    {
        string device = publisher.NewDevice();
        using var updater = Updater(device, keep: 1);
        foreach (var (v, k) in new[] { ("1.0.0", 2f), ("1.1.0", 3f), ("1.2.0", 4f) })
        {
            publisher.Publish(publisher.Package(v, TestModels.ScaleNet(k)));
            Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
        }
        Assert.Equal(["1.1.0", "1.2.0"], Directory.GetDirectories(Path.Combine(device, "versions")).Select(Path.GetFileName).Order());
    }

    private static void Rewrite(string package, string entry, Func<string, string> change)
    {
        using var zip = System.IO.Compression.ZipFile.Open(package, System.IO.Compression.ZipArchiveMode.Update);
        var e = zip.GetEntry(entry)!;
        string text;
        using (var r = new StreamReader(e.Open())) text = r.ReadToEnd();
        e.Delete();
        using var w = new StreamWriter(zip.CreateEntry(entry).Open());
        w.Write(change(text));
    }
}
