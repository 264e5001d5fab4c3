using System.Text.Json;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Tflite;

/// <summary>
/// What the TFLite target refuses, through <c>edgebuild convert/compile</c>: one EB error line, exit code 1, and no
/// file written (no partial .tflite, and no .onnx of the same build either).
/// </summary>
public sealed class TfliteBadInputTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-tflite-bad-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string Save(ModelBuilder b, string name = "model.onnx")
    {
        string path = Path.Combine(dir, name);
        OnnxExporter.Save(b.Model, path);
        return path;
    }

    private static (int Exit, string Stdout, string Stderr) Cli(params string[] args) => CliRunner.Run(args);

    private string AssertOneError(string code, params string[] args)
    {
        var (exit, _, stderr) = Cli(args);
        Assert.Equal(1, exit);
        var errors = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error EB", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 1, $"expected one EB error, got:\n{stderr}");
        Assert.StartsWith($"error {code}: ", errors[0]);
        Assert.DoesNotContain("   at ", stderr);
        string outDir = Path.Combine(dir, "out");
        Assert.False(Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any(), "nothing may be written");
        return errors[0];
    }

    [Fact]
    public void UnsupportedOpsAreListedByOpAndNodeBeforeAnythingIsWritten()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 4, 6, 6);
        var e = b.Op("Erf", [x], "e");
        var r = b.Op("Relu", [e], "r");
        var t = b.Node("TopK", [r, b.ConstInts("k", 2)], ["values", "indices"], Ir.Attribute.Of("axis", -1L));
        b.Output(t.Outputs[0]!);
        string model = Save(b);
        string line = AssertOneError("EB4101", "convert", model, "--target", "TFLite", "-o", Path.Combine(dir, "out"), "-q");
        Assert.Contains("2 node(s)", line);
        // Erf converts only inside the GELU pattern; alone it is refused with that reason.
        Assert.Contains("Erf (e_node: TFLite has no ERF kernel", line);
        Assert.Contains("TopK (values_node)", line);
        // With the ONNX target in the same build: checked before either writes, so no .onnx either.
        AssertOneError("EB4101", "compile", model, "--targets", "Onnx;TFLite", "--out", Path.Combine(dir, "out"), "-q");
    }

    /// <summary>An LSTM is unrolled and an If inlined in float only: an Int8 file refuses them by node, saying which precisions convert them.</summary>
    [Fact]
    public void LstmAndComputedIfAreRefusedAtInt8WithTheFloatPrecisionsNamed()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 3, 1, 6);
        var lstm = b.Node("LSTM", [x, b.Weight("W", [1, 16, 6]), b.Weight("R", [1, 16, 4])], ["y", "y_h", "y_c"], Ir.Attribute.Of("hidden_size", 4L));
        b.Output(lstm.Outputs[1]!);
        var options = new EdgeBuild.Targets.Tflite.TfliteOptions(EdgeBuild.Targets.Tflite.TflitePrecision.Int8, Ranges: new Dictionary<string, EdgeBuild.Quantization.Calibration.TensorRange>());
        var e = Assert.Throws<EdgeBuild.Diagnostics.EdgeBuildException>(() => EdgeBuild.Targets.Tflite.TfliteConverter.Convert(OnnxImporter.Parse(OnnxExporter.ToBytes(b.Model)), options));
        Assert.Equal("EB4101", e.Descriptor.Code);
        Assert.Contains("LSTM (y_node: an unrolled LSTM converts at Fp32 and Fp16 only", e.Message);
    }

    [Fact]
    public void DynamicDimsAskForShape()
    {
        var b = new ModelBuilder();
        var x = b.InputSymbolic("x", "N", "3", "H", "W");
        b.Output(b.Op("Relu", [b.Conv(x, "c", 4, 3)], "y"));
        string model = Save(b);
        string line = AssertOneError("EB4102", "convert", model, "--target", "TFLite", "-o", Path.Combine(dir, "out"), "-q");
        Assert.Contains("--shape x=1,3,480,640", line);
        // Fixed by --shape: converts.
        var (exit, stdout, stderr) = Cli("convert", model, "--target", "TFLite", "-o", Path.Combine(dir, "ok"), "--shape", "x=1,3,16,20", "-q");
        Assert.True(exit == 0, stderr);
        Assert.Contains("Model.tflite", stdout);
        Assert.True(File.Exists(Path.Combine(dir, "ok", "Model.tflite")));
    }

    [Theory]
    [InlineData("y=1,3,8,8", "has no input 'y'")]
    [InlineData("x=1,3,8", "rank 4")]
    [InlineData("x=2,3,8,8", "fixed at 1")]
    [InlineData("x=1,3,0,8", "positive dims")]
    public void ShapesThatDoNotFitAreRefused(string shape, string fragment)
    {
        var b = new ModelBuilder();
        var x = b.InputSymbolic("x", "1", "3", "H", "W");
        b.Output(b.Op("Relu", [x], "y"));
        string model = Save(b);
        string line = AssertOneError("EB4105", "convert", model, "--target", "TFLite", "-o", Path.Combine(dir, "out"), "--shape", shape, "-q");
        Assert.Contains(fragment, line);
    }

    [Fact]
    public void Int64ConstantsBeyondInt32AreRefused()
    {
        var b = new ModelBuilder();
        var i = b.Graph.AddInput("i", new TensorType(DataType.Int64, Shape.Of(2)));
        var c = b.ConstInts("big", 1, 1L << 40);
        b.Output(b.Op("Add", [i, c], "y"));
        string model = Save(b);
        string line = AssertOneError("EB4103", "convert", model, "--target", "TFLite", "-o", Path.Combine(dir, "out"), "-q");
        Assert.Contains("1099511627776", line);
        Assert.Contains("'big'", line);
    }

    [Fact]
    public void Int64ThatFitsRunsAsInt32()
    {
        var b = new ModelBuilder();
        var i = b.Graph.AddInput("i", new TensorType(DataType.Int64, Shape.Of(2)));
        b.Output(b.Op("Add", [i, b.ConstInts("small", 1, 1L << 30)], "y"));
        string model = Save(b);
        var (exit, _, stderr) = Cli("compile", model, "--targets", "Onnx;TFLite", "--out", Path.Combine(dir, "ok"), "-q");
        Assert.True(exit == 0, stderr);
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "ok", "Model.edgemodel.json")));
        var io = manifest.RootElement.GetProperty("artifacts")[1].GetProperty("io");
        Assert.All(io.EnumerateArray(), t => Assert.Equal("int32", t.GetProperty("elementType").GetString()));
    }

    [Fact]
    public void DynamicInt8IsRefused()
    {
        const string precision = "Int8Dynamic";
        var b = new ModelBuilder();
        b.Output(b.Op("Relu", [b.Input("x", 1, 4)], "y"));
        string model = Save(b);
        AssertOneError("EB4104", "convert", model, "--target", "TFLite", "--precision", precision, "--keep-fp32", "y*", "-o", Path.Combine(dir, "out"), "-q");
    }
}
