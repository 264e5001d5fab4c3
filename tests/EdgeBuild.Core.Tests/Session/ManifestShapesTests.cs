using EdgeBuild.Session;
using System.Text.Json;
using EdgeBuild.Compile;
using EdgeBuild.Onnx;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Compile;

/// <summary>options.shapes: the item's Shapes in the manifest, only when given (the generated Dims.Default reads them).</summary>
public sealed class ManifestShapesTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-shapes-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string SaveModel()
    {
        var b = new ModelBuilder();
        var x = b.InputSymbolic("x", "batch", "3", "8", "8");
        b.Output(b.Op("Relu", [x], "y"));
        string path = Path.Combine(dir, "shaped.onnx");
        OnnxExporter.Save(b.Model, path);
        return path;
    }

    private JsonElement Options(string outDir, CompileOptions options)
    {
        ModelCompiler.Compile(SaveModel(), outDir, options);
        using var doc = JsonDocument.Parse(File.ReadAllText(Directory.GetFiles(outDir, "*.edgemodel.json").Single()));
        return doc.RootElement.GetProperty("options").Clone();
    }

    [Fact]
    public void ShapesAreRecordedOnlyWhenGiven()
    {
        var off = new EdgeBuild.Measure.MeasureSettings { Enabled = false };
        var shaped = Options(Path.Combine(dir, "a"), new CompileOptions { Measurement = off, Shapes = new Dictionary<string, long[]> { ["x"] = [2, 3, 8, 8] } });
        Assert.Equal([2L, 3, 8, 8], shaped.GetProperty("shapes").GetProperty("x").EnumerateArray().Select(e => e.GetInt64()));
        var plain = Options(Path.Combine(dir, "b"), new CompileOptions { Measurement = off });
        Assert.False(plain.TryGetProperty("shapes", out _));
    }
}
