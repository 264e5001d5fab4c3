using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using A = EdgeBuild.Ir.Attribute;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Benchmarks;

/// <summary>
/// The LayerNorm and GELU fusions in isolation, where a whole encoder's time hides them: a BERT-base-sized stack of
/// <c>blocks</c> x (decomposed LayerNorm as PyTorch exports it, then Erf GELU) on [1, tokens, 384] at opset 20, the
/// same graph after layer-norm-fusion and gelu-fusion, and the unfused graph loaded twice (A/A). ONNX Runtime 1 thread,
/// interleaved call by call, P50 (<c>--passes</c> picks one fusion), at ORT_ENABLE_BASIC (no fusion of its own) and ORT_ENABLE_ALL (which fuses the
/// unfused graph itself).
/// </summary>
internal static class FusionBenchmark
{
    public static int Run(int runs, int tokens, int blocks, string[] passes)
    {
        var unfused = Build(tokens, blocks);
        var model = OnnxImporter.Parse(unfused);
        OptimizationPipeline.Run(model, new OptimizeOptions(), OptimizationPipeline.Select(passes));
        byte[] fused = OnnxExporter.ToBytes(model);
        Console.WriteLine($"load average {File.ReadAllText("/proc/loadavg").Trim()}; [1,{tokens},384] x {blocks} blocks; nodes {OnnxImporter.Parse(unfused).Graph.Nodes.Count} unfused, {model.Graph.Nodes.Count} after {string.Join(", ", passes)}; {runs} runs after 20 warm-up");
        var input = new Dictionary<string, Tensor> { ["x"] = ModelBuilder.RandomInput([1, tokens, 384]) };
        foreach (var level in new[] { GraphOptimizationLevel.ORT_ENABLE_BASIC, GraphOptimizationLevel.ORT_ENABLE_ALL })
        {
            using var options = new SessionOptions { GraphOptimizationLevel = level, IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
            var sessions = new[] { unfused, fused, unfused }.Select(b => new InferenceSession(b, options)).ToArray();
            using var x = OrtTensors.ToOrtValue(input["x"]);
            var times = sessions.Select(_ => new List<double>()).ToArray();
            for (int r = 0; r < 20 + runs; r++)
                for (int k = 0; k < sessions.Length; k++)
                {
                    int i = (k + r) % sessions.Length;
                    var sw = System.Diagnostics.Stopwatch.StartNew();
                    using (var ro = new RunOptions())
                    using (sessions[i].Run(ro, ["x"], [x], sessions[i].OutputNames)) { }
                    if (r >= 20) times[i].Add(sw.Elapsed.TotalMilliseconds);
                }
            var p50 = times.Select(t => t.Order().ElementAt(t.Count / 2)).ToArray();
            Console.WriteLine($"{level}: P50 unfused {p50[0]:F4} ms, fused {p50[1]:F4} ms, fused/unfused {p50[1] / p50[0]:F3}, A/A {p50[2] / p50[0]:F3}");
            foreach (var s in sessions) s.Dispose();
        }
        return 0;
    }

    private static byte[] Build(int tokens, int blocks)
    {
        var b = new ModelBuilder(20);
        Value h = b.Input("x", 1, tokens, 384);
        for (int i = 0; i < blocks; i++)
        {
            string p = $"b{i}_";
            var mean = b.Op("ReduceMean", [h, b.ConstInts(p + "axes1", -1)], p + "mean");
            var d = b.Op("Sub", [h, mean], p + "d");
            var v = b.Op("ReduceMean", [b.Op("Pow", [d, b.Const(p + "two", [], 2f)], p + "sq"), b.ConstInts(p + "axes2", -1)], p + "var");
            var s = b.Op("Sqrt", [b.Op("Add", [v, b.Const(p + "eps", [], 1e-12f)], p + "ve")], p + "std");
            var ln = b.Op("Add", [b.Op("Mul", [b.Op("Div", [d, s], p + "n"), b.Weight(p + "gamma", [384], 0.5f, 1.5f)], p + "g"), b.Weight(p + "beta", [384])], p + "ln");
            var erf = b.Op("Erf", [b.Op("Div", [ln, b.Const(p + "sqrt2", [], 1.4142135f)], p + "scaled")], p + "erf");
            h = b.Op("Mul", [b.Op("Mul", [ln, b.Op("Add", [erf, b.Const(p + "one", [], 1f)], p + "onep")], p + "xt"), b.Const(p + "half", [], 0.5f)], p + "gelu");
        }
        b.Output(h);
        return OnnxExporter.ToBytes(b.Model);
    }
}
