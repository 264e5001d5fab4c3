using System.Globalization;
using EdgeBuild.Tests.Support.Fuzz;

namespace EdgeBuild.Benchmarks;

/// <summary>
/// The long fuzz run (the suite's FuzzTests runs the same campaign for about a minute):
///   fuzz [--count 100000] [--seed S] [--first K] [--minutes M] [--only K] [--deep-every N] [--int8-every N] [--workers N] [--early SHARE] [--real SHARE] [--save DIR] [--built-only]
/// --only K reruns one mutant (the repro the report prints for each failure class).
/// </summary>
public static class FuzzBenchmark
{
    public const string ReproCommand = "dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- fuzz";

    public static int Run(string[] args, string data)
    {
        string? Arg(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        int seed = int.Parse(Arg("--seed") ?? "1", CultureInfo.InvariantCulture);
        long count = long.Parse(Arg("--count") ?? "100000", CultureInfo.InvariantCulture);
        long first = long.Parse(Arg("--first") ?? "0", CultureInfo.InvariantCulture);
        if (Arg("--only") is { } only) { first = long.Parse(only, CultureInfo.InvariantCulture); count = 1; }
        TimeSpan? budget = Arg("--minutes") is { } m ? TimeSpan.FromMinutes(double.Parse(m, CultureInfo.InvariantCulture)) : null;
        var seeds = FuzzSeeds.Load(args.Contains("--built-only") || !Directory.Exists(Path.Combine(data, "models")) ? null : data);
        Console.WriteLine($"fuzz: {seeds.Count} seed models ({string.Join(", ", seeds.Select(s => $"{s.Name} {s.Bytes.Length} B"))}); {Environment.ProcessorCount} cores");
        var mutator = new Mutator(seeds)
        {
            EarlyShare = double.Parse(Arg("--early") ?? "0", CultureInfo.InvariantCulture),
            RealShare = double.Parse(Arg("--real") ?? "0.3", CultureInfo.InvariantCulture),
        };
        int deepEvery = int.Parse(Arg("--deep-every") ?? "20", CultureInfo.InvariantCulture);
        int int8Every = int.Parse(Arg("--int8-every") ?? "3", CultureInfo.InvariantCulture);
        int workers = int.Parse(Arg("--workers") ?? "1", CultureInfo.InvariantCulture);
        var summary = FuzzCampaign.Run(mutator, () => new FuzzRunner { DeepEvery = deepEvery, Int8Every = int8Every }, seed, count, budget, first,
            line => Console.WriteLine("fuzz: " + line), Arg("--save"), workers);
        if (count == 1)
        {
            var mutant = mutator.Make(seed, first);
            Console.WriteLine($"mutant {first} of '{mutant.Seed}': {mutant.Description} ({mutant.Bytes.Length} bytes)");
        }
        Console.Write(summary.Report(ReproCommand));
        return summary.Failures == 0 ? 0 : 1;
    }
}
