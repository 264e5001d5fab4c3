using System.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.Families;

/// <summary>
/// One zoo model (../shared/testdata/MODELS-zoo.md) as it ships and after EdgeBuild's default optimization pipeline,
/// each in an ONNX Runtime session, so a family's check runs on both and compares them.
/// </summary>
public sealed class FamilyModel : IDisposable
{
    private FamilyModel(string id, byte[] original, Model optimized, OptimizationReport report, int allNodesBefore, TimeSpan optimizeTime)
    {
        Id = id;
        Original = original;
        Report = report;
        AllNodesBefore = allNodesBefore;
        AllNodesAfter = optimized.Graph.AllNodes().Count();
        OptimizeTime = optimizeTime;
        Optimized = OnnxExporter.ToBytes(optimized);
        using var options = Ort.Options();
        Reference = new InferenceSession(Original, options);
        Candidate = new InferenceSession(Optimized, options);
    }

    public string Id { get; }
    public byte[] Original { get; }
    public byte[] Optimized { get; }
    public OptimizationReport Report { get; }

    /// <summary>Nodes of the main graph and of every subgraph (If/Loop bodies), before and after.</summary>
    public int AllNodesBefore { get; }
    public int AllNodesAfter { get; }
    public TimeSpan OptimizeTime { get; }

    /// <summary>The model as it ships.</summary>
    public InferenceSession Reference { get; }

    /// <summary>The model after the pipeline.</summary>
    public InferenceSession Candidate { get; }

    /// <summary>Loads the pinned model, optimizes a copy (verifying the graph after each pass), and opens both.</summary>
    public static FamilyModel Load(string id)
    {
        string path = TestData.Model(id);
        byte[] original = File.ReadAllBytes(path);
        var model = OnnxImporter.Parse(original);
        int allBefore = model.Graph.AllNodes().Count();
        var clock = Stopwatch.StartNew();
        var report = OptimizationPipeline.Run(model, new OptimizeOptions { VerifyAfterEachPass = true });
        clock.Stop();
        Assert.Empty(GraphVerifier.Verify(model.Graph));
        return new FamilyModel(id, original, model, report, allBefore, clock.Elapsed);
    }

    /// <summary>"id: nodes 250 -> 200 with subgraphs (main graph 2 -> 2; ONNX Runtime's basic level 180), optimize 300 ms" for the test output.</summary>
    public string Summary =>
        $"{Id}: nodes {AllNodesBefore} -> {AllNodesAfter} with subgraphs (main graph {Report.NodesBefore} -> {Report.NodesAfter}; ONNX Runtime's basic optimizer leaves {OrtBasicNodes()}), optimize {OptimizeTime.TotalMilliseconds:F0} ms";

    /// <summary>Nodes (with subgraphs) of the original after ONNX Runtime's basic graph optimizations: the yardstick of issue 19.</summary>
    public int OrtBasicNodes()
    {
        string dir = Directory.CreateTempSubdirectory("edgebuild-ortbasic-").FullName;
        try
        {
            string path = Path.Combine(dir, Id + ".onnx");
            using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC, OptimizedModelFilePath = path, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR })
            using (new InferenceSession(Original, options)) { }
            return OnnxImporter.Load(path).Graph.AllNodes().Count();
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>Runs both sessions on the same inputs.</summary>
    public (Dictionary<string, Tensor> Original, Dictionary<string, Tensor> Optimized) Run(IReadOnlyDictionary<string, Tensor> inputs) =>
        (Ort.Run(Reference, inputs), Ort.Run(Candidate, inputs));

    public void Dispose()
    {
        Reference.Dispose();
        Candidate.Dispose();
    }

    /// <summary>
    /// Largest |original - optimized| over every output and every run, divided by the largest |original| of that
    /// output over the runs (the rule of RealModelOptimizationTests: per output over the set).
    /// </summary>
    public sealed class Agreement
    {
        private readonly Dictionary<string, (double Diff, double Max)> perOutput = [];

        public void Add(IReadOnlyDictionary<string, Tensor> original, IReadOnlyDictionary<string, Tensor> optimized)
        {
            Assert.Equal(original.Keys.Order(), optimized.Keys.Order());
            foreach (var (name, e) in original)
            {
                var (d, m) = perOutput.GetValueOrDefault(name);
                perOutput[name] = (Math.Max(d, Ort.MaxAbsDiff(e, optimized[name])), Math.Max(m, Ort.MaxAbs(e)));
            }
        }

        public double WorstAbsolute => perOutput.Values.Select(v => v.Diff).DefaultIfEmpty(0).Max();

        public double WorstRelative => perOutput.Values.Select(v => v.Diff / Math.Max(v.Max, 1e-30)).DefaultIfEmpty(0).Max();

        public void AssertRelative(string id, double bound)
        {
            Assert.NotEmpty(perOutput);
            foreach (var (name, (diff, max)) in perOutput)
                Assert.True(diff <= bound * max, $"{id} output '{name}': optimized differs from the original by {diff:G3} > {bound:G2} x max |output| {max:G3}");
        }
    }

    public static bool AllFinite(Tensor t) => t.ToFloats().All(float.IsFinite);
}
