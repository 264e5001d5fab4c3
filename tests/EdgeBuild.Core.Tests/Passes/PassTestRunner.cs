using EdgeBuild.Ir;
using EdgeBuild.Passes;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Passes;

/// <summary>
/// The pattern of every pass test (after ONNX Runtime's graph_transform_test_builder): build a graph in
/// code, run it in ONNX Runtime, optimize it (verifier after each pass), run it again, compare outputs,
/// then let the test assert structure by counting ops.
/// </summary>
internal static class PassTestRunner
{
    public static OptimizationReport OptimizeAndCompare(ModelBuilder b, IReadOnlyDictionary<string, Tensor> inputs, IEnumerable<string>? passes = null, double relative = 1e-5)
    {
        Assert.Empty(GraphVerifier.Verify(b.Graph));
        // ONNX Runtime's own optimizer is off for both runs: the test is about our rewrite, not theirs.
        var before = Ort.Run(b.Model, inputs, optimize: false);
        var selected = passes is null ? OptimizationPipeline.DefaultPasses : OptimizationPipeline.Select(passes);
        var report = OptimizationPipeline.Run(b.Model, new OptimizeOptions { VerifyAfterEachPass = true }, selected);
        Assert.Empty(GraphVerifier.Verify(b.Graph));
        var after = Ort.Run(b.Model, inputs, optimize: false);
        Ort.AssertClose(before, after, relative);
        return report;
    }

    /// <summary>The same over several input sets (each branch of an If): all run before, all after.</summary>
    public static OptimizationReport OptimizeAndCompareEach(ModelBuilder b, IReadOnlyList<IReadOnlyDictionary<string, Tensor>> inputSets, IEnumerable<string>? passes = null, double relative = 1e-5)
    {
        Assert.Empty(GraphVerifier.Verify(b.Graph));
        var before = inputSets.Select(inputs => Ort.Run(b.Model, inputs, optimize: false)).ToList();
        var selected = passes is null ? OptimizationPipeline.DefaultPasses : OptimizationPipeline.Select(passes);
        var report = OptimizationPipeline.Run(b.Model, new OptimizeOptions { VerifyAfterEachPass = true }, selected);
        Assert.Empty(GraphVerifier.Verify(b.Graph));
        for (int i = 0; i < inputSets.Count; i++) Ort.AssertClose(before[i], Ort.Run(b.Model, inputSets[i], optimize: false), relative);
        return report;
    }

    /// <summary>A bool scalar (an If condition).</summary>
    public static Tensor Bool(bool value) => Tensor.FromRaw(DataType.Bool, [], [(byte)(value ? 1 : 0)]);

    public static int Count(Model model, string opType) => model.Graph.Nodes.Count(n => n.OpType == opType);

    public static long Counter(OptimizationReport report, string pass, string counter) =>
        report.Passes.Single(p => p.Name == pass).Counters.Where(c => c.Key == counter).Sum(c => c.Value);

    public static Dictionary<string, Tensor> Input(string name, params long[] dims) => new() { [name] = ModelBuilder.RandomInput(dims) };
}
