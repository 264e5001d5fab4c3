using System.Security.Cryptography;
using EdgeBuild.Generator.Tests.Support;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Packaging;
using EdgeBuild.Runtime.Updates;

namespace EdgeBuild.Generator.Tests.Updates;

/// <summary>
/// Builds ScaleNet versions, compiles them into manifest folders, packages and signs them with <see cref="ModelPackager"/>
/// (what <c>edgebuild package</c> runs) and publishes channel files into a site folder a <see cref="ChannelServer"/> serves.
/// </summary>
public sealed class Publisher : IDisposable
{
    public Publisher()
    {
        Root = Directory.CreateTempSubdirectory("edgebuild-updates-").FullName;
        Site = Directory.CreateDirectory(Path.Combine(Root, "site")).FullName;
        Key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        PublicKey = ECDsa.Create();
        PublicKey.ImportSubjectPublicKeyInfo(Key.ExportSubjectPublicKeyInfo(), out _);
    }

    public string Root { get; }
    public string Site { get; }
    public ECDsa Key { get; }
    public ECDsa PublicKey { get; }

    /// <summary>A fresh state folder for an updater (a device).</summary>
    public string NewDevice() => Directory.CreateDirectory(Path.Combine(Root, "device-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    /// <summary>Packages <paramref name="model"/> as ScaleNet <paramref name="version"/> into the site folder.</summary>
    /// <param name="measuredP99Ms">The P99 the package's manifest records (a build's measurement), or none.</param>
    /// <param name="holdout">Held-out input samples (.npy files) the package records output statistics on.</param>
    /// <param name="outputs">The outputs' names, element types and shapes (JSON); the default is ScaleNet's y, shaped <paramref name="outputShape"/>.</param>
    public string Package(string version, Model model, ECDsa? key = null, double? measuredP99Ms = null, string? minRuntime = null,
        string outputShape = "[1, 4]", string name = "ScaleNet", IReadOnlyList<string>? holdout = null, IReadOnlyList<(string Name, string ElementType, string Shape)>? outputs = null)
    {
        string outputsJson = string.Join(", ", (outputs ?? [("y", "float32", outputShape)]).Select(o =>
            $$"""{ "name": "{{o.Name}}", "csharpName": "{{o.Name}}", "elementType": "{{o.ElementType}}", "shape": {{o.Shape}} }"""));
        string folder = Directory.CreateDirectory(Path.Combine(Root, "build-" + version + "-" + Guid.NewGuid().ToString("N")[..6])).FullName;
        string onnx = Path.Combine(folder, name + ".onnx");
        OnnxExporter.Save(model, onnx);
        string sha = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(onnx))).ToLowerInvariant();
        string metrics = measuredP99Ms is { } p99
            ? $$"""{ "machine": { "id": "test" }, "artifacts": [ { "path": "{{name}}.onnx", "target": "Onnx", "precision": "Fp32", "key": "k", "measured": true, "p50Ms": { "value": {{p99 / 2}}, "low": 0, "high": 0 }, "p99Ms": { "value": {{p99}}, "low": 0, "high": 0 } } ] }"""
            : "{}";
        File.WriteAllText(Path.Combine(folder, name + ".edgemodel.json"), $$"""
            {
              "schemaVersion": 1,
              "name": "{{name}}",
              "namespace": "EdgeBuild.Generator.Tests.Models",
              "tool": { "name": "edgebuild", "version": "0.1.0" },
              "inputs": [ { "name": "x", "csharpName": "x", "elementType": "float32", "shape": [1, 4] } ],
              "outputs": [ {{outputsJson}} ],
              "artifacts": [ { "path": "{{name}}.onnx", "target": "Onnx", "precision": "Fp32", "sha256": "{{sha}}", "bytes": {{new FileInfo(onnx).Length}} } ],
              "metrics": {{metrics}}
            }
            """);
        string package = Path.Combine(Site, $"{name}-{version}-{Guid.NewGuid().ToString("N")[..6]}.edgepkg");
        ModelPackager.Package(folder, version, key ?? Key, package, minRuntime, holdout);
        return package;
    }

    /// <summary>Writes <paramref name="count"/> ScaleNet inputs (x [1,4]) with values uniform in [<paramref name="low"/>, <paramref name="high"/>) as .npy files.</summary>
    public IReadOnlyList<string> Samples(int count, float low, float high, int seed)
    {
        string dir = Directory.CreateDirectory(Path.Combine(Root, $"samples-{seed}-{Guid.NewGuid().ToString("N")[..6]}")).FullName;
        var random = new Random(seed);
        var files = new List<string>();
        for (int i = 0; i < count; i++)
        {
            var x = new float[4];
            for (int j = 0; j < 4; j++) x[j] = low + (float)random.NextDouble() * (high - low);
            string file = Path.Combine(dir, $"x{i:D3}.npy");
            EdgeBuild.Quantization.Calibration.NpyFile.Write(file, Tensor.FromFloats([1, 4], x));
            files.Add(file);
        }
        return files;
    }

    /// <summary>Writes each of <paramref name="inputs"/> (x [1,4]) as an .npy file.</summary>
    public IReadOnlyList<string> SamplesOf(IReadOnlyList<float[]> inputs)
    {
        string dir = Directory.CreateDirectory(Path.Combine(Root, "samples-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        var files = new List<string>();
        for (int i = 0; i < inputs.Count; i++)
        {
            string file = Path.Combine(dir, $"x{i:D3}.npy");
            EdgeBuild.Quantization.Calibration.NpyFile.Write(file, Tensor.FromFloats([1, 4], inputs[i]));
            files.Add(file);
        }
        return files;
    }

    /// <summary>Points <c>&lt;channel&gt;.json</c> at <paramref name="package"/>, signed with <paramref name="key"/> (default the publisher's).</summary>
    public ChannelManifest PublishSigned(string package, bool rollback = false, string channel = "stable", ECDsa? key = null) =>
        ModelPackager.Publish(package, channel, rollback, 100, key ?? Key).Channel;

    /// <summary>Points <c>stable.json</c> at <paramref name="package"/>.</summary>
    public ChannelManifest Publish(string package, bool rollback = false, string channel = "stable") => ModelPackager.Publish(package, channel, rollback).Channel;

    /// <summary>Rewrites the channel file (a publisher's mistake or an attack).</summary>
    public void WriteChannel(ChannelManifest channel) => ReplaceChannelFile(channel.Channel, channel.ToJson());

    /// <summary>
    /// Replaces <c>&lt;channel&gt;.json</c> on the server with <paramref name="bytes"/> (an edit, a replay, a forgery). The file's
    /// time moves at least a second, as <see cref="ModelPackager.Publish"/> does: the server's ETag is its whole-second
    /// time and length, so a same-length file written within the second would be answered 304 and never reach the updater.
    /// </summary>
    public void ReplaceChannelFile(string channel, byte[] bytes)
    {
        string path = Path.Combine(Site, channel + ".json");
        DateTime? before = File.Exists(path) ? File.GetLastWriteTimeUtc(path) : null;
        File.WriteAllBytes(path, bytes);
        if (before is { } b && File.GetLastWriteTimeUtc(path) < b.AddSeconds(1)) File.SetLastWriteTimeUtc(path, b.AddSeconds(1));
    }

    public void Dispose()
    {
        Key.Dispose();
        PublicKey.Dispose();
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
    }
}
