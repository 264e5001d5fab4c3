using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.RealModels;

/// <summary>
/// Our default pipeline against ONNX Runtime's basic optimizer (ORT_ENABLE_BASIC, its optimized model written with
/// SessionOptions.OptimizedModelFilePath) on the real models: nodes left by each, counted with the nodes inside
/// If/Loop bodies, and the optimized model's outputs against the original's in ONNX Runtime (max |diff| &lt;= 1e-4 x
/// max |output| per output). Inputs are made from the declared inputs (seeded noise, token ids, a 16 kHz or 8 kHz sample
/// rate); recurrent models run several frames with their state fed back, so a wrong LSTM shows up in later frames.
/// The second set of models (MODELS-zoo.md) comes from the same pinned restore as the first.
/// </summary>
public class OptimizerAgainstOrtBasicTests(ITestOutputHelper output)
{
    /// <summary>Models of MODELS-zoo.md, with the inputs their symbolic dims get and the state outputs fed back as inputs.</summary>
    private static readonly Dictionary<string, (Dictionary<string, long[]> Dims, Dictionary<string, string> Carry)> Zoo = new()
    {
        ["text-minilm-l6"] = (new() { ["input_ids"] = [1, 16], ["attention_mask"] = [1, 16], ["token_type_ids"] = [1, 16] }, []),
        ["vad-silero-v4"] = (new() { ["input"] = [1, 512], ["h"] = [2, 1, 64], ["c"] = [2, 1, 64] }, new() { ["hn"] = "h", ["cn"] = "c" }),
        ["vad-silero-v5"] = (new() { ["input"] = [1, 512], ["state"] = [2, 1, 128] }, new() { ["stateN"] = "state" }),
        ["kws-oww-melspec"] = (new() { ["input"] = [1, 4000] }, []),
        ["kws-oww-embedding"] = (new() { ["input_1"] = [1, 76, 32, 1] }, []),
        ["face-age-ssrnet"] = ([], []),
        ["face-liveness"] = ([], []),
        ["mlsd-tiny-320"] = ([], []),
        ["mlsd-large-320"] = ([], []),
    };

    private const int Frames = 4;

    public static TheoryData<string> ModelIds => new(RealModelSpec.All.Select(s => s.Id).Concat(Zoo.Keys));

    [SkippableTheory]
    [MemberData(nameof(ModelIds))]
    public void FewerOrEqualNodesThanOrtBasicAndSameOutputs(string id)
    {
        string path = Locate(id);
        var model = OnnxImporter.Load(path);
        int original = OptimizationPipeline.NodeCount(model);
        OptimizationPipeline.Run(model, new OptimizeOptions { VerifyAfterEachPass = true });
        Assert.Empty(GraphVerifier.Verify(model.Graph));
        int ours = OptimizationPipeline.NodeCount(model);
        if (Environment.GetEnvironmentVariable("EDGEBUILD_DUMP") is { Length: > 0 } dump) File.WriteAllText(Path.Combine(dump, id + ".txt"), GraphPrinter.Print(model));
        byte[] optimized = OnnxExporter.ToBytes(model);

        string ortPath = Path.Combine(Path.GetTempPath(), $"edgebuild-ortbasic-{Environment.ProcessId}-{id}.onnx");
        int ortBasic;
        string differences;
        try
        {
            using (var basic = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC, OptimizedModelFilePath = ortPath, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR })
            using (new InferenceSession(path, basic)) { }
            var ortModel = OnnxImporter.Load(ortPath);
            ortBasic = OptimizationPipeline.NodeCount(ortModel);
            differences = OpDifferences(model, ortModel);
        }
        finally
        {
            File.Delete(ortPath);
        }

        using var options = Ort.Options(optimize: false);
        using var reference = new InferenceSession(path, options);
        using var candidate = new InferenceSession(optimized, options);
        var zoo = Zoo.GetValueOrDefault(id);
        double worst = 0;
        string worstAt = "";
        foreach (var inputs in InputSets(model, zoo.Dims ?? []))
        {
            var feedReference = new Dictionary<string, Tensor>(inputs);
            var feedCandidate = new Dictionary<string, Tensor>(inputs);
            for (int frame = 0; frame < (zoo.Carry is { Count: > 0 } ? Frames : 1); frame++)
            {
                var expected = Ort.Run(reference, feedReference);
                var actual = Ort.Run(candidate, feedCandidate);
                Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
                foreach (var (name, e) in expected)
                {
                    double ratio = Ort.MaxAbsDiff(e, actual[name]) / Math.Max(Ort.MaxAbs(e), 1e-30);
                    Assert.True(ratio <= 1e-4 || Ort.MaxAbsDiff(e, actual[name]) <= 1e-6, $"{id} output '{name}' frame {frame}: max |diff| / max |output| = {ratio:G3}");
                    if (ratio >= worst) worstAt = $"'{name}' frame {frame}: |diff| {Ort.MaxAbsDiff(e, actual[name]):G3}, max |output| {Ort.MaxAbs(e):G3}";
                    worst = Math.Max(worst, ratio);
                }
                // Each model is fed its own state: a wrong recurrent rewrite drifts further frame by frame.
                foreach (var (from, to) in zoo.Carry ?? [])
                {
                    feedReference[to] = expected[from];
                    feedCandidate[to] = actual[from];
                }
                var next = ModelBuilder.RandomInput(inputs.Values.First().Dims, seed: 100 + frame);
                string first = inputs.Keys.First();
                if (inputs[first].ElementType == DataType.Float) feedReference[first] = feedCandidate[first] = next;
            }
        }
        output.WriteLine($"{id}: nodes original {original}, ours {ours}, ONNX Runtime basic {ortBasic}; worst max|diff|/max|out| {worst:G3} ({worstAt})");
        if (differences.Length > 0) output.WriteLine($"  op counts that differ (ours/ONNX Runtime): {differences}");
        Assert.True(ours <= ortBasic, $"{id}: {ours} nodes after our pipeline, {ortBasic} after ONNX Runtime's basic optimizer");
    }

    private static string OpDifferences(Model ours, Model theirs)
    {
        var a = ours.Graph.AllNodes().GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
        var b = theirs.Graph.AllNodes().GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
        return string.Join(", ", a.Keys.Union(b.Keys).Order(StringComparer.Ordinal)
            .Where(k => a.GetValueOrDefault(k) != b.GetValueOrDefault(k)).Select(k => $"{k} {a.GetValueOrDefault(k)}/{b.GetValueOrDefault(k)}"));
    }

    /// <summary>Both sets are in the project's pinned restore (build/fetch-testdata.sh), so every model is there or restored.</summary>
    private static string Locate(string id) => TestData.Model(id);

    /// <summary>One input set, and for a model with a sample-rate input one per rate (16 kHz and 8 kHz take different branches).</summary>
    private static IEnumerable<Dictionary<string, Tensor>> InputSets(Model model, Dictionary<string, long[]> dims)
    {
        var rates = model.Graph.Inputs.Any(i => i.Name == "sr") ? new long[] { 16000, 8000 } : [0];
        foreach (long rate in rates)
        {
            var inputs = new Dictionary<string, Tensor>();
            int seed = 1;
            foreach (var input in model.Graph.Inputs.Where(i => i.Initializer is null))
            {
                var type = input.TensorType ?? throw new InvalidOperationException($"input '{input.Name}' is not a tensor");
                long[] shape = dims.GetValueOrDefault(input.Name) ?? type.Shape!.Dims.Select(d => d.Value ?? 1).ToArray();
                // Silero takes 512-sample chunks at 16 kHz, 256 at 8 kHz.
                if (rate == 8000 && input.Name == "input") shape = [shape[0], shape[1] / 2];
                inputs[input.Name] = (type.ElementType, input.Name) switch
                {
                    (DataType.Int64, "sr") => Tensor.FromInt64s(shape, [rate]),
                    (DataType.Int64, "attention_mask") => Tensor.FromInt64s(shape, Enumerable.Repeat(1L, (int)Tensor.CountElements(shape)).ToArray()),
                    (DataType.Int64, "token_type_ids") => Tensor.FromInt64s(shape, new long[Tensor.CountElements(shape)]),
                    (DataType.Int64, _) => Tensor.FromInt64s(shape, Tokens(shape, seed++)),
                    (DataType.Float, _) => ModelBuilder.RandomInput(shape, seed++),
                    _ => throw new InvalidOperationException($"input '{input.Name}' of type {type.ElementType} has no generator"),
                };
            }
            yield return inputs;
        }
    }

    /// <summary>Token ids of the ordinary vocabulary range (BERT's [CLS] 101 first).</summary>
    private static long[] Tokens(long[] shape, int seed)
    {
        var r = new Random(seed);
        var ids = new long[Tensor.CountElements(shape)];
        for (int i = 0; i < ids.Length; i++) ids[i] = i == 0 ? 101 : r.Next(1000, 20000);
        return ids;
    }
}
