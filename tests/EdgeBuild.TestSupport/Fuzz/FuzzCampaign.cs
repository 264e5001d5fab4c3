using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace EdgeBuild.Tests.Support.Fuzz;

/// <summary>A failure class: the first mutant that showed it (its repro) and how many did.</summary>
public sealed record FuzzFailureClass(string Key, FuzzOutcome First, Mutant Mutant, int Count);

/// <summary>The totals of a campaign.</summary>
public sealed class FuzzSummary
{
    public int Seed { get; init; }
    public long Mutants { get; set; }
    public TimeSpan Time { get; set; }
    public Dictionary<string, long> DeepestStage { get; } = [];
    public Dictionary<string, TimeSpan> StageTime { get; } = [];
    public Dictionary<string, long> Codes { get; } = [];
    public long Passed { get; set; }
    public long Rejected { get; set; }
    public long Failures { get; set; }
    public TimeSpan Slowest { get; set; }
    public long SlowestIndex { get; set; }
    public long PeakBytes { get; set; }
    public List<FuzzFailureClass> Classes { get; } = [];

    public string Report(string reproCommand)
    {
        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture, $"fuzz: seed {Seed}, {Mutants} mutants in {Time.TotalSeconds:F1} s ({Mutants / Math.Max(Time.TotalSeconds, 1e-9):F0}/s); ");
        s.Append(CultureInfo.InvariantCulture, $"{Passed} went through, {Rejected} refused with an EB error, {Failures} failed ({Classes.Count} classes); ");
        s.Append(CultureInfo.InvariantCulture, $"slowest mutant {SlowestIndex} {Slowest.TotalMilliseconds:F0} ms; largest RSS growth {PeakBytes >> 20} MiB\n");
        s.Append("  last stage run (mutants, mean ms): ").AppendJoin(", ", DeepestStage.OrderByDescending(kv => kv.Value)
            .Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value} ({StageTime[kv.Key].TotalMilliseconds / kv.Value:F1})"))).Append('\n');
        s.Append("  EB codes: ").AppendJoin(", ", Codes.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value}")).Append('\n');
        foreach (var c in Classes)
        {
            s.Append(CultureInfo.InvariantCulture, $"FAIL [{c.Count}x] {c.Key}\n");
            s.Append(CultureInfo.InvariantCulture, $"  first: mutant {c.First.Index} of seed model '{c.Mutant.Seed}': {c.Mutant.Description}\n");
            s.Append(CultureInfo.InvariantCulture, $"  repro: {reproCommand} --seed {Seed} --only {c.First.Index}\n");
            s.Append("  ").Append((c.First.Failure ?? "").Replace("\n", "\n  ")).Append('\n');
        }
        return s.ToString();
    }
}

/// <summary>
/// Makes and runs mutants <c>first..first+count-1</c> of one seed, or until a time budget runs out, on one runner per
/// worker thread (mutant k goes to worker k mod workers, so the set of mutants does not depend on the workers).
/// </summary>
public static class FuzzCampaign
{
    public static FuzzSummary Run(Mutator mutator, Func<FuzzRunner> newRunner, int seed, long count, TimeSpan? budget = null, long first = 0,
        Action<string>? log = null, string? saveFailuresTo = null, int workers = 1)
    {
        var summary = new FuzzSummary { Seed = seed };
        var classes = new Dictionary<string, FuzzFailureClass>(StringComparer.Ordinal);
        var total = Stopwatch.StartNew();
        bool stop = false;
        long next = first - 1;
        void Work()
        {
            using var runner = newRunner();
            while (!Volatile.Read(ref stop))
            {
                long i = Interlocked.Increment(ref next);
                if (i >= first + count || (budget is { } b && total.Elapsed > b)) return;
                var mutant = mutator.Make(seed, i);
                var outcome = runner.Run(i, mutant);
                lock (summary) Record(i, mutant, outcome);
            }
        }
        void Record(long i, Mutant mutant, FuzzOutcome outcome)
        {
            summary.Mutants++;
            summary.DeepestStage[outcome.Stage] = summary.DeepestStage.GetValueOrDefault(outcome.Stage) + 1;
            summary.StageTime[outcome.Stage] = summary.StageTime.GetValueOrDefault(outcome.Stage) + outcome.Time;
            if (outcome.Code is { } code) summary.Codes[code] = summary.Codes.GetValueOrDefault(code) + 1;
            if (outcome.Time > summary.Slowest) { summary.Slowest = outcome.Time; summary.SlowestIndex = i; }
            summary.PeakBytes = Math.Max(summary.PeakBytes, outcome.PeakBytes);
            switch (outcome.Verdict)
            {
                case FuzzVerdict.Passed: summary.Passed++; break;
                case FuzzVerdict.Rejected: summary.Rejected++; break;
                default:
                    summary.Failures++;
                    string key = outcome.FailureKey ?? outcome.Verdict.ToString();
                    if (classes.TryGetValue(key, out var c)) classes[key] = c with { Count = c.Count + 1 };
                    else
                    {
                        classes[key] = new FuzzFailureClass(key, outcome, mutant, 1);
                        log?.Invoke($"new failure class at mutant {i}: {key} ({mutant.Seed}: {mutant.Description})");
                        if (saveFailuresTo is not null)
                        {
                            Directory.CreateDirectory(saveFailuresTo);
                            File.WriteAllBytes(Path.Combine(saveFailuresTo, $"seed{seed}-mutant{i}.onnx"), mutant.Bytes);
                        }
                    }
                    // A hung mutant's thread that did not stop would skew everything after it: stop here.
                    if (outcome.Verdict == FuzzVerdict.Hung && outcome.Failure?.Contains(FuzzRunner.LeftRunning, StringComparison.Ordinal) == true) Volatile.Write(ref stop, true);
                    break;
            }
            if (log is not null && summary.Mutants % 5000 == 0)
                log($"{summary.Mutants} mutants, {total.Elapsed.TotalSeconds:F0} s, {summary.Failures} failures in {classes.Count} classes");
        }
        var threads = Enumerable.Range(0, Math.Max(1, workers)).Select(k => new Thread(Work, 16 << 20) { IsBackground = true, Name = $"fuzz worker {k}" }).ToList();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        summary.Time = total.Elapsed;
        summary.Classes.AddRange(classes.Values.OrderByDescending(c => c.Count));
        return summary;
    }
}
