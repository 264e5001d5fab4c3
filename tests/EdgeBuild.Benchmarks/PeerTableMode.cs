using System.Globalization;
using EdgeBuild.Quantization;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Benchmarks;

/// <summary>
/// Issue 13's peer side by side with ONNX Runtime's quantize_static (docs/quantization.md, "Peer table"), in two halves
/// around one device call:
///
///   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- peer-table --export DIR [--models a,b] [--held-out 40] [--calibration 16] [--limit-mib N]
///       writes the kit (<see cref="PeerKit"/>): auto-table's split and optimized FP32 models; the limit defaults to the
///       64 MiB a device call carries less what the repository sends itself.
///   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- peer-table --peer DIR [--models a,b] [--budget 1] [--seconds 5] [--min-sqnr-db 20]
///       DIR is the device's output unpacked; prints the table (<see cref="PeerTable"/>).
/// </summary>
internal static class PeerTableMode
{
    public static int Run(string[] args, string data, string root)
    {
        string? Arg(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var only = Arg("--models")?.Split(',');
        try
        {
            if (Arg("--export") is { } kitDir) return Export(kitDir, only, data, root, Arg);
            if (Arg("--peer") is { } peerDir) return Peer(peerDir, only, data, Arg);
            Console.Error.WriteLine("peer-table: error: neither --export DIR nor --peer DIR given. Export a kit (--export), or read the device's output (--peer).");
            return 2;
        }
        catch (PeerKitException e)
        {
            Console.Error.WriteLine($"peer-table: error: {e.Message}");
            return 1;
        }
    }

    private static int Export(string dir, string[]? only, string data, string root, Func<string, string?> arg)
    {
        int heldOut = int.Parse(arg("--held-out") ?? "40", CultureInfo.InvariantCulture);
        int calibration = int.Parse(arg("--calibration") ?? "16", CultureInfo.InvariantCulture);
        long repository = PeerKit.RepositoryTravelBytes(root);
        long limit = arg("--limit-mib") is { } mib ? (long)(double.Parse(mib, CultureInfo.InvariantCulture) * 1048576) : PeerKit.DeviceTravelBytes - repository;
        Console.WriteLine($"repository sends {PeerKit.MiB(repository)} MiB; kit limit {PeerKit.MiB(limit)} MiB; {heldOut} held-out, {calibration} calibration inputs");
        var ids = only ?? [.. BenchmarkModel.AllIds];
        var manifest = PeerKit.Export(dir, ids.Select(id => BenchmarkModel.Load(id, data, heldOut, calibration)), heldOut, calibration, limit, Console.WriteLine);
        long total = manifest.Models.Sum(m => m.ArchiveBytes) + new FileInfo(Path.Combine(dir, PeerKit.ManifestFile)).Length;
        Console.WriteLine($"kit {Path.GetFullPath(dir)}: {manifest.Models.Count} models, {PeerKit.MiB(total)} MiB; with the repository {PeerKit.MiB(total + repository)} of 64 MiB");
        foreach (var l in manifest.LeftOut) Console.WriteLine($"left out: {l.Id}: {l.Reason}");
        return 0;
    }

    private static int Peer(string dir, string[]? only, string data, Func<string, string?> arg)
    {
        double budget = double.Parse(arg("--budget") ?? "1", CultureInfo.InvariantCulture);
        double seconds = double.Parse(arg("--seconds") ?? "5", CultureInfo.InvariantCulture);
        var floors = arg("--min-sqnr-db") is { } floor ? new OutputFloors { MinSqnrDb = double.Parse(floor, CultureInfo.InvariantCulture) } : new OutputFloors();
        var run = PeerRun.Read(dir);
        string cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim() ?? "?";
        Console.WriteLine($"peer: onnxruntime {run.Onnxruntime} on the device ({run.Cpus} CPUs), quantize_static({string.Join(", ", run.QuantizeStatic.Select(p => p.Key + "=" + p.Value))}) after quant_pre_process");
        Console.WriteLine($"measured here: {cpu}; ONNX Runtime CPU, 1 thread; race {seconds} s; MaxAccuracyLoss {budget} %, floors {floors.MinSqnrDb} dB / {floors.MinCosine}; " +
            $"{run.HeldOut} held-out, {run.Calibration} calibration inputs; load at start {File.ReadAllText("/proc/loadavg").Trim()}");
        foreach (var l in run.LeftOutOfKit ?? []) Console.WriteLine($"left out of the kit: {l.Id}: {l.Reason}");
        var rows = PeerTable.Measure(dir, run, data, only, budget, floors, seconds, line => Console.Error.WriteLine("  " + line));
        Console.WriteLine(PeerTable.Header);
        foreach (var row in rows) Console.WriteLine(PeerTable.Markdown(row));
        Console.WriteLine($"load at end {File.ReadAllText("/proc/loadavg").Trim()}");
        return 0;
    }
}
