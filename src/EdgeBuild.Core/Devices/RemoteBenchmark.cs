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
    /// <summary>Room kept free beyond the copied files, for the result and ONNX Runtime's scratch files.</summary>
    private const long HeadroomBytes = 16L << 20;

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
        var facts = Check(device);
        var runner = MeasuringRunner.Resolve(device.Name, runnerSource, facts.Rid, facts.Machine);
        if (!runner.SelfContained && (facts.Dotnet is null || !facts.HasNet10))
            throw new EdgeBuildException(DiagnosticCodes.DeviceNoRunner, device.Name,
                $"the runner in {runner.SourceDir} is framework-dependent and the device has {(facts.Dotnet is null ? "no dotnet" : $"no .NET 10 runtime (has {string.Join(", ", facts.Runtimes.DefaultIfEmpty("none"))})")}");
        string artifactSha = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(artifact))).ToLowerInvariant();
        var ssh = new SshSession(device);
        string cache = device.RemoteCacheDir;
        string runnerDir = $"{cache}/runners/{runner.Sha256}";
        string remoteArtifact = $"{cache}/artifacts/{artifactSha}.onnx";

        // What is already there: both are content-addressed, so present means identical.
        var present = ssh.Run($"[ -f {SshSession.Quote(runnerDir + "/.complete")} ] && echo runner; [ -f {SshSession.Quote(remoteArtifact)} ] && echo artifact; exit 0",
            TimeSpan.FromSeconds(30)).Stdout.Split('\n', StringSplitOptions.TrimEntries);
        bool haveRunner = present.Contains("runner"), haveArtifact = present.Contains("artifact");
        long needed = (haveRunner ? 0 : runner.Bytes) + (haveArtifact ? 0 : new FileInfo(artifact).Length) + HeadroomBytes;
        if ((!haveRunner || !haveArtifact) && facts.FreeBytes is long free && free < needed)
            throw new EdgeBuildException(DiagnosticCodes.DeviceDiskFull, device.Name,
                $"{cache} on {device.Address} has {Mb(free)} free; the runner and the artifact need {Mb(needed)}");

        if (!haveRunner)
        {
            log?.Invoke($"{device.Name}: copying the {runner.Rid} runner ({Mb(runner.Bytes)}, {(runner.SelfContained ? "self-contained" : "framework-dependent")}, sha256 {runner.Sha256[..12]}) to {device.Address}:{runnerDir}");
            // Unpacked beside its final name and renamed when complete: a broken copy is never taken for a runner.
            string q = SshSession.Quote(runnerDir);
            Expect(ssh.Run($"set -e; t={q}.partial.$$; rm -rf \"$t\"; mkdir -p \"$t\"; tar -xf - -C \"$t\"; touch \"$t/.complete\"; if [ -d {q} ]; then rm -rf \"$t\"; else mv \"$t\" {q}; fi",
                TimeSpan.FromMinutes(10), stream => WriteTar(stream, runner.Files)), device, "copying the runner");
        }
        if (!haveArtifact)
        {
            log?.Invoke($"{device.Name}: copying {Path.GetFileName(artifact)} ({Mb(new FileInfo(artifact).Length)}) to {device.Address}:{remoteArtifact}");
            string q = SshSession.Quote(remoteArtifact);
            Expect(ssh.Run($"set -e; mkdir -p {SshSession.Quote(cache + "/artifacts")}; cat > {q}.partial.$$; mv {q}.partial.$$ {q}",
                TimeSpan.FromMinutes(10), stream => { using var f = File.OpenRead(artifact); f.CopyTo(stream); }), device, "copying the artifact");
        }

        string launch = runner.SelfContained
            ? SshSession.Quote(runnerDir + "/edgebuild")
            : $"\"{facts.Dotnet}\" {SshSession.Quote(runnerDir + "/edgebuild.dll")}";
        var args = new List<string> { "bench", remoteArtifact, "--execution-provider", executionProvider,
            "--measure-seconds", options.TimeCapSeconds.ToString("R", CultureInfo.InvariantCulture),
            "--threads", options.Threads.ToString(CultureInfo.InvariantCulture),
            "--batch-size", options.BatchSize.ToString(CultureInfo.InvariantCulture) };
        // The human-readable figures go to stderr; stdout carries only the JSON result.
        string script = $"o=$(mktemp -d) || exit 1; trap 'rm -rf \"$o\"' EXIT; {launch} {string.Join(" ", args.Select(SshSession.Quote))} --json \"$o/result.json\" 1>&2 || exit $?; cat \"$o/result.json\"";
        log?.Invoke($"{device.Name}: measuring on {device.Address} ({facts.Machine}) for up to {options.TimeCapSeconds:F0} s");
        var run = ssh.Run(script, TimeSpan.FromSeconds(120 + 6 * options.TimeCapSeconds));
        if (run.ExitCode != 0)
            throw new EdgeBuildException(DiagnosticCodes.DeviceRunnerFailed, device.Name,
                $"the runner exited with {run.ExitCode} on {device.Address} ({SshSession.LastLines(run.Stderr, 3)})");
        BenchResult? result;
        try
        {
            result = JsonSerializer.Deserialize<BenchResult>(run.Stdout, MeasureJson.Options);
        }
        catch (JsonException e)
        {
            throw new EdgeBuildException(DiagnosticCodes.DeviceRunnerFailed, device.Name, $"the runner's result is not bench JSON ({e.Message})", e);
        }
        if (result is null)
            throw new EdgeBuildException(DiagnosticCodes.DeviceRunnerFailed, device.Name, "the runner printed no result");
        return result with { Artifact = artifact };
    }

    private static void Expect(SshResult result, Device device, string step)
    {
        if (result.ExitCode != 0)
            throw new EdgeBuildException(DiagnosticCodes.DeviceRunnerFailed, device.Name,
                $"{step} to {device.Address} failed with exit {result.ExitCode} ({SshSession.LastLines(result.Stderr, 3)})");
    }

    /// <summary>The runner's files as a tar stream (POSIX ustar/pax, modes kept so the apphost stays executable).</summary>
    private static void WriteTar(Stream stream, IReadOnlyList<RunnerFile> files)
    {
        using var tar = new TarWriter(stream, TarEntryFormat.Pax, leaveOpen: true);
        foreach (var f in files) tar.WriteEntry(f.FullPath, f.RelativePath);
    }

    private static string Mb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:F1} MB");
}
