using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeBuild.Measure;

namespace EdgeBuild.Devices;

/// <summary>A precision a device runs natively and its published peak dense rate there (tera-operations per second, a MAC counting as two).</summary>
public sealed record PrecisionPeak(string Precision, double DenseTops, string Source);

/// <summary>
/// A target device as the figures a roofline and an energy estimate need, each with its source: the precisions it runs
/// with their dense peak rates (a precision it cannot run is absent), its memory bandwidth, its rated power where the
/// vendor publishes one (null where not: no energy is estimated then), and the runtimes that place layers on it
/// (<see cref="RuntimeSupport"/> ids), whose operator lists decide which layers fall back to the CPU.
/// </summary>
public sealed record DeviceProfile(string Name, IReadOnlyList<PrecisionPeak> Precisions, double BandwidthGBps, string BandwidthSource,
    double? PowerW, string PowerSource, string Note)
{
    /// <summary>Ids of the runtimes in <see cref="DeviceProfiles.Runtimes"/> that deploy to this device.</summary>
    public IReadOnlyList<string> Runtimes { get; init; } = [];

    /// <summary>Where the figures' documents are (the sources' text names them; the addresses are kept apart so reports stay free of links).</summary>
    public IReadOnlyList<string> SourceUrls { get; init; } = [];

    /// <summary>The peak at <paramref name="precision"/>, or null where the device does not run it.</summary>
    public PrecisionPeak? At(string precision) => Precisions.FirstOrDefault(p => p.Precision == precision);
}

/// <summary>
/// A runtime that places layers on an accelerator and hands the rest to the CPU, with its published operator support.
/// TFLite delegates and the Edge TPU compiler list TFLite builtin operators per precision (<see cref="Ops"/>); TensorRT
/// is judged by the kit's ONNX operator table (<see cref="Table"/> "tensorrt"); a CPU runtime runs everything
/// (<see cref="AllOps"/>); a runtime with none of these has no published list loaded and its layers are not judged.
/// </summary>
public sealed record RuntimeSupport
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    /// <summary>Where a layer the runtime does not take runs instead.</summary>
    public required string FallsBackTo { get; init; }
    public required string Source { get; init; }
    public required string SourceUrl { get; init; }
    /// <summary>"tensorrt": judged by the TensorRT kit's operator table.</summary>
    public string? Table { get; init; }
    /// <summary>The TFLite builtin operators the runtime takes, per precision (Fp32, Fp16, Int8).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>>? Ops { get; init; }
    public bool AllOps { get; init; }
    /// <summary>Tensors of more dimensions than this are not taken.</summary>
    public int? MaxRank { get; init; }
    /// <summary>Only this many innermost dimensions of a tensor may be larger than 1.</summary>
    public int? InnermostDims { get; init; }
    /// <summary>Tensor sizes must be known when the model is compiled.</summary>
    public bool StaticShapes { get; init; }
    /// <summary>One delegated subgraph: the first layer that falls back takes every later layer with it.</summary>
    public bool SingleSubgraph { get; init; }

    /// <summary>True when the runtime's layers can be judged at <paramref name="precision"/>.</summary>
    public bool Judges(string precision) => AllOps || Table is not null || (Ops?.ContainsKey(precision) ?? false);
}

/// <summary>A roofline latency and, where the device's power is published, an energy estimate for one artifact on one device: estimates, never measurements.</summary>
public sealed record DeviceEstimate(string Device, string Precision, double ComputeMs, double MemoryMs, double LatencyMs, string Bound,
    double? EnergyMj, double? PowerWAt30Fps, bool? Within5W, string Formula);

/// <summary>
/// The device profiles (docs/devices.md, "Device profiles"): data in <c>Devices/Profiles/device-profiles.json</c>, an
/// embedded resource, every figure and operator list with its source. Roofline and energy estimates: latency ≥ max(2·MACs
/// / dense peak at the precision, bytes moved / bandwidth) (Williams, Waterman, Patterson, "Roofline", CACM 2009), a
/// lower bound that ignores kernel efficiency; energy per inference = rated power × that latency, so it differs per
/// device and per precision: a lower bound on time times an upper bound on power.
/// </summary>
public static class DeviceProfiles
{
    private static readonly Lazy<(IReadOnlyList<DeviceProfile> Devices, IReadOnlyList<RuntimeSupport> Runtimes)> Table = new(Load);

    /// <summary>Every device profile, in the file's order.</summary>
    public static IReadOnlyList<DeviceProfile> All => Table.Value.Devices;

    /// <summary>Every runtime the profiles name.</summary>
    public static IReadOnlyList<RuntimeSupport> Runtimes => Table.Value.Runtimes;

    /// <summary>The runtime of that id (every id a profile names exists: checked when the file is loaded).</summary>
    public static RuntimeSupport Runtime(string id) => Runtimes.Single(r => r.Id == id);

    private sealed record FileShape(IReadOnlyList<RuntimeSupport> Runtimes, IReadOnlyList<DeviceRow> Devices);

    private sealed record DeviceRow(string Name, IReadOnlyList<string> SourceUrls, IReadOnlyList<PrecisionPeak> Precisions, double BandwidthGBps, string BandwidthSource,
        double? PowerW, string PowerSource, string Note, IReadOnlyList<string> Runtimes);

    private static (IReadOnlyList<DeviceProfile>, IReadOnlyList<RuntimeSupport>) Load()
    {
        using var stream = typeof(DeviceProfiles).Assembly.GetManifestResourceStream("EdgeBuild.Devices.Profiles.device-profiles.json")
            ?? throw new InvalidOperationException("the embedded device-profiles.json is missing from EdgeBuild.Core");
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip };
        var file = JsonSerializer.Deserialize<FileShape>(stream, options) ?? throw new InvalidOperationException("device-profiles.json is empty");
        var ids = file.Runtimes.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        // The file is data others edit: a profile naming an unknown runtime, or a figure without its source, is a
        // mistake in EdgeBuild itself, found by DeviceProfileTests before it ships.
        foreach (var d in file.Devices)
        {
            if (d.Runtimes.FirstOrDefault(r => !ids.Contains(r)) is { } unknown)
                throw new InvalidOperationException($"device-profiles.json: {d.Name} names runtime '{unknown}', which the file does not define");
            if (d.Precisions.Any(p => string.IsNullOrWhiteSpace(p.Source) || p.DenseTops <= 0) || string.IsNullOrWhiteSpace(d.BandwidthSource) || string.IsNullOrWhiteSpace(d.PowerSource))
                throw new InvalidOperationException($"device-profiles.json: {d.Name} has a figure without its source or a peak rate that is not positive");
        }
        var devices = file.Devices.Select(d => new DeviceProfile(d.Name, d.Precisions, d.BandwidthGBps, d.BandwidthSource, d.PowerW, d.PowerSource, d.Note)
            { Runtimes = d.Runtimes, SourceUrls = d.SourceUrls }).ToList();
        return (devices, file.Runtimes);
    }

    /// <summary>The estimate for <paramref name="macs"/> and <paramref name="bytesMoved"/> at <paramref name="precision"/>, or null where the device does not run that precision.</summary>
    public static DeviceEstimate? Estimate(DeviceProfile device, string precision, long macs, long bytesMoved)
    {
        if (device.At(precision) is not { } peak) return null;
        double computeMs = 2.0 * macs / (peak.DenseTops * 1e12) * 1000;
        double memoryMs = device.BandwidthGBps > 0 ? bytesMoved / (device.BandwidthGBps * 1e9) * 1000 : 0;
        double latency = Math.Max(computeMs, memoryMs);
        double? energyMj = device.PowerW is double w ? w * latency : null;
        double? power = energyMj / 1000 * 30;
        string memory = device.BandwidthGBps > 0 ? FormattableString.Invariant($"{bytesMoved} B / {device.BandwidthGBps:G} GB/s") : "no bandwidth figure";
        string formula = FormattableString.Invariant($"latency >= max(2*{macs} MAC / {peak.DenseTops:G} dense {precision} TOPS, {memory})") +
            (device.PowerW is double watts ? FormattableString.Invariant($"; energy = {watts:G} W x latency") : "; no published power: no energy");
        return new DeviceEstimate(device.Name, precision, computeMs, memoryMs, latency, computeMs >= memoryMs ? "compute" : "memory",
            energyMj, power, power is double pw ? pw < 5 : null, formula);
    }

    /// <summary>
    /// The local CPU as a profile: its float32 rate is what the reference workload achieved here (8.4 M MACs in its P50),
    /// on the measurement's thread count. Only FP32 is given: an INT8 or FP16 rate on a CPU depends on its kernels and is
    /// what the build measures, not a multiple to assume. No bandwidth or power figure is known.
    /// </summary>
    public static DeviceProfile LocalCpu(MachineFingerprint machine, ReferenceFigures reference, int threads)
    {
        const double ReferenceMacs = 4.0 * 32 * 256 * 256;
        double macsPerSecond = ReferenceMacs / (reference.P50Ms.Value / 1000);
        string measured = FormattableString.Invariant($"measured: the reference workload ran at {macsPerSecond / 1e9:F1} GMAC/s (float32) here");
        return new DeviceProfile($"this CPU ({machine.CpuModel}, {threads} thread(s))", [new("Fp32", 2 * macsPerSecond / 1e12, measured)],
            0, "not known: compute roof only", null, "not known: no energy estimate", "FP32 only: quantized artifacts are measured, not estimated");
    }
}
