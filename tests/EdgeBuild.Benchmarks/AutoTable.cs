using System.Diagnostics;
using System.Globalization;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Quantization;
using EdgeBuild.Tests.Support;
using EdgeBuild.Session;

namespace EdgeBuild.Benchmarks;

/// <summary>
/// Issue 13's acceptance for Precision=Auto on the real models: per model, what Auto chose, its search time, then an
/// independent check of the choice: a second interleaved race against the optimized FP32 model (single thread, thread
/// CPU clock, with its A/A band) and the loss on the held-out photos with its 95 % interval.
///
///   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- auto-table [--models a,b] [--held-out 40] [--calibration 16] [--budget 1] [--seconds 5] [--min-sqnr-db 20] [--dynamic-only]
///
/// The held-out / calibration split and the optimized FP32 model are <see cref="BenchmarkModel"/>'s (shared with
/// peer-table). Each row also gives the model's own peak RSS (VmHWM reset before its search).
/// </summary>
internal static class AutoTable
{
    public static int Run(string[] args, string data)
    {
        string? Arg(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var ids = Arg("--models")?.Split(',') ?? [.. BenchmarkModel.AllIds];
        int heldOutCount = int.Parse(Arg("--held-out") ?? "40", CultureInfo.InvariantCulture);
        int calibrationCount = int.Parse(Arg("--calibration") ?? "16", CultureInfo.InvariantCulture);
        double budget = double.Parse(Arg("--budget") ?? "1", CultureInfo.InvariantCulture);
        double seconds = double.Parse(Arg("--seconds") ?? "5", CultureInfo.InvariantCulture);
        // The output floors as a build sets them (MinSqnrDb): the default 20 dB unless the run names another.
        var floors = Arg("--min-sqnr-db") is { } floor ? new OutputFloors { MinSqnrDb = double.Parse(floor, CultureInfo.InvariantCulture) } : new OutputFloors();
        Console.WriteLine($"cpu: {File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim()}; " +
            $"flags: {string.Join(" ", new[] { "avx512_vnni", "avx_vnni", "avx2" }.Where(f => File.ReadAllText("/proc/cpuinfo").Contains(f, StringComparison.Ordinal)))}; MaxAccuracyLoss {budget} %; " +
            $"{heldOutCount} held-out, {calibrationCount} calibration inputs; floors {floors.MinSqnrDb} dB SQNR, cosine {floors.MinCosine}; check race {seconds} s");
        Console.WriteLine("| model | FP32 MiB | task | Auto chose | layers INT8/FP16/FP32 | search s | FP32 P50 ms | check: P50 ratio to FP32 [95 % CI] | A/A band | loss % [95 % CI] (metric) | gate | peak RSS MB |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var id in ids)
        {
            try
            {
                var m = BenchmarkModel.Load(id, data, heldOutCount, calibrationCount);
                var (task, heldOut, fp32) = (m.Task, m.HeldOut, m.Fp32);
                AccuracyJudgement Judge(AccuracyReport a) => m.Judge("Auto", a, budget, floors);

                if (args.Contains("--dynamic-only"))
                {
                    // What dynamic INT8 alone does on this model: the number the Auto search starts its dynamic branch from.
                    var dyn = OnnxImporter.Parse(fp32);
                    var dynReport = ModelQuantizer.Quantize(dyn, new QuantizeOptions { Mode = QuantizationMode.Int8Dynamic }, null);
                    byte[] dynBytes = OnnxExporter.ToBytes(dyn);
                    var dynAccuracy = AccuracyEvaluator.Compare(fp32, dynBytes, heldOut, task);
                    Console.WriteLine($"{id}: dynamic INT8 on {dynReport.Layers.Count(l => l.Precision == "Int8")} of {dynReport.Layers.Count} layers: {dynAccuracy.Summary}" +
                        (id == "text-minilm-l6" ? $"; sentence cosine {SentenceCosines(fp32, dynBytes, heldOut)}" : ""));
                    continue;
                }
                // The peak RSS from here on is this model's: Linux resets VmHWM when "5" is written to clear_refs.
                File.WriteAllText("/proc/self/clear_refs", "5");
                var clock = Stopwatch.StartNew();
                var auto = m.Auto(budget, floors,
                    line => Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {id} {clock.Elapsed.TotalSeconds,6:F1}s: {line}")));
                double searchSeconds = clock.Elapsed.TotalSeconds;
                Console.Error.WriteLine($"  {id}: {auto.Summary}");
                byte[] chosen = OnnxExporter.ToBytes(auto.Model);
                var race = LatencyRace.Run([("FP32", fp32), ("Auto", chosen)], heldOut.Samples().First(), seconds);
                var check = race.Results[1];
                var accuracy = AccuracyEvaluator.Compare(fp32, chosen, heldOut, task);
                var judgement = Judge(accuracy);
                string layers = string.Join("/", new[] { "Int8", "Fp16", "Fp32" }.Select(p => auto.Layers.Count(l => l.Precision == p)));
                string metric = accuracy.Metric;
                if (task == TaskKind.Embedding && id == "text-minilm-l6") metric += string.Create(CultureInfo.InvariantCulture, $"; sentence cosine {SentenceCosines(fp32, chosen, heldOut)}");
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {id} | {fp32.Length / 1048576.0:F1} | {task} | {auto.Choice} | {layers} | {searchSeconds:F0} | {race.Results[0].P50Ms:F3} | {BenchmarkModel.Ratio(check)} | {BenchmarkModel.Band(race)} | " +
                    $"{BenchmarkModel.Loss(accuracy, metric)} | {judgement.Verdict.ToString().ToLowerInvariant()} | {PeakRssMB():F0} |"));
            }
            catch (Exception e) when (e is Diagnostics.EdgeBuildException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException or InvalidOperationException)
            {
                // One model's failure is a row of the table, not the end of the run.
                Console.WriteLine($"| {id} | failed: {e.Message.Split('\n')[0]} |||||||||||");
            }
        }
        return 0;
    }

    /// <summary>Mean and worst cosine of the mean-pooled sentence embeddings (last_hidden_state over the attention mask), candidate against FP32.</summary>
    private static string SentenceCosines(byte[] fp32, byte[] candidate, ICalibrationDataSource sentences)
    {
        using var options = OrtSessions.ForEvaluation();
        using var a = new Microsoft.ML.OnnxRuntime.InferenceSession(fp32, options);
        using var b = new Microsoft.ML.OnnxRuntime.InferenceSession(candidate, options);
        var cosines = new List<double>();
        foreach (var sample in sentences.Samples())
        {
            long[] mask = sample["attention_mask"].ToInt64s();
            var x = WordPiece.MeanPool(Hidden(a, sample), mask);
            var y = WordPiece.MeanPool(Hidden(b, sample), mask);
            double dot = 0, nx = 0, ny = 0;
            for (int i = 0; i < x.Length; i++) { dot += (double)x[i] * y[i]; nx += (double)x[i] * x[i]; ny += (double)y[i] * y[i]; }
            cosines.Add(dot / Math.Sqrt(nx * ny));
        }
        return string.Create(CultureInfo.InvariantCulture, $"mean {cosines.Average():F4}, worst {cosines.Min():F4} over {cosines.Count}");
    }

    private static float[] Hidden(Microsoft.ML.OnnxRuntime.InferenceSession session, IReadOnlyDictionary<string, Ir.Tensor> sample)
    {
        var names = session.InputNames.ToArray();
        var values = names.Select(n => OrtTensors.ToOrtValue(sample[n])).ToArray();
        try
        {
            using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
            using var outputs = session.Run(runOptions, names, values, ["last_hidden_state"]);
            return OrtTensors.ToTensor(outputs[0])!.ToFloats();
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    private static double PeakRssMB() =>
        File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)) is { } line
            ? double.Parse(line.Split(':')[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024 : double.NaN;
}
