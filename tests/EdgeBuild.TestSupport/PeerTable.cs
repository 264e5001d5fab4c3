using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization;

namespace EdgeBuild.Tests.Support;

/// <summary>One model of a peer run: what quantize_static made of it (a path under the run's folder) or its error, and the kit hashes it started from.</summary>
public sealed record PeerRunModel(string Id, string Fp32Sha256, string CalibrationSha256, string? Peer, double? Seconds, string? Error, string? PreProcessError,
    string? OpsetConverted = null);

/// <summary>
/// peer-run.json, written on the device by tests/EdgeBuild.Benchmarks/Peer/quantize_static_peer.py: the split of the kit
/// it ran on, the versions, quantize_static's options as passed or defaulted, and one row per kit model.
/// </summary>
public sealed record PeerRun(string Format, int HeldOut, int Calibration, string Onnxruntime, int? Cpus, IReadOnlyDictionary<string, string> QuantizeStatic,
    IReadOnlyList<PeerKitLeftOut>? LeftOutOfKit, IReadOnlyList<PeerRunModel> Models)
{
    public const string FormatName = "edgebuild-peer-run/1";
    public const string FileName = "peer-run.json";

    /// <summary>Reads <paramref name="dir"/>/peer-run.json, the unpacked output of the device command.</summary>
    public static PeerRun Read(string dir)
    {
        string path = Path.Combine(dir, FileName);
        if (!File.Exists(path))
            throw new PeerKitException($"{path}: not found. Unpack what the device command returned into this folder (docs/quantization.md, \"Peer table\").");
        PeerRun? run;
        try
        {
            run = JsonSerializer.Deserialize<PeerRun>(File.ReadAllBytes(path), PeerKit.Json);
        }
        catch (JsonException e)
        {
            throw new PeerKitException($"{path}: not a peer run ({e.Message}). Unpack every peer-models.tar.gz piece again, or run the device command again.");
        }
        if (run is null) throw new PeerKitException($"{path}: empty. Run the device command again.");
        if (run.Format != FormatName) throw new PeerKitException($"{path}: format {run.Format}, this build reads {FormatName}. Run the device command with this build's script.");
        return run;
    }
}

/// <summary>One row of the peer table: an artifact of one model, its race figures and its loss against FP32 with the gate's verdict, or why it has none.</summary>
public sealed record PeerTableRow(string Model, string Artifact, double? SizeMiB, RaceResult? Race, RaceReport? RaceReport, AccuracyReport? Accuracy,
    AccuracyVerdict? Verdict, double? Seconds, string? Note);

/// <summary>
/// Issue 13's peer side by side (docs/quantization.md, "Peer table"): per model, the optimized FP32 model, our Int8 (the
/// build's static INT8 defaults), our Auto (the build's search) and ONNX Runtime's quantize_static model made on the
/// device from the same FP32 model and calibration inputs, in one interleaved single-thread race on this machine
/// (<see cref="LatencyRace"/>: P50 ratios to FP32 with 95 % intervals and the A/A band) and scored against FP32 on the
/// same held-out inputs by our own evaluator and gate (<see cref="BenchmarkModel"/>'s split, MaxAccuracyLoss and floors).
/// </summary>
public static class PeerTable
{
    public const string PeerArtifact = "ORT quantize_static";

    /// <summary>Measures every model of <paramref name="run"/> (or those named in <paramref name="only"/>).</summary>
    public static List<PeerTableRow> Measure(string peerDir, PeerRun run, string data, IReadOnlyCollection<string>? only, double budget, OutputFloors floors,
        double raceSeconds, Action<string>? progress = null)
    {
        if (only?.Where(id => !run.Models.Any(m => m.Id == id)).ToList() is { Count: > 0 } unknown)
            throw new PeerKitException($"{string.Join(", ", unknown)}: not in this peer run (it holds {string.Join(", ", run.Models.Select(m => m.Id))}). Name models of the kit, or export a kit with them.");
        var rows = new List<PeerTableRow>();
        foreach (var peer in run.Models.Where(m => only is null || only.Contains(m.Id)))
        {
            progress?.Invoke($"{peer.Id}: loading");
            var model = BenchmarkModel.Load(peer.Id, data, run.HeldOut, run.Calibration);
            // The peer model is only comparable when it came from the very model and calibration inputs this build makes.
            if (PeerKit.Sha256(model.Fp32) != peer.Fp32Sha256)
                throw new PeerKitException($"{peer.Id}: the peer model was made from an FP32 model (sha256 {peer.Fp32Sha256[..12]}) this build no longer makes ({PeerKit.Sha256(model.Fp32)[..12]}): the optimizer or the model changed since the kit was exported. Export a new kit and run the device command again.");
            if (PeerKit.CalibrationHash(model.Calibration.Samples()) != peer.CalibrationSha256)
                throw new PeerKitException($"{peer.Id}: the peer model was calibrated on other inputs than this build's split makes ({run.Calibration} after {run.HeldOut} held out). Export a new kit and run the device command again.");
            rows.AddRange(MeasureModel(model, peerDir, peer, budget, floors, raceSeconds, progress));
        }
        return rows;
    }

    private static List<PeerTableRow> MeasureModel(BenchmarkModel m, string peerDir, PeerRunModel peer, double budget, OutputFloors floors, double raceSeconds, Action<string>? progress)
    {
        var made = new List<(string Name, byte[] Bytes, double? Seconds, string? Note)>();
        var clock = Stopwatch.StartNew();
        progress?.Invoke($"{m.Id}: our Int8");
        var int8 = OnnxImporter.Parse(m.Fp32);
        ModelQuantizer.Quantize(int8, new QuantizeOptions { Mode = QuantizationMode.Int8Static }, m.Calibration);
        made.Add(("EdgeBuild Int8", OnnxExporter.ToBytes(int8), clock.Elapsed.TotalSeconds, null));
        progress?.Invoke($"{m.Id}: our Auto");
        clock.Restart();
        var auto = m.Auto(budget, floors, line => progress?.Invoke($"{m.Id}: {line}"));
        made.Add(("EdgeBuild Auto", OnnxExporter.ToBytes(auto.Model), clock.Elapsed.TotalSeconds, auto.Choice));

        string? peerNote = peer.Error is { } error ? "quantize_static failed: " + error : null;
        if (peerNote is null)
        {
            string path = Path.Combine(peerDir, peer.Peer ?? "");
            if (peer.Peer is null || !File.Exists(path)) peerNote = $"{path}: not found (unpack every peer-models.tar.gz piece)";
            else
            {
                byte[] bytes = File.ReadAllBytes(path);
                try
                {
                    using var options = OrtSessions.ForEvaluation();
                    using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(bytes, options);
                    string?[] notes = [peer.OpsetConverted is { } opset ? $"opset {opset} (per-channel QDQ needs 13)" : null,
                        peer.PreProcessError is { } pre ? "quant_pre_process failed, quantized without it: " + pre : null];
                    made.Add((PeerArtifact, bytes, peer.Seconds, notes.Any(n => n is not null) ? string.Join("; ", notes.Where(n => n is not null)) : null));
                }
                catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e)
                {
                    peerNote = "does not load in ONNX Runtime here: " + e.Message.Split('\n')[0];
                }
            }
        }

        progress?.Invoke($"{m.Id}: racing {made.Count + 1} models");
        var race = LatencyRace.Run([("FP32", m.Fp32), .. made.Select(x => (x.Name, x.Bytes))], m.HeldOut.Samples().First(), raceSeconds);
        var score = AccuracyEvaluator.CachedReference(m.Fp32, m.HeldOut, m.Task);
        var rows = new List<PeerTableRow> { new(m.Id, "FP32 (optimized)", m.Fp32.Length / 1048576.0, race.Results[0], race, null, null, null, null) };
        for (int i = 0; i < made.Count; i++)
        {
            var accuracy = score(made[i].Bytes, int.MaxValue);
            var verdict = m.Judge(made[i].Name, accuracy, budget, floors).Verdict;
            rows.Add(new(m.Id, made[i].Name, made[i].Bytes.Length / 1048576.0, race.Results[i + 1], race, accuracy, verdict, made[i].Seconds, made[i].Note));
        }
        if (peerNote is not null) rows.Add(new(m.Id, PeerArtifact, null, null, race, null, null, peer.Seconds, peerNote));
        return rows;
    }

    public const string Header =
        "| model | artifact | MiB | P50 ms | P50 ratio to FP32 [95 % CI] | A/A band | loss % [95 % CI] (metric, samples) | worst SQNR dB | gate | made in s | note |\n" +
        "|---|---|---|---|---|---|---|---|---|---|---|";

    /// <summary>One markdown line per row.</summary>
    public static string Markdown(PeerTableRow r) => string.Create(CultureInfo.InvariantCulture,
        $"| {r.Model} | {r.Artifact} | {(r.SizeMiB is double s ? s.ToString("F2", CultureInfo.InvariantCulture) : "-")} | {(r.Race is { } x ? x.P50Ms.ToString("F3", CultureInfo.InvariantCulture) : "-")} | " +
        $"{(r.Race is { } y ? BenchmarkModel.Ratio(y) : "-")} | {(r.RaceReport is { } race ? BenchmarkModel.Band(race) : "-")} | {(r.Accuracy is { } a ? BenchmarkModel.Loss(a) : "-")} | " +
        $"{(r.Accuracy is { } b ? WorstSqnr(b) : "-")} | {r.Verdict?.ToString().ToLowerInvariant() ?? "-"} | {(r.Seconds is double t ? t.ToString("F1", CultureInfo.InvariantCulture) : "-")} | {r.Note ?? ""} |");

    private static string WorstSqnr(AccuracyReport a) =>
        a.Outputs.Select(o => o.SqnrDb).Where(d => !double.IsNaN(d)).DefaultIfEmpty(double.NaN).Min().ToString("F1", CultureInfo.InvariantCulture);
}
