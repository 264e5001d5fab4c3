using EdgeBuild.Measure;

namespace EdgeBuild.Tests.Measure;

public sealed class DeviceProfileTests
{
    [Fact]
    public void ArticleProfilesCarryTheArticlesTops()
    {
        Assert.Equal([275, 45, 4, 12], DeviceProfiles.Article.Select(p => p.PeakInt8Tops));
        Assert.All(DeviceProfiles.Article, p => Assert.Contains("article", p.Source));
    }

    /// <summary>The roofline by hand: 1 G MACs in INT8 on 4 TOPS is 0.5 ms of compute; 12.8 MB over 12.8 GB/s is 1 ms of traffic, so memory-bound.</summary>
    [Fact]
    public void RooflineIsTheLargerOfComputeAndMemoryTime()
    {
        var tpu = DeviceProfiles.Article.Single(p => p.Name.Contains("Edge TPU"));
        var e = DeviceProfiles.Estimate(tpu, "Int8", 1_000_000_000, 12_800_000);
        Assert.Equal(0.5, e.ComputeMs, 9);
        Assert.Equal(1.0, e.MemoryMs, 9);
        Assert.Equal(1.0, e.LatencyMs, 9);
        Assert.Equal("memory", e.Bound);
        // Energy: 1e9 x 0.23 pJ + 12.8e6 B x 250 pJ = 0.23 mJ + 3.2 mJ; at 30 fps that is 0.1029 W, within 5 W.
        Assert.Equal(3.43, e.EnergyMj, 6);
        Assert.Equal(3.43e-3 * 30, e.PowerWAt30Fps, 9);
        Assert.True(e.Within5W);

        var fp32 = DeviceProfiles.Estimate(tpu, "Fp32", 1_000_000_000, 0);
        Assert.Equal(2.0, fp32.ComputeMs, 9); // FP32 assumed at a quarter of the INT8 rate
        Assert.Equal("compute", fp32.Bound);
    }

    /// <summary>The local CPU's rate comes from the reference workload: its 8.4 M MACs in its P50 give back its own time for FP32.</summary>
    [Fact]
    public void LocalCpuProfileReproducesTheReferenceTime()
    {
        var reference = new ReferenceFigures(ReferenceWorkload.Name, 100, new Estimate(0.1, 0.09, 0.11));
        var cpu = DeviceProfiles.LocalCpu(MeasureFixtures.Machine(), reference, 1);
        var e = DeviceProfiles.Estimate(cpu, "Fp32", 4L * 32 * 256 * 256, 0);
        Assert.Equal(0.1, e.LatencyMs, 9);
    }
}
