using System.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.RealModels;

/// <summary>
/// The ten pinned real models, optimized by the default pipeline, against their originals in ONNX Runtime
/// on 20 real photos each: per output, the max abs error over the photos &lt;= 1e-4 x the max |output| over
/// the photos, and the same argmax for classifiers. (Per output and over the set, not per photo: a text
/// detector's map for a photo without text is all near 0, where 1e-4 of it is below float rounding noise.)
/// </summary>
public class RealModelOptimizationTests(ITestOutputHelper output)
{
    public const int PhotosPerModel = 20;

    public static TheoryData<string> ModelIds => new(RealModelSpec.All.Select(s => s.Id));

    [SkippableTheory]
    [MemberData(nameof(ModelIds))]
    public void OptimizedModelMatchesOriginal(string id) => OptimizeAndCompare(id, new OptimizeOptions { VerifyAfterEachPass = true }, PhotosPerModel);

    /// <summary>The same with the opset raised to 13 first (as later targets need): conversion must not change results.</summary>
    [SkippableTheory]
    [MemberData(nameof(ModelIds))]
    public void ConvertedToOpset13MatchesOriginal(string id)
    {
        OptimizeAndCompare(id, new OptimizeOptions { TargetOpset = 13 }, 5, m => Assert.Equal(13, m.DefaultOpset));
    }

    private void OptimizeAndCompare(string id, OptimizeOptions optimizeOptions, int photoCount, Action<Model>? check = null)
    {
        string data = TestData.Require();
        var spec = RealModelSpec.Get(id);
        string path = TestData.Model(id);
        byte[] original = File.ReadAllBytes(path);

        var model = OnnxImporter.Load(path);
        int before = model.Graph.Nodes.Count;
        var clock = Stopwatch.StartNew();
        var report = OptimizationPipeline.Run(model, optimizeOptions);
        clock.Stop();
        check?.Invoke(model);
        Assert.Empty(GraphVerifier.Verify(model.Graph));
        byte[] optimized = OnnxExporter.ToBytes(model);
        Assert.Equal(optimized, OnnxExporter.ToBytes(OnnxImporter.Parse(optimized))); // what we write reads back to the same bytes

        using var options = Ort.Options();
        using var reference = new InferenceSession(original, options);
        using var candidate = new InferenceSession(optimized, options);

        var photos = spec.Photos(data, photoCount);
        Assert.Equal(photoCount, photos.Count);
        var maxOut = new Dictionary<string, double>();
        var maxDiff = new Dictionary<string, (double Diff, string Photo)>();
        foreach (var (photo, inputs) in photos.Zip(new RealModelSamples(spec, photos, data).Samples()))
        {
            var expected = Ort.Run(reference, inputs);
            var actual = Ort.Run(candidate, inputs);
            Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
            foreach (var k in expected.Keys)
            {
                maxOut[k] = Math.Max(maxOut.GetValueOrDefault(k), Ort.MaxAbs(expected[k]));
                double diff = Ort.MaxAbsDiff(expected[k], actual[k]);
                if (diff >= maxDiff.GetValueOrDefault(k).Diff) maxDiff[k] = (diff, Path.GetFileName(photo));
            }
            if (spec.IsClassifier)
                foreach (var k in expected.Keys)
                    Assert.Equal(ArgMax(expected[k]), ArgMax(actual[k]));
        }
        double worstRatio = 0;
        foreach (var (k, (diff, where)) in maxDiff)
        {
            Assert.True(diff <= 1e-4 * maxOut[k], $"{id} output '{k}': max abs diff {diff:G3} (on {where}) > 1e-4 x max |output| {maxOut[k]:G3}");
            worstRatio = Math.Max(worstRatio, diff / Math.Max(maxOut[k], 1e-30));
        }
        output.WriteLine($"{id}: nodes {before} -> {model.Graph.Nodes.Count}, optimize {clock.ElapsedMilliseconds} ms, worst max|diff|/max|out| {worstRatio:G3} over {photos.Count} photos");
        foreach (var p in report.Passes.Where(p => p.Counters.Count > 0)) output.WriteLine($"  {p.Name}: {p.Summary}");
    }

    private static int ArgMax(Tensor t)
    {
        var v = t.ToFloats();
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
