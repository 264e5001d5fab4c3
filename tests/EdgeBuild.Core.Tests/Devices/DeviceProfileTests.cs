using EdgeBuild.Devices;
using EdgeBuild.Measure;
using EdgeBuild.Tests.Measure;

namespace EdgeBuild.Tests.Devices;

public sealed class DeviceProfileTests
{
    private static DeviceProfile Named(string part) => DeviceProfiles.All.Single(p => p.Name.Contains(part, StringComparison.Ordinal));

    /// <summary>
    /// The seven profiles of issue 17 with dense rates, not the sparse marketing ones (Orin's 275 and Orin Nano's 40 TOPS
    /// count 2:4 sparsity; the dense INT8 rate is half), every figure and every runtime with its source.
    /// </summary>
    [Fact]
    public void ProfilesCarryDenseRatesPerPrecisionWithSources()
    {
        foreach (var part in new[] { "Jetson AGX Orin", "Jetson Orin Nano", "Raspberry Pi 5", "Hexagon", "Edge TPU", "Intel NPU", "AVX-512 VNNI" })
            Assert.Single(DeviceProfiles.All, p => p.Name.Contains(part, StringComparison.Ordinal));
        var orin = Named("AGX Orin");
        Assert.Equal(275 / 2.0, orin.At("Int8")!.DenseTops);
        Assert.Equal(40 / 2.0, Named("Orin Nano").At("Int8")!.DenseTops);
        Assert.True(orin.At("Fp16")!.DenseTops < orin.At("Int8")!.DenseTops);
        Assert.True(orin.At("Fp32")!.DenseTops < orin.At("Fp16")!.DenseTops);
        Assert.All(DeviceProfiles.All, p =>
        {
            Assert.NotEmpty(p.Precisions);
            Assert.NotEmpty(p.Runtimes);
            Assert.All(p.Precisions, r => Assert.False(string.IsNullOrWhiteSpace(r.Source)));
            Assert.False(string.IsNullOrWhiteSpace(p.BandwidthSource));
            Assert.False(string.IsNullOrWhiteSpace(p.PowerSource));
        });
        Assert.All(DeviceProfiles.Runtimes, r =>
        {
            Assert.False(string.IsNullOrWhiteSpace(r.Source));
            Assert.StartsWith("https://", r.SourceUrl, StringComparison.Ordinal);
        });
        // The runtimes the issue names are the ones the profiles use.
        Assert.Equal(["edgetpu", "hexagon", "onnxruntime-cpu", "openvino-npu", "tensorrt", "tflite-gpu", "xnnpack"],
            DeviceProfiles.All.SelectMany(p => p.Runtimes).Distinct().Order(StringComparer.Ordinal));
    }

    /// <summary>The Edge TPU runs INT8 only: no FP32 or FP16 estimate exists for it.</summary>
    [Fact]
    public void PrecisionsADeviceCannotRunHaveNoEstimate()
    {
        var tpu = Named("Edge TPU");
        Assert.Null(DeviceProfiles.Estimate(tpu, "Fp32", 1_000_000, 1000));
        Assert.Null(DeviceProfiles.Estimate(tpu, "Fp16", 1_000_000, 1000));
        Assert.NotNull(DeviceProfiles.Estimate(tpu, "Int8", 1_000_000, 1000));
        Assert.Null(DeviceProfiles.Estimate(Named("Hexagon"), "Fp32", 1, 1));
    }

    /// <summary>The roofline by hand: 1 G MACs in INT8 on 4 TOPS is 0.5 ms of compute; 12.8 MB over 12.8 GB/s is 1 ms of traffic, so memory-bound; 2 W for 1 ms is 2 mJ.</summary>
    [Fact]
    public void RooflineIsTheLargerOfComputeAndMemoryTime_EnergyIsRatedPowerTimesLatency()
    {
        var e = DeviceProfiles.Estimate(Named("Edge TPU"), "Int8", 1_000_000_000, 12_800_000)!;
        Assert.Equal(0.5, e.ComputeMs, 9);
        Assert.Equal(1.0, e.MemoryMs, 9);
        Assert.Equal(1.0, e.LatencyMs, 9);
        Assert.Equal("memory", e.Bound);
        Assert.Equal(2.0, e.EnergyMj!.Value, 9);
        Assert.Equal(2e-3 * 30, e.PowerWAt30Fps!.Value, 9);
        Assert.True(e.Within5W);
    }

    /// <summary>One workload, different devices: the energy differs, and is absent where no power figure is published.</summary>
    [Fact]
    public void EnergyDiffersPerDeviceAndIsAbsentWithoutAPublishedPower()
    {
        var estimates = DeviceProfiles.All.Select(p => DeviceProfiles.Estimate(p, "Int8", 2_000_000_000, 20_000_000)!).ToList();
        var energies = estimates.Where(e => e.EnergyMj is not null).Select(e => e.EnergyMj!.Value).ToList();
        Assert.Equal(energies.Count, energies.Distinct().Count());
        Assert.True(energies.Count >= 3);
        var hexagon = estimates.Single(e => e.Device.Contains("Hexagon", StringComparison.Ordinal));
        Assert.Null(hexagon.EnergyMj);
        Assert.Null(hexagon.Within5W);
        Assert.Contains("no published power", hexagon.Formula, StringComparison.Ordinal);
    }

    /// <summary>The local CPU's rate comes from the reference workload: its 8.4 M MACs in its P50 give back its own time for FP32; no INT8 rate is assumed.</summary>
    [Fact]
    public void LocalCpuProfileReproducesTheReferenceTimeAndAssumesNoInt8Rate()
    {
        var reference = new ReferenceFigures(ReferenceWorkload.Name, 100, new Estimate(0.1, 0.09, 0.11));
        var cpu = DeviceProfiles.LocalCpu(MeasureFixtures.Machine(), reference, 1);
        var e = DeviceProfiles.Estimate(cpu, "Fp32", 4L * 32 * 256 * 256, 0)!;
        Assert.Equal(0.1, e.LatencyMs, 9);
        Assert.Null(DeviceProfiles.Estimate(cpu, "Int8", 1000, 0));
    }
}
