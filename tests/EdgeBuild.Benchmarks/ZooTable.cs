using System.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Benchmarks;


/// <summary>
/// Issue 19's acceptance table for the nine models of MODELS-zoo.md: per model, the optimized model's outputs against
/// the original's on real inputs (max |diff| / max |original| per output over the whole set; the VAD models over a whole
/// recording with the recurrent state carried frame to frame, each model fed its own state), nodes (with subgraphs)
/// original / ours / ONNX Runtime's basic optimizer (ORT_ENABLE_BASIC, its optimized model written with
/// SessionOptions.OptimizedModelFilePath), and latency: ONNX Runtime 1 thread, sequential, ENABLE_ALL (as the runtime
/// loads artifacts; <c>--ort-level basic</c> for ORT_ENABLE_BASIC, where ONNX Runtime fuses no LayerNorm or GELU
/// itself), original and optimized interleaved call by call (the order rotating) with the original loaded a second
/// time as the A/A noise floor, P50 over the runs. <c>--variant NAME=PASS,PASS</c> adds a model optimized with
/// those passes skipped to the same race (the fusions measured against the same pipeline without them).
/// </summary>
internal static class ZooTable
{
    public static readonly string[] Ids =
        ["mlsd-tiny-320", "mlsd-large-320", "vad-silero-v4", "vad-silero-v5", "kws-oww-melspec", "kws-oww-embedding", "text-minilm-l6", "face-age-ssrnet", "face-liveness"];

    private const int Rate = 16000;

    /// <summary>One stream of feeds: consecutive runs, with outputs fed back as inputs (name of output, name of input).</summary>
    private sealed record Stream(List<Dictionary<string, Tensor>> Feeds, (string From, string To)[] Carry);

    public static int Run(string data, string[] ids, int runs, long? targetOpset, (string Name, string[] Skip)? variant, GraphOptimizationLevel level)
    {
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, load average {LoadAverage()}; ONNX Runtime 1 thread, sequential, {level} for latency, DISABLE_ALL for outputs; " +
            $"{runs} timed runs per model after 10 warm-up runs, interleaved; target opset {(targetOpset?.ToString() ?? "the model's")}");
        Console.WriteLine($"{"model",-18} {"opset",5} {"LN/GELU",7} {"nodes orig/ours/ORT basic",26} {"max rel err",11} {"worst output",-16} {"orig p50",9} {"opt p50",9} {"opt/orig",8} {"A/A",6}"
            + (variant is { } v ? $" {v.Name + " p50",12} {v.Name + "/orig",12} {"opt/" + v.Name,12}" : ""));
        foreach (var id in ids)
        {
            string path = Path.Combine(data, "models", id + ".onnx");
            byte[] original = File.ReadAllBytes(path);
            int nodesOriginal = OnnxImporter.Parse(original).Graph.AllNodes().Count();
            var (optimized, nodesOurs, opset, fused) = Optimize(original, targetOpset, []);
            byte[]? other = variant is { } va ? Optimize(original, targetOpset, va.Skip).Bytes : null;
            int nodesBasic = OrtBasicNodes(original);
            var streams = Inputs(id, data);

            using var exact = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL, IntraOpNumThreads = 1, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
            var (rel, worstOutput) = Agreement(original, optimized, streams, exact);

            using var timed = new SessionOptions { GraphOptimizationLevel = level, IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
            var models = new List<byte[]> { original, optimized, original };
            if (other is not null) models.Add(other);
            var p50 = Race(models, streams[0].Feeds[Math.Min(2, streams[0].Feeds.Count - 1)], runs, timed);
            string line = $"{id,-18} {opset,5} {fused,7} {$"{nodesOriginal}/{nodesOurs}/{nodesBasic}",26} {rel,11:G3} {worstOutput,-16} {p50[0],9:F3} {p50[1],9:F3} {p50[1] / p50[0],8:F3} {p50[2] / p50[0],6:F3}";
            if (other is not null) line += $" {p50[3],12:F3} {p50[3] / p50[0],12:F3} {p50[1] / p50[3],12:F3}";
            Console.WriteLine(line);
        }
        Console.WriteLine($"load average at the end {LoadAverage()}");
        return 0;
    }

    /// <summary>The optimized model, its nodes, its opset and "LayerNorms fused/GELUs fused".</summary>
    private static (byte[] Bytes, int Nodes, long Opset, string Fused) Optimize(byte[] original, long? targetOpset, string[] skip)
    {
        var model = OnnxImporter.Parse(original);
        var passes = OptimizationPipeline.DefaultPasses.Where(p => !skip.Contains(p.Name)).ToList();
        var report = OptimizationPipeline.Run(model, new OptimizeOptions { TargetOpset = targetOpset, VerifyAfterEachPass = false }, passes);
        long Sum(string pass) => report.Passes.Where(p => p.Name == pass).SelectMany(p => p.Counters).Where(c => c.Key.StartsWith("fused", StringComparison.Ordinal)).Sum(c => c.Value);
        return (OnnxExporter.ToBytes(model), model.Graph.AllNodes().Count(), model.DefaultOpset, $"{Sum("layer-norm-fusion")}/{Sum("gelu-fusion")}");
    }

    private static int OrtBasicNodes(byte[] original)
    {
        string file = Path.Combine(Path.GetTempPath(), $"edgebuild-zoo-ortbasic-{Environment.ProcessId}.onnx");
        try
        {
            using (var basic = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC, OptimizedModelFilePath = file, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR })
            using (new InferenceSession(original, basic)) { }
            return OnnxImporter.Load(file).Graph.AllNodes().Count();
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>Max |original - optimized| / max |original| per output over every feed of every stream; the worst output.</summary>
    private static (double Relative, string Output) Agreement(byte[] original, byte[] optimized, List<Stream> streams, SessionOptions options)
    {
        using var a = new InferenceSession(original, options);
        using var b = new InferenceSession(optimized, options);
        var diff = new Dictionary<string, double>();
        var max = new Dictionary<string, double>();
        foreach (var stream in streams)
        {
            Dictionary<string, Tensor>? carryA = null, carryB = null;
            foreach (var feed in stream.Feeds)
            {
                var fa = new Dictionary<string, Tensor>(feed);
                var fb = new Dictionary<string, Tensor>(feed);
                foreach (var (from, to) in stream.Carry)
                {
                    if (carryA is not null) fa[to] = carryA[from];
                    if (carryB is not null) fb[to] = carryB[from];
                }
                carryA = RunOnce(a, fa);
                carryB = RunOnce(b, fb);
                foreach (var (name, ta) in carryA)
                {
                    float[] x = ta.ToFloats(), y = carryB[name].ToFloats();
                    double d = 0, m = 0;
                    for (int i = 0; i < x.Length; i++)
                    {
                        d = Math.Max(d, Math.Abs((double)x[i] - y[i]));
                        m = Math.Max(m, Math.Abs((double)x[i]));
                    }
                    diff[name] = Math.Max(diff.GetValueOrDefault(name), d);
                    max[name] = Math.Max(max.GetValueOrDefault(name), m);
                }
            }
        }
        var worst = diff.Keys.MaxBy(k => diff[k] / Math.Max(max[k], 1e-30))!;
        return (diff[worst] / Math.Max(max[worst], 1e-30), worst);
    }

    private static Dictionary<string, Tensor> RunOnce(InferenceSession s, IReadOnlyDictionary<string, Tensor> feed)
    {
        var names = feed.Keys.ToArray();
        var values = names.Select(n => OrtTensors.ToOrtValue(feed[n])).ToArray();
        try
        {
            using var runOptions = new RunOptions();
            using var outs = s.Run(runOptions, names, values, s.OutputNames);
            return s.OutputNames.Zip(outs).ToDictionary(p => p.First, p => OrtTensors.ToTensor(p.Second)!);
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    /// <summary>P50 ms of each model on one feed, run in turn call by call (the order rotating each run).</summary>
    private static double[] Race(List<byte[]> models, Dictionary<string, Tensor> feed, int runs, SessionOptions options)
    {
        var sessions = models.Select(m => new InferenceSession(m, options)).ToList();
        var names = feed.Keys.ToArray();
        var values = names.Select(n => OrtTensors.ToOrtValue(feed[n])).ToArray();
        try
        {
            var times = models.Select(_ => new List<double>()).ToList();
            for (int r = 0; r < 10 + runs; r++)
                for (int k = 0; k < sessions.Count; k++)
                {
                    int i = (k + r) % sessions.Count;
                    var sw = Stopwatch.StartNew();
                    using (var runOptions = new RunOptions())
                    using (sessions[i].Run(runOptions, names, values, sessions[i].OutputNames)) { }
                    if (r >= 10) times[i].Add(sw.Elapsed.TotalMilliseconds);
                }
            return times.Select(t => t.Order().ElementAt(t.Count / 2)).ToArray();
        }
        finally
        {
            foreach (var v in values) v.Dispose();
            foreach (var s in sessions) s.Dispose();
        }
    }

    /// <summary>Real inputs per model, preprocessed as MODELS-zoo.md says each package does.</summary>
    private static List<Stream> Inputs(string id, string data)
    {
        float[] Speech(string name)
        {
            var pad = new float[Rate / 2];
            return [.. pad, .. Audio.ReadWavAt(Path.Combine(data, "audio", name + ".wav"), Rate), .. pad];
        }
        string[] recordings = ["Front_Center", "Rear_Left"];
        switch (id)
        {
            case "vad-silero-v4":
                return recordings.Select(r => VadStream(Speech(r), 1536, 0, new() { ["h"] = Zeros(2, 1, 64), ["c"] = Zeros(2, 1, 64) }, [("hn", "h"), ("cn", "c")])).ToList();
            case "vad-silero-v5":
                return recordings.Select(r => VadStream(Speech(r), 512, 64, new() { ["state"] = Zeros(2, 1, 128) }, [("stateN", "state")])).ToList();
            case "kws-oww-melspec":
                return recordings.Select(r => new Stream(Chunks(Speech(r), 1280).Select(c => new Dictionary<string, Tensor> { ["input"] = c }).ToList(), [])).ToList();
            case "kws-oww-embedding":
                return recordings.Select(r => new Stream(MelWindows(data, Speech(r)), [])).ToList();
            case "text-minilm-l6":
            {
                var tokenizer = new WordPiece(Path.Combine(data, "text", "minilm-vocab.txt"));
                var feeds = TemplateSentences.All().Take(24).Select(s =>
                {
                    long[] ids = tokenizer.Encode(s);
                    long[] dims = [1, ids.Length];
                    return new Dictionary<string, Tensor>
                    {
                        ["input_ids"] = Tensor.FromInt64s(dims, ids),
                        ["attention_mask"] = Tensor.FromInt64s(dims, Enumerable.Repeat(1L, ids.Length).ToArray()),
                        ["token_type_ids"] = Tensor.FromInt64s(dims, new long[ids.Length]),
                    };
                }).ToList();
                return [new Stream(feeds, [])];
            }
            case "mlsd-tiny-320" or "mlsd-large-320":
                return [new Stream(Photos(data, "street", 6).Select(p => new Dictionary<string, Tensor> { ["input_image_with_alpha:0"] = Nhwc4(PhotoPixels.Rgb(p, 320, 320), 320) }).ToList(), [])];
            case "face-age-ssrnet":
            {
                float[] mean = [0.485f, 0.456f, 0.406f], std = [0.229f, 0.224f, 0.225f];
                return [new Stream(Photos(data, "faces", 12).Select(p => new Dictionary<string, Tensor> { ["input"] = Chw(PhotoPixels.Rgb(p, 64, 64), 64, (v, c) => (v / 255f - mean[c]) / std[c]) }).ToList(), [])];
            }
            case "face-liveness":
                return [new Stream(Photos(data, "faces", 12).Select(p => new Dictionary<string, Tensor> { ["input"] = Chw(PhotoPixels.Rgb(p, 128, 128), 128, (v, _) => v) }).ToList(), [])];
            default:
                throw new ArgumentException($"'{id}' is not a model of MODELS-zoo.md (models: {string.Join(", ", Ids)})");
        }
    }

    /// <summary>Frames of <paramref name="frame"/> samples with the previous frame's last <paramref name="context"/> in front, sr 16000, the state's first value zeros.</summary>
    private static Stream VadStream(float[] audio, int frame, int context, Dictionary<string, Tensor> initialState, (string, string)[] carry)
    {
        var feeds = new List<Dictionary<string, Tensor>>();
        for (int start = 0; start + frame <= audio.Length; start += frame)
        {
            var samples = new float[context + frame];
            for (int i = 0; i < samples.Length; i++) samples[i] = start - context + i >= 0 ? audio[start - context + i] : 0f;
            var feed = new Dictionary<string, Tensor>(initialState)
            {
                ["input"] = Tensor.FromFloats([1, samples.Length], samples),
                ["sr"] = Tensor.FromInt64s([], [Rate]),
            };
            feeds.Add(feed);
        }
        return new Stream(feeds, carry);
    }

    private static IEnumerable<Tensor> Chunks(float[] audio, int size)
    {
        for (int start = 0; start + size <= audio.Length; start += size) yield return Tensor.FromFloats([1, size], audio.AsSpan(start, size));
    }

    /// <summary>openWakeWord's chain: mel frames of 1280-sample chunks by the original front end (x / 10 + 2), windows of 76 frames every 8.</summary>
    private static List<Dictionary<string, Tensor>> MelWindows(string data, float[] audio)
    {
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var mel = new InferenceSession(Path.Combine(data, "models", "kws-oww-melspec.onnx"), options);
        var frames = new List<float>();
        foreach (var chunk in Chunks(audio, 1280))
            frames.AddRange(RunOnce(mel, new Dictionary<string, Tensor> { ["input"] = chunk })["output"].ToFloats().Select(v => v / 10f + 2f));
        const int bands = 32, window = 76;
        var feeds = new List<Dictionary<string, Tensor>>();
        for (int first = 0; (first + window) * bands <= frames.Count; first += 8)
            feeds.Add(new() { ["input_1"] = Tensor.FromFloats([1, window, bands, 1], frames.GetRange(first * bands, window * bands).ToArray()) });
        return feeds;
    }

    private static IEnumerable<string> Photos(string data, string group, int count) =>
        Directory.GetFiles(Path.Combine(data, "photos", group)).Order(StringComparer.Ordinal).Take(count);

    /// <summary>RGB 0..255 with a fourth channel of 1, NHWC (M-LSD's Preprocess.compute).</summary>
    private static Tensor Nhwc4(byte[] rgb, int size)
    {
        var t = new float[size * size * 4];
        for (int i = 0; i < size * size; i++)
        {
            for (int c = 0; c < 3; c++) t[4 * i + c] = rgb[3 * i + c];
            t[4 * i + 3] = 1f;
        }
        return Tensor.FromFloats([1, size, size, 4], t);
    }

    private static Tensor Chw(byte[] rgb, int size, Func<float, int, float> normalize)
    {
        var t = new float[3 * size * size];
        for (int i = 0; i < size * size; i++)
            for (int c = 0; c < 3; c++) t[c * size * size + i] = normalize(rgb[3 * i + c], c);
        return Tensor.FromFloats([1, 3, size, size], t);
    }

    private static Tensor Zeros(params long[] dims) => Tensor.FromFloats(dims, new float[Tensor.CountElements(dims)]);

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
}
