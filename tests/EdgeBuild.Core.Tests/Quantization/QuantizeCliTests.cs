using EdgeBuild.Cli;
using EdgeBuild.Onnx;
using EdgeBuild.Tests.Support;
using SkiaSharp;

namespace EdgeBuild.Tests.Quantization;

/// <summary>edgebuild quantize: each bad input is one EB line, exit 1, no output file; good input writes a model that runs.</summary>
public sealed class QuantizeCliTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-qcli-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string ImageModel(params long[] dims)
    {
        var b = new ModelBuilder();
        var x = b.Input("image", dims);
        b.Output(dims.Length == 4 ? b.Op("Relu", [b.Conv(x, "conv", 4, dims[1])], "y") : b.Op("Relu", [x], "y"));
        string path = Path.Combine(dir, "m.onnx");
        OnnxExporter.Save(b.Model, path);
        return path;
    }

    private void Photos(int count)
    {
        Directory.CreateDirectory(Path.Combine(dir, "calib"));
        var r = new Random(4);
        for (int n = 0; n < count; n++)
        {
            using var bitmap = new SKBitmap(16, 12, SKColorType.Rgba8888, SKAlphaType.Unpremul);
            for (int y = 0; y < 12; y++)
                for (int x = 0; x < 16; x++) bitmap.SetPixel(x, y, new SKColor((byte)r.Next(256), (byte)r.Next(256), (byte)r.Next(256)));
            using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(dir, "calib", $"p{n:D2}.png"), data.ToArray());
        }
    }

    private (int Exit, string Stdout, string Stderr, string Output) Quantize(params string[] extra)
    {
        string output = Path.Combine(dir, "q.onnx");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = Commands.Run(["quantize", .. extra, "-o", output, "-q"], stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString(), output);
    }

    private void AssertOneError(string code, params string[] args)
    {
        var (exit, _, stderr, output) = Quantize(args);
        Assert.Equal(1, exit);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, stderr);
        Assert.StartsWith($"error {code}: ", lines[0]);
        Assert.DoesNotContain("   at ", stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void GlobMatchingNothing() => AssertOneError("EB3008", ImageModel(1, 3, 8, 8), "--precision", "Int8", "--calibration", Path.Combine(dir, "calib", "*.jpg"));

    [Fact]
    public void FileThatIsNotAnImage()
    {
        Photos(9);
        File.WriteAllText(Path.Combine(dir, "calib", "broken.png"), "not a png");
        AssertOneError("EB3007", ImageModel(1, 3, 8, 8), "--precision", "Int8", "--calibration", Path.Combine(dir, "calib"));
    }

    [Fact]
    public void FewerImagesThanTheMinimum()
    {
        Photos(3);
        AssertOneError("EB3003", ImageModel(1, 3, 8, 8), "--precision", "Int8", "--calibration", Path.Combine(dir, "calib"));
    }

    [Fact]
    public void InputThatIsNotAnImage()
    {
        Photos(9);
        AssertOneError("EB3006", ImageModel(1, 24), "--precision", "Int8", "--calibration", Path.Combine(dir, "calib"));
    }

    [Fact]
    public void UnknownCalibrator()
    {
        Photos(9);
        AssertOneError("EB6001", ImageModel(1, 3, 8, 8), "--precision", "Int8", "--calibration", Path.Combine(dir, "calib"), "--calibrator", "Median");
    }

    [Fact]
    public void CalibratedInt8RunsAndReportsAccuracy()
    {
        Photos(12);
        string model = ImageModel(1, 3, 8, 8);
        var (exit, stdout, stderr, output) = Quantize(model, "--precision", "Int8", "--calibration", Path.Combine(dir, "calib"), "--mean", "127.5", "--std", "127.5", "--task", "Generic");
        Assert.True(exit == 0, stderr);
        Assert.Contains("Int8Static", stdout);
        Assert.Contains("accuracy against FP32: Generic", stdout);
        // 3 held-out photos (every 4th of 12): the verdict says its intervals are rough.
        Assert.Contains("on 3 held-out samples, fewer than the 30 a MaxAccuracyLoss needs", stdout);
        var q = OnnxImporter.Load(output);
        Assert.Contains(q.Graph.Nodes, n => n.OpType == "QuantizeLinear");
        var outputs = Ort.Run(File.ReadAllBytes(output), new Dictionary<string, Ir.Tensor> { ["image"] = ModelBuilder.RandomInput([1, 3, 8, 8]) });
        Assert.Equal(new long[] { 1, 4, 8, 8 }, outputs["y"].Dims);
        if (OnnxChecker.IsAvailable)
        {
            var problem = OnnxChecker.CheckMany([output]).Values.Single();
            Assert.True(problem is null, $"onnx.checker: {problem}");
        }
    }

    [Fact]
    public void MovingAverageChangesTheMinMaxRanges()
    {
        Photos(12);
        string model = ImageModel(1, 3, 8, 8);
        string[] common = [model, "--precision", "Int8", "--calibration", Path.Combine(dir, "calib"), "--calibrator", "MinMax", "--task", "Generic"];
        float InputScale(string path) =>
            OnnxImporter.Load(path).Graph.Nodes.First(n => n.OpType == "QuantizeLinear" && n.Input(0)!.Name == "image").Input(1)!.ConstantValue!.ToFloats()[0];
        var plain = Quantize(common);
        Assert.True(plain.Exit == 0, plain.Stderr);
        float overall = InputScale(plain.Output);
        var averaged = Quantize([.. common, "--moving-average"]);
        Assert.True(averaged.Exit == 0, averaged.Stderr);
        // The average of per-sample extremes lies inside the overall extremes.
        Assert.True(InputScale(averaged.Output) < overall, $"{InputScale(averaged.Output)} vs {overall}");
    }
}
