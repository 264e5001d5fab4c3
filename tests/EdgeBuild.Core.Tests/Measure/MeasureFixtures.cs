using EdgeBuild.Measure;

namespace EdgeBuild.Tests.Measure;

/// <summary>Bench results made up for tests of the rules (budgets, baselines, reports), with chosen figures.</summary>
internal static class MeasureFixtures
{
    public static MachineFingerprint Machine(string cpu = "Test CPU") =>
        new(cpu, 2, ["avx2"], "1.31.1", "CPUExecutionProvider", "Linux", "x64");

    public static BenchResult Result(double p99 = 10, double p99Low = 9.5, double p99High = 10.5, double normalized = 20, double normalizedLow = 19,
        double fps = 100, double memoryMB = 50, long bytes = 1_000_000, string cpu = "Test CPU") => new()
    {
        Artifact = "Model.onnx",
        Sha256 = new string('a', 64),
        Bytes = bytes,
        ExecutionProvider = "CPUExecutionProvider",
        Threads = 1,
        Machine = Machine(cpu),
        SessionLoadMs = 5,
        WarmupRuns = 5,
        Runs = 1000,
        Seconds = 2,
        StopReason = "stable",
        P50Ms = new Estimate(p99 / 2, p99 / 2 * 0.98, p99 / 2 * 1.02),
        P90Ms = new Estimate(p99 * 0.8, p99 * 0.78, p99 * 0.82),
        P99Ms = new Estimate(p99, p99Low, p99High),
        MaxMs = p99 * 1.5,
        MeanMs = new Estimate(p99 / 2, p99 / 2 * 0.99, p99 / 2 * 1.01),
        Fps = new Estimate(fps, fps * 0.97, fps * 1.03),
        Batched = new BatchThroughput(8, fps * 2, 40, null),
        Memory = new MemoryFigures(memoryMB + 60, memoryMB, "test", "test"),
        Reference = new ReferenceFigures(ReferenceWorkload.Name, 500, new Estimate(0.5, 0.49, 0.51)),
        NormalizedP50 = new Estimate(normalized / 2, normalized / 2 * 0.99, normalized / 2 * 1.01),
        NormalizedP99 = new Estimate(normalized, normalizedLow, normalized + (normalized - normalizedLow)),
        Histogram = new LatencyHistogram(1, 0.5, [1, 5, 20, 50, 20, 3, 1]),
    };
}
