using System.Diagnostics;
using System.Globalization;
using EdgeBuild.Generator.Tests.Models;
using EdgeBuild.Generator.Tests.Support;
using EdgeBuild.Runtime;
using EdgeBuild.Runtime.Updates;

namespace EdgeBuild.Generator.Tests.Updates;

/// <summary>
/// Faults the updater meets on a real device, made real here: the updater process SIGKILLed while it stages or switches a
/// version (tests/EdgeBuild.UpdaterProcess, a process of its own), and a full disk under the state folder (a tiny tmpfs).
/// In each case the live model keeps serving and the next start serves the last good version.
/// </summary>
public sealed class ProcessFaultTests(ModelFolder models) : IClassFixture<ModelFolder>, IDisposable
{
    private readonly Publisher publisher = new();
    private readonly List<string> log = [];
    private ChannelServer? server;

    public void Dispose()
    {
        server?.Dispose();
        publisher.Dispose();
    }

    /// <summary>stable.json served over HTTP (Kestrel on 127.0.0.1): the killed process and the full disk download as a device does.</summary>
    private string Channel => new Uri((server ??= new ChannelServer(publisher.Site)).BaseUri, "stable.json").ToString();

    private string PublicKeyFile
    {
        get
        {
            string path = Path.Combine(publisher.Root, "signing.pub");
            if (!File.Exists(path)) File.WriteAllText(path, publisher.PublicKey.ExportSubjectPublicKeyInfoPem());
            return path;
        }
    }

    /// <summary>The updater process's dll, built beside this test assembly in the same configuration.</summary>
    private static string AgentDll
    {
        get
        {
            string config = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name; // bin/<Configuration>/net10.0/
            string dll = Path.Combine(Repo.Root, "tests", "EdgeBuild.UpdaterProcess", "bin", config, "net10.0", "EdgeBuild.UpdaterProcess.dll");
            Assert.True(File.Exists(dll), $"{dll} is missing: build tests/EdgeBuild.Generator.Tests (it builds the updater process first)");
            return dll;
        }
    }

    private Process StartAgent(string state, string mode)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "exec", AgentDll, Channel, PublicKeyFile, state, models.Path, mode }) info.ArgumentList.Add(a);
        return Process.Start(info)!;
    }

    /// <summary>Runs the agent to its end; returns its output.</summary>
    private string RunAgent(string state, string mode)
    {
        using var p = StartAgent(state, mode);
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "the updater process did not finish in 2 minutes");
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}\n{stdout}\n{stderr.Result}");
        return stdout;
    }

    /// <summary>The version and first output the process's run printed ("active 1.0.0 y0=2").</summary>
    private static (string Version, float Y0) Active(string output)
    {
        string line = output.Split('\n').Select(l => l.Trim()).Last(l => l.StartsWith("active ", StringComparison.Ordinal));
        var parts = line.Split(' ');
        return (parts[1], float.Parse(parts[2]["y0=".Length..], CultureInfo.InvariantCulture));
    }

    /// <summary>Starts a check and SIGKILLs the process the moment <paramref name="reached"/> sees the state folder in that step.</summary>
    private void KillWhen(string state, Func<bool> reached, string step)
    {
        using var p = StartAgent(state, "check");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var watch = Stopwatch.StartNew();
        bool seen = false;
        while (!p.HasExited && watch.Elapsed < TimeSpan.FromMinutes(2))
        {
            if (reached())
            {
                p.Kill(); // SIGKILL on Unix: no finally block, no flush, no handler runs
                seen = true;
                break;
            }
            Thread.SpinWait(200);
        }
        Assert.True(seen, $"the updater finished before it was seen {step}:\n{(p.WaitForExit(10_000) ? stdout.Result : "")}");
        Assert.True(p.WaitForExit(30_000));
        Assert.DoesNotContain("update: ", stdout.Result, StringComparison.Ordinal);
    }

    [Fact]
    public void SigkillDuringStagingOrSwitchLeavesTheLastGoodVersionServingAfterTheRestart()
    {
        publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        string staging = publisher.NewDevice(), switching = publisher.NewDevice();
        foreach (var device in new[] { staging, switching })
            Assert.Equal(("1.0.0", 2f), Active(RunAgent(device, "check")));
        // 16 MB of weights: extracting, hashing and loading them takes long enough to be caught in each step.
        publisher.Publish(publisher.Package("1.1.0", TestModels.PaddedScaleNet(3, 4 << 20)));

        // Killed while 1.1.0 is being extracted and trial-loaded (its '.1.1.0.<guid>.staging' folder exists).
        string versions = Path.Combine(staging, "versions");
        KillWhen(staging, () => Directory.EnumerateDirectories(versions, ".1.1.0.*").Any(), "staging");
        Assert.NotEmpty(Directory.EnumerateDirectories(versions, ".1.1.0.*"));
        Assert.Equal(("1.0.0", 2f), Active(RunAgent(staging, "serve")));
        Assert.Empty(Directory.EnumerateDirectories(versions, ".*")); // the restart removed the half-staged folder unread
        Assert.Equal(("1.1.0", 3f), Active(RunAgent(staging, "check"))); // and the next check installs it whole

        // Killed in the switch: 1.1.0 renamed into versions/ and being verified again, state.json not yet pointing at it.
        string staged = Path.Combine(switching, "versions", "1.1.0");
        string statePath = Path.Combine(switching, "state.json");
        KillWhen(switching, () => Directory.Exists(staged), "switching");
        string stateText = File.ReadAllText(statePath);
        bool switched = stateText.Contains("\"active\": \"1.1.0\"", StringComparison.Ordinal);
        // Whichever side of the state write the kill fell on, the restart serves one whole version, computed by that version.
        var (version, y0) = Active(RunAgent(switching, "serve"));
        Assert.Equal(switched ? ("1.1.0", 3f) : ("1.0.0", 2f), (version, y0));
        Assert.Equal(("1.1.0", 3f), Active(RunAgent(switching, "check")));
    }

    /// <summary>
    /// The state folder on a 24 MB tmpfs with 1.0.0 (a few KB) installed: a 16 MB 1.1.0 downloads but cannot be staged
    /// beside its download; a 32 MB 1.2.0 cannot even be downloaded. Both fail with the system's reason, are retried at the
    /// next poll, and 1.0.0 serves throughout and after a restart.
    /// </summary>
    [SkippableFact]
    public async Task FullDiskDuringDownloadOrStagingFailsClearlyAndTheLiveModelServes()
    {
        Skip.If(!OperatingSystem.IsLinux() || Environment.UserName != "root", "mounting a tiny tmpfs for the full disk needs root on Linux");
        string device = Path.Combine(publisher.Root, "tiny-disk");
        Directory.CreateDirectory(device);
        using (var mount = Process.Start("mount", ["-t", "tmpfs", "-o", "size=24m", "tmpfs", device])!)
        {
            mount.WaitForExit();
            Skip.If(mount.ExitCode != 0, "cannot mount a tmpfs here (no CAP_SYS_ADMIN)");
        }
        try
        {
            ModelUpdater Updater() => new(ScaleNet.ModelDescription, new ModelUpdaterOptions
            {
                Channel = new Uri(Channel), TrustedKeys = [publisher.PublicKey], StateDirectory = device,
                ModelOptions = new EdgeModelOptions { ModelDirectory = models.Path }, Log = line => { lock (log) log.Add(line); },
            });
            using (var updater = Updater())
            {
                publisher.Publish(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
                Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);
                using var model = ScaleNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = updater });
                var y = new float[4];

                publisher.Publish(publisher.Package("1.1.0", TestModels.PaddedScaleNet(3, 4 << 20)));
                var staging = await updater.CheckAsync();
                Assert.Equal((UpdateOutcome.Failed, UpdateFailure.StorageFailed, "1.0.0"), (staging.Outcome, staging.Failure, staging.ActiveVersion));
                Assert.Contains("No space left on device", staging.Message, StringComparison.Ordinal);
                Assert.StartsWith("1.1.0 failed (StorageFailed): staging 1.1.0 in ", staging.Message, StringComparison.Ordinal);
                model.Run([1, 2, 3, 4], y);
                Assert.Equal(2f, y[0]);

                publisher.Publish(publisher.Package("1.2.0", TestModels.PaddedScaleNet(4, 8 << 20)));
                var download = await updater.CheckAsync();
                Assert.Equal((UpdateOutcome.Failed, UpdateFailure.StorageFailed, "1.0.0"), (download.Outcome, download.Failure, download.ActiveVersion));
                // Our disk, not the server: the body being written when the disk filled is not read as a cut download.
                Assert.StartsWith($"1.2.0 failed (StorageFailed): writing what {new Uri(Channel).GetLeftPart(UriPartial.Authority)}", download.Message, StringComparison.Ordinal);
                Assert.Contains("No space left on device", download.Message, StringComparison.Ordinal);
                model.Run([1, 2, 3, 4], y);
                Assert.Equal(2f, y[0]);
                Assert.Empty(Directory.EnumerateDirectories(Path.Combine(device, "versions"), ".*"));
            }
            using var restarted = Updater();
            Assert.Equal("1.0.0", restarted.ActiveVersion);
            using var again = ScaleNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = restarted });
            var y2 = new float[4];
            again.Run([1, 2, 3, 4], y2);
            Assert.Equal(2f, y2[0]);
        }
        finally
        {
            using var umount = Process.Start("umount", [device])!;
            umount.WaitForExit();
        }
    }
}
