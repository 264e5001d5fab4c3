using System.Text.Json;
using EdgeBuild.Passes;
using Microsoft.ML.OnnxRuntime;
using Tensor = EdgeBuild.Ir.Tensor;
using EdgeBuild.Onnx;

namespace EdgeBuild.Measure;

/// <summary>One node of the graph ONNX Runtime ran (after its own fusions): its name, kernel, provider and median kernel time per run in µs.</summary>
public sealed record NodeTime(string Node, string OpType, string Provider, double Microseconds);

/// <summary>
/// Per-node kernel times from ONNX Runtime's own profiler (SessionOptions.EnableProfiling: one "Node" event per kernel
/// run, "NAME_kernel_time" with its duration in microseconds), on one thread with full graph optimizations, so the
/// nodes are the ones the artifact really runs: fused Conv+activation, QLinearConv from Q/DQ groups, lone
/// QuantizeLinear/DequantizeLinear where a boundary was not fused away.
/// </summary>
public static class NodeProfile
{
    /// <summary>Fewest profiled runs of a slow model: the median per node still stands on a majority of 4 runs.</summary>
    public const int MinRuns = 7;

    /// <summary>Profiled time a model gets before its runs are cut toward <see cref="MinRuns"/>.</summary>
    public static readonly TimeSpan RunTime = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Runs <paramref name="model"/> up to <paramref name="runs"/> times on <paramref name="feed"/> (after warm-up runs that
    /// are not counted) and returns each node's median time per run. A model whose run takes long gets as many runs as
    /// fit in <see cref="RunTime"/>, never fewer than <see cref="MinRuns"/>: a per-node median needs a few runs, not twenty
    /// quarter-second ones.
    /// </summary>
    public static IReadOnlyList<NodeTime> Measure(byte[] model, IReadOnlyDictionary<string, Tensor> feed, int runs = 20)
    {
        string directory = Directory.CreateTempSubdirectory("edgebuild-profile-").FullName;
        try
        {
            using var options = ProfilingOptions(directory);
            using var session = new InferenceSession(model, options);
            var names = session.InputNames.ToList();
            var values = names.Select(n => OrtTensors.ToOrtValue(feed[n])).ToList();
            using var runOptions = new RunOptions();
            // The first runs allocate the arena and page in weights; they are profiled too and skipped when parsing.
            const int Warmup = 3;
            try
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                for (int i = 0; i < Warmup; i++)
                {
                    clock.Restart();
                    Run(session, runOptions, names, values);
                }
                double lastWarmup = clock.Elapsed.TotalSeconds;
                if (lastWarmup > 0) runs = Math.Min(runs, Math.Max(MinRuns, (int)Math.Ceiling(RunTime.TotalSeconds / lastWarmup)));
                for (int i = 0; i < runs; i++) Run(session, runOptions, names, values);
                string file = session.EndProfiling();
                return Parse(File.ReadAllText(file), Warmup);
            }
            finally
            {
                foreach (var v in values) v.Dispose();
            }
        }
        finally
        {
            try { Directory.Delete(directory, recursive: true); }
            catch (IOException) { }
        }
    }

    private static SessionOptions ProfilingOptions(string directory)
    {
        // The measurement's own session settings, so the profiled kernels are the ones the artifact runs.
        var o = ModelBenchmark.SessionOptionsFor(new BenchOptions { Threads = 1 }, "Cpu");
        // The prefix first: setting EnableProfiling hands ONNX Runtime the prefix it holds at that moment.
        o.ProfileOutputPathPrefix = Path.Combine(directory, "ort");
        o.EnableProfiling = true;
        return o;
    }

    private static void Run(InferenceSession session, RunOptions runOptions, List<string> names, List<OrtValue> values)
    {
        using var outputs = session.Run(runOptions, names, values, session.OutputNames);
    }

    /// <summary>
    /// Median per-run kernel time per node over the profiled runs after the first <paramref name="skipRuns"/>: the profiler's
    /// durations are wall time, and on a shared machine a run preempted inside one kernel must not make that layer look slow.
    /// </summary>
    internal static IReadOnlyList<NodeTime> Parse(string json, int skipRuns)
    {
        using var document = JsonDocument.Parse(json);
        var perRun = new Dictionary<string, (string Op, string Provider, Dictionary<int, double> Runs)>(StringComparer.Ordinal);
        var order = new List<string>();
        // A run's node events come before the "model_run" event that closes it.
        int run = 0;
        foreach (var e in document.RootElement.EnumerateArray())
        {
            string cat = e.TryGetProperty("cat", out var c) ? c.GetString() ?? "" : "";
            string name = e.TryGetProperty("name", out var n) ? n.GetString() ?? "" : "";
            if (cat == "Session" && name == "model_run") { run++; continue; }
            if (cat != "Node" || !name.EndsWith("_kernel_time", StringComparison.Ordinal) || run < skipRuns) continue;
            string node = name[..^"_kernel_time".Length];
            double dur = e.TryGetProperty("dur", out var d) ? d.GetDouble() : 0;
            if (!perRun.TryGetValue(node, out var entry))
            {
                string op = "", provider = "";
                if (e.TryGetProperty("args", out var args))
                {
                    op = args.TryGetProperty("op_name", out var o) ? o.GetString() ?? "" : "";
                    provider = args.TryGetProperty("provider", out var p) ? p.GetString() ?? "" : "";
                }
                entry = (op, provider, []);
                perRun[node] = entry;
                order.Add(node);
            }
            entry.Runs[run] = entry.Runs.GetValueOrDefault(run) + dur;
        }
        return order.Select(k => new NodeTime(k, perRun[k].Op, perRun[k].Provider, Quantiles.Of(perRun[k].Runs.Values.Order().ToList(), 0.5).Value)).ToList();
    }
}
