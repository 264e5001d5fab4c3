using EdgeBuild.Generator.Tests.Support;

namespace EdgeBuild.Generator.Tests;

/// <summary>
/// A manifest with a TFLite artifact next to the ONNX one (Targets="Onnx;TFLite"): the generator reads the fields it
/// knows, ignores the artifact's "io" list, lists both artifacts in the model description, and runs the ONNX one.
/// </summary>
public class TfliteArtifactTests
{
    [Fact]
    public void TfliteArtifactWithIoIsListedAndIgnoredOtherwise()
    {
        string json = GeneratorHarness.ReadManifest("TinyDetector").Replace(
            "{ \"path\": \"TinyDetector.onnx\", \"target\": \"Onnx\", \"precision\": \"Fp32\", \"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\", \"bytes\": 0 }",
            "{ \"path\": \"TinyDetector.onnx\", \"target\": \"Onnx\", \"precision\": \"Fp32\", \"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\", \"bytes\": 0 },\n" +
            "    { \"path\": \"TinyDetector.tflite\", \"target\": \"TFLite\", \"precision\": \"Fp32\", \"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\", \"bytes\": 0,\n" +
            "      \"io\": [ { \"name\": \"image\", \"role\": \"input\", \"elementType\": \"float32\", \"shape\": [1, 32, 32, 3], \"layout\": \"NHWC\", \"perm\": [0, 2, 3, 1], \"scale\": 0.5, \"zeroPoint\": -3 } ] }",
            StringComparison.Ordinal);
        Assert.Contains("TinyDetector.tflite", json);
        var (result, _) = GeneratorHarness.Run(("TinyDetector.edgemodel.json", json));
        Assert.Empty(result.Diagnostics);
        string source = Assert.Single(result.GeneratedSources).SourceText.ToString();
        Assert.Contains("EdgeArtifact(\"TinyDetector.tflite\", \"TFLite\", \"Fp32\")", source);
        Assert.Contains("EdgeArtifact(\"TinyDetector.onnx\", \"Onnx\", \"Fp32\")", source);
    }
}
