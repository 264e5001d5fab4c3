namespace EdgeBuild.Measure;

/// <summary>
/// An accelerator from the article (or the local CPU) described by the two numbers a roofline needs: peak dense INT8
/// operations per second and memory bandwidth. Sources are in docs/measurement.md and in <see cref="Source"/>.
/// </summary>
public sealed record DeviceProfile(string Name, double PeakInt8Tops, double BandwidthGBps, string Source, string Note);

/// <summary>A roofline latency and an energy estimate for one artifact on one device: estimates, never measurements.</summary>
public sealed record DeviceEstimate(string Device, string Precision, double ComputeMs, double MemoryMs, double LatencyMs, string Bound,
    double EnergyMj, double PowerWAt30Fps, bool Within5W, string Formula);

/// <summary>
/// Roofline and energy estimates (docs/measurement.md). Latency ≥ max(2·MACs / peak ops, bytes moved / bandwidth)
/// (Williams, Waterman, Patterson, "Roofline", CACM 2009): a lower bound that ignores kernel efficiency. Energy per
/// inference = MACs · E_mac(precision) + bytes moved · E_dram, with Horowitz's 45 nm figures (ISSCC 2014, "Computing's
/// energy problem"): a MAC costs 4.6 pJ in FP32 (3.7 multiply + 0.9 add), 1.5 pJ in FP16 (1.1 + 0.4), 0.23 pJ in INT8
/// (0.2 + 0.03); DRAM costs 1.3-2.6 nJ per 64-bit access, taken as 250 pJ per byte. Newer process nodes and LPDDR5 are
/// several times cheaper, so the energy is an upper-end estimate.
/// </summary>
public static class DeviceProfiles
{
    /// <summary>The article's accelerators (section 4) with the vendors' bandwidth figures.</summary>
    public static IReadOnlyList<DeviceProfile> Article { get; } =
    [
        new("NVIDIA Jetson AGX Orin 64GB", 275, 204.8,
            "article: 275 TOPS; NVIDIA Jetson AGX Orin data sheet: 275 INT8 TOPS (sparse), 204.8 GB/s LPDDR5",
            "275 TOPS is with 2:4 sparsity; dense INT8 is about half"),
        new("Qualcomm Hexagon NPU (45 TOPS)", 45, 135,
            "article: 45 TOPS; Qualcomm Snapdragon X Elite product brief: Hexagon NPU 45 TOPS, LPDDR5x 135 GB/s", ""),
        new("Google Edge TPU", 4, 12.8,
            "article: 4 TOPS; Coral Edge TPU data sheet: 4 TOPS INT8 (2 TOPS/W); Coral Dev Board LPDDR4 3200 MT/s x32 = 12.8 GB/s",
            "runs INT8 only; weights beyond its 8 MB SRAM stream from host memory"),
        new("Intel NPU (12 TOPS)", 12, 120,
            "article: 12 TOPS; Intel Core Ultra (Meteor Lake) NPU ~11-12 TOPS, LPDDR5x-7467 ~120 GB/s", ""),
    ];

    /// <summary>pJ per MAC by precision (Horowitz 2014, 45 nm).</summary>
    public static double MacPicojoules(string precision) => precision switch
    {
        "Fp32" => 4.6,
        "Fp16" => 1.5,
        _ => 0.23,
    };

    /// <summary>pJ per byte of DRAM traffic (Horowitz 2014: 1.3-2.6 nJ per 64-bit access).</summary>
    public const double DramPicojoulesPerByte = 250;

    /// <summary>
    /// Peak operations at a precision relative to the INT8 TOPS figure: an assumption (FP16 at half, FP32 at a quarter,
    /// the ratio of operand widths) stated in every estimate.
    /// </summary>
    public static double PrecisionFactor(string precision) => precision switch
    {
        "Fp32" => 0.25,
        "Fp16" => 0.5,
        _ => 1.0,
    };

    /// <summary>The estimate for <paramref name="macs"/> and <paramref name="bytesMoved"/> at <paramref name="precision"/>.</summary>
    public static DeviceEstimate Estimate(DeviceProfile device, string precision, long macs, long bytesMoved)
    {
        double ops = device.PeakInt8Tops * 1e12 * PrecisionFactor(precision);
        double computeMs = 2.0 * macs / ops * 1000;
        double memoryMs = device.BandwidthGBps > 0 ? bytesMoved / (device.BandwidthGBps * 1e9) * 1000 : 0;
        double latency = Math.Max(computeMs, memoryMs);
        double energyMj = (macs * MacPicojoules(precision) + bytesMoved * DramPicojoulesPerByte) * 1e-9;
        double power = energyMj / 1000 * 30;
        string formula = FormattableString.Invariant(
            $"latency >= max(2*{macs} MAC / ({device.PeakInt8Tops:G} TOPS x {PrecisionFactor(precision):G}), {bytesMoved} B / {device.BandwidthGBps:G} GB/s); energy = {macs} x {MacPicojoules(precision):G} pJ + {bytesMoved} B x {DramPicojoulesPerByte:G} pJ");
        return new DeviceEstimate(device.Name, precision, computeMs, memoryMs, latency, computeMs >= memoryMs ? "compute" : "memory", energyMj, power, power < 5, formula);
    }

    /// <summary>
    /// The local CPU as a profile: its float32 rate is what the reference workload achieved here (8.4 M MACs in its P50),
    /// on the measurement's thread count; no bandwidth figure is known, so only the compute roof applies.
    /// </summary>
    public static DeviceProfile LocalCpu(MachineFingerprint machine, ReferenceFigures reference, int threads)
    {
        const double ReferenceMacs = 4.0 * 32 * 256 * 256;
        double macsPerSecond = ReferenceMacs / (reference.P50Ms.Value / 1000);
        // Expressed as INT8-equivalent TOPS so the FP32 factor of 1/4 gives back the measured float rate.
        return new DeviceProfile($"this CPU ({machine.CpuModel}, {threads} thread(s))", 2 * macsPerSecond / 1e12 / PrecisionFactor("Fp32"), 0,
            FormattableString.Invariant($"measured: the reference workload ran at {macsPerSecond / 1e9:F1} GMAC/s (float32) here"),
            "compute roof only (no bandwidth figure); INT8 and FP16 assumed 4x and 2x the float rate");
    }
}
