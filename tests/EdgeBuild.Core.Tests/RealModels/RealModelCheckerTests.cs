using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Tests.Support;
using Xunit.Abstractions;

namespace EdgeBuild.Tests.RealModels;

/// <summary>Debian's onnx.checker, an independent validator, accepts every optimized real model we write.</summary>
public sealed class RealModelCheckerTests(ITestOutputHelper output) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-real-check-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [SkippableFact]
    public void CheckerAcceptsEveryOptimizedModel()
    {
        TestData.Require();
        OnnxChecker.Require();
        var written = new List<(string Id, string Original, string Optimized)>();
        foreach (var spec in RealModelSpec.All)
        {
            string original = TestData.Model(spec.Id);
            var model = OnnxImporter.Load(original);
            OptimizationPipeline.Run(model, new OptimizeOptions());
            string path = Path.Combine(dir, spec.Id + ".onnx");
            OnnxExporter.Save(model, path);
            written.Add((spec.Id, original, path));
        }
        var results = OnnxChecker.CheckMany(written.SelectMany(w => new[] { w.Original, w.Optimized }));
        foreach (var (id, original, optimized) in written)
        {
            string? before = results[Path.GetFullPath(original)];
            string? after = results[Path.GetFullPath(optimized)];
            output.WriteLine($"{id}: original {before ?? "accepted"}; optimized {after ?? "accepted"}");
            Assert.True(after is null, $"{id}: onnx.checker rejects the optimized model: {after}");
        }
    }
}
