using System.Text.Json;
using EdgeBuild.Compile;
using EdgeBuild.Onnx;
using EdgeBuild.Tests.Support;
using EdgeBuild.Session;

namespace EdgeBuild.Tests.Compile;

public sealed class CompileTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-compile-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string SaveModel(string file = "face-net.onnx")
    {
        var b = new ModelBuilder();
        var x = b.InputSymbolic("input:0", "batch", "3", "8", "8");
        var y = b.Op("Relu", [b.BatchNorm(b.Conv(x, "conv", 4, 3), "bn", 4)], "softmax_0.tmp_0");
        b.Output(y);
        string path = Path.Combine(dir, file);
        OnnxExporter.Save(b.Model, path);
        return path;
    }

    private static (int Exit, string Stdout, string Stderr) Cli(params string[] args) => CliRunner.Run(args);

    [Fact]
    public void WritesArtifactAndManifestByTheContract()
    {
        string model = SaveModel();
        string outDir = Path.Combine(dir, "out");
        var (exit, _, stderr) = Cli("compile", model, "--out", outDir, "--namespace", "My.App", "--latency-budget-ms", "30", "--max-accuracy-loss", "1", "-q");
        Assert.True(exit == 0, stderr);
        Assert.Equal(["FaceNet.edgemodel.json", "FaceNet.onnx", "report.html", "report.json", "report.md"], Directory.GetFiles(outDir).Select(Path.GetFileName).Order());
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "FaceNet.edgemodel.json")));
        var m = doc.RootElement;
        Assert.Equal(ModelManifest.SchemaVersion, m.GetProperty("schemaVersion").GetInt32());
        Assert.Equal("FaceNet", m.GetProperty("name").GetString());
        Assert.Equal("My.App", m.GetProperty("namespace").GetString());
        Assert.Equal("face-net.onnx", m.GetProperty("source").GetProperty("file").GetString());
        Assert.Equal(30, m.GetProperty("options").GetProperty("latencyBudgetMs").GetDouble());
        var input = m.GetProperty("inputs")[0];
        Assert.Equal("input:0", input.GetProperty("name").GetString());
        Assert.Equal("input0", input.GetProperty("csharpName").GetString());
        Assert.Equal("float32", input.GetProperty("elementType").GetString());
        Assert.Equal("batch", input.GetProperty("shape")[0].GetString());
        Assert.Equal(3, input.GetProperty("shape")[1].GetInt64());
        var output = m.GetProperty("outputs")[0];
        Assert.Equal("softmax0Tmp0", output.GetProperty("csharpName").GetString());
        Assert.Equal(4, output.GetProperty("shape")[1].GetInt64());
        var artifact = m.GetProperty("artifacts")[0];
        Assert.Equal("FaceNet.onnx", artifact.GetProperty("path").GetString());
        Assert.Equal(new FileInfo(Path.Combine(outDir, "FaceNet.onnx")).Length, artifact.GetProperty("bytes").GetInt64());
        Assert.Equal(3, m.GetProperty("optimization").GetProperty("nodesBefore").GetInt32());
        Assert.Equal(2, m.GetProperty("optimization").GetProperty("nodesAfter").GetInt32()); // BN folded, Relu stays: Conv + Relu
        Assert.Equal(JsonValueKind.Object, m.GetProperty("metrics").ValueKind);
    }

    [Fact]
    public void ConvertWritesTheTargetsArtifactsWithoutAManifestAndTheSameBytesAsCompile()
    {
        string model = SaveModel();
        var (exit, stdout, stderr) = Cli("convert", model, "--target", "onnx", "-o", Path.Combine(dir, "conv"), "-q");
        Assert.True(exit == 0, stderr);
        Assert.Equal(["FaceNet.onnx"], Directory.GetFiles(Path.Combine(dir, "conv")).Select(Path.GetFileName));
        Assert.Contains("FaceNet.onnx (Onnx, Fp32,", stdout);
        Assert.Equal(0, Cli("compile", model, "--out", Path.Combine(dir, "comp"), "-q").Exit);
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "comp", "FaceNet.onnx")), File.ReadAllBytes(Path.Combine(dir, "conv", "FaceNet.onnx")));

        var bad = Cli("convert", model, "--target", "Coreml", "-o", Path.Combine(dir, "bad"), "-q");
        Assert.Equal(1, bad.Exit);
        Assert.StartsWith("error EB6001: Target: 'Coreml' is not a valid Target", bad.Stderr);
    }

    [Fact]
    public void TwoCompilesGiveIdenticalBytesAndTheApiMatchesTheCli()
    {
        string model = SaveModel();
        Assert.Equal(0, Cli("compile", model, "--out", Path.Combine(dir, "a"), "-q").Exit);
        Assert.Equal(0, Cli("compile", model, "--out", Path.Combine(dir, "b"), "-q").Exit);
        ModelCompiler.Compile(model, Path.Combine(dir, "c"), new CompileOptions());
        foreach (var file in new[] { "FaceNet.onnx", "FaceNet.edgemodel.json" })
        {
            var a = File.ReadAllBytes(Path.Combine(dir, "a", file));
            Assert.Equal(a, File.ReadAllBytes(Path.Combine(dir, "b", file)));
            Assert.Equal(a, File.ReadAllBytes(Path.Combine(dir, "c", file)));
        }
    }

    [Fact]
    public void AFailedCompileRemovesTheModelsPreviousOutputs()
    {
        string model = SaveModel();
        string outDir = Path.Combine(dir, "out");
        Assert.Equal(0, Cli("compile", model, "--out", outDir, "-q").Exit);
        Assert.Equal(5, Directory.GetFiles(outDir).Length); // artifact, manifest, three measurement reports
        File.WriteAllBytes(model, [1, 2, 3, 4, 5, 6, 7, 8, 9]); // the model gets corrupted
        var (exit, _, stderr) = Cli("compile", model, "--out", outDir, "-q");
        Assert.Equal(1, exit);
        Assert.StartsWith("error EB1002: ", stderr);
        Assert.Empty(Directory.GetFiles(outDir));
    }

    [Theory]
    [InlineData("--precision", "Int7", "EB6001", "Precision")]
    [InlineData("--precision", "Int8", "EB3003", "Calibration")]
    [InlineData("--precision", "Mixed", "EB6001", "Precision")]
    [InlineData("--calibrator", "Median", "EB6001", "Calibrator")]
    [InlineData("--calibration", "/nonexistent/*.jpg", "EB3008", "*.jpg")]
    [InlineData("--targets", "Onnx;Coreml", "EB6001", "Targets")]
    [InlineData("--execution-provider", "Npu", "EB6001", "ExecutionProvider")]
    [InlineData("--name", "3d-net", "EB6001", "ClassName")]
    [InlineData("--latency-budget-ms", "-5", "EB6001", "LatencyBudgetMs")]
    [InlineData("--calibration", "/nonexistent/calib.jpg", "EB3002", "calib.jpg")]
    [InlineData("--min-cosine", "1.5", "EB6001", "MinCosine")]
    [InlineData("--min-sqnr-db", "NaN", "EB6001", "MinSqnrDb")]
    public void InvalidOptionsGiveOneErrorAndNoOutput(string option, string value, string code, string subject)
    {
        string model = SaveModel();
        string outDir = Path.Combine(dir, "out");
        var (exit, _, stderr) = Cli("compile", model, "--out", outDir, option, value, "-q");
        Assert.Equal(1, exit);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"error {code}: ", stderr);
        Assert.Contains(subject, stderr);
        Assert.False(Directory.Exists(outDir) && Directory.EnumerateFiles(outDir).Any());
    }

    [Theory]
    [InlineData("face-detect-rfb320", "FaceDetectRfb320")]
    [InlineData("fr_eye", "FrEye")]
    [InlineData("ResNet18", "ResNet18")]
    [InlineData("3dmm", "Model3dmm")]
    public void ClassNamesFromFileNames(string file, string expected) => Assert.Equal(expected, CSharpNames.TypeName(file));

    [Theory]
    [InlineData("input:0", "input0")]
    [InlineData("softmax_0.tmp_0", "softmax0Tmp0")]
    [InlineData("Pooling395_Output_0", "pooling395Output0")]
    [InlineData("out", "outValue")]
    [InlineData("0", "t0")]
    [InlineData("::", "tensor")]
    public void ParameterNamesFromTensorNames(string name, string expected) => Assert.Equal(expected, CSharpNames.ParameterName(name));

    [Fact]
    public void DuplicateParameterNamesAreNumbered() =>
        Assert.Equal(["input0", "input02", "input03"], CSharpNames.UniqueParameterNames(["input:0", "input_0", "input.0"]));
}
