using EdgeBuild.Diagnostics;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Session;
using EdgeBuild.Targets.Tflite;
using EdgeBuild.Targets.Tflite.Schema;
using EdgeBuild.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.Tflite;

/// <summary>
/// The zoo families (../shared/testdata/MODELS-zoo.md) as Fp32 .tflite files, run in Google's interpreter (LiteRT,
/// build/tflite-runner) on real inputs (speech, sentences, photos, face crops) against ONNX Runtime on the shipped
/// ONNX model. Each output must agree within 1e-4 of its largest magnitude, or within twice what ONNX Runtime's own
/// answer moves by between its two execution plans (all graph optimizations against none) or when each float input
/// moves by one float32 step:
/// where a model cancels large terms (an STFT's power spectrum, a ReLU6 decoder's sharp peaks) float32 cannot do
/// better, and the interpreter is judged by the yardstick the reference sets itself.
/// </summary>
public class TfliteFamilyTests(ITestOutputHelper output)
{
    private sealed record Converted(string Id, string Path, byte[] Bytes, TfliteResult Result);

    /// <summary>The shipped model with its inputs fixed, optimized as the compile step does, then converted to Fp32.</summary>
    private Converted Convert(string id, IReadOnlyDictionary<string, long[]> shapes, long? targetOpset = null)
    {
        string path = TestData.Model(id);
        var model = OnnxImporter.Load(path);
        InputShapes.Apply(model, shapes);
        OptimizationPipeline.Run(model, new OptimizeOptions { TargetOpset = targetOpset });
        var (bytes, result) = TfliteHarness.Convert(model, TflitePrecision.Fp32);
        var ops = result.Model.Operators.GroupBy(o => result.Model.OperatorCodes[o.OpcodeIndex].Code).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} {g.Count()}");
        output.WriteLine($"{id}: {bytes.Length} bytes (ONNX {new FileInfo(path).Length}), {result.Model.Operators.Count} ops, {result.Transposes} TRANSPOSE: {string.Join(", ", ops)}");
        return new Converted(id, path, bytes, result);
    }

    /// <summary>
    /// Per output: worst |TFLite - ORT| and worst |ORT| over the samples, and ORT's own spread: how far its answer moves
    /// between its two execution plans (ORT_ENABLE_ALL vs ORT_DISABLE_ALL) and when every float input moves by one
    /// float32 step (what rounding in a differently ordered sum amounts to).
    /// </summary>
    private sealed class Errors
    {
        public readonly Dictionary<string, (double Diff, double Max, double OrtSpread)> PerOutput = new(StringComparer.Ordinal);

        /// <param name="others">ONNX Runtime's other answers to the same question: the unoptimized plan, and the input one float32 step away.</param>
        public void Add(IReadOnlyDictionary<string, Tensor> reference, IReadOnlyList<Dictionary<string, Tensor>> others, IReadOnlyDictionary<string, Tensor> tflite)
        {
            foreach (var (name, r) in reference)
            {
                var (d, m, s) = PerOutput.GetValueOrDefault(name);
                PerOutput[name] = (Math.Max(d, Ort.MaxAbsDiff(r, tflite[name])), Math.Max(m, Ort.MaxAbs(r)), Math.Max(s, others.Max(o => Ort.MaxAbsDiff(r, o[name]))));
            }
        }

        public void Report(ITestOutputHelper output, string id)
        {
            foreach (var (name, (diff, max, spread)) in PerOutput)
                output.WriteLine($"  {id} '{name}': max |TFLite - ORT| {diff:E2} (relative {diff / Math.Max(max, 1e-30):E2}); ORT's own spread {spread:E2}");
        }

        public void AssertWithin(string id)
        {
            Assert.NotEmpty(PerOutput);
            foreach (var (name, (diff, max, spread)) in PerOutput)
            {
                double bound = Math.Max(1e-4 * max, 2 * spread);
                Assert.True(diff <= bound, $"{id} output '{name}': TFLite differs from ONNX Runtime by {diff:E2} > {bound:E2} (1e-4 x max |output| {max:E3}, ORT's own spread {spread:E2})");
            }
        }
    }

    /// <summary>Runs each sample through both ORT plans and the .tflite file; returns the TFLite outputs (ONNX layout) in order.</summary>
    private static List<Dictionary<string, Tensor>> RunAll(string tool, Converted model, IReadOnlyList<Dictionary<string, Tensor>> samples, Errors errors)
    {
        using var optimized = Ort.Options(optimize: true);
        using var plain = Ort.Options(optimize: false);
        using var reference = new InferenceSession(model.Path, optimized);
        using var unoptimized = new InferenceSession(model.Path, plain);
        string work = Directory.CreateTempSubdirectory($"edgebuild-tflite-{model.Id}-").FullName;
        try
        {
            var tflite = TfliteHarness.RunAll(tool, model.Bytes, model.Result, samples, work).Select(o => new Dictionary<string, Tensor>(o)).ToList();
            for (int i = 0; i < samples.Count; i++) errors.Add(Ort.Run(reference, samples[i]), [Ort.Run(unoptimized, samples[i]), Ort.Run(reference, OneUlpApart(samples[i]))], tflite[i]);
            return tflite;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Every float input value one float32 step up or down (a fixed pseudo-random pattern); integer inputs as they are.</summary>
    private static Dictionary<string, Tensor> OneUlpApart(IReadOnlyDictionary<string, Tensor> inputs)
    {
        var random = new Random(19);
        return inputs.ToDictionary(p => p.Key, p => p.Value.ElementType != Ir.DataType.Float ? p.Value
            : Tensor.FromFloats(p.Value.Dims, p.Value.ToFloats().Select(v => random.Next(2) == 0 ? MathF.BitIncrement(v) : MathF.BitDecrement(v)).ToArray()));
    }

    private static int Count(TfliteResult r, BuiltinOperator op) => TfliteHarness.Operators(r.Model, op).Count();

    /// <summary>
    /// Silero VAD v4 (two LSTMs inside an If on the sample rate; h and c carried frame to frame) streamed over a speech
    /// recording in 1536-sample frames, at 16 kHz and at 8 kHz: the If's condition is an input, so both branches are in
    /// the file and SELECT_V2 must pick the one ONNX Runtime takes.
    /// </summary>
    [SkippableFact]
    public void SileroV4StreamsSpeechLikeOnnxRuntime()
    {
        string tool = TfliteTool.Require();
        var model = Convert("vad-silero-v4", new Dictionary<string, long[]> { ["input"] = [1, 1536], ["h"] = [2, 1, 64], ["c"] = [2, 1, 64] });
        Assert.True(Count(model.Result, BuiltinOperator.SELECT_V2) >= 3, "the If's outputs are not selected");
        Assert.Equal(0, Count(model.Result, BuiltinOperator.WHILE) + Count(model.Result, BuiltinOperator.IF));
        using var reference = new InferenceSession(model.Path, Ort.Options());
        using var unoptimized = new InferenceSession(model.Path, Ort.Options(optimize: false));
        var speech = Audio.ReadWavAt(TestData.Audio("Front_Center"), 16000);
        float[] audio = [.. new float[8000], .. speech, .. new float[8000]];
        var errors = new Errors();
        double worstP = 0;
        var probabilities = new List<float>();
        foreach (var (rate, frames) in new[] { (16000L, audio.Length / 1536), (8000L, 4) })
        {
            // The state the interpreter carries from frame to frame, as an app streams it; ONNX Runtime gets the very
            // same inputs each frame, so every difference is one step's, not one compounded over the stream.
            var state = new Dictionary<string, Tensor> { ["h"] = Tensor.FromFloats([2, 1, 64], new float[128]), ["c"] = Tensor.FromFloats([2, 1, 64], new float[128]) };
            for (int f = 0; f < frames; f++)
            {
                var feed = new Dictionary<string, Tensor>(state) { ["input"] = Tensor.FromFloats([1, 1536], audio.AsSpan(f * 1536, 1536)), ["sr"] = Tensor.FromInt64s([], [rate]) };
                var expected = Ort.Run(reference, feed);
                var actual = TfliteHarness.RunOnce(tool, model.Result, feed);
                errors.Add(expected, [Ort.Run(unoptimized, feed), Ort.Run(reference, OneUlpApart(feed))], actual);
                worstP = Math.Max(worstP, Math.Abs(expected["output"].ToFloats()[0] - actual["output"].ToFloats()[0]));
                if (rate == 16000) probabilities.Add(actual["output"].ToFloats()[0]);
                (state["h"], state["c"]) = (actual["hn"], actual["cn"]);
            }
        }
        errors.Report(output, model.Id);
        output.WriteLine($"  p(speech) in TFLite over {probabilities.Count} frames: max {probabilities.Max():F3}, first and last frames (silence) {probabilities[0]:F3} {probabilities[^1]:F3}; worst |p - p_ORT| {worstP:E2}");
        Assert.True(worstP <= 1e-4, $"speech probability differs from ONNX Runtime by {worstP:E2}");
        Assert.True(probabilities.Max() >= 0.9 && probabilities[0] <= 0.1, "TFLite does not tell the words from the silence around them");
        errors.AssertWithin(model.Id);
    }

    /// <summary>
    /// Silero VAD v5: its 8 kHz branch reshapes the state by the frame's own length (Shape, nested Ifs on dims, an LSTM
    /// whose input has no static shape for a 16 kHz frame), so the two branches cannot both run on one input; the
    /// converter refuses the model with one EB4101 that names the If and the nodes inside it, and writes nothing.
    /// </summary>
    [SkippableFact]
    public void SileroV5IsRefusedNamingTheIfAndWhy()
    {
        var model = OnnxImporter.Load(TestData.Model("vad-silero-v5"));
        InputShapes.Apply(model, new Dictionary<string, long[]> { ["input"] = [1, 576], ["state"] = [2, 1, 128] });
        OptimizationPipeline.Run(model, new OptimizeOptions());
        var e = Assert.Throws<EdgeBuildException>(() => TfliteConverter.Convert(model, new TfliteOptions()));
        output.WriteLine(e.Message);
        Assert.Equal(DiagnosticCodes.TfliteUnsupportedOperator.Code, e.Descriptor.Code);
        Assert.Contains("1 node(s) cannot be expressed in TFLite: If (If_0: its branches hold", e.Message);
        Assert.Contains("LSTM", e.Message);
        Assert.Contains("static", e.Message);
    }

    /// <summary>openWakeWord's front end: the STFT-as-1-D-Conv mel spectrogram on 1280-sample chunks of speech, and the speech-embedding CNN on 76 frames of it.</summary>
    [SkippableFact]
    public void WakeWordFrontEndMatchesOnnxRuntime()
    {
        string tool = TfliteTool.Require();
        var mel = Convert("kws-oww-melspec", new Dictionary<string, long[]> { ["input"] = [1, 1280] });
        var embedding = Convert("kws-oww-embedding", new Dictionary<string, long[]> { ["input_1"] = [1, 76, 32, 1] });
        var speech = Audio.ReadWavAt(TestData.Audio("Front_Left"), 16000);
        var chunks = Enumerable.Range(0, 6).Select(k => new Dictionary<string, Tensor> { ["input"] = Tensor.FromFloats([1, 1280], speech.AsSpan(4000 + k * 1280, 1280)) }).ToList();
        chunks.Add(new Dictionary<string, Tensor> { ["input"] = Tensor.FromFloats([1, 1280], new float[1280]) });
        var melErrors = new Errors();
        var frames = RunAll(tool, mel, chunks, melErrors).Take(6).SelectMany(o => o["output"].ToFloats().Select(v => v / 10f + 2f)).ToArray();
        melErrors.Report(output, mel.Id);
        // 6 chunks give 30 frames of 32 bands; the embedding takes 76, so the window repeats them as the package's ring buffer would after a wrap.
        var window = Enumerable.Range(0, 76 * 32).Select(i => frames[i % frames.Length]).ToArray();
        var embeddingErrors = new Errors();
        RunAll(tool, embedding, [new() { ["input_1"] = Tensor.FromFloats([1, 76, 32, 1], window) }], embeddingErrors);
        embeddingErrors.Report(output, embedding.Id);
        Assert.True(Count(mel.Result, BuiltinOperator.CONV_2D) >= 2, "the STFT convolutions are not CONV_2D");
        melErrors.AssertWithin(mel.Id);
        embeddingErrors.AssertWithin(embedding.Id);
    }

    /// <summary>
    /// all-MiniLM-L6-v2 with 16-token inputs (token ids gathered from the embedding table, GELU as Erf, LayerNorm in
    /// primitives): hidden states match, and the paraphrase still ranks first. At its own opset 13 and converted to 20,
    /// where the passes fuse its 13 LayerNorms into LayerNormalization (written out again for TFLite, with one RSQRT
    /// each) and its GELUs into Gelu.
    /// </summary>
    [SkippableTheory]
    [InlineData(0)]
    [InlineData(20)]
    public void MiniLmEncodesSentencesLikeOnnxRuntime(long targetOpset)
    {
        string tool = TfliteTool.Require();
        const int length = 16;
        var model = Convert("text-minilm-l6", new Dictionary<string, long[]> { ["input_ids"] = [1, length], ["attention_mask"] = [1, length], ["token_type_ids"] = [1, length] },
            targetOpset == 0 ? null : targetOpset);
        Assert.True(Count(model.Result, BuiltinOperator.GELU) == 6, "the six Erf GELUs did not become GELU");
        if (targetOpset >= 17) Assert.Equal(13, Count(model.Result, BuiltinOperator.RSQRT));
        Assert.True(Count(model.Result, BuiltinOperator.GATHER) >= 2, "token ids are not gathered");
        var tokenizer = new WordPiece(TestData.RequireFile(Path.Combine("text", "minilm-vocab.txt")));
        string[] sentences = ["A man is eating food.", "A man is eating a piece of bread.", "A monkey is playing drums.", "The new movie is awesome."];
        var samples = sentences.Select(s =>
        {
            var ids = tokenizer.Encode(s);
            Assert.True(ids.Length <= length);
            var padded = new long[length];
            var mask = new long[length];
            ids.CopyTo(padded, 0);
            Array.Fill(mask, 1L, 0, ids.Length);
            return new Dictionary<string, Tensor>
            {
                ["input_ids"] = Tensor.FromInt64s([1, length], padded),
                ["attention_mask"] = Tensor.FromInt64s([1, length], mask),
                ["token_type_ids"] = Tensor.FromInt64s([1, length], new long[length]),
            };
        }).ToList();
        var errors = new Errors();
        var outputs = RunAll(tool, model, samples, errors);
        errors.Report(output, model.Id);
        var embeddings = outputs.Select((o, i) => WordPiece.MeanPool(o["last_hidden_state"].ToFloats(), samples[i]["attention_mask"].ToInt64s())).ToList();
        var cosines = embeddings.Skip(1).Select(e => Cosine(embeddings[0], e)).ToList();
        output.WriteLine($"  TFLite cosines with '{sentences[0]}': {string.Join(", ", cosines.Select(v => v.ToString("F3")))}");
        Assert.True(cosines[0] > cosines.Skip(1).Max() + 0.3, "the paraphrase does not rank first in TFLite");
        errors.AssertWithin(model.Id);
    }

    /// <summary>M-LSD (MobileNetV2, ReLU6, Resize decoder, 4-channel NHWC input) on street/building.jpg.</summary>
    [SkippableTheory]
    [InlineData("mlsd-tiny-320")]
    [InlineData("mlsd-large-320")]
    public void LineDetectorMatchesOnnxRuntime(string id)
    {
        string tool = TfliteTool.Require();
        var model = Convert(id, new Dictionary<string, long[]>());
        var rgb = PhotoPixels.Rgb(TestData.RequireFile(Path.Combine("photos", "street", "building.jpg")), 320, 320);
        var data = new float[320 * 320 * 4];
        for (int i = 0; i < 320 * 320; i++)
        {
            for (int k = 0; k < 3; k++) data[i * 4 + k] = rgb[i * 3 + k];
            data[i * 4 + 3] = 1f;
        }
        var errors = new Errors();
        var outputs = RunAll(tool, model, [new() { ["input_image_with_alpha:0"] = Tensor.FromFloats([1, 320, 320, 4], data) }], errors);
        errors.Report(output, id);
        Assert.True(outputs[0]["scores"].ToFloats().Max() >= 0.5, "no strong line centre in TFLite");
        errors.AssertWithin(id);
    }

    /// <summary>SSR-Net age (IR 4, initializers as inputs, subnormal weights) and MiniFASNet liveness (PRelu, squeeze-excitation) on face crops.</summary>
    [SkippableTheory]
    [InlineData("face-age-ssrnet", 64)]
    [InlineData("face-liveness", 128)]
    public void FaceAttributeModelsMatchOnnxRuntime(string id, int size)
    {
        string tool = TfliteTool.Require();
        var model = Convert(id, new Dictionary<string, long[]> { ["input"] = [1, 3, size, size] });
        float[] mean = id == "face-age-ssrnet" ? [0.485f, 0.456f, 0.406f] : [0, 0, 0];
        float[] std = id == "face-age-ssrnet" ? [0.229f, 0.224f, 0.225f] : [1f / 255, 1f / 255, 1f / 255];
        var crops = Directory.GetFiles(TestData.Photos("faces"), "*_crop.jpg").Order(StringComparer.Ordinal).Take(6).ToList();
        Assert.True(crops.Count >= 4);
        var samples = crops.Select(photo =>
        {
            var rgb = PhotoPixels.Rgb(photo, size, size);
            var chw = new float[3 * size * size];
            for (int i = 0; i < size * size; i++)
                for (int k = 0; k < 3; k++) chw[k * size * size + i] = (rgb[i * 3 + k] / 255f - mean[k]) / std[k];
            return new Dictionary<string, Tensor> { ["input"] = Tensor.FromFloats([1, 3, size, size], chw) };
        }).ToList();
        var errors = new Errors();
        RunAll(tool, model, samples, errors);
        errors.Report(output, id);
        errors.AssertWithin(id);
    }

    private static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return dot / Math.Sqrt(na * nb);
    }
}
