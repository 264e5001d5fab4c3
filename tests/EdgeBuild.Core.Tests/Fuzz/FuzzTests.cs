using EdgeBuild.Tests.Support;
using EdgeBuild.Tests.Support.Fuzz;
using Xunit.Abstractions;

namespace EdgeBuild.Tests.Fuzz;

/// <summary>
/// The seeded fuzz campaign of the suite: mutants of the real models (and of models built in code) through import,
/// every pass, FP16 and INT8 quantization, the TFLite writer and the TensorRT kit writer. Pass: no exception other than
/// an EB error (EB9001 and EB2003 count as failures), none past the time limit, none that grows memory past 2 GiB.
/// About a minute on the 2-core dev VM; most mutants fail early in the decoder or the importer, one in five goes
/// through the optimizer and one in twenty of those on to quantization and the writers. The long run is
/// <c>dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- fuzz --count 100000 --seed S</c>.
/// EDGEBUILD_FUZZ_SEED and EDGEBUILD_FUZZ_COUNT override the seed and the count.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    public const int DefaultSeed = 20261207;
    public const int DefaultCount = 10_000;

    [Fact]
    public void MutantsOfRealModelsFailOnlyWithEbErrors()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("EDGEBUILD_FUZZ_SEED"), out var s) ? s : DefaultSeed;
        int count = int.TryParse(Environment.GetEnvironmentVariable("EDGEBUILD_FUZZ_COUNT"), out var c) ? c : DefaultCount;
        string? data = TestData.IsCi || Directory.Exists(Path.Combine(TestData.CacheDir, "models")) ? TestData.Require() : null;
        var seeds = FuzzSeeds.Load(data);
        output.WriteLine(data is null
            ? "test data absent: mutating the models built in code only"
            : $"seeds: {string.Join(", ", seeds.Select(x => x.Name))}");
        var mutator = new Mutator(seeds) { EarlyShare = 0.8, RealShare = 0.15 };
        // Two workers: the CI machine's two cores; each mutant still has its own time limit and memory watch.
        var summary = FuzzCampaign.Run(mutator, () => new FuzzRunner { TimeLimit = TimeSpan.FromSeconds(30), Int8Every = 6 }, seed, count,
            log: output.WriteLine, workers: 2);
        string report = summary.Report("dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- fuzz");
        output.WriteLine(report);
        Assert.True(summary.Failures == 0, report);
        Assert.Equal(count, summary.Mutants);
        // The campaign must reach the deep stages, or it tests only the decoder.
        Assert.True(summary.Passed > count / 20, report);
        Assert.Contains(summary.DeepestStage.Keys, k => k is "fp16" or "int8");
    }
}
