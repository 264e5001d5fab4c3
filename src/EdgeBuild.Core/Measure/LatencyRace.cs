using System.Diagnostics;
using System.Globalization;
using EdgeBuild.Passes;
using Microsoft.ML.OnnxRuntime;
using Tensor = EdgeBuild.Ir.Tensor;
using EdgeBuild.Onnx;

namespace EdgeBuild.Measure;

/// <summary>One contestant's figures: its median latency and its paired ratio to the first contestant with a 95 % interval.</summary>
public sealed record RaceResult(string Name, double P50Ms, double Ratio, double RatioLow, double RatioHigh)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} P50 {P50Ms:F3} ms, {Ratio:F3}x [{RatioLow:F3}, {RatioHigh:F3}]");
}

/// <summary>What a race measured and how: the figures per contestant, the A/A noise band, the clock and the run count.</summary>
public sealed record RaceReport(IReadOnlyList<RaceResult> Results, string Clock, int Rounds, double NoiseLow, double NoiseHigh, string Shapes)
{
    /// <summary>
    /// The ratio a contestant's whole interval must stay under to be faster than the reference beyond the noise: 1 less
    /// the A/A band's larger deviation from 1. Two sessions of one model differ by that much (arena placement, caches),
    /// so a candidate within it may be slower in the next process: a 0.7 ms landmark model raced 0.98x [0.98, 0.99]
    /// against an A/A band of [0.983, 1.000] in one race and 1.015x [1.008, 1.021] in the next.
    /// </summary>
    public double FasterBelow => 1 - Math.Max(1 - NoiseLow, NoiseHigh - 1);

    /// <summary>The ratio a contestant's whole interval must stay over to be slower than the reference beyond the noise: <see cref="FasterBelow"/> mirrored over 1.</summary>
    public double SlowerAbove => 1 + Math.Max(1 - NoiseLow, NoiseHigh - 1);

    /// <summary>"1 thread, thread CPU clock, 120 interleaved rounds, input x=1x3x224x224, A/A band [0.98, 1.02]".</summary>
    public string Conditions => string.Create(CultureInfo.InvariantCulture,
        $"ONNX Runtime CPU, 1 thread, {Clock}, {Rounds} interleaved rounds, input {Shapes}, A/A band [{NoiseLow:F3}, {NoiseHigh:F3}]");
}

/// <summary>
/// Several in-memory models timed against each other on one input, round by round in rotating order on one thread
/// (ONNX Runtime CPU, one intra-op thread, full graph optimizations: what the artifact gets at run time), so every
/// contestant sees the same machine load. The first contestant is the reference; it also runs in two more sessions,
/// whose ratios to the first make the A/A noise band a real difference has to leave. Ratios are paired per round and their
/// median's 95 % interval is distribution-free (<see cref="Quantiles"/>).
/// </summary>
public static class LatencyRace
{
    /// <summary>
    /// Extra sessions of the reference: each one's ratio to the first is an A/A pair. Sessions of one model differ by up
    /// to a few percent (arena placement, caches), and one pair is one draw of that difference; two make the band a
    /// candidate must clear (<see cref="RaceReport.FasterBelow"/>) less likely to be the lucky one.
    /// </summary>
    public const int AaSessions = 2;

    /// <summary>Races <paramref name="models"/> (the first is the reference) on <paramref name="feed"/> for about <paramref name="seconds"/>.</summary>
    public static RaceReport Run(IReadOnlyList<(string Name, byte[] Model)> models, IReadOnlyDictionary<string, Tensor> feed, double seconds = 4, int minRounds = 30)
    {
        if (models.Count == 0) throw new ArgumentException("nothing to race", nameof(models));
        // The measurement's own session settings: what `bench` and the build's latency figures run under.
        using var options = ModelBenchmark.SessionOptionsFor(new BenchOptions { Threads = 1 }, "Cpu");
        // The reference in two more sessions, each an A/A pair with the first: two draws of how far sessions of one model differ.
        var entries = models.Append((Name: models[0].Name + " (A/A)", models[0].Model)).Append((Name: models[0].Name + " (A/A 2)", models[0].Model)).ToList();
        var contestants = new List<Contestant>();
        try
        {
            foreach (var (name, bytes) in entries) contestants.Add(new Contestant(name, bytes, options, feed));
            foreach (var c in contestants) { c.Run(); c.Run(); }

            bool cpu = ThreadCpuClock.Available;
            var times = contestants.Select(_ => new List<double>()).ToList();
            var clock = Stopwatch.StartNew();
            int rounds = 0;
            while (rounds < minRounds || (clock.Elapsed.TotalSeconds < seconds && rounds < 100_000))
            {
                for (int k = 0; k < contestants.Count; k++)
                {
                    int i = (k + rounds) % contestants.Count;
                    long c0 = cpu ? ThreadCpuClock.NowNanoseconds() : 0;
                    long t0 = Stopwatch.GetTimestamp();
                    contestants[i].Run();
                    times[i].Add(cpu ? (ThreadCpuClock.NowNanoseconds() - c0) / 1e6 : Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }
                rounds++;
            }
            var results = new List<RaceResult>();
            for (int i = 0; i < contestants.Count; i++)
            {
                var ratio = Quantiles.Of(times[i].Zip(times[0], (a, b) => a / b).Order().ToList(), 0.5);
                results.Add(new RaceResult(contestants[i].Name, Quantiles.Of(times[i].Order().ToList(), 0.5).Value, ratio.Value, ratio.Low, ratio.High));
            }
            var aa = results.GetRange(results.Count - AaSessions, AaSessions);
            results.RemoveRange(results.Count - AaSessions, AaSessions);
            // The A/A pairs: the band spans their intervals, widened to hold 1.
            return new RaceReport(results, cpu ? "thread CPU clock" : "wall clock", rounds, Math.Min(aa.Min(a => a.RatioLow), 1), Math.Max(aa.Max(a => a.RatioHigh), 1), contestants[0].Shapes);
        }
        finally
        {
            foreach (var c in contestants) c.Dispose();
        }
    }

    private sealed class Contestant : IDisposable
    {
        private readonly InferenceSession session;
        private readonly OrtIoBinding binding;
        private readonly RunOptions runOptions = new();
        private readonly List<OrtValue> inputs = [];

        public Contestant(string name, byte[] bytes, SessionOptions options, IReadOnlyDictionary<string, Tensor> feed)
        {
            Name = name;
            session = new InferenceSession(bytes, options);
            binding = session.CreateIoBinding();
            var shapes = new List<string>();
            foreach (var input in session.InputNames)
            {
                if (!feed.TryGetValue(input, out var tensor)) throw new ArgumentException($"the feed has no input '{input}'", nameof(feed));
                var value = OrtTensors.ToOrtValue(tensor);
                inputs.Add(value);
                binding.BindInput(input, value);
                shapes.Add($"{input}={string.Join("x", tensor.Dims)}");
            }
            Shapes = string.Join(", ", shapes);
            foreach (var output in session.OutputNames) binding.BindOutputToDevice(output, OrtMemoryInfo.DefaultInstance);
        }

        public string Name { get; }
        public string Shapes { get; }

        public void Run() => session.RunWithBinding(runOptions, binding);

        public void Dispose()
        {
            binding.Dispose();
            runOptions.Dispose();
            foreach (var v in inputs) v.Dispose();
            session.Dispose();
        }
    }
}
