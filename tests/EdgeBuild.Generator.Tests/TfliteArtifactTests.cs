using EdgeBuild.Generator.Tests.Support;

namespace EdgeBuild.Generator.Tests;

/// <summary>
/// A manifest with a TFLite artifact next to the ONNX one (Targets="Onnx;TFLite"): the generator reads the fields it
/// knows, ignores the artifact's "io" list, lists both artifacts in the model description, and runs the ONNX one.
/// </summary>
public class TfliteArtifactTests
{
    private const string TfliteSha256 = "5f1a7c0e9b3d2486af01c3e5d7b9f2a4c6e8091b3d5f7a9c1e3b5d7f9a1c3e5b";

    [Fact]
    public void TfliteArtifactWithIoIsListedAndIgnoredOtherwise()
    {
        string json = GeneratorHarness.ReadManifest("TinyDetector").Replace(
            "{ \"path\": \"TinyDetector.onnx\", \"target\": \"Onnx\", \"precision\": \"Fp32\" }",
            "{ \"path\": \"TinyDetector.onnx\", \"target\": \"Onnx\", \"precision\": \"Fp32\" },\n" +
            "    { \"path\": \"TinyDetector.tflite\", \"target\": \"TFLite\", \"precision\": \"Fp32\", \"sha256\": \"" + TfliteSha256 + "\", \"bytes\": 0,\n" +
            "      \"io\": [ { \"name\": \"image\", \"role\": \"input\", \"elementType\": \"float32\", \"shape\": [1, 32, 32, 3], \"layout\": \"NHWC\", \"perm\": [0, 2, 3, 1], \"scale\": 0.5, \"zeroPoint\": -3 } ] }",
            StringComparison.Ordinal);
        Assert.Contains("TinyDetector.tflite", json);
        var (result, _) = GeneratorHarness.Run(("TinyDetector.edgemodel.json", json));
        Assert.Empty(result.Diagnostics);
        string source = Assert.Single(result.GeneratedSources).SourceText.ToString();
        Assert.Contains("EdgeArtifact(\"TinyDetector.tflite\", \"TFLite\", \"Fp32\", \"" + TfliteSha256 + "\")", source);
        Assert.Contains("EdgeArtifact(\"TinyDetector.onnx\", \"Onnx\", \"Fp32\")", source);
    }
}
