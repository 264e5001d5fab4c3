using System.Text.Json;
using EdgeBuild.Cli;
using EdgeBuild.Onnx;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Cli;

public sealed class InspectTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-inspect-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string Save(ModelBuilder b)
    {
        string path = Path.Combine(dir, "m.onnx");
        OnnxExporter.Save(b.Model, path);
        return path;
    }

    [Fact]
    public void JsonReportsSymbolicDimsParametersAndMacs()
    {
        var b = new ModelBuilder();
        var x = b.InputSymbolic("image", "batch", "3", "8", "8");
        var conv = b.Conv(x, "conv", 4, 3, kernel: 3, pad: 1);          // 4*8*8 outputs x 3*3*3 = 6,912 MACs per image
        var flat = b.Op("Flatten", [conv], "flat");
        b.Output(b.Op("Gemm", [flat, b.Weight("fc", [256, 10])], "logits")); // symbolic batch: not counted
        var stdout = new StringWriter();
        Assert.Equal(0, Commands.Run(["inspect", Save(b), "--json"], stdout, new StringWriter()));
        using var doc = JsonDocument.Parse(stdout.ToString());
        var root = doc.RootElement;
        Assert.Equal(["batch", "3", "8", "8"], root.GetProperty("inputs")[0].GetProperty("shape").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(4 * 3 * 9 + 4 + 2560, root.GetProperty("parameters").GetInt64());
        var layers = root.GetProperty("layers").EnumerateArray().ToList();
        Assert.Equal(2, layers.Count);
        Assert.Equal(JsonValueKind.Null, layers[0].GetProperty("macs").ValueKind); // batch is symbolic
        Assert.Equal(2, root.GetProperty("layersWithSymbolicDims").GetInt32());
        Assert.Equal(13, root.GetProperty("opsets")[0].GetProperty("version").GetInt64());
    }

    [Fact]
    public void TableCountsMacsOfStaticLayers()
    {
        var b = new ModelBuilder();
        var x = b.Input("image", 1, 3, 8, 8);
        b.Output(b.Conv(x, "conv", 4, 3, kernel: 3, pad: 1));
        var stdout = new StringWriter();
        Assert.Equal(0, Commands.Run(["inspect", Save(b)], stdout, new StringWriter()));
        Assert.Contains("total MACs 6,912", stdout.ToString());
        Assert.Contains("Conv 1", stdout.ToString());
    }

    [Fact]
    public void OptimizeReportAndDumpAreWritten()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 3, 8, 8);
        b.Output(b.BatchNorm(b.Conv(x, "conv", 4, 3), "bn", 4));
        string input = Save(b);
        string output = Path.Combine(dir, "o.onnx");
        string dump = Path.Combine(dir, "o.txt");
        string json = Path.Combine(dir, "o.json");
        var stdout = new StringWriter();
        Assert.Equal(0, Commands.Run(["optimize", input, "-o", output, "--report", "--dump", dump, "--report-json", json, "-q"], stdout, new StringWriter()));
        Assert.Contains("batchnorm-folding", stdout.ToString());
        Assert.Contains("folded into conv 1", stdout.ToString());
        Assert.DoesNotContain("BatchNormalization", File.ReadAllText(dump));
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(2, doc.RootElement.GetProperty("nodesBefore").GetInt32());
        Assert.Equal(1, doc.RootElement.GetProperty("nodesAfter").GetInt32());
        // The CLI gives the same bytes every time.
        string again = Path.Combine(dir, "o2.onnx");
        Assert.Equal(0, Commands.Run(["optimize", input, "-o", again, "-q"], new StringWriter(), new StringWriter()));
        Assert.Equal(File.ReadAllBytes(output), File.ReadAllBytes(again));
    }
}
