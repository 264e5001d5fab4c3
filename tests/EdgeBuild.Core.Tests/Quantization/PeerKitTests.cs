using System.Text.Json;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using EdgeBuild.Tests.Support;
using Xunit.Abstractions;

namespace EdgeBuild.Tests.Quantization;

/// <summary>
/// The peer table's halves that run here (docs/quantization.md, "Peer table"): the kit a device machine runs ONNX
/// Runtime's quantize_static on, its size limit, and the table read from a device run. The device script itself
/// (tests/EdgeBuild.Benchmarks/Peer/quantize_static_peer.py) needs ONNX Runtime's Python package and does not run here;
/// the table test puts our own Int8 model where its model would be.
/// </summary>
public sealed class PeerKitTests(ITestOutputHelper output) : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("peer-kit-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    [SkippableFact]
    public void AnExportedKitReadsBackTheOptimizedModelAndItsCalibrationInputsUnderTheKeysTheDeviceScriptReads()
    {
        string data = TestData.Require();
        var model = BenchmarkModel.Load("eye-state", data, 40, 16);
        string kit = Path.Combine(temp, "kit");
        PeerKit.Export(kit, [model], 40, 16, PeerKit.DeviceTravelBytes);

        var manifest = PeerKit.ReadManifest(kit);
        Assert.Equal((40, 16), (manifest.HeldOut, manifest.Calibration));
        Assert.Empty(manifest.LeftOut);
        var entry = Assert.Single(manifest.Models);
        var (fp32, calibration) = PeerKit.ReadModel(kit, entry);
        Assert.Equal(model.Fp32, fp32);
        Assert.Equal(PeerKit.Sha256(model.Fp32), entry.Sha256);
        var expected = model.Calibration.Samples().ToList();
        Assert.Equal(16, expected.Count);
        Assert.Equal(expected.Count, calibration.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            var (name, tensor) = Assert.Single(expected[i]);
            Assert.Equal(tensor.Dims, calibration[i][name].Dims);
            Assert.True(tensor.ContentEquals(calibration[i][name]), $"calibration input {i} differs after the round trip");
            var described = Assert.Single(entry.Calibration[i]);
            Assert.Equal(("input", "float32"), (described.Name, described.Dtype));
            Assert.Equal([1, 1, 24, 24], described.Shape);
        }
        Assert.Equal(PeerKit.CalibrationHash(expected), entry.CalibrationSha256);
        Assert.Equal(entry.ArchiveBytes, new FileInfo(Path.Combine(kit, entry.Archive)).Length);
        Assert.False(Directory.Exists(kit + ".partial"));

        // The names quantize_static_peer.py reads: a renamed property here would stop the device run.
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(kit, PeerKit.ManifestFile)));
        var root = json.RootElement;
        Assert.Equal("edgebuild-peer-kit/1", root.GetProperty("format").GetString());
        Assert.Equal(40, root.GetProperty("heldOut").GetInt32());
        var m = root.GetProperty("models")[0];
        Assert.Equal("eye-state.tar.gz", m.GetProperty("archive").GetString());
        foreach (var key in new[] { "id", "sha256", "calibrationSha256" }) Assert.Equal(JsonValueKind.String, m.GetProperty(key).ValueKind);
        var tensorJson = m.GetProperty("calibration")[0][0];
        Assert.Equal("float32", tensorJson.GetProperty("dtype").GetString());
        Assert.Equal(4, tensorJson.GetProperty("shape").GetArrayLength());
        Assert.StartsWith("calibration/", tensorJson.GetProperty("file").GetString());
    }

    [SkippableFact]
    public void AModelTooBigAloneIsLeftOutAndAKitOverTheLimitIsAnErrorThatNamesKitsThatFit()
    {
        string data = TestData.Require();
        BenchmarkModel[] models = [BenchmarkModel.Load("eye-state", data, 40, 16), BenchmarkModel.Load("ocr-angle-cls", data, 40, 16)];
        var sizes = PeerKit.Export(Path.Combine(temp, "all"), models, 40, 16, PeerKit.DeviceTravelBytes).Models.ToDictionary(m => m.Id, m => m.ArchiveBytes);
        output.WriteLine(string.Join(", ", sizes.Select(s => $"{s.Key} {s.Value} bytes")));
        long small = sizes["eye-state"], large = sizes["ocr-angle-cls"];
        Assert.True(small * 2 < large, "the test needs the classifier's archive to be the larger by far");

        var partial = PeerKit.Export(Path.Combine(temp, "partial"), models, 40, 16, large - 1);
        Assert.Equal("eye-state", Assert.Single(partial.Models).Id);
        // The limit is checked on exact sizes: the same model packs to the same bytes every time.
        Assert.Equal(File.ReadAllBytes(Path.Combine(temp, "all", "eye-state.tar.gz")), File.ReadAllBytes(Path.Combine(temp, "partial", "eye-state.tar.gz")));
        var leftOut = Assert.Single(partial.LeftOut);
        Assert.Equal("ocr-angle-cls", leftOut.Id);
        Assert.Contains("over the", leftOut.Reason);

        string tooBig = Path.Combine(temp, "too-big");
        var error = Assert.Throws<PeerKitException>(() => PeerKit.Export(tooBig, models, 40, 16, large + small / 2));
        output.WriteLine(error.Message);
        Assert.StartsWith(tooBig + ": the kit would be", error.Message);
        Assert.Contains("Export it as 2 kits, one device call each: --models ocr-angle-cls and --models eye-state.", error.Message);
        Assert.False(Directory.Exists(tooBig));
        Assert.False(Directory.Exists(tooBig + ".partial"));

        // A folder that is not a kit is never replaced.
        string other = Directory.CreateDirectory(Path.Combine(temp, "other")).FullName;
        File.WriteAllText(Path.Combine(other, "notes.txt"), "mine");
        var refused = Assert.Throws<PeerKitException>(() => PeerKit.Export(other, models, 40, 16, PeerKit.DeviceTravelBytes));
        Assert.Contains("not a kit this command may replace", refused.Message);
        Assert.True(File.Exists(Path.Combine(other, "notes.txt")));
    }

    [SkippableFact]
    public void ThePeerTableWithOurInt8StandingInForQuantizeStaticGivesThePeerRowTheInt8RowsFigures()
    {
        string data = TestData.Require();
        string kit = Path.Combine(temp, "kit");
        var entry = PeerKit.Export(kit, [BenchmarkModel.Load("eye-state", data, 40, 16)], 40, 16, PeerKit.DeviceTravelBytes).Models[0];
        // The stand-in: our own static INT8 of the kit's model and calibration inputs, where quantize_static's model would be.
        var (fp32, calibration) = PeerKit.ReadModel(kit, entry);
        var standIn = OnnxImporter.Parse(fp32);
        ModelQuantizer.Quantize(standIn, new QuantizeOptions { Mode = QuantizationMode.Int8Static }, new SampleList(calibration));
        string peer = Path.Combine(temp, "peer");
        Directory.CreateDirectory(Path.Combine(peer, "models"));
        File.WriteAllBytes(Path.Combine(peer, "models", "eye-state.qdq.onnx"), OnnxExporter.ToBytes(standIn));
        WritePeerRun(peer, entry.Sha256, entry.CalibrationSha256);

        var run = PeerRun.Read(peer);
        Assert.Equal("QuantFormat.QDQ", run.QuantizeStatic["quant_format"]);
        var rows = PeerTable.Measure(peer, run, data, null, 1.0, new OutputFloors(), raceSeconds: 0.5);
        foreach (var row in rows) output.WriteLine(PeerTable.Markdown(row));

        Assert.Equal(["FP32 (optimized)", "EdgeBuild Int8", "EdgeBuild Auto", PeerTable.PeerArtifact], rows.Select(r => r.Artifact));
        Assert.All(rows, r => Assert.NotNull(r.Race));
        Assert.All(rows.Skip(1), r => Assert.NotNull(r.Accuracy));
        var (int8, standInRow) = (rows[1], rows[3]);
        Assert.Equal(int8.SizeMiB, standInRow.SizeMiB);
        Assert.Equal(int8.Accuracy!.Loss, standInRow.Accuracy!.Loss);
        Assert.Equal(int8.Verdict, standInRow.Verdict);
        Assert.Equal(12.5, standInRow.Seconds);
        Assert.Equal("opset 9 -> 13 (per-channel QDQ needs 13)", standInRow.Note);
        Assert.StartsWith("| eye-state | ORT quantize_static | ", PeerTable.Markdown(standInRow));
    }

    [SkippableFact]
    public void APeerRunMadeFromAnotherFp32ModelIsRefusedBeforeAnythingIsMeasured()
    {
        string data = TestData.Require();
        string peer = Directory.CreateDirectory(Path.Combine(temp, "peer")).FullName;
        WritePeerRun(peer, new string('0', 64), new string('0', 64));
        var error = Assert.Throws<PeerKitException>(() => PeerTable.Measure(peer, PeerRun.Read(peer), data, null, 1.0, new OutputFloors(), 0.5));
        Assert.StartsWith("eye-state: the peer model was made from an FP32 model (sha256 000000000000) this build no longer makes", error.Message);
        Assert.EndsWith("Export a new kit and run the device command again.", error.Message);
        Assert.Throws<PeerKitException>(() => PeerRun.Read(temp));
        var unknown = Assert.Throws<PeerKitException>(() => PeerTable.Measure(peer, PeerRun.Read(peer), data, ["face-x"], 1.0, new OutputFloors(), 0.5));
        Assert.Equal("face-x: not in this peer run (it holds eye-state). Name models of the kit, or export a kit with them.", unknown.Message);
        File.WriteAllText(Path.Combine(peer, PeerRun.FileName), "{ \"format\": ");
        Assert.Contains("not a peer run", Assert.Throws<PeerKitException>(() => PeerRun.Read(peer)).Message);
    }

    /// <summary>peer-run.json as quantize_static_peer.py writes it (its keys, Python's values).</summary>
    private static void WritePeerRun(string dir, string fp32Sha256, string calibrationSha256) => File.WriteAllText(Path.Combine(dir, PeerRun.FileName), $$"""
        {
          "format": "edgebuild-peer-run/1", "kitFormat": "edgebuild-peer-kit/1", "heldOut": 40, "calibration": 16,
          "onnxruntime": "1.30.0", "onnx": "1.23.1", "numpy": "2.5.2", "python": "3.12.3", "machine": "x86_64", "cpus": 16,
          "quantizeStatic": {"quant_format": "QuantFormat.QDQ", "per_channel": "True", "activation_type": "<QuantType.QInt8: 0>", "calibrate_method": "<CalibrationMethod.MinMax: 0>"},
          "preProcess": "quant_pre_process(input, output) at its defaults", "leftOutOfKit": [],
          "models": [{"id": "eye-state", "fp32Sha256": "{{fp32Sha256}}", "calibrationSha256": "{{calibrationSha256}}",
                      "peer": "models/eye-state.qdq.onnx", "seconds": 12.5, "error": null, "preProcessError": null, "opsetConverted": "9 -> 13"}]
        }
        """);
}
