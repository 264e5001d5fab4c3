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
    /// <summary>
    /// Fewest profiled runs of a slow model: the median per node stands on a majority of 3 runs, and the variants a
    /// search compares are profiled in turn, so a change of load moves them alike.
    /// </summary>
    public const int MinRuns = 5;

    /// <summary>A run this long or longer needs one warm-up run only.</summary>
    public static readonly TimeSpan SlowRun = TimeSpan.FromSeconds(0.1);

    /// <summary>Profiled time a model gets before its runs are cut toward <see cref="MinRuns"/>.</summary>
    public static readonly TimeSpan RunTime = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Runs <paramref name="model"/> up to <paramref name="runs"/> times on <paramref name="feed"/> (after warm-up runs that
    /// are not counted) and returns each node's median time per run. A model whose run takes long gets as many runs as
    /// fit in <see cref="RunTime"/>, never fewer than <see cref="MinRuns"/>: a per-node median needs a few runs, not twenty
    /// quarter-second ones.
    /// </summary>
    public static IReadOnlyList<NodeTime> Measure(byte[] model, IReadOnlyDictionary<string, Tensor> feed, int runs = 20) =>
        Measure([model], feed, runs)[0];

    /// <summary>
    /// Profiles several models of the same inputs run by run in turn (A, B, C, A, B, C, ...), each in its own session,
    /// so a change of machine load during the profiles slows them all alike: per-node times of different models are then
    /// compared on equal terms (a search that compares a layer's float kernel with its int8 one must not see the
    /// machine's load instead). Runs as <see cref="Measure(byte[], IReadOnlyDictionary{string, Tensor}, int)"/>, the
    /// slowest model setting the count; one result per model, in order.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<NodeTime>> Measure(IReadOnlyList<byte[]> models, IReadOnlyDictionary<string, Tensor> feed, int runs = 20)
    {
        ArgumentOutOfRangeException.ThrowIfZero(models.Count);
        var directories = new List<string>();
        var profiled = new List<(SessionOptions Options, InferenceSession Session, List<string> Names, List<OrtValue> Values)>();
        try
        {
            foreach (var model in models)
            {
                string directory = Directory.CreateTempSubdirectory("edgebuild-profile-").FullName;
                directories.Add(directory);
                var options = ProfilingOptions(directory);
                InferenceSession session;
                try
                {
                    session = new InferenceSession(model, options);
                }
                catch
                {
                    options.Dispose();
                    throw;
                }
                var names = session.InputNames.ToList();
                profiled.Add((options, session, names, names.Select(n => OrtTensors.ToOrtValue(feed[n])).ToList()));
            }
            using var runOptions = new RunOptions();
            // The first runs allocate the arena and page in weights; they are profiled too and skipped when parsing.
            // A slow model is warm after one (its first run's setup is a small part of it); a fast one gets three.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            double slowest = 0;
            int warmup = 0;
            for (int i = 0; i < 3 && (i == 0 || slowest < SlowRun.TotalSeconds); i++)
            {
                slowest = 0;
                foreach (var p in profiled)
                {
                    clock.Restart();
                    Run(p.Session, runOptions, p.Names, p.Values);
                    slowest = Math.Max(slowest, clock.Elapsed.TotalSeconds);
                }
                warmup++;
            }
            if (slowest > 0) runs = Math.Min(runs, Math.Max(MinRuns, (int)Math.Ceiling(RunTime.TotalSeconds / slowest)));
            for (int i = 0; i < runs; i++)
                foreach (var p in profiled) Run(p.Session, runOptions, p.Names, p.Values);
            return profiled.Select(p => Parse(File.ReadAllText(p.Session.EndProfiling()), warmup)).ToList();
        }
        finally
        {
            foreach (var p in profiled)
            {
                foreach (var v in p.Values) v.Dispose();
                p.Session.Dispose();
                p.Options.Dispose();
            }
            foreach (var directory in directories)
            {
                try { Directory.Delete(directory, recursive: true); }
                catch (IOException) { }
            }
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
