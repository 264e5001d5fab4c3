using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeBuild.Devices;
using EdgeBuild.Diagnostics;
using EdgeBuild.Measure;
using EdgeBuild.MSBuild.Tests.Support;
using EdgeBuild.Tests.Support;
using Xunit.Abstractions;

namespace EdgeBuild.Tests.Devices;

/// <summary>
/// One real sshd on 127.0.0.1 for the class, the user's device list in its temp folder ($EDGEBUILD_CONFIG_HOME, read by
/// the CLI in this process), and the runner: the edgebuild CLI's own build output, framework-dependent.
/// </summary>
public sealed class LoopbackDevice : IDisposable
{
    public LoopbackDevice()
    {
        Server = new SshServer();
        Environment.SetEnvironmentVariable("EDGEBUILD_CONFIG_HOME", Path.Combine(Server.Dir, "config"));
        // tests/EdgeBuild.Core.Tests/bin/<Configuration>/<tfm>/ -> src/EdgeBuild.Cli/bin/<Configuration>/<tfm>/
        var bin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        Runner = Path.Combine(TestData.RepoRoot, "src", "EdgeBuild.Cli", "bin", bin.Parent!.Name, bin.Name);
        CacheDir = Path.Combine(Server.Dir, "device-cache");
    }

    public SshServer Server { get; }

    /// <summary>The CLI's build output: a framework-dependent runner with every RID's native libraries.</summary>
    public string Runner { get; }

    /// <summary>The device's cache folder (absolute, so the tests leave the user's home alone).</summary>
    public string CacheDir { get; }

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("EDGEBUILD_CONFIG_HOME", null);
        Server.Dispose();
    }
}

/// <summary>
/// The device commands against a real OpenSSH server (<see cref="SshServer"/>): add, list, check, remove, bench on the
/// loopback device against local measurement, and each fault as its EB error.
/// </summary>
public sealed class DeviceTests(LoopbackDevice loopback, ITestOutputHelper output) : IClassFixture<LoopbackDevice>
{
    private SshServer Server => loopback.Server;

    private static (int Exit, string Stdout, string Stderr) Cli(params string[] args) => CliRunner.Run(args);

    private static string ErrorLine(string stderr) =>
        Assert.Single(stderr.Split('\n'), l => l.StartsWith("error EB", StringComparison.Ordinal));

    private void AddLoopback(string name = "loopback", string? identity = null, string? cacheDir = null, string? address = null)
    {
        var (exit, _, stderr) = Cli("device", "add", name, address ?? Server.Address, "--identity", identity ?? Server.UserKey,
            "--known-hosts", Server.KnownHosts, "--cache-dir", cacheDir ?? loopback.CacheDir);
        Assert.True(exit == 0, stderr);
    }

    private string Model(string name, int size = 48, int blocks = 2)
    {
        string path = Path.Combine(Server.Dir, name);
        GateModels.WriteConvNet(path, size, blocks);
        return path;
    }

    [SkippableFact]
    public void AddListCheckAndRemoveADevice()
    {
        Server.Require();
        AddLoopback("lab-box");
        string store = Path.Combine(Server.Dir, "config", "devices.json");
        Assert.True(File.Exists(store));
        Assert.DoesNotContain("password", File.ReadAllText(store), StringComparison.OrdinalIgnoreCase);

        var (exit, stdout, stderr) = Cli("device", "list");
        Assert.Equal(0, exit);
        Assert.Matches(@"^device\s+address\s+identity\s+cache\r?\n-+", stdout);
        Assert.Contains($"lab-box", stdout, StringComparison.Ordinal);
        Assert.Contains(Server.Address, stdout, StringComparison.Ordinal);

        (exit, stdout, stderr) = Cli("device", "check", "lab-box", "--runner", loopback.Runner);
        output.WriteLine(stdout + stderr);
        Assert.True(exit == 0, stdout + stderr);
        string machine = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.X64 ? "x86_64 (linux-x64)" : "aarch64 (linux-arm64)";
        Assert.Contains($"architecture  {machine}", stdout, StringComparison.Ordinal);
        Assert.Matches(@"free disk     [0-9]+ MB in ", stdout);
        Assert.Contains("runner        linux-", stdout, StringComparison.Ordinal);
        Assert.Contains("framework-dependent", stdout, StringComparison.Ordinal);

        (exit, stdout, _) = Cli("device", "remove", "lab-box");
        Assert.Equal(0, exit);
        (_, stdout, _) = Cli("device", "list");
        Assert.DoesNotContain("lab-box", stdout, StringComparison.Ordinal);
        (exit, _, stderr) = Cli("device", "remove", "lab-box");
        Assert.Equal(1, exit);
        Assert.StartsWith("error EB8002: lab-box: no device of that name in ", ErrorLine(stderr), StringComparison.Ordinal);
    }

    /// <summary>
    /// The acceptance check: bench on the loopback device and bench on this machine, alternating, same artifact, same
    /// program (the CLI's build, run as a child process here and through sshd there): median P50s within 10 %.
    /// The loopback device is this machine, so its fingerprint must equal the local one.
    /// </summary>
    [SkippableFact]
    public void LoopbackBenchP50IsWithinTenPercentOfLocalMeasurement()
    {
        Server.Require();
        AddLoopback();
        string model = Model("p50.onnx");
        var local = new List<BenchResult>();
        var remote = new List<BenchResult>();
        for (int round = 0; round < 3; round++)
        {
            string json = Path.Combine(Server.Dir, $"remote{round}.json");
            var (exit, stdout, stderr) = Cli("bench", model, "--device", "loopback", "--runner", loopback.Runner, "--measure-seconds", "2", "--json", json);
            Assert.True(exit == 0, stderr);
            var r = JsonSerializer.Deserialize<BenchResult>(File.ReadAllText(json), MeasureJson.Options)!;
            Assert.StartsWith($"device        loopback ({Server.Address}), fingerprint {r.Machine.Id}", stdout, StringComparison.Ordinal);
            Assert.Equal(model, r.Artifact);
            remote.Add(r);
            local.Add(LocalBench(model, Path.Combine(Server.Dir, $"local{round}.json")));
        }
        Assert.Equal(local[0].Machine.Id, remote[0].Machine.Id);
        double Median(IEnumerable<double> xs) { var s = xs.Order().ToList(); return s[s.Count / 2]; }
        double localP50 = Median(local.Select(r => r.P50Ms.Value)), remoteP50 = Median(remote.Select(r => r.P50Ms.Value));
        double localCpu = Median(local.Select(r => r.GateP50Ms.Value)), remoteCpu = Median(remote.Select(r => r.GateP50Ms.Value));
        string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
        output.WriteLine(F($"local P50s  {string.Join(", ", local.Select(r => r.P50Ms.Value.ToString("F4", CultureInfo.InvariantCulture)))} ms; CPU {string.Join(", ", local.Select(r => r.GateP50Ms.Value.ToString("F4", CultureInfo.InvariantCulture)))}"));
        output.WriteLine(F($"remote P50s {string.Join(", ", remote.Select(r => r.P50Ms.Value.ToString("F4", CultureInfo.InvariantCulture)))} ms; CPU {string.Join(", ", remote.Select(r => r.GateP50Ms.Value.ToString("F4", CultureInfo.InvariantCulture)))}"));
        output.WriteLine(F($"median P50 local {localP50:F4} ms, loopback {remoteP50:F4} ms, ratio {remoteP50 / localP50:F3}; CPU-time P50 ratio {remoteCpu / localCpu:F3}"));
        Assert.InRange(remoteP50 / localP50, 0.9, 1.1);
    }

    /// <summary>
    /// Several devices in one bench, measured in parallel and reported per device in the order given; two share the cache
    /// folder (so they race to install the same runner and artifact), one is unreachable and reports its error while the
    /// others still print their figures; the JSON lists the devices that measured.
    /// </summary>
    [SkippableFact]
    public void SeveralDevicesAreMeasuredInParallelAndReportedPerDevice()
    {
        Server.Require();
        string shared = Path.Combine(Server.Dir, "shared-cache");
        AddLoopback("board-a", cacheDir: shared);
        AddLoopback("board-b", cacheDir: shared);
        AddLoopback("board-off", address: $"ssh://{Server.User}@127.0.0.1:{SshServer.FreePort()}");
        string json = Path.Combine(Server.Dir, "several.json");
        var (exit, stdout, stderr) = Cli("bench", Model("several.onnx", size: 32, blocks: 1), "--device", "board-a,board-off", "--device", "board-b",
            "--runner", loopback.Runner, "--measure-seconds", "1", "--batch-size", "0", "--json", json);
        output.WriteLine(stdout + stderr);
        Assert.Equal(1, exit);
        Assert.StartsWith("error EB8003: board-off: cannot connect to ", ErrorLine(stderr), StringComparison.Ordinal);
        int a = stdout.IndexOf("device        board-a (", StringComparison.Ordinal), b = stdout.IndexOf("device        board-b (", StringComparison.Ordinal);
        Assert.True(a == 0 && b > a, stdout);
        Assert.Equal(2, stdout.Split('\n').Count(l => l.StartsWith("P50 ", StringComparison.Ordinal)));
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(["board-a", "board-b"], doc.RootElement.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("name").GetString()));
        Assert.All(doc.RootElement.GetProperty("devices").EnumerateArray(), d => Assert.True(d.GetProperty("result").GetProperty("p50Ms").GetProperty("value").GetDouble() > 0));
        // One runner folder on the shared cache, whichever of the two installed it.
        Assert.Single(Directory.GetDirectories(Path.Combine(shared, "runners")));
    }

    /// <summary>
    /// <c>compile --device</c>: the measure step measures on the device, keys the measurement cache by the device's
    /// fingerprint (asked of its runner with <c>edgebuild machine</c>), and a budget failure names the device.
    /// </summary>
    [SkippableFact]
    public void CompileMeasuresOnTheDeviceAndBudgetsNameIt()
    {
        Server.Require();
        AddLoopback();
        string model = Model("budget.onnx", size: 32, blocks: 1);
        string cache = Path.Combine(Server.Dir, "measure-cache");
        string[] common = ["--device", "loopback", "--runner", loopback.Runner, "--measure-seconds", "1", "--measure-cache", cache, "--batch-size", "0"];

        var (exit, _, stderr) = Cli(["compile", model, "--out", Path.Combine(Server.Dir, "tight"), "-q", "--latency-budget-ms", "0.0001", .. common]);
        Assert.Equal(1, exit);
        Assert.StartsWith($"error EB5002: Budget (Budget.onnx on device loopback ({Server.Address})): P99 ", ErrorLine(stderr), StringComparison.Ordinal);

        (exit, var stdout, stderr) = Cli(["compile", model, "--out", Path.Combine(Server.Dir, "loose"), "--latency-budget-ms", "10000", .. common]);
        Assert.True(exit == 0, stderr);
        // The first compile measured on the device and cached it under the device's fingerprint: the second takes it.
        var remoteMachine = JsonSerializer.Deserialize<MachineFingerprint>(CliRunner.Run("machine").Stdout, MeasureJson.Options)!;
        Assert.Contains($"Budget.onnx: measurement cached ({remoteMachine.Id}), not measured again", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("error EB", stderr, StringComparison.Ordinal);
    }

    /// <summary>
    /// Acceptance (issue 17): a budget that holds on the build machine but not on the device fails the build, naming the
    /// device. The device is deliberately slowed on its side (<see cref="SshServer.SlowKey"/>: its logins run with
    /// ORT_LOAD_CONFIG_FROM_MODEL=1, and the model carries an <c>ort_config</c> that turns graph optimizations off and
    /// profiling on, which ONNX Runtime ignores here). Both places are measured first with a loose budget; the budget is
    /// then set between the two P99s, and each compile judges it on its own cached figures (each cache keyed by where
    /// it measured: the loopback device has this machine's fingerprint, so each place gets its own cache folder).
    /// </summary>
    [SkippableFact]
    public void ABudgetThatHoldsHereButNotOnTheDeviceFailsTheBuildNamingTheDevice()
    {
        Server.Require();
        AddLoopback("slowboard", identity: Server.SlowKey, cacheDir: Path.Combine(Server.Dir, "slow-device-cache"));
        string model = Path.Combine(Server.Dir, "slowable.onnx");
        // Small and deep: per-layer costs (profiling records every node) weigh most against little arithmetic.
        GateModels.WriteConvNet(model, 12, 3);
        var withConfig = EdgeBuild.Onnx.OnnxImporter.Load(model);
        withConfig.MetadataProps.Add(new("ort_config", """{"session_options": {"graph_optimization_level": 0, "enable_profiling": 1}}"""));
        EdgeBuild.Onnx.OnnxExporter.Save(withConfig, model);
        string[] here = ["--measure-seconds", "1", "--batch-size", "0", "--measure-cache", Path.Combine(Server.Dir, "cache-here")];
        string[] there = ["--measure-seconds", "1", "--batch-size", "0", "--measure-cache", Path.Combine(Server.Dir, "cache-there"),
            "--device", "slowboard", "--runner", loopback.Runner];

        // A budget fails only when the whole 95 % interval of the P99 lies above it (docs/measurement.md): the budget goes
        // between the upper end of this machine's interval and the lower end of the device's.
        Estimate P99(string outDir, string[] options, string budget)
        {
            var (exit, _, stderr) = Cli(["compile", model, "--out", Path.Combine(Server.Dir, outDir), "-q", "--latency-budget-ms", budget, .. options]);
            Assert.True(exit == 0, stderr);
            using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(Server.Dir, outDir, "report.json")));
            var b = report.RootElement.GetProperty("budgets")[0];
            return new Estimate(b.GetProperty("measured").GetDouble(), b.GetProperty("low").GetDouble(), b.GetProperty("high").GetDouble());
        }
        var local = P99("here-loose", here, "10000");
        var device = P99("there-loose", there, "10000");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"budget-clock P99: here {local.Value:F4} ms [{local.Low:F4}, {local.High:F4}], on the slowed device {device.Value:F4} ms [{device.Low:F4}, {device.High:F4}] ({device.Value / local.Value:F1}x)"));
        Assert.True(device.Low > 1.5 * local.High, "the slowed device's P99 interval does not lie clearly above this machine's: not slower");

        string budget = Math.Round(Math.Sqrt(local.High * device.Low), 4).ToString("R", CultureInfo.InvariantCulture);
        var (passExit, _, passErr) = Cli(["compile", model, "--out", Path.Combine(Server.Dir, "here-tight"), "-q", "--latency-budget-ms", budget, .. here]);
        Assert.True(passExit == 0, passErr);
        var (failExit, _, failErr) = Cli(["compile", model, "--out", Path.Combine(Server.Dir, "there-tight"), "-q", "--latency-budget-ms", budget, .. there]);
        Assert.Equal(1, failExit);
        Assert.StartsWith($"error EB5002: Slowable (Slowable.onnx on device slowboard ({Server.Address})): P99 ", ErrorLine(failErr), StringComparison.Ordinal);
        Assert.Contains($"is above LatencyBudgetMs={budget}", ErrorLine(failErr), StringComparison.Ordinal);
    }

    /// <summary>
    /// <c>compile --device a;b</c> (Device="a;b" in a project): both devices measured in one build, in parallel, the report
    /// listing each artifact per device, each budget judged per device, and the cache keyed by each device's fingerprint.
    /// </summary>
    [SkippableFact]
    public void CompileMeasuresSeveralDevicesAndJudgesTheBudgetOnEach()
    {
        Server.Require();
        AddLoopback("multi-a", cacheDir: Path.Combine(Server.Dir, "multi-a-cache"));
        AddLoopback("multi-b", cacheDir: Path.Combine(Server.Dir, "multi-b-cache"));
        string model = Model("multi.onnx", size: 32, blocks: 1);
        string[] common = ["--device", "multi-a;multi-b", "--runner", loopback.Runner, "--measure-seconds", "1", "--batch-size", "0",
            "--measure-cache", Path.Combine(Server.Dir, "multi-measure-cache")];

        string tight = Path.Combine(Server.Dir, "multi-tight");
        var (exit, _, stderr) = Cli(["compile", model, "--out", tight, "-q", "--latency-budget-ms", "0.0001", .. common]);
        Assert.Equal(1, exit);
        string error = ErrorLine(stderr);
        Assert.StartsWith($"error EB5002: Multi (Multi.onnx on device multi-a ({Server.Address})): P99 ", error, StringComparison.Ordinal);
        Assert.Contains($"(also: EB5002 Multi (Multi.onnx on device multi-b ({Server.Address})): P99 ", error, StringComparison.Ordinal);
        using (var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(tight, "report.json"))))
        {
            var artifacts = report.RootElement.GetProperty("artifacts").EnumerateArray().ToList();
            Assert.Equal([$"multi-a ({Server.Address})", $"multi-b ({Server.Address})"], artifacts.Select(a => a.GetProperty("device").GetString()));
            Assert.All(artifacts, a => Assert.True(a.GetProperty("result").GetProperty("p50Ms").GetProperty("value").GetDouble() > 0));
            var budgets = report.RootElement.GetProperty("budgets").EnumerateArray().ToList();
            Assert.Equal(2, budgets.Count);
            Assert.All(budgets, b => Assert.Equal("fail", b.GetProperty("status").GetString()));
            Assert.Contains(budgets, b => b.GetProperty("artifact").GetString()!.EndsWith($"on multi-b ({Server.Address})", StringComparison.Ordinal));
        }

        (exit, _, stderr) = Cli(["compile", model, "--out", Path.Combine(Server.Dir, "multi-loose"), "--latency-budget-ms", "10000", .. common]);
        Assert.True(exit == 0, stderr);
        var remoteMachine = JsonSerializer.Deserialize<MachineFingerprint>(CliRunner.Run("machine").Stdout, MeasureJson.Options)!;
        foreach (var name in new[] { "multi-a", "multi-b" })
        {
            // The whole output on failure: this failed once in 3 fresh-clone runs (2026-12-07) and passed in every rerun.
            string cached = $"Multi.onnx: measurement cached ({remoteMachine.Id}), not measured again on {name} ({Server.Address})";
            Assert.True(stderr.Contains(cached, StringComparison.Ordinal), $"expected \"{cached}\" in:\n{stderr}");
        }
    }

    /// <summary>
    /// TensorRT on a device (issue 17 item 2): a compiled kit is copied to a device whose PATH has trtexec, its
    /// build-engine.sh runs there (checking the kit's sha256 sums, calling trtexec with the kit's arguments plus ours),
    /// and the engine and trtexec's timings come back. trtexec is a stand-in script (no machine here has TensorRT): it
    /// writes a file naming the network's sha256 and the arguments it got, and prints trtexec's summary lines with
    /// canned figures, so the transport, the argument passing and the parsing are what is tested, not TensorRT.
    /// </summary>
    [SkippableFact]
    public void TheKitsEngineIsBuiltOnADeviceWithTensorRt()
    {
        Server.Require();
        File.WriteAllText(Path.Combine(Server.TensorRtBin, "trtexec"), """
            #!/bin/sh
            # Stand-in for TensorRT's trtexec (DeviceTests only).
            onnx=; engine=
            for a in "$@"; do
              case "$a" in
                --onnx=*) onnx=${a#--onnx=} ;;
                --saveEngine=*) engine=${a#--saveEngine=} ;;
                --simulateFailure) echo "[E] Error[4]: stand-in trtexec asked to fail"; exit 1 ;;
              esac
            done
            [ -f "$onnx" ] || { echo "[E] cannot read '$onnx'"; exit 3; }
            { echo "stand-in engine"; sha256sum "$onnx"; echo "args: $*"; } > "$engine"
            echo "[12/07/2026-16:00:00] [I] Latency: min = 0.512 ms, max = 0.941 ms, mean = 0.603 ms, median = 0.588 ms, percentile(90%) = 0.702 ms, percentile(95%) = 0.75 ms, percentile(99%) = 0.851 ms"
            echo "[12/07/2026-16:00:00] [I] GPU Compute Time: min = 0.301 ms, max = 0.52 ms, mean = 0.344 ms, median = 0.338 ms, percentile(90%) = 0.39 ms, percentile(95%) = 0.41 ms, percentile(99%) = 0.47 ms"
            echo "[12/07/2026-16:00:00] [I] Throughput: 1650.2 qps"
            """.Replace("\r", ""));
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(Path.Combine(Server.TensorRtBin, "trtexec"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        AddLoopback("jetson", identity: Server.TensorRtKey, cacheDir: Path.Combine(Server.Dir, "jetson-cache"));
        AddLoopback("no-tensorrt", cacheDir: Path.Combine(Server.Dir, "plain-cache"));
        string kit = Path.Combine(Server.Dir, "kit");
        var (exit, _, stderr) = Cli("compile", Model("engine.onnx", size: 16, blocks: 1), "--out", kit, "--targets", "Onnx;TensorRT", "--no-measure", "-q");
        Assert.True(exit == 0, stderr);

        (exit, var stdout, stderr) = Cli("device", "engine", "jetson", kit, "--trtexec-arg=--verbose");
        output.WriteLine(stdout + stderr);
        Assert.True(exit == 0, stderr);
        string engine = Path.Combine(kit, "Engine.engine");
        string[] lines = File.ReadAllLines(engine);
        Assert.Equal("stand-in engine", lines[0]);
        // The network the device's trtexec read is the kit's, byte for byte, and our argument came after the kit's own.
        string network = Directory.GetFiles(kit, "*.onnx").Single(f => lines[1].EndsWith(Path.GetFileName(f), StringComparison.Ordinal));
        Assert.StartsWith(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(network))).ToLowerInvariant(), lines[1], StringComparison.Ordinal);
        Assert.Matches(@"^args: --onnx=\S+ --saveEngine=Engine\.engine .*--verbose$", lines[2]);
        Assert.Contains($"engine        {engine} (", stdout, StringComparison.Ordinal);
        Assert.Contains($"built by {Server.TensorRtBin}/trtexec on the device", stdout, StringComparison.Ordinal);
        Assert.Contains("latency       mean 0.603 ms, median 0.588 ms, P99 0.851 ms, min 0.512 ms (trtexec on the device", stdout, StringComparison.Ordinal);
        Assert.Contains("GPU compute   mean 0.344 ms, median 0.338 ms, P99 0.470 ms", stdout, StringComparison.Ordinal);
        Assert.Contains("throughput    1650.2 inferences/s", stdout, StringComparison.Ordinal);

        (exit, _, stderr) = Cli("device", "engine", "jetson", kit, "--trtexec-arg=--simulateFailure", "--out", Path.Combine(Server.Dir, "failed.engine"));
        Assert.Equal(1, exit);
        Assert.StartsWith("error EB8011: jetson: Engine.build-engine.sh exited with 1 on ", ErrorLine(stderr), StringComparison.Ordinal);
        Assert.Contains("stand-in trtexec asked to fail", ErrorLine(stderr), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(Server.Dir, "failed.engine")));

        (exit, _, stderr) = Cli("device", "engine", "no-tensorrt", kit);
        Assert.Equal(1, exit);
        Assert.StartsWith($"error EB8010: no-tensorrt: {Server.Address} has no trtexec on its PATH or in /usr/src/tensorrt/bin", ErrorLine(stderr), StringComparison.Ordinal);

        (exit, _, stderr) = Cli("device", "engine", "jetson", Server.Dir);
        Assert.Equal(1, exit);
        Assert.StartsWith($"error EB8012: {Server.Dir}: no *.build-engine.sh here", ErrorLine(stderr), StringComparison.Ordinal);
    }

    /// <summary>The CLI's build run here as a child process: the same program the device runs.</summary>
    private BenchResult LocalBench(string model, string json)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(loopback.Runner, "edgebuild.dll"), "bench", model, "--measure-seconds", "2", "--json", json }) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, err.Result);
        return JsonSerializer.Deserialize<BenchResult>(File.ReadAllText(json), MeasureJson.Options)!;
    }

    [SkippableFact]
    public void AnUnreachableHostFailsWithinTenSeconds()
    {
        Server.Require();
        // A closed port on this machine (refused at once) and an address no host answers (the connect timeout).
        foreach (var (name, address) in new[] { ("closed", $"ssh://{Server.User}@127.0.0.1:{SshServer.FreePort()}"), ("nowhere", $"ssh://{Server.User}@10.255.255.1") })
        {
            AddLoopback(name, address: address);
            var clock = Stopwatch.StartNew();
            var (exit, _, stderr) = Cli("device", "check", name);
            clock.Stop();
            output.WriteLine($"{name}: {clock.Elapsed.TotalSeconds:F1} s: {stderr.Trim()}");
            Assert.Equal(1, exit);
            Assert.StartsWith($"error EB8003: {name}: cannot connect to {address}", ErrorLine(stderr), StringComparison.Ordinal);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"{name} took {clock.Elapsed.TotalSeconds:F1} s");
        }
    }

    [SkippableFact]
    public void ARefusedKeyIsAnAuthenticationError()
    {
        Server.Require();
        AddLoopback("refused", identity: Server.RefusedKey);
        var (exit, _, stderr) = Cli("bench", Model("auth.onnx"), "--device", "refused", "--runner", loopback.Runner);
        Assert.Equal(1, exit);
        string error = ErrorLine(stderr);
        Assert.StartsWith($"error EB8004: refused: {Server.Address} refused the login of '{Server.User}' with the key {Server.RefusedKey} (", error, StringComparison.Ordinal);
        Assert.Contains("Permission denied", error, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AChangedHostKeyIsRefused()
    {
        Server.Require();
        string knownHosts = Path.Combine(Server.Dir, "other_known_hosts");
        // The server's address recorded with another key (the refused user key's public half stands in for an impostor's host key).
        File.WriteAllText(knownHosts, $"[127.0.0.1]:{Server.Port} {File.ReadAllText(Server.RefusedKey + ".pub").Trim()}\n");
        var (exit, _, stderr) = Cli("device", "add", "moved", Server.Address, "--identity", Server.UserKey, "--known-hosts", knownHosts);
        Assert.Equal(0, exit);
        (exit, _, stderr) = Cli("device", "check", "moved");
        Assert.Equal(1, exit);
        Assert.StartsWith($"error EB8005: moved: {Server.Address}: ", ErrorLine(stderr), StringComparison.Ordinal);
    }

    /// <summary>A runner folder with the managed CLI but without this architecture's native libraries.</summary>
    [SkippableFact]
    public void AnArchitectureWithoutARunnerIsAnError()
    {
        Server.Require();
        AddLoopback();
        string partial = Path.Combine(Server.Dir, "runner-without-natives");
        Directory.CreateDirectory(partial);
        foreach (var f in Directory.GetFiles(loopback.Runner)) File.Copy(f, Path.Combine(partial, Path.GetFileName(f)), overwrite: true);
        var (exit, _, stderr) = Cli("bench", Model("norunner.onnx"), "--device", "loopback", "--runner", partial);
        Assert.Equal(1, exit);
        Assert.Matches(@"^error EB8006: loopback: the device is linux-(x64|arm64) \('(x86_64|aarch64)'\) but the runner in .* has no runtimes/linux-(x64|arm64)/native/libonnxruntime.so\. ", ErrorLine(stderr));

        var e = Assert.Throws<EdgeBuildException>(() => MeasuringRunner.Resolve("board", loopback.Runner, MeasuringRunner.RidOf("riscv64"), "riscv64"));
        Assert.Equal(DiagnosticCodes.DeviceNoRunner, e.Descriptor);
        Assert.Equal("board: the device's architecture 'riscv64' has no measuring runner (ONNX Runtime ships Linux libraries for x86_64 and aarch64 only)", $"{e.Subject}: {e.Message}");
    }

    /// <summary>A runner whose main assembly is broken: the host exits non-zero on the device, and its last lines come back.</summary>
    [SkippableFact]
    public void ARunnerThatCrashesIsAnError()
    {
        Server.Require();
        AddLoopback();
        string broken = Path.Combine(Server.Dir, "broken-runner");
        foreach (var f in Directory.GetFiles(loopback.Runner, "*", SearchOption.AllDirectories)
                     .Where(f => !Path.GetRelativePath(loopback.Runner, f).StartsWith("runtimes/", StringComparison.Ordinal) || f.Contains("/runtimes/linux-x64/", StringComparison.Ordinal) || f.Contains("/runtimes/linux-arm64/", StringComparison.Ordinal)))
        {
            string to = Path.Combine(broken, Path.GetRelativePath(loopback.Runner, f));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(f, to, overwrite: true);
        }
        File.WriteAllBytes(Path.Combine(broken, "edgebuild.dll"), [0x4d, 0x5a, 0, 0]);
        var (exit, _, stderr) = Cli("bench", Model("crash.onnx"), "--device", "loopback", "--runner", broken, "--measure-seconds", "1");
        Assert.Equal(1, exit);
        Assert.Matches(@"^error EB8008: loopback: the runner exited with [1-9][0-9]* on ssh://.* \(.+\)\. ", ErrorLine(stderr));

        // A runner that runs but cannot load the artifact: its own EB line comes back inside ours.
        string notOnnx = Path.Combine(Server.Dir, "not-a-model.onnx");
        File.WriteAllText(notOnnx, "not a model");
        (exit, _, stderr) = Cli("bench", notOnnx, "--device", "loopback", "--runner", loopback.Runner, "--measure-seconds", "1");
        Assert.Equal(1, exit);
        string error = ErrorLine(stderr);
        Assert.StartsWith("error EB8008: loopback: the runner exited with 1 on ", error, StringComparison.Ordinal);
        Assert.Contains("error EB5001: ", error, StringComparison.Ordinal);
        Assert.Contains("cannot load the artifact", error, StringComparison.Ordinal);
    }

    /// <summary>
    /// A device cache folder on a 1 MB tmpfs (root only: mounting needs it): the free-space check refuses before copying
    /// 40 MB of runner. Without root the mount cannot be made and the check is skipped; the message mapping of a write that
    /// fails with ENOSPC on the device is checked without a server in <see cref="DeviceUnitTests"/>.
    /// </summary>
    [SkippableFact]
    public void AFullDeviceDiskIsAnError()
    {
        Server.Require();
        Skip.If(Environment.UserName != "root", "mounting a tiny tmpfs for the full-disk device needs root");
        string tiny = Path.Combine(Server.Dir, "tiny");
        Directory.CreateDirectory(tiny);
        var mount = Process.Start("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", tiny])!;
        mount.WaitForExit();
        Skip.If(mount.ExitCode != 0 && !TestData.IsCi, "cannot mount a tmpfs here (no CAP_SYS_ADMIN)");
        try
        {
            AddLoopback("full", cacheDir: tiny);
            var (exit, _, stderr) = Cli("bench", Model("full.onnx"), "--device", "full", "--runner", loopback.Runner);
            Assert.Equal(1, exit);
            Assert.Matches($@"^error EB8007: full: {System.Text.RegularExpressions.Regex.Escape(tiny)} on ssh://\S+ has 1\.0 MB free; the runner needs [0-9.]+ MB\. ", ErrorLine(stderr));
        }
        finally
        {
            Process.Start("umount", [tiny])!.WaitForExit();
        }
    }
}

/// <summary>The device parts that need no server: addresses, architectures, ssh's failure lines.</summary>
public sealed class DeviceUnitTests
{
    [Theory]
    [InlineData("ssh://pi@raspberrypi.local", "pi", "raspberrypi.local", 22)]
    [InlineData("ssh://nvidia@10.0.0.7:2222", "nvidia", "10.0.0.7", 2222)]
    [InlineData("ssh://root@[::1]:22022", "root", "[::1]", 22022)]
    public void AddressesParse(string address, string user, string host, int port)
    {
        var d = Device.Parse("board", address);
        Assert.Equal((user, host, port), (d.User, d.Host, d.Port));
        Assert.Equal(address, d.Address);
    }

    [Theory]
    [InlineData("board", "http://pi@host", "address 'http://pi@host' is not ssh://user@host[:port]")]
    [InlineData("board", "ssh://host", "address 'ssh://host' names no user (ssh://user@host[:port])")]
    [InlineData("board", "ssh://pi@host:99999", "address 'ssh://pi@host:99999' has no valid port (1 to 65535)")]
    [InlineData("board", "ssh://pi@-oProxyCommand=x", "address 'ssh://pi@-oProxyCommand=x': '-oProxyCommand=x' is not a host name or address")]
    [InlineData("bad/name", "ssh://pi@host", "is not a device name (letters, digits, '.', '_', '-', starting with a letter or digit, at most 64)")]
    public void BadAddressesAreEB8001(string name, string address, string message)
    {
        var (exit, _, stderr) = CliRunner.Run("device", "add", name, address);
        Assert.Equal(1, exit);
        Assert.StartsWith($"error EB8001: {name}: {message}. ", stderr.Trim(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("x86_64", "linux-x64")]
    [InlineData("aarch64", "linux-arm64")]
    [InlineData("armv7l", null)]
    [InlineData("riscv64", null)]
    public void ArchitecturesMapToRuntimeIdentifiers(string machine, string? rid) => Assert.Equal(rid, MeasuringRunner.RidOf(machine));

    [Theory]
    [InlineData(255, "user@10.0.0.7: Permission denied (publickey).", "EB8004")]
    [InlineData(255, "ssh: connect to host 10.0.0.7 port 22: Connection timed out", "EB8003")]
    [InlineData(255, "ssh: Could not resolve hostname board: Name or service not known", "EB8003")]
    [InlineData(255, "Host key verification failed.", "EB8005")]
    [InlineData(2, "tar: ./libonnxruntime.so: Cannot write: No space left on device", "EB8007")]
    [InlineData(1, "cat: write error: No space left on device", "EB8007")]
    [InlineData(1, "something else went wrong", null)]
    public void SshFailuresMapToTheirCodes(int exit, string stderr, string? code)
    {
        var device = Device.Parse("board", "ssh://pi@10.0.0.7");
        Assert.Equal(code, SshSession.Failure(device, new SshResult(exit, "", stderr + "\n"))?.Code);
    }

    [Fact]
    public void AnUnreadableDeviceListIsEB8009()
    {
        string dir = Directory.CreateTempSubdirectory("edgebuild-devices-").FullName;
        try
        {
            string path = Path.Combine(dir, "devices.json");
            File.WriteAllText(path, "{ not json");
            var e = Assert.Throws<EdgeBuildException>(() => new DeviceStore(path).Load());
            Assert.Equal("EB8009", e.Code);
            var store = new DeviceStore(Path.Combine(dir, "new", "devices.json"));
            store.Save(Device.Parse("b", "ssh://u@h:2200"));
            store.Save(Device.Parse("a", "ssh://u@h"));
            Assert.Equal(["a", "b"], store.Load().Select(d => d.Name));
            Assert.Equal(2200, store.Get("b").Port);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
