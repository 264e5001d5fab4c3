using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeBuild.Onnx;
using EdgeBuild.Runtime.Updates;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Packaging;

/// <summary>keygen, package, verify and publish through the CLI, over a model compiled by the CLI.</summary>
public sealed class PackageCliTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-package-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>y = x * 2 over [1,4], compiled without measurement into dir/compiled.</summary>
    private string Compiled(bool measure = false)
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 4);
        b.Output(b.Op("Mul", [x, b.Const("k", [1], 2f)], "y"));
        string model = Path.Combine(dir, "scale.onnx");
        OnnxExporter.Save(b.Model, model);
        string outDir = Path.Combine(dir, measure ? "measured" : "compiled");
        string[] args = measure
            ? ["compile", model, "--out", outDir, "--name", "ScaleNet", "-q", "--measure-seconds", "0.5", "--batch-size", "0", "--measure-cache", Path.Combine(dir, "cache")]
            : ["compile", model, "--out", outDir, "--name", "ScaleNet", "-q", "--no-measure"];
        var (exit, _, stderr) = CliRunner.Run(args);
        Assert.True(exit == 0, stderr);
        return outDir;
    }

    private (string Private, string Public) Keys(string name = "signing")
    {
        string basePath = Path.Combine(dir, name);
        var (exit, stdout, stderr) = CliRunner.Run("keygen", "-o", basePath);
        Assert.True(exit == 0, stderr);
        Assert.Contains("key id ", stdout);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(basePath + ".pem"));
        return (basePath + ".pem", basePath + ".pub");
    }

    [Fact]
    public void PackageVerifiesAndCarriesInterfaceVersionAndFiles()
    {
        string compiled = Compiled();
        var (priv, pub) = Keys();
        string pkg = Path.Combine(dir, "ScaleNet-1.2.0.edgepkg");
        var (exit, stdout, stderr) = CliRunner.Run("package", compiled, "--version", "1.2.0", "--key", priv, "-o", pkg);
        Assert.True(exit == 0, stderr);
        Assert.Contains("ScaleNet 1.2.0, 2 files", stdout);

        (exit, stdout, stderr) = CliRunner.Run("verify", pkg, "--trusted", pub);
        Assert.True(exit == 0, stderr);
        Assert.Contains("interface: x float32 [1,4] -> y float32 [1,4]", stdout);

        using var zip = ZipFile.OpenRead(pkg);
        Assert.Equal(["package.json", "package.sig.cose", "model/ScaleNet.edgemodel.json", "model/ScaleNet.onnx"], zip.Entries.Select(e => e.FullName));
        using var json = JsonDocument.Parse(zip.GetEntry("package.json")!.Open());
        Assert.Equal("1.2.0", json.RootElement.GetProperty("version").GetString());
        Assert.Equal(SemanticVersion.Runtime.ToString(), json.RootElement.GetProperty("minRuntimeVersion").GetString());
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("measured").ValueKind);
        string onnxSha = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(compiled, "ScaleNet.onnx")))).ToLowerInvariant();
        Assert.Contains(json.RootElement.GetProperty("files").EnumerateArray(), f => f.GetProperty("sha256").GetString() == onnxSha);
    }

    [Fact]
    public void SameInputsGiveTheSameBytesBesideTheSignature()
    {
        string compiled = Compiled();
        var (priv, pub) = Keys();
        string a = Path.Combine(dir, "a.edgepkg"), b = Path.Combine(dir, "b.edgepkg");
        Assert.Equal(0, CliRunner.Run("package", compiled, "--version", "1.0.0", "--key", priv, "-o", a).Exit);
        Assert.Equal(0, CliRunner.Run("package", compiled, "--version", "1.0.0", "--key", priv, "-o", b).Exit);
        using var za = ZipFile.OpenRead(a);
        using var zb = ZipFile.OpenRead(b);
        Assert.Equal(za.Entries.Select(e => (e.FullName, e.LastWriteTime, e.Length)), zb.Entries.Select(e => (e.FullName, e.LastWriteTime, e.Length)));
        foreach (var e in za.Entries.Where(e => e.FullName != "package.sig.cose"))
            Assert.Equal(Bytes(e), Bytes(zb.GetEntry(e.FullName)!));
        // ECDSA signatures are randomized (a fresh nonce each time): both verify, their bytes differ.
        Assert.Equal(0, CliRunner.Run("verify", b, "--trusted", pub).Exit);
    }

    [Fact]
    public void MeasuredBuildCarriesItsP99()
    {
        string compiled = Compiled(measure: true);
        var (priv, _) = Keys();
        string pkg = Path.Combine(dir, "m.edgepkg");
        var (exit, _, stderr) = CliRunner.Run("package", compiled, "--version", "1.0.0", "--key", priv, "-o", pkg);
        Assert.True(exit == 0, stderr);
        using var zip = ZipFile.OpenRead(pkg);
        var manifest = PackageManifest.Parse(Bytes(zip.GetEntry("package.json")!));
        var measured = Assert.IsType<PackageMeasurement>(manifest.Measured);
        Assert.Equal("ScaleNet.onnx", measured.Artifact);
        Assert.True(measured.P99Ms > 0 && measured.P99Ms >= measured.P50Ms);
    }

    [Fact]
    public void OtherKeyTamperedFileAndChangedManifestFailVerify()
    {
        string compiled = Compiled();
        var (priv, pub) = Keys();
        var (_, otherPub) = Keys("other");
        string pkg = Path.Combine(dir, "p.edgepkg");
        Assert.Equal(0, CliRunner.Run("package", compiled, "--version", "1.0.0", "--key", priv, "-o", pkg).Exit);

        var (exit, _, stderr) = CliRunner.Run("verify", pkg, "--trusted", otherPub);
        Assert.Equal(1, exit);
        Assert.StartsWith("error EB7005: " + pkg + ": UntrustedKey:", stderr);

        string tampered = Rewrite(pkg, "model/ScaleNet.onnx", bytes => bytes[^2] ^= 1);
        (exit, _, stderr) = CliRunner.Run("verify", tampered, "--trusted", pub);
        Assert.Equal(1, exit);
        Assert.Contains("HashMismatch", stderr);
        Assert.Single(stderr.Trim().Split('\n'));

        // The version raised from 1.0.0 to 9.0.0 after signing: the signature no longer covers the bytes.
        string resigned = Rewrite(pkg, "package.json", bytes => bytes[System.Text.Encoding.UTF8.GetString(bytes).IndexOf("\"1.0.0\"", StringComparison.Ordinal) + 1] = (byte)'9');
        (exit, _, stderr) = CliRunner.Run("verify", resigned, "--trusted", pub);
        Assert.Equal(1, exit);
        Assert.Contains("BadSignature", stderr);
    }

    [Fact]
    public void PublishWritesTheChannelFileBesideThePackage()
    {
        string compiled = Compiled();
        var (priv, pub) = Keys();
        string site = Directory.CreateDirectory(Path.Combine(dir, "site")).FullName;
        string pkg = Path.Combine(site, "ScaleNet-1.2.0.edgepkg");
        Assert.Equal(0, CliRunner.Run("package", compiled, "--version", "1.2.0", "--key", priv, "-o", pkg).Exit);
        var (exit, stdout, stderr) = CliRunner.Run("publish", pkg, "--channel", "canary", "--trusted", pub);
        Assert.True(exit == 0, stderr);
        var channel = ChannelManifest.Parse(File.ReadAllBytes(Path.Combine(site, "canary.json")), "canary.json");
        Assert.Equal(("canary", "ScaleNet", "1.2.0", "ScaleNet-1.2.0.edgepkg", false), (channel.Channel, channel.Model, channel.Version.ToString(), channel.Package, channel.Rollback));
        Assert.Equal(new FileInfo(pkg).Length, channel.Bytes);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(pkg))).ToLowerInvariant(), channel.Sha256);
        Assert.Contains("channel 'canary' -> ScaleNet 1.2.0", stdout);

        (exit, _, stderr) = CliRunner.Run("publish", pkg, "--channel", "Stable!");
        Assert.Equal(1, exit);
        Assert.StartsWith("error EB7007:", stderr);

        (exit, stdout, _) = CliRunner.Run("publish", pkg, "--channel", "stable", "--percent", "20");
        Assert.Equal(0, exit);
        Assert.Contains("offered to 20 % of devices", stdout);
        Assert.Equal(20, ChannelManifest.Parse(File.ReadAllBytes(Path.Combine(site, "stable.json")), "stable.json").RolloutPercent);
        Assert.StartsWith("error EB7007:", CliRunner.Run("publish", pkg, "--percent", "120").Stderr);
    }

    [Fact]
    public void BadInputsGetOneDiagnostic()
    {
        string compiled = Compiled();
        var (priv, pub) = Keys();
        Assert.StartsWith("error EB7006:", CliRunner.Run("keygen", "-o", Path.Combine(dir, "signing")).Stderr);
        Assert.StartsWith("error EB7002:", CliRunner.Run("package", compiled, "--version", "1.2", "--key", priv, "-o", Path.Combine(dir, "x.edgepkg")).Stderr);
        Assert.StartsWith("error EB7004:", CliRunner.Run("package", compiled, "--version", "1.2.0", "--key", pub, "-o", Path.Combine(dir, "x.edgepkg")).Stderr);
        Assert.StartsWith("error EB7001:", CliRunner.Run("package", dir, "--version", "1.2.0", "--key", priv, "-o", Path.Combine(dir, "x.edgepkg")).Stderr);
        File.AppendAllText(Path.Combine(compiled, "ScaleNet.onnx"), "x");
        Assert.StartsWith("error EB7003:", CliRunner.Run("package", compiled, "--version", "1.2.0", "--key", priv, "-o", Path.Combine(dir, "x.edgepkg")).Stderr);
    }

    /// <summary>
    /// <c>package --holdout</c> records the compiled artifact's output statistics on the files (signed with package.json);
    /// <c>publish --key</c> signs the channel file with a growing sequence, which the updater's parser verifies.
    /// </summary>
    [Fact]
    public void HoldoutStatisticsAndASignedChannelThroughTheCli()
    {
        string compiled = Compiled();
        var (priv, pub) = Keys();
        string holdout = Directory.CreateDirectory(Path.Combine(dir, "holdout")).FullName;
        var values = new List<float>();
        for (int i = 0; i < 12; i++)
        {
            float[] x = [i, i + 0.5f, -i, 2 * i];
            values.AddRange(x.Select(v => 2 * v));
            EdgeBuild.Quantization.Calibration.NpyFile.Write(Path.Combine(holdout, $"x{i:D2}.npy"), EdgeBuild.Ir.Tensor.FromFloats([1, 4], x));
        }
        string site = Directory.CreateDirectory(Path.Combine(dir, "site")).FullName;
        string pkg = Path.Combine(site, "ScaleNet-1.2.0.edgepkg");
        var (exit, stdout, stderr) = CliRunner.Run("package", compiled, "--version", "1.2.0", "--key", priv, "-o", pkg, "--holdout", Path.Combine(holdout, "*.npy"));
        Assert.True(exit == 0, stderr);
        Assert.Contains("output 'y' on 12 held-out samples: 48 values", stdout);
        using (var key = PackageSignature.ReadKey(File.ReadAllText(pub)))
        {
            var stats = Assert.Single(ModelPackage.Verify(pkg, [key]).Manifest.OutputStatistics!.Outputs);
            Assert.Equal(values.Average(v => (double)v), stats.Mean, 9);

            (exit, stdout, stderr) = CliRunner.Run("publish", pkg, "--channel", "stable", "--key", priv);
            Assert.True(exit == 0, stderr);
            Assert.Contains(", signed by key " + PackageSignature.KeyIdHex(key) + ", sequence ", stdout);
            byte[] file = File.ReadAllBytes(Path.Combine(site, "stable.json"));
            var first = ChannelManifest.Parse(file, "stable.json", [key]);
            Assert.Equal((true, PackageSignature.KeyIdHex(key)), (first.IsSigned, first.SignedBy));
            Assert.Equal(0, CliRunner.Run("publish", pkg, "--channel", "stable", "--key", priv).Exit);
            Assert.True(ChannelManifest.Parse(File.ReadAllBytes(Path.Combine(site, "stable.json")), "stable.json", [key]).Sequence > first.Sequence);
            // A byte of the readable part changed: the file no longer verifies.
            string edited = System.Text.Encoding.UTF8.GetString(file).Replace("\"rollback\": false", "\"rollback\": true", StringComparison.Ordinal);
            var e = Assert.Throws<ModelUpdateException>(() => ChannelManifest.Parse(System.Text.Encoding.UTF8.GetBytes(edited), "stable.json", [key]));
            Assert.Equal(UpdateFailure.BadSignature, e.Reason);
        }

        // Held-out data the package cannot measure: a folder whose manifest lists no ONNX artifact is one EB7008 line.
        string manifest = Path.Combine(compiled, "ScaleNet.edgemodel.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"target\": \"Onnx\"", "\"target\": \"TFLite\"", StringComparison.Ordinal));
        (exit, _, stderr) = CliRunner.Run("package", compiled, "--version", "1.2.1", "--key", priv, "-o", Path.Combine(dir, "y.edgepkg"), "--holdout", holdout);
        Assert.Equal(1, exit);
        Assert.StartsWith("error EB7008: " + manifest + ": lists no ONNX artifact", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    /// <summary>
    /// An integer output through the CLI: a compiled classifier's ArgMax label gets one bin per label the held-out files
    /// gave (and one for any other), the float scores beside it deciles; the package command says which.
    /// </summary>
    [Fact]
    public void HoldoutCountsAnIntegerLabelByValue()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 4);
        var scores = b.Op("Mul", [x, b.Const("k", [1], 2f)], "scores");
        var label = b.Op("ArgMax", [scores], "label", EdgeBuild.Ir.Attribute.Of("axis", 1L), EdgeBuild.Ir.Attribute.Of("keepdims", 0L));
        label.Type = new EdgeBuild.Ir.TensorType(EdgeBuild.Ir.DataType.Int64, EdgeBuild.Ir.Shape.Of(1));
        b.Output(scores, label);
        string model = Path.Combine(dir, "classifier.onnx");
        OnnxExporter.Save(b.Model, model);
        string compiled = Path.Combine(dir, "classifier");
        var (exit, stdout, stderr) = CliRunner.Run("compile", model, "--out", compiled, "--name", "Classifier", "-q", "--no-measure");
        Assert.True(exit == 0, stderr);
        var (priv, pub) = Keys();
        string holdout = Directory.CreateDirectory(Path.Combine(dir, "holdout")).FullName;
        // Twelve samples, the largest element at 0, 1, 2 (twice as often) and never at 3.
        int[] labels = [0, 1, 2, 2, 0, 1, 2, 2, 0, 1, 2, 2];
        for (int i = 0; i < labels.Length; i++)
        {
            float[] v = [0.1f * i, 0.2f, 0.3f, 0.05f];
            v[labels[i]] = 5 + i;
            EdgeBuild.Quantization.Calibration.NpyFile.Write(Path.Combine(holdout, $"x{i:D2}.npy"), EdgeBuild.Ir.Tensor.FromFloats([1, 4], v));
        }
        string pkg = Path.Combine(dir, "Classifier-1.0.0.edgepkg");
        (exit, stdout, stderr) = CliRunner.Run("package", compiled, "--version", "1.0.0", "--key", priv, "-o", pkg, "--holdout", holdout);
        Assert.True(exit == 0, stderr);
        Assert.Contains("output 'label' on 12 held-out samples: 12 values, mean 1.25, std 0.8292, 3 values counted apart (0, 1, 2) and a bin for any other", stdout);
        Assert.Contains("output 'scores' on 12 held-out samples: 48 values", stdout);
        using var key = PackageSignature.ReadKey(File.ReadAllText(pub));
        var outputs = ModelPackage.Verify(pkg, [key]).Manifest.OutputStatistics!.Outputs;
        var byValue = Assert.Single(outputs, o => o.Output == "label");
        Assert.Equal([0L, 1, 2], byValue.Categories!);
        Assert.Equal([0.25, 0.25, 0.5, 0], byValue.BinFractions);
        Assert.Null(Assert.Single(outputs, o => o.Output == "scores").Categories);
    }

    private static byte[] Bytes(ZipArchiveEntry e)
    {
        using var s = e.Open();
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }

    /// <summary>A copy of the package with one entry's bytes changed (the rest, signature included, as they were).</summary>
    private string Rewrite(string pkg, string entryName, Action<byte[]> change)
    {
        string copy = Path.Combine(dir, Guid.NewGuid().ToString("N") + ".edgepkg");
        using (var source = ZipFile.OpenRead(pkg))
        using (var target = ZipFile.Open(copy, ZipArchiveMode.Create))
        {
            foreach (var e in source.Entries)
            {
                var bytes = Bytes(e);
                if (e.FullName == entryName) change(bytes);
                using var s = target.CreateEntry(e.FullName).Open();
                s.Write(bytes);
            }
        }
        return copy;
    }
}
