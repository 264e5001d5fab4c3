using System.Security.Cryptography;
using EdgeBuild.Generator.Tests.Models;
using EdgeBuild.Generator.Tests.Support;
using EdgeBuild.Runtime;

namespace EdgeBuild.Generator.Tests;

/// <summary>The sha256 a manifest records for an artifact reaches the generated class and is checked at every load.</summary>
public class ArtifactHashTests(ModelFolder models) : IClassFixture<ModelFolder>
{
    private const string SomeSha256 = "9c1185a5c5e9fc54612808977ee8f548b2258d31a0f7e5d3e8c8c2c4f3d2a1b0";

    [Fact]
    public void GeneratorEmitsTheRecordedSha256()
    {
        string json = GeneratorHarness.ReadManifest("TinyDetector").Replace(
            "\"precision\": \"Fp32\" }", "\"precision\": \"Fp32\", \"sha256\": \"" + SomeSha256 + "\", \"bytes\": 12 }", StringComparison.Ordinal);
        var (result, _) = GeneratorHarness.Run(("TinyDetector.edgemodel.json", json));
        Assert.Empty(result.Diagnostics);
        Assert.Contains("EdgeArtifact(\"TinyDetector.onnx\", \"Onnx\", \"Fp32\", \"" + SomeSha256 + "\")", result.GeneratedSources.Single().SourceText.ToString());
    }

    [Fact]
    public void MalformedSha256IsABuildError()
    {
        string json = GeneratorHarness.ReadManifest("TinyDetector").Replace(
            "\"precision\": \"Fp32\" }", "\"precision\": \"Fp32\", \"sha256\": \"ABC\" }", StringComparison.Ordinal);
        var (result, _) = GeneratorHarness.Run(("TinyDetector.edgemodel.json", json));
        Assert.Contains(result.Diagnostics, d => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture).Contains("artifacts[0].sha256", StringComparison.Ordinal));
    }

    [Fact]
    public void LoadChecksTheArtifactHash()
    {
        string path = Path.Combine(models.Path, "models", "SymbolicNet.onnx");
        string sha = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))).ToLowerInvariant();
        using (var session = EdgeSession.Create(With(sha), new EdgeModelOptions { ModelDirectory = models.Path }))
            Assert.Equal(path, session.ModelPath);

        string wrong = (sha[0] == '0' ? "1" : "0") + sha[1..];
        var e = Assert.Throws<InvalidDataException>(() => EdgeSession.Create(With(wrong), new EdgeModelOptions { ModelDirectory = models.Path }));
        Assert.Contains("SymbolicNet.onnx has sha256 " + sha, e.Message);
        Assert.Contains("records " + wrong, e.Message);
    }

    [Fact]
    public void ChangedArtifactFailsTheLoad()
    {
        string dir = Path.Combine(models.Path, "tampered-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(dir, "models"));
        string path = Path.Combine(dir, "models", "SymbolicNet.onnx");
        File.Copy(Path.Combine(models.Path, "models", "SymbolicNet.onnx"), path);
        string sha = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))).ToLowerInvariant();
        EdgeSession.Create(With(sha), new EdgeModelOptions { ModelDirectory = dir }).Dispose();
        // One byte of a weight changed: ONNX Runtime would load and run it, the hash does not match.
        var bytes = File.ReadAllBytes(path);
        bytes[^3] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        Assert.Throws<InvalidDataException>(() => EdgeSession.Create(With(sha), new EdgeModelOptions { ModelDirectory = dir }));
    }

    [Fact]
    public void MalformedSha256IsRejectedByTheDescription() =>
        Assert.Throws<ArgumentException>(() => new EdgeArtifact("a.onnx", "Onnx", "Fp32", "XYZ"));

    private static EdgeModelDescription With(string sha256)
    {
        var d = SymbolicNet.ModelDescription;
        return new EdgeModelDescription(d.Name, [.. d.Inputs], [.. d.Outputs], [.. d.Symbols],
            [new EdgeArtifact("models/SymbolicNet.onnx", "Onnx", "Fp32", sha256)], d.DefaultProvider);
    }
}
