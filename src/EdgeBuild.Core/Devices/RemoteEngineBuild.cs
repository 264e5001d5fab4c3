using System.Formats.Tar;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using EdgeBuild.Diagnostics;
using EdgeBuild.Onnx;

namespace EdgeBuild.Devices;

/// <summary>trtexec's own summary of the engine it built and timed (its "Latency", "GPU Compute Time" and "Throughput" lines), in ms and queries per second.</summary>
public sealed record TrtexecTimings(TrtexecLatency? Latency, TrtexecLatency? GpuCompute, double? ThroughputQps);

/// <summary>One of trtexec's latency lines: min, mean, median and 99th percentile, ms.</summary>
public sealed record TrtexecLatency(double Min, double Mean, double Median, double P99);

/// <summary>An engine built on a device: where it now lies here, its size and hash, which trtexec built it, and trtexec's timings there.</summary>
public sealed record EngineBuildResult(string EnginePath, long EngineBytes, string EngineSha256, string Trtexec, TrtexecTimings Timings, string Output);

/// <summary>
/// TensorRT on a device (docs/devices.md, "TensorRT engines on a device"): copies a compiled TensorRT kit (the files its
/// <c>NAME.build-engine.sh</c> checks by sha256, and the script) to the device, runs the script there with the device's
/// trtexec, and brings back the engine and trtexec's timings. The kit folder is the compile's output folder.
/// </summary>
public static class RemoteEngineBuild
{
    private const string ScriptSuffix = ".build-engine.sh";

    private static readonly Regex LatencyLine = new(
        @"(?<what>GPU Compute Time|Latency): min = (?<min>[0-9.eE+-]+) ms, max = [0-9.eE+-]+ ms, mean = (?<mean>[0-9.eE+-]+) ms, median = (?<median>[0-9.eE+-]+) ms(?:, percentile\([0-9.]+%\) = [0-9.eE+-]+ ms)*?, percentile\(99%\) = (?<p99>[0-9.eE+-]+) ms",
        RegexOptions.CultureInvariant);
    private static readonly Regex ThroughputLine = new(@"Throughput: (?<qps>[0-9.eE+-]+) qps", RegexOptions.CultureInvariant);

    /// <summary>
    /// Builds the engine of the kit in <paramref name="kitDir"/> (the one named <paramref name="name"/> when the folder
    /// holds several) on <paramref name="device"/>; the engine is written to <paramref name="enginePath"/> (default: the
    /// kit's <c>NAME.engine</c> beside the script). <paramref name="extraArguments"/> go to trtexec.
    /// </summary>
    public static EngineBuildResult Build(Device device, string kitDir, string? name, string? enginePath, IReadOnlyList<string> extraArguments, Action<string>? log = null)
    {
        string script = FindScript(kitDir, name);
        string kitName = Path.GetFileName(script)[..^ScriptSuffix.Length];
        var files = KitFiles(script);
        var ssh = new SshSession(device);

        // The same search the kit's script makes, so a device without TensorRT is refused before anything is copied.
        var found = ssh.Run("t=$(command -v trtexec || true); if [ -z \"$t\" ] && [ -x /usr/src/tensorrt/bin/trtexec ]; then t=/usr/src/tensorrt/bin/trtexec; fi; echo \"$t\"", TimeSpan.FromSeconds(30));
        string trtexec = found.Stdout.Trim();
        if (found.ExitCode != 0 || trtexec.Length == 0)
            throw new EdgeBuildException(DiagnosticCodes.DeviceNoTensorRt, device.Name,
                $"{device.Address} has no trtexec on its PATH or in /usr/src/tensorrt/bin, so it cannot build {kitName}.engine");

        // Content-addressed like the runner: the script carries every kit file's sha256, so its hash names the kit.
        string kitHash = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(script))).ToLowerInvariant();
        string remoteDir = $"{device.RemoteCacheDir}/engines/{kitHash}";
        string q = SshSession.Quote(remoteDir);
        long bytes = files.Sum(f => new FileInfo(Path.Combine(kitDir, f)).Length);
        log?.Invoke($"{device.Name}: copying the {kitName} TensorRT kit ({RemoteBenchmark.Mb(bytes)}, {files.Count} files) to {device.Address}:{remoteDir}");
        RemoteBenchmark.Expect(ssh.Run($"set -e; rm -rf {q}; mkdir -p {q}; tar -xf - -C {q}", TimeSpan.FromMinutes(10), stream =>
        {
            using var tar = new TarWriter(stream, TarEntryFormat.Pax, leaveOpen: true);
            foreach (var f in files) tar.WriteEntry(Path.Combine(kitDir, f), f);
        }), device, "copying the TensorRT kit");

        string arguments = string.Join(" ", extraArguments.Select(SshSession.Quote));
        log?.Invoke($"{device.Name}: building {kitName}.engine with {trtexec} on {device.Address}");
        var run = ssh.Run($"cd {q} && sh {SshSession.Quote(kitName + ScriptSuffix)} {arguments} 2>&1", TimeSpan.FromMinutes(60));
        if (run.ExitCode != 0)
            throw new EdgeBuildException(DiagnosticCodes.DeviceEngineBuildFailed, device.Name,
                $"{kitName}{ScriptSuffix} exited with {run.ExitCode} on {device.Address} ({SshSession.LastLines(run.Stdout, 3)})");

        // The engine is binary and the ssh channel is read as text: base64 there, decoded here.
        var engine = ssh.Run($"cd {q} && [ -f {SshSession.Quote(kitName + ".engine")} ] && base64 {SshSession.Quote(kitName + ".engine")}", TimeSpan.FromMinutes(10));
        if (engine.ExitCode != 0)
            throw new EdgeBuildException(DiagnosticCodes.DeviceEngineBuildFailed, device.Name,
                $"{kitName}{ScriptSuffix} succeeded on {device.Address} but left no {kitName}.engine ({SshSession.LastLines(run.Stdout, 3)})");
        byte[] engineBytes = Convert.FromBase64String(engine.Stdout);
        string target = Path.GetFullPath(enginePath ?? Path.Combine(kitDir, kitName + ".engine"));
        AtomicFile.WriteAllBytes(target, engineBytes);
        return new EngineBuildResult(target, engineBytes.LongLength, Convert.ToHexString(SHA256.HashData(engineBytes)).ToLowerInvariant(), trtexec,
            ParseTimings(run.Stdout), run.Stdout);
    }

    /// <summary>trtexec's summary lines (TensorRT 8 to 10 print them after timing the engine); null parts where a line is missing.</summary>
    public static TrtexecTimings ParseTimings(string output)
    {
        TrtexecLatency? latency = null, gpu = null;
        foreach (Match m in LatencyLine.Matches(output))
        {
            var value = new TrtexecLatency(Number(m, "min"), Number(m, "mean"), Number(m, "median"), Number(m, "p99"));
            if (m.Groups["what"].Value == "Latency") latency = value;
            else gpu = value;
        }
        double? qps = ThroughputLine.Match(output) is { Success: true } t ? Number(t, "qps") : null;
        return new TrtexecTimings(latency, gpu, qps);
    }

    private static double Number(Match m, string group) => double.Parse(m.Groups[group].Value, NumberStyles.Float, CultureInfo.InvariantCulture);

    private static string FindScript(string kitDir, string? name)
    {
        if (!Directory.Exists(kitDir))
            throw new EdgeBuildException(DiagnosticCodes.NoTensorRtKit, kitDir, "folder not found");
        var scripts = Directory.GetFiles(kitDir, "*" + ScriptSuffix).Order(StringComparer.Ordinal).ToList();
        if (name is not null) scripts = scripts.Where(s => Path.GetFileName(s) == name + ScriptSuffix).ToList();
        return scripts.Count switch
        {
            1 => scripts[0],
            0 => throw new EdgeBuildException(DiagnosticCodes.NoTensorRtKit, kitDir,
                $"no {(name ?? "*")}{ScriptSuffix} here: this is not the output folder of a compile with Targets including TensorRT"),
            _ => throw new EdgeBuildException(DiagnosticCodes.NoTensorRtKit, kitDir,
                $"{scripts.Count} kits here ({string.Join(", ", scripts.Select(Path.GetFileName))}): name one with --name"),
        };
    }

    /// <summary>The files the kit's script checks (its sha256 list) and the script itself, as paths relative to the kit folder.</summary>
    private static List<string> KitFiles(string script)
    {
        string dir = Path.GetDirectoryName(script)!;
        var files = new List<string> { Path.GetFileName(script) };
        bool inSums = false;
        foreach (var line in File.ReadAllLines(script, Encoding.UTF8))
        {
            if (line.StartsWith("sha256sum -c - <<'SUMS'", StringComparison.Ordinal)) { inSums = true; continue; }
            if (inSums && line == "SUMS") break;
            if (inSums && line.IndexOf("  ", StringComparison.Ordinal) is int gap and > 0) files.Add(line[(gap + 2)..]);
        }
        if (files.FirstOrDefault(f => !File.Exists(Path.Combine(dir, f))) is { } missing)
            throw new EdgeBuildException(DiagnosticCodes.NoTensorRtKit, dir, $"{missing}, which {Path.GetFileName(script)} checks, is missing: compile the kit again");
        return files;
    }
}
