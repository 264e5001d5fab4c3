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
///   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- auto-table [--models a,b] [--held-out 40] [--calibration 16] [--budget 1] [--seconds 5]
///
/// Held-out photos come from the model's own photo groups first, then the other groups (any photo is a valid input
/// for agreement with FP32); calibration photos are the next ones, never held out.
/// </summary>
internal static class AutoTable
{
    public static int Run(string[] args, string data)
    {
        string? Arg(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var ids = Arg("--models")?.Split(',') ?? [.. RealModelSpec.All.Where(s => s.Id != "resnet18-preprocess").Select(s => s.Id), Text];
        int heldOutCount = int.Parse(Arg("--held-out") ?? "40", CultureInfo.InvariantCulture);
        int calibrationCount = int.Parse(Arg("--calibration") ?? "16", CultureInfo.InvariantCulture);
        double budget = double.Parse(Arg("--budget") ?? "1", CultureInfo.InvariantCulture);
        double seconds = double.Parse(Arg("--seconds") ?? "5", CultureInfo.InvariantCulture);
        Console.WriteLine($"cpu: {File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim()}; " +
            $"flags: {string.Join(" ", new[] { "avx512_vnni", "avx_vnni", "avx2" }.Where(f => File.ReadAllText("/proc/cpuinfo").Contains(f, StringComparison.Ordinal)))}; MaxAccuracyLoss {budget} %; " +
            $"{heldOutCount} held-out, {calibrationCount} calibration photos; check race {seconds} s");
        Console.WriteLine("| model | task | Auto chose | INT8 layers | search s | check: P50 ratio to FP32 [95 % CI] | A/A band | loss % [95 % CI] | gate | peak RSS MB |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var id in ids)
        {
            var task = id == Text ? TaskKind.Embedding : QuantizationTable.TaskOf(id);
            var model = OnnxImporter.Load(Path.Combine(data, "models", id + ".onnx"));
            ICalibrationDataSource heldOut, calibration;
            if (id == Text)
            {
                // The sentence encoder: sentences through its WordPiece vocabulary, padded to a fixed length.
                InputShapes.Apply(model, new Dictionary<string, long[]> { ["input_ids"] = [1, SequenceLength], ["attention_mask"] = [1, SequenceLength], ["token_type_ids"] = [1, SequenceLength] });
                var tokenizer = new WordPiece(Path.Combine(data, "text", "minilm-vocab.txt"));
                var sentences = TemplateSentences.All().ToList();
                heldOut = new SentenceSamples(sentences.Take(heldOutCount).Select(s => tokenizer.Feed(s, SequenceLength)).ToList());
                calibration = new SentenceSamples(sentences.Skip(heldOutCount).Take(calibrationCount).Select(s => tokenizer.Feed(s, SequenceLength)).ToList());
            }
            else
            {
                var spec = RealModelSpec.Get(id);
                var groups = spec.PhotoGroups.Concat(Directory.GetDirectories(Path.Combine(data, "photos")).Select(Path.GetFileName).Where(g => g is not null && !spec.PhotoGroups.Contains(g!)).Order(StringComparer.Ordinal)!);
                var photos = groups.SelectMany(g => Directory.GetFiles(Path.Combine(data, "photos", g!)).Order(StringComparer.Ordinal)).ToList();
                heldOut = new RealModelSamples(spec, photos.Take(heldOutCount), data);
                calibration = new RealModelSamples(spec, photos.Skip(heldOutCount).Take(calibrationCount), data);
            }
            OptimizationPipeline.Run(model, new OptimizeOptions(), OptimizationPipeline.DefaultPasses);
            byte[] fp32 = OnnxExporter.ToBytes(model);
            AccuracyJudgement Judge(AccuracyReport a) => AccuracyGate.Judge(id, "Auto", a, budget, new OutputFloors(), null);

            var clock = Stopwatch.StartNew();
            var auto = AutoPrecisionSearch.Run(fp32, new QuantizeOptions { Mode = QuantizationMode.Int8Static }, calibration, heldOut, task, budget, Judge,
                line => Console.Error.WriteLine($"  {id}: {line}"));
            double searchSeconds = clock.Elapsed.TotalSeconds;
            Console.Error.WriteLine($"  {id}: {auto.Summary}");
            byte[] chosen = OnnxExporter.ToBytes(auto.Model);
            var race = LatencyRace.Run([("FP32", fp32), ("Auto", chosen)], heldOut.Samples().First(), seconds);
            var check = race.Results[1];
            var accuracy = AccuracyEvaluator.Compare(fp32, chosen, heldOut, task);
            var judgement = Judge(accuracy);
            int int8 = auto.Layers.Count(l => l.Precision == "Int8");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {id} | {task} | {auto.Choice} | {int8}/{auto.Layers.Count} | {searchSeconds:F0} | {check.Ratio:F3} [{check.RatioLow:F3}, {check.RatioHigh:F3}] | [{race.NoiseLow:F3}, {race.NoiseHigh:F3}] | " +
                $"{accuracy.LossPercent:F3} [{accuracy.Loss.Low:F3}, {accuracy.Loss.High:F3}] | {judgement.Verdict.ToString().ToLowerInvariant()} | {PeakRssMB():F0} |"));
        }
        return 0;
    }

    private const string Text = "text-minilm-l6";
    private const int SequenceLength = 32;


    private sealed class SentenceSamples(IReadOnlyList<IReadOnlyDictionary<string, Ir.Tensor>> samples) : ICalibrationDataSource
    {
        public int Count => samples.Count;
        public IEnumerable<IReadOnlyDictionary<string, Ir.Tensor>> Samples() => samples;
    }

    private static double PeakRssMB() =>
        File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)) is { } line
            ? double.Parse(line.Split(':')[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024 : double.NaN;
}
