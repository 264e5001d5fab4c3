namespace EdgeBuild.Measure;

/// <summary>A precision a device runs natively and its published peak dense rate there (tera-operations per second, a MAC counting as two).</summary>
public sealed record PrecisionPeak(string Precision, double DenseTops, string Source);

/// <summary>
/// An accelerator from the article (or the local CPU) as the figures a roofline and an energy estimate need, each with
/// its source: the precisions it runs with their dense peak rates (a precision it cannot run is absent), its memory
/// bandwidth, and its rated power where the vendor publishes one (null where not: no energy is estimated then).
/// </summary>
public sealed record DeviceProfile(string Name, IReadOnlyList<PrecisionPeak> Precisions, double BandwidthGBps, string BandwidthSource,
    double? PowerW, string PowerSource, string Note)
{
    /// <summary>The peak at <paramref name="precision"/>, or null where the device does not run it.</summary>
    public PrecisionPeak? At(string precision) => Precisions.FirstOrDefault(p => p.Precision == precision);
}

/// <summary>A roofline latency and, where the device's power is published, an energy estimate for one artifact on one device: estimates, never measurements.</summary>
public sealed record DeviceEstimate(string Device, string Precision, double ComputeMs, double MemoryMs, double LatencyMs, string Bound,
    double? EnergyMj, double? PowerWAt30Fps, bool? Within5W, string Formula);

/// <summary>
/// Roofline and energy estimates (docs/measurement.md). Latency ≥ max(2·MACs / dense peak at the precision, bytes moved /
/// bandwidth) (Williams, Waterman, Patterson, "Roofline", CACM 2009): a lower bound that ignores kernel efficiency.
/// Energy per inference = rated power × that latency: the device drawing its rated power for the time the roofline
/// allows, so it differs per device and per precision; a lower bound on time times an upper bound on power.
/// </summary>
public static class DeviceProfiles
{
    /// <summary>The article's accelerators (section 4), with the vendors' dense figures per precision.</summary>
    public static IReadOnlyList<DeviceProfile> Article { get; } =
    [
        new("NVIDIA Jetson AGX Orin 64GB",
            [
                new("Int8", 137.5, "NVIDIA Jetson AGX Orin Series technical brief: GPU 85 + 2 DLA 52.5 dense INT8 TOPS (the 275 TOPS of the article and data sheet count 2:4 sparsity)"),
                new("Fp16", 42.5, "NVIDIA Ampere architecture: dense FP16 tensor rate is half the dense INT8 rate (GPU 85 INT8 TOPS); DLA FP16 left out"),
                new("Fp32", 5.3, "NVIDIA Jetson AGX Orin data sheet: 2048 CUDA cores at 1.3 GHz, 5.3 FP32 TFLOPS"),
            ],
            204.8, "NVIDIA Jetson AGX Orin data sheet: 256-bit LPDDR5, 204.8 GB/s",
            60, "NVIDIA Jetson AGX Orin data sheet: 15 W to 60 W module power; 60 W taken (the mode that reaches the peak rates)",
            "article's 275 TOPS is the sparse INT8 figure; dense figures used here"),
        new("Qualcomm Hexagon NPU (45 TOPS)",
            [new("Int8", 45, "Qualcomm Snapdragon X Elite product brief: Hexagon NPU 45 INT8 TOPS")],
            135, "Qualcomm Snapdragon X Elite product brief: LPDDR5x-8448, 135 GB/s",
            null, "Qualcomm publishes no NPU power figure: no energy estimate",
            "FP16 runs on the NPU too, but no FP16 rate is published (no estimate); FP32 graphs are run in FP16"),
        new("Google Edge TPU",
            [new("Int8", 4, "Coral Edge TPU data sheet: 4 TOPS INT8")],
            12.8, "Coral Dev Board: LPDDR4 3200 MT/s x32 = 12.8 GB/s",
            2, "Coral Edge TPU data sheet: 2 TOPS per watt, so 2 W at 4 TOPS",
            "runs full-integer INT8 models only; weights beyond its 8 MB SRAM stream from host memory"),
        new("Intel NPU (Core Ultra, Meteor Lake)",
            [
                new("Int8", 11, "Intel Core Ultra 7 165H specification: NPU peak 11 INT8 TOPS (the article rounds to 12)"),
                new("Fp16", 5.5, "Intel NPU 3720: the MAC array runs FP16 at half its INT8 rate"),
            ],
            120, "Intel Core Ultra (Meteor Lake): LPDDR5x-7467, about 120 GB/s",
            null, "Intel publishes no NPU power figure: no energy estimate",
            "FP32 models are run in FP16"),
    ];

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
