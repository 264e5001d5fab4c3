using System.CommandLine;
using System.Globalization;
using EdgeBuild.Devices;
using EdgeBuild.Diagnostics;
using EdgeBuild.Measure;
using EdgeBuild.Session;

namespace EdgeBuild.Cli;

/// <summary>
/// <c>edgebuild device add|list|check|remove</c> and the device side of <c>bench --device</c> (docs/devices.md). The
/// device list lives in the user's config folder (<see cref="DeviceStore"/>); every remote call goes through ssh.
/// </summary>
internal static class DeviceCommands
{
    public static Command Device(TextWriter stdout, TextWriter stderr, Func<TextWriter, Func<int>, int> guard)
    {
        var name = new Argument<string>("name") { Description = "The device's name, used with --device NAME" };
        var address = new Argument<string>("address") { Description = "ssh://user@host[:port]" };
        var identity = new Option<string?>("--identity") { Description = "Private key file ssh offers (default: the user's keys and ssh-agent)" };
        var knownHosts = new Option<string?>("--known-hosts") { Description = "known_hosts file for this device (default: ~/.ssh/known_hosts)" };
        var cacheDir = new Option<string?>("--cache-dir") { Description = $"Folder on the device for runners and artifacts (default ~/{Devices.Device.DefaultCacheDir})" };
        var add = new Command("add", "Add (or replace) a device reached over SSH; keys only, no passwords are stored") { name, address, identity, knownHosts, cacheDir };
        add.SetAction(parse => guard(stderr, () =>
        {
            var device = Devices.Device.Parse(parse.GetValue(name)!, parse.GetValue(address)!, parse.GetValue(identity), parse.GetValue(knownHosts), parse.GetValue(cacheDir));
            var store = DeviceStore.ForUser();
            store.Save(device);
            stdout.WriteLine($"{device.Name}: {device.Address} added to {store.Path}; 'edgebuild device check {device.Name}' tries it");
            return 0;
        }));

        var list = new Command("list", "List this user's devices");
        list.SetAction(parse => guard(stderr, () =>
        {
            var store = DeviceStore.ForUser();
            var devices = store.Load();
            if (devices.Count == 0)
            {
                stdout.WriteLine($"no devices in {store.Path}: add one with 'edgebuild device add NAME ssh://user@host[:port]'");
                return 0;
            }
            TextTable.Write([["device", "address", "identity", "cache"],
                .. devices.Select(d => new[] { d.Name, d.Address, d.Identity ?? "(ssh default)", d.CacheDir ?? "(default)" })], stdout);
            return 0;
        }));

        var checkName = new Argument<string>("name") { Description = "The device to check" };
        var checkRunner = RunnerOption();
        var check = new Command("check", "Log in, and report the device's architecture, free disk space and whether a measuring runner exists for it") { checkName, checkRunner };
        check.SetAction(parse => guard(stderr, () =>
        {
            var device = DeviceStore.ForUser().Get(parse.GetValue(checkName)!);
            var facts = RemoteBenchmark.Check(device);
            string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
            stdout.WriteLine(F($"device        {device.Name} ({device.Address})"));
            stdout.WriteLine(F($"architecture  {facts.Machine}{(facts.Rid is { } rid ? $" ({rid})" : " (no .NET/ONNX Runtime target)")}"));
            stdout.WriteLine(facts.FreeBytes is long free ? F($"free disk     {free / 1048576.0:F0} MB in {device.RemoteCacheDir}") : $"free disk     unknown (df printed nothing readable for {device.RemoteCacheDir})");
            stdout.WriteLine($".NET          {(facts.Dotnet is null ? "none" : $"{facts.Dotnet} ({string.Join(", ", facts.Runtimes.DefaultIfEmpty("no runtimes"))})")}");
            string source = RunnerSource(parse.GetValue(checkRunner));
            try
            {
                var runner = MeasuringRunner.Resolve(device.Name, source, facts.Rid, facts.Machine);
                bool runs = runner.SelfContained || facts.HasNet10;
                stdout.WriteLine(F($"runner        {runner.Rid}, {(runner.SelfContained ? "self-contained" : "framework-dependent")}, {runner.Bytes / 1048576.0:F1} MB, sha256 {runner.Sha256[..12]} from {runner.SourceDir}{(runs ? "" : ": cannot run there (no .NET 10 runtime on the device)")}"));
                return runs ? 0 : 1;
            }
            catch (EdgeBuildException e) when (e.Descriptor == DiagnosticCodes.DeviceNoRunner)
            {
                stdout.WriteLine($"runner        none: {e.Message}");
                return 1;
            }
        }));

        var removeName = new Argument<string>("name") { Description = "The device to remove" };
        var remove = new Command("remove", "Remove a device from this user's list (nothing on the device is touched)") { removeName };
        remove.SetAction(parse => guard(stderr, () =>
        {
            string n = parse.GetValue(removeName)!;
            var store = DeviceStore.ForUser();
            if (!store.Remove(n)) throw new EdgeBuildException(DiagnosticCodes.DeviceUnknown, n, $"no device of that name in {store.Path}");
            stdout.WriteLine($"{n}: removed from {store.Path}");
            return 0;
        }));
        var engineDevice = new Argument<string>("name") { Description = "The device with TensorRT (trtexec) that builds the engine" };
        var kit = new Argument<string>("kit") { Description = "The compile's output folder holding the TensorRT kit (NAME.build-engine.sh and its files)" };
        var kitName = new Option<string?>("--name") { Description = "The kit to build when the folder holds several (the model's name)" };
        var engineOut = new Option<string?>("--out", "-o") { Description = "Where to write the engine here (default: NAME.engine in the kit folder)" };
        var trtexecArgs = new Option<string[]>("--trtexec-arg") { Description = "An argument passed on to trtexec (repeat it), e.g. --trtexec-arg=--useDLACore=0" };
        var engine = new Command("engine", "Build the TensorRT engine of a compiled kit on the device with its trtexec, and bring back the engine and trtexec's timings") { engineDevice, kit, kitName, engineOut, trtexecArgs };
        engine.SetAction(parse => guard(stderr, () =>
        {
            static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
            var device = DeviceStore.ForUser().Get(parse.GetValue(engineDevice)!);
            var result = RemoteEngineBuild.Build(device, Path.GetFullPath(parse.GetValue(kit)!), parse.GetValue(kitName), parse.GetValue(engineOut),
                parse.GetValue(trtexecArgs) ?? [], line => stderr.WriteLine($"edgebuild: {line}"));
            stdout.WriteLine($"device        {device.Name} ({device.Address})");
            stdout.WriteLine(F($"engine        {result.EnginePath} ({result.EngineBytes / 1048576.0:F1} MB, sha256 {result.EngineSha256[..12]}), built by {result.Trtexec} on the device"));
            var t = result.Timings;
            if (t.Latency is { } l) stdout.WriteLine(F($"latency       mean {l.Mean:F3} ms, median {l.Median:F3} ms, P99 {l.P99:F3} ms, min {l.Min:F3} ms (trtexec on the device: host latency, copies included)"));
            if (t.GpuCompute is { } g) stdout.WriteLine(F($"GPU compute   mean {g.Mean:F3} ms, median {g.Median:F3} ms, P99 {g.P99:F3} ms, min {g.Min:F3} ms (trtexec on the device)"));
            if (t.ThroughputQps is double qps) stdout.WriteLine(F($"throughput    {qps:F1} inferences/s (trtexec on the device)"));
            if (t.Latency is null && t.GpuCompute is null)
                stdout.WriteLine("timings       trtexec printed no timing summary (it was asked to skip inference, or its output format is unknown)");
            return 0;
        }));
        return new Command("device", "Target devices reached over SSH, for 'bench --device' (docs/devices.md)") { add, list, check, remove, engine };
    }

    /// <summary>
    /// <c>edgebuild machine</c>: this machine's fingerprint as JSON. A device's runner answers it so a compile can key
    /// its measurement cache by the device before measuring there.
    /// </summary>
    public static Command Machine(TextWriter stdout, TextWriter stderr, Func<TextWriter, Func<int>, int> guard)
    {
        var provider = new Option<string>("--execution-provider") { Description = "Cpu, Cuda or TensorRT", DefaultValueFactory = _ => "Cpu" };
        var command = new Command("machine", "Print this machine's measurement fingerprint as JSON (what a device's runner reports)") { provider };
        command.SetAction(parse => guard(stderr, () =>
        {
            var ep = CompileOptions.ParseEnum<ExecutionProviderKind>("ExecutionProvider", parse.GetValue(provider)!).ToString();
            stdout.WriteLine(System.Text.Json.JsonSerializer.Serialize(MachineFingerprint.Current(ModelBenchmark.OrtProviderName(ep)), MeasureJson.Options));
            return 0;
        }));
        return command;
    }

    /// <summary>The <c>--runner</c> option of bench and device check.</summary>
    public static Option<string?> RunnerOption() =>
        new("--runner") { Description = "Folder of the edgebuild build or publish that measures on the device (default $EDGEBUILD_RUNNER, else this edgebuild's own folder)" };

    /// <summary><c>--runner</c>, else $EDGEBUILD_RUNNER, else the folder this CLI runs from (its own build is a framework-dependent runner).</summary>
    public static string RunnerSource(string? option) =>
        option ?? (Environment.GetEnvironmentVariable("EDGEBUILD_RUNNER") is { Length: > 0 } env ? env : AppContext.BaseDirectory);

    /// <summary>
    /// <c>bench ARTIFACT --device A [--device B ...]</c>: each device measured at the same time (each has its own CPU),
    /// printed per device in the order given, the device named first. A device that fails prints its EB line and the
    /// others still report; the exit code is 1 when any failed. <paramref name="json"/> gets the one result, or, for
    /// several devices, <c>{"devices": [{"name", "address", "result"}]}</c> with the ones that succeeded.
    /// </summary>
    public static int Bench(IReadOnlyList<string> deviceNames, string artifact, string? runner, BenchOptions options, string executionProvider, string? json, TextWriter stdout, TextWriter stderr)
    {
        var store = DeviceStore.ForUser();
        var devices = deviceNames.Select(store.Get).ToList();
        if (!File.Exists(artifact)) throw new EdgeBuildException(DiagnosticCodes.FileNotFound, artifact, "artifact not found");
        string source = RunnerSource(runner);
        var outcomes = new (BenchResult? Result, EdgeBuildException? Error)[devices.Count];
        var gate = new Lock();
        void Log(string line) { lock (gate) stderr.WriteLine($"edgebuild: {line}"); }
        Parallel.For(0, devices.Count, new ParallelOptions { MaxDegreeOfParallelism = devices.Count }, i =>
        {
            try
            {
                outcomes[i] = (RemoteBenchmark.Run(devices[i], artifact, source, options, executionProvider, Log), null);
            }
            catch (EdgeBuildException e)
            {
                outcomes[i] = (null, e);
            }
        });
        for (int i = 0; i < devices.Count; i++)
        {
            if (outcomes[i].Error is { } error)
            {
                stderr.WriteLine(error.Format());
                continue;
            }
            var result = outcomes[i].Result!;
            if (i > 0) stdout.WriteLine();
            stdout.WriteLine($"device        {devices[i].Name} ({devices[i].Address}), fingerprint {result.Machine.Id}");
            MeasureCommands.Print(result, stdout);
        }
        if (json is not null)
        {
            string? text = devices.Count == 1
                ? (outcomes[0].Result is { } only ? System.Text.Json.JsonSerializer.Serialize(only, MeasureJson.Options) : null)
                : System.Text.Json.JsonSerializer.Serialize(new
                {
                    devices = devices.Select((d, i) => (d, outcomes[i].Result)).Where(x => x.Result is not null)
                        .Select(x => new { name = x.d.Name, address = x.d.Address, result = x.Result }),
                }, MeasureJson.Options);
            if (text is not null) Onnx.AtomicFile.WriteAllText(json, text + "\n");
        }
        return outcomes.Any(o => o.Error is not null) ? 1 : 0;
    }
}
