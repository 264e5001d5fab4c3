using System.Formats.Tar;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeBuild.Diagnostics;
using EdgeBuild.Measure;

namespace EdgeBuild.Devices;

/// <summary>What <c>device check</c> learns about a device in one ssh call.</summary>
/// <param name="Machine">The <c>uname -m</c> answer (x86_64, aarch64, ...).</param>
/// <param name="Rid">Its .NET runtime identifier, or null when no runner can exist for it.</param>
/// <param name="FreeBytes">Free space in the device's cache folder (df), or null when df gave nothing readable.</param>
/// <param name="Dotnet">Where the device's <c>dotnet</c> is, or null: framework-dependent runners cannot run there.</param>
/// <param name="Runtimes">The Microsoft.NETCore.App versions the device's dotnet has.</param>
public sealed record DeviceFacts(string Machine, string? Rid, long? FreeBytes, string? Dotnet, IReadOnlyList<string> Runtimes)
{
    /// <summary>True when a framework-dependent runner for .NET 10 can start there.</summary>
    public bool HasNet10 => Runtimes.Any(v => v.StartsWith("10.", StringComparison.Ordinal));
}

/// <summary>
/// Measurement on a device (docs/devices.md): copies the <see cref="MeasuringRunner"/> and the artifact into the
/// device's cache folder (each under its SHA-256, so a second bench copies nothing), runs the runner's <c>bench</c>
/// there, and reads its JSON back: the same <see cref="BenchResult"/> a local measurement gives, with the device's own
/// machine fingerprint.
/// </summary>
public static class RemoteBenchmark
{
    /// <summary>One ssh call: the architecture, the free space of the cache folder, the .NET runtimes.</summary>
    public static DeviceFacts Check(Device device)
    {
        string cache = SshSession.Quote(device.RemoteCacheDir);
        string script = $$"""
            echo "machine=$(uname -m)"
            mkdir -p {{cache}} && echo "free_kb=$(df -Pk {{cache}} | awk 'NR==2 {print $4}')"
            d=$(command -v dotnet || true)
            for c in "$HOME/.dotnet/dotnet" /usr/share/dotnet/dotnet /usr/lib/dotnet/dotnet; do [ -z "$d" ] && [ -x "$c" ] && d=$c; done
            echo "dotnet=$d"
            if [ -n "$d" ]; then "$d" --list-runtimes 2>/dev/null | awk '$1 == "Microsoft.NETCore.App" {print "runtime=" $2}'; fi
            exit 0
            """;
        var result = new SshSession(device).Run(script, TimeSpan.FromSeconds(30));
        string? machine = null, dotnet = null;
        long? free = null;
        var runtimes = new List<string>();
        foreach (var line in result.Stdout.Split('\n'))
        {
            int eq = line.IndexOf('=');
            if (eq < 0) continue;
            string key = line[..eq], value = line[(eq + 1)..].Trim();
            switch (key)
            {
                case "machine": machine = value; break;
                case "free_kb" when long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long kb): free = kb * 1024; break;
                case "dotnet" when value.Length > 0: dotnet = value; break;
                case "runtime": runtimes.Add(value); break;
            }
        }
        if (string.IsNullOrEmpty(machine))
            throw new EdgeBuildException(DiagnosticCodes.DeviceRunnerFailed, device.Name,
                $"{device.Address} ran the check but printed no 'uname -m' answer (exit {result.ExitCode}: {SshSession.LastLines(result.Stderr, 2)})");
        return new DeviceFacts(machine, MeasuringRunner.RidOf(machine), free, dotnet, runtimes);
    }

    /// <summary>
    /// Measures <paramref name="artifact"/> on the device with the runner built from <paramref name="runnerSource"/>
    /// (the folder of an edgebuild build or publish). <paramref name="log"/> gets one line per step.
    /// </summary>
    public static BenchResult Run(Device device, string artifact, string runnerSource, BenchOptions options, string executionProvider, Action<string>? log = null)
    {
        if (!File.Exists(artifact))
            throw new EdgeBuildException(DiagnosticCodes.FileNotFound, artifact, "artifact not found");
        return RemoteRunner.Prepare(device, runnerSource, log).Bench(artifact, options, executionProvider, log);
    }

    internal static void Expect(SshResult result, Device device, string step)
    {
        if (result.ExitCode != 0)
            throw new EdgeBuildException(DiagnosticCodes.DeviceRunnerFailed, device.Name,
                $"{step} to {device.Address} failed with exit {result.ExitCode} ({SshSession.LastLines(result.Stderr, 3)})");
    }

    internal static string Mb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:F1} MB");
}

/// <summary>
/// A measuring runner installed on a device: <see cref="Prepare"/> checks the device, picks the runner for its
/// architecture and copies it unless the device has it already; <see cref="Fingerprint"/> and <see cref="Bench"/> run it.
/// </summary>
public sealed class RemoteRunner
{
    /// <summary>Room kept free beyond the copied files, for the result and ONNX Runtime's scratch files.</summary>
    private const long HeadroomBytes = 16L << 20;

    private readonly SshSession ssh;
    private readonly string runnerDir;

    private RemoteRunner(Device device, DeviceFacts facts, MeasuringRunner runner)
    {
        Device = device;
        Facts = facts;
        Runner = runner;
        ssh = new SshSession(device);
        runnerDir = $"{device.RemoteCacheDir}/runners/{runner.Sha256}";
    }

    public Device Device { get; }
    public DeviceFacts Facts { get; }
    public MeasuringRunner Runner { get; }

    /// <summary>The device checked, its runner chosen and present there (copied when it was not).</summary>
    public static RemoteRunner Prepare(Device device, string runnerSource, Action<string>? log = null)
    {
        var facts = RemoteBenchmark.Check(device);
        var runner = MeasuringRunner.Resolve(device.Name, runnerSource, facts.Rid, facts.Machine);
        if (!runner.SelfContained && (facts.Dotnet is null || !facts.HasNet10))
            throw new EdgeBuildException(DiagnosticCodes.DeviceNoRunner, device.Name,
                $"the runner in {runner.SourceDir} is framework-dependent and the device has {(facts.Dotnet is null ? "no dotnet" : $"no .NET 10 runtime (has {string.Join(", ", facts.Runtimes.DefaultIfEmpty("none"))})")}");
        var remote = new RemoteRunner(device, facts, runner);
        remote.Install(log);
        return remote;
    }

    private void Install(Action<string>? log)
    {
        // Content-addressed: present means identical.
        if (ssh.Run($"[ -f {SshSession.Quote(runnerDir + "/.complete")} ]", TimeSpan.FromSeconds(30)).ExitCode == 0) return;
        RequireSpace(Runner.Bytes, "the runner");
        log?.Invoke($"{Device.Name}: copying the {Runner.Rid} runner ({RemoteBenchmark.Mb(Runner.Bytes)}, {(Runner.SelfContained ? "self-contained" : "framework-dependent")}, sha256 {Runner.Sha256[..12]}) to {Device.Address}:{runnerDir}");
        // Unpacked beside its final name and renamed when complete: a broken copy is never taken for a runner.
        string q = SshSession.Quote(runnerDir);
        RemoteBenchmark.Expect(ssh.Run($"set -e; t={q}.partial.$$; rm -rf \"$t\"; mkdir -p \"$t\"; tar -xf - -C \"$t\"; touch \"$t/.complete\"; if [ -d {q} ]; then rm -rf \"$t\"; else mv \"$t\" {q}; fi",
            TimeSpan.FromMinutes(10), stream => WriteTar(stream, Runner.Files)), Device, "copying the runner");
    }

    private void RequireSpace(long bytes, string what)
    {
        long needed = bytes + HeadroomBytes;
        if (Facts.FreeBytes is long free && free < needed)
            throw new EdgeBuildException(DiagnosticCodes.DeviceDiskFull, Device.Name,
                $"{Device.RemoteCacheDir} on {Device.Address} has {RemoteBenchmark.Mb(free)} free; {what} needs {RemoteBenchmark.Mb(needed)}");
    }

    /// <summary>How the runner is started on the device, as shell words.</summary>
    private string Launch => Runner.SelfContained
        ? SshSession.Quote(runnerDir + "/edgebuild")
        : $"\"{Facts.Dotnet}\" {SshSession.Quote(runnerDir + "/edgebuild.dll")}";

    /// <summary>The device's machine fingerprint for <paramref name="executionProvider"/>, as its runner computes it (<c>edgebuild machine</c>).</summary>
    public MachineFingerprint Fingerprint(string executionProvider)
    {
        var run = ssh.Run($"{Launch} machine --execution-provider {SshSession.Quote(executionProvider)}", TimeSpan.FromSeconds(60));
        return Parse<MachineFingerprint>(run, "machine");
    }

    /// <summary>Copies the artifact unless the device has it, runs <c>bench</c> there and returns its result with this machine's artifact path.</summary>
    public BenchResult Bench(string artifact, BenchOptions options, string executionProvider, Action<string>? log = null)
    {
        string artifactSha = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(artifact))).ToLowerInvariant();
        string cache = Device.RemoteCacheDir;
        string remoteArtifact = $"{cache}/artifacts/{artifactSha}.onnx";
        string q = SshSession.Quote(remoteArtifact);
        if (ssh.Run($"[ -f {q} ]", TimeSpan.FromSeconds(30)).ExitCode != 0)
        {
            long bytes = new FileInfo(artifact).Length;
            RequireSpace(bytes, "the artifact");
            log?.Invoke($"{Device.Name}: copying {Path.GetFileName(artifact)} ({RemoteBenchmark.Mb(bytes)}) to {Device.Address}:{remoteArtifact}");
            RemoteBenchmark.Expect(ssh.Run($"set -e; mkdir -p {SshSession.Quote(cache + "/artifacts")}; cat > {q}.partial.$$; mv {q}.partial.$$ {q}",
                TimeSpan.FromMinutes(10), stream => { using var f = File.OpenRead(artifact); f.CopyTo(stream); }), Device, "copying the artifact");
        }
        var args = new List<string> { "bench", remoteArtifact, "--execution-provider", executionProvider,
            "--measure-seconds", options.TimeCapSeconds.ToString("R", CultureInfo.InvariantCulture),
            "--threads", options.Threads.ToString(CultureInfo.InvariantCulture),
            "--batch-size", options.BatchSize.ToString(CultureInfo.InvariantCulture) };
        // The human-readable figures go to stderr; stdout carries only the JSON result.
        string script = $"o=$(mktemp -d) || exit 1; trap 'rm -rf \"$o\"' EXIT; {Launch} {string.Join(" ", args.Select(SshSession.Quote))} --json \"$o/result.json\" 1>&2 || exit $?; cat \"$o/result.json\"";
        log?.Invoke($"{Device.Name}: measuring {Path.GetFileName(artifact)} on {Device.Address} ({Facts.Machine}) for up to {options.TimeCapSeconds:F0} s");
        var result = Parse<BenchResult>(ssh.Run(script, TimeSpan.FromSeconds(120 + 6 * options.TimeCapSeconds)), "bench");
        return result with { Artifact = artifact };
    }

    private T Parse<T>(SshResult run, string command) where T : class
    {
        if (run.ExitCode != 0)
            throw new EdgeBuildException(DiagnosticCodes.DeviceRunnerFailed, Device.Name,
                $"the runner exited with {run.ExitCode} on {Device.Address} ({SshSession.LastLines(run.Stderr, 3)})");
        try
        {
            return JsonSerializer.Deserialize<T>(run.Stdout, MeasureJson.Options)
                ?? throw new EdgeBuildException(DiagnosticCodes.DeviceRunnerFailed, Device.Name, $"the runner's '{command}' printed no result");
        }
        catch (JsonException e)
        {
            throw new EdgeBuildException(DiagnosticCodes.DeviceRunnerFailed, Device.Name, $"the runner's '{command}' output is not its JSON ({e.Message})", e);
        }
    }
    /// <summary>The runner's files as a tar stream (POSIX pax, modes kept so the apphost stays executable).</summary>
    private static void WriteTar(Stream stream, IReadOnlyList<RunnerFile> files)
    {
        using var tar = new TarWriter(stream, TarEntryFormat.Pax, leaveOpen: true);
        foreach (var f in files) tar.WriteEntry(f.FullPath, f.RelativePath);
    }
}
