using EdgeBuild.Tests.Support;
using Xunit.Abstractions;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.Families;

/// <summary>
/// Silero VAD v4 and v5 (LSTM inside If branches; v5's weights are Constant nodes inside the branches) on recorded
/// speech (Debian alsa-utils, 48 kHz resampled to 16 kHz), digital silence and alsa-utils' Noise.wav, streamed frame
/// by frame with the recurrent state carried over as @ricky0123/vad-web does it: v4 takes 1536-sample frames and h/c,
/// v5 takes 512-sample frames with the previous frame's last 64 samples in front (576) and one state tensor. Both the
/// shipped model and the optimized one run every stream; their speech probabilities must agree within 1e-5 over the
/// whole of each recording.
/// </summary>
public class VoiceActivityTests(ITestOutputHelper output)
{
    private const int Rate = 16000;

    /// <summary>The eight speech recordings of alsa-utils ("Front, center", ... spoken by one voice).</summary>
    public static readonly string[] Speech = ["Front_Center", "Front_Left", "Front_Right", "Rear_Center", "Rear_Left", "Rear_Right", "Side_Left", "Side_Right"];

    /// <summary>One model's frame protocol: frame length, context carried in front, state tensors.</summary>
    private sealed record Protocol(string Id, int Frame, int Context, (string Input, string Output, long[] Dims)[] States);

    private static readonly Protocol V4 = new("vad-silero-v4", 1536, 0, [("h", "hn", [2, 1, 64]), ("c", "cn", [2, 1, 64])]);
    private static readonly Protocol V5 = new("vad-silero-v5", 512, 64, [("state", "stateN", [2, 1, 128])]);

    [SkippableFact]
    public void SileroV4SeparatesSpeechFromSilenceAndNoise_OptimizedAgrees() => Check(V4);

    [SkippableFact]
    public void SileroV5SeparatesSpeechFromSilenceAndNoise_OptimizedAgrees() => Check(V5);

    private void Check(Protocol protocol)
    {
        using var model = FamilyModel.Load(protocol.Id);
        output.WriteLine(model.Summary);
        double worst = 0;

        var voicedP = new List<float>();
        var speechMax = new List<float>();
        foreach (var name in Speech)
        {
            // As a VAD that runs all the time hears it: half a second of silence on either side of the words.
            var pad = new float[Rate / 2];
            float[] audio = [.. pad, .. Audio.ReadWavAt(TestData.Audio(name), Rate), .. pad];
            var (original, optimized, diff) = Stream(model, protocol, audio);
            worst = Math.Max(worst, diff);
            // The frames where someone speaks: within 10 dB of the recording's loudest frame.
            var rms = FrameRms(audio, protocol.Frame);
            double loudest = rms.Max();
            var voiced = Enumerable.Range(0, original.Length).Where(i => rms[i] >= loudest / Math.Sqrt(10)).ToList();
            voicedP.AddRange(voiced.Select(i => original[i]));
            speechMax.Add(original.Max());
            output.WriteLine($"  {name}: {original.Length} frames, {voiced.Count} voiced, mean p(speech) over them {voiced.Average(i => original[i]):F3}, max {original.Max():F3}; optimized max |diff| {diff:G3}");
            output.WriteLine("    p: " + string.Join(" ", original.Select(p => p.ToString("F2"))));
            output.WriteLine("    rms dB: " + string.Join(" ", rms.Select(r => (20 * Math.Log10(r / loudest + 1e-9)).ToString("F0"))));
        }

        var silence = new float[3 * Rate];
        var (silenceP, _, silenceDiff) = Stream(model, protocol, silence);
        worst = Math.Max(worst, silenceDiff);
        var noise = Audio.ReadWavAt(TestData.Audio("Noise"), Rate);
        var (noiseP, _, noiseDiff) = Stream(model, protocol, noise);
        worst = Math.Max(worst, noiseDiff);
        output.WriteLine($"  silence (3 s of zeros): max p {silenceP.Max():F3}, mean {silenceP.Average():F3}");
        output.WriteLine($"  Noise.wav: max p {noiseP.Max():F3}, mean {noiseP.Average():F3}");
        output.WriteLine($"  speech: mean p over the {voicedP.Count} voiced frames {voicedP.Average():F3}, fraction above 0.5 {voicedP.Count(p => p > 0.5) / (double)voicedP.Count:F3}; max per recording {string.Join(", ", speechMax.Select(m => m.ToString("F2")))}");
        output.WriteLine($"  optimized vs original: max |diff| of p(speech) and states over all frames {worst:G3}");

        Assert.True(voicedP.Average() >= 0.8, $"{protocol.Id}: mean speech probability {voicedP.Average():F3} over the voiced frames of the speech recordings, expected >= 0.8");
        Assert.All(speechMax, m => Assert.True(m >= 0.9, $"{protocol.Id}: a speech recording peaks at speech probability {m:F3}, expected >= 0.9"));
        Assert.True(silenceP.Max() <= 0.1, $"{protocol.Id}: speech probability {silenceP.Max():F3} in digital silence, expected <= 0.1");
        Assert.True(noiseP.Average() <= 0.2, $"{protocol.Id}: mean speech probability {noiseP.Average():F3} on Noise.wav, expected <= 0.2");
        Assert.True(worst <= 1e-5, $"{protocol.Id}: the optimized model's speech probabilities or states differ from the original's by {worst:G3} > 1e-5");
    }

    /// <summary>
    /// Streams <paramref name="audio"/> through both sessions (each with its own state, carried frame to frame; a last
    /// partial frame is dropped as the package's frame splitter does). Returns both probability series and the largest
    /// difference between them or between their states.
    /// </summary>
    private static (float[] Original, float[] Optimized, double MaxDiff) Stream(FamilyModel model, Protocol protocol, float[] audio)
    {
        int frames = audio.Length / protocol.Frame;
        var p = new float[frames];
        var q = new float[frames];
        var stateP = protocol.States.ToDictionary(s => s.Input, s => Tensor.FromFloats(s.Dims, new float[s.Dims.Aggregate(1L, (a, b) => a * b)]));
        var stateQ = new Dictionary<string, Tensor>(stateP);
        var sr = Tensor.FromInt64s([], [Rate]);
        double maxDiff = 0;
        for (int f = 0; f < frames; f++)
        {
            // v5: the last 64 samples of the previous frame (zeros before the first) in front of this one.
            var window = new float[protocol.Context + protocol.Frame];
            int start = f * protocol.Frame;
            for (int i = 0; i < window.Length; i++)
            {
                int s = start - protocol.Context + i;
                window[i] = s >= 0 ? audio[s] : 0f;
            }
            var input = Tensor.FromFloats([1, window.Length], window);
            var outP = Ort.Run(model.Reference, Feed(input, sr, stateP));
            var outQ = Ort.Run(model.Candidate, Feed(input, sr, stateQ));
            p[f] = outP["output"].ToFloats()[0];
            q[f] = outQ["output"].ToFloats()[0];
            maxDiff = Math.Max(maxDiff, Math.Abs((double)p[f] - q[f]));
            foreach (var (input_, output_, _) in protocol.States)
            {
                stateP[input_] = outP[output_];
                stateQ[input_] = outQ[output_];
                maxDiff = Math.Max(maxDiff, Ort.MaxAbsDiff(outP[output_], outQ[output_]));
            }
        }
        return (p, q, maxDiff);
    }

    private static Dictionary<string, Tensor> Feed(Tensor input, Tensor sr, Dictionary<string, Tensor> state)
    {
        var feed = new Dictionary<string, Tensor>(state) { ["input"] = input, ["sr"] = sr };
        return feed;
    }

    private static double[] FrameRms(float[] audio, int frame) =>
        Enumerable.Range(0, audio.Length / frame).Select(f => Audio.Rms(audio.AsSpan(f * frame, frame))).ToArray();
}
