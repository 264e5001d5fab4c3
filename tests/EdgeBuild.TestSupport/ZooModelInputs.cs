using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using Microsoft.ML.OnnxRuntime;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.Support;

/// <summary>A list of model inputs as a calibration or evaluation source.</summary>
public sealed class SampleList(IReadOnlyList<IReadOnlyDictionary<string, Tensor>> samples) : ICalibrationDataSource
{
    public int Count => samples.Count;

    public IEnumerable<IReadOnlyDictionary<string, Tensor>> Samples() => samples;
}

/// <summary>
/// How the zoo's models (../shared/testdata/MODELS-zoo.md) are fed as their packages feed them, as many inputs as the
/// data gives, in a stable order: the line detectors on photos, the voice-activity and wake-word models on the
/// alsa-utils speech recordings and their noise recording streamed frame by frame (0.25 s of silence around each,
/// recurrent state carried by the FP32 model, as an app streams it), the sentence encoder on template sentences, the
/// text recognizer on those sentences rendered as text lines (TextLines), the face-attribute models on face crops first, then whole face, people, object and street photos (any photo is a valid input for agreement with FP32). Consecutive inputs come from the same
/// recording or photo group, so a caller that takes the first N as held-out and the next ones for calibration keeps
/// the two apart.
/// </summary>
public static class ZooModelInputs
{
    /// <summary>One zoo model: the input shapes to fix before optimizing, what it is judged by, its inputs.</summary>
    public sealed record Zoo(string Id, TaskKind Task, IReadOnlyDictionary<string, long[]> Shapes, IReadOnlyList<IReadOnlyDictionary<string, Tensor>> Inputs);

    public static IReadOnlyList<string> Ids { get; } =
        ["mlsd-tiny-320", "mlsd-large-320", "vad-silero-v4", "vad-silero-v5", "kws-oww-melspec", "kws-oww-embedding", "text-minilm-l6", "face-age-ssrnet", "face-liveness", "ocr-rec-ppocrv4"];

    /// <summary>The token length sentences are padded to for the encoder.</summary>
    public const int SentenceLength = 32;

    private static readonly string[] Recordings = ["Front_Center", "Noise", "Front_Left", "Front_Right", "Rear_Center", "Rear_Left", "Rear_Right", "Side_Left", "Side_Right"];

    public static Zoo Build(string id, string testData) => id switch
    {
        "mlsd-tiny-320" or "mlsd-large-320" => new(id, TaskKind.Generic, new Dictionary<string, long[]>(), LineDetectorInputs(testData)),
        "vad-silero-v4" => new(id, TaskKind.Generic, new Dictionary<string, long[]> { ["input"] = [1, 1536], ["h"] = [2, 1, 64], ["c"] = [2, 1, 64] },
            VoiceActivityInputs(testData, id, 1536, 0, [("h", "hn", [2, 1, 64]), ("c", "cn", [2, 1, 64])])),
        // Left dynamic: with the frame fixed at 576 samples, ONNX Runtime's type inference of the 8 kHz branch (an LSTM
        // fed by a reshape on the frame length) refuses the model at load time.
        "vad-silero-v5" => new(id, TaskKind.Generic, new Dictionary<string, long[]>(),
            VoiceActivityInputs(testData, id, 512, 64, [("state", "stateN", [2, 1, 128])])),
        "kws-oww-melspec" => new(id, TaskKind.Generic, new Dictionary<string, long[]> { ["input"] = [1, 1280] }, MelInputs(testData)),
        // Its 96-d output is an embedding that openWakeWord's small per-word classifiers read: judged by cosine.
        "kws-oww-embedding" => new(id, TaskKind.Embedding, new Dictionary<string, long[]> { ["input_1"] = [1, 76, 32, 1] }, EmbeddingInputs(testData)),
        "text-minilm-l6" => new(id, TaskKind.Embedding,
            new Dictionary<string, long[]> { ["input_ids"] = [1, SentenceLength], ["attention_mask"] = [1, SentenceLength], ["token_type_ids"] = [1, SentenceLength] },
            SentenceInputs(testData)),
        // SSR-Net's nine outputs are stage probabilities and offsets of very different sizes: judged by their joint relative error.
        "face-age-ssrnet" => new(id, TaskKind.Generic, new Dictionary<string, long[]> { ["input"] = [1, 3, 64, 64] },
            FaceInputs(testData, 64, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f])),
        "face-liveness" => new(id, TaskKind.Classification, new Dictionary<string, long[]> { ["input"] = [1, 3, 128, 128] },
            FaceInputs(testData, 128, [0, 0, 0], [1f / 255, 1f / 255, 1f / 255])),
        // CTC over 6625 characters at 40 steps: every step's character counts (Classification per position).
        "ocr-rec-ppocrv4" => new(id, TaskKind.Classification, new Dictionary<string, long[]> { ["x"] = [1, 3, TextLines.Height, TextLines.Width] },
            TextLines.Render(testData).Select(l => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { ["x"] = TextLines.Input(l) }).ToList()),
        _ => throw new ArgumentException($"{id} is not a zoo model ({string.Join(", ", Ids)})", nameof(id)),
    };

    /// <summary>Every photo (stylized ones left out) as M-LSD takes it: 320x320 RGB 0..255 with a fourth channel of 1, NHWC.</summary>
    private static List<IReadOnlyDictionary<string, Tensor>> LineDetectorInputs(string testData)
    {
        string[] groups = ["street", "objects", "people", "faces", "stereo-calib"];
        var result = new List<IReadOnlyDictionary<string, Tensor>>();
        foreach (var photo in groups.SelectMany(g => Directory.GetFiles(Path.Combine(testData, "photos", g)).Order(StringComparer.Ordinal)))
        {
            var rgb = PhotoPixels.Rgb(photo, 320, 320);
            var data = new float[320 * 320 * 4];
            for (int i = 0; i < 320 * 320; i++)
            {
                for (int k = 0; k < 3; k++) data[i * 4 + k] = rgb[i * 3 + k];
                data[i * 4 + 3] = 1f;
            }
            result.Add(new Dictionary<string, Tensor> { ["input_image_with_alpha:0"] = Tensor.FromFloats([1, 320, 320, 4], data) });
        }
        return result;
    }

    /// <summary>Each recording at 16 kHz with 0.25 s of silence before and after it.</summary>
    private static IEnumerable<float[]> Speech(string testData) =>
        Recordings.Select(r => (float[])[.. new float[4000], .. Audio.ReadWavAt(Path.Combine(testData, "audio", r + ".wav"), 16000), .. new float[4000]]);

    /// <summary>
    /// Silero's frames as the package streams them (<paramref name="context"/> samples of the previous frame in front),
    /// with the state the FP32 model carries into each frame; the state starts at zero for each recording.
    /// </summary>
    private static List<IReadOnlyDictionary<string, Tensor>> VoiceActivityInputs(string testData, string id, int frame, int context, (string Input, string Output, long[] Dims)[] states)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(Path.Combine(testData, "models", id + ".onnx"), options);
        var result = new List<IReadOnlyDictionary<string, Tensor>>();
        foreach (var audio in Speech(testData))
        {
            var state = states.ToDictionary(s => s.Input, s => Tensor.FromFloats(s.Dims, new float[s.Dims.Aggregate(1L, (a, b) => a * b)]));
            var previous = new float[context];
            for (int start = 0; start + frame <= audio.Length; start += frame)
            {
                float[] input = [.. previous, .. audio.AsSpan(start, frame)];
                var feed = new Dictionary<string, Tensor>(state) { ["input"] = Tensor.FromFloats([1, input.Length], input), ["sr"] = Tensor.FromInt64s([], [16000]) };
                result.Add(feed);
                var outputs = Run(session, feed);
                foreach (var s in states) state[s.Input] = outputs[s.Output];
                previous = audio.AsSpan(start + frame - context, context).ToArray();
            }
        }
        return result;
    }

    /// <summary>openWakeWord's front end input: 1280-sample chunks of each recording.</summary>
    private static List<IReadOnlyDictionary<string, Tensor>> MelInputs(string testData) =>
        Speech(testData).SelectMany(audio => Enumerable.Range(0, audio.Length / 1280)
            .Select(k => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { ["input"] = Tensor.FromFloats([1, 1280], audio.AsSpan(k * 1280, 1280)) })).ToList();

    /// <summary>The embedding CNN's input as the package makes it: the FP32 front end's frames (x / 10 + 2), 76 at a time, every 8.</summary>
    private static List<IReadOnlyDictionary<string, Tensor>> EmbeddingInputs(string testData)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var mel = new InferenceSession(Path.Combine(testData, "models", "kws-oww-melspec.onnx"), options);
        const int bands = 32, window = 76, step = 8;
        var result = new List<IReadOnlyDictionary<string, Tensor>>();
        foreach (var audio in Speech(testData))
        {
            var frames = new List<float>();
            for (int k = 0; k + 1280 <= audio.Length; k += 1280)
                frames.AddRange(Run(mel, new Dictionary<string, Tensor> { ["input"] = Tensor.FromFloats([1, 1280], audio.AsSpan(k, 1280)) })["output"].ToFloats().Select(v => v / 10f + 2f));
            int count = frames.Count / bands;
            for (int f = 0; f + window <= count; f += step)
                result.Add(new Dictionary<string, Tensor> { ["input_1"] = Tensor.FromFloats([1, window, bands, 1], frames.GetRange(f * bands, window * bands).ToArray()) });
        }
        return result;
    }

    private static List<IReadOnlyDictionary<string, Tensor>> SentenceInputs(string testData)
    {
        var tokenizer = new WordPiece(Path.Combine(testData, "text", "minilm-vocab.txt"));
        return TemplateSentences.All().Select(s => (IReadOnlyDictionary<string, Tensor>)tokenizer.Feed(s, SentenceLength)).ToList();
    }

    /// <summary>Face crops first, then the other face photos, then people, object and street photos, each resized whole to the model's square input, NCHW, (x / 255 - mean) / std.</summary>
    private static List<IReadOnlyDictionary<string, Tensor>> FaceInputs(string testData, int size, float[] mean, float[] std)
    {
        var faces = Directory.GetFiles(Path.Combine(testData, "photos", "faces")).Order(StringComparer.Ordinal).ToList();
        var photos = faces.Where(f => f.EndsWith("_crop.jpg", StringComparison.Ordinal))
            .Concat(faces.Where(f => !f.EndsWith("_crop.jpg", StringComparison.Ordinal)))
            .Concat(new[] { "people", "objects", "street" }.SelectMany(g => Directory.GetFiles(Path.Combine(testData, "photos", g)).Order(StringComparer.Ordinal)));
        return photos.Select(photo =>
        {
            var rgb = PhotoPixels.Rgb(photo, size, size);
            var chw = new float[3 * size * size];
            for (int i = 0; i < size * size; i++)
                for (int k = 0; k < 3; k++) chw[k * size * size + i] = (rgb[i * 3 + k] / 255f - mean[k]) / std[k];
            return (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { ["input"] = Tensor.FromFloats([1, 3, size, size], chw) };
        }).ToList();
    }

    private static Dictionary<string, Tensor> Run(InferenceSession session, IReadOnlyDictionary<string, Tensor> feed)
    {
        var names = session.InputNames.ToArray();
        var values = names.Select(n => OrtTensors.ToOrtValue(feed[n])).ToArray();
        try
        {
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, names, values, session.OutputNames);
            return session.OutputNames.Select((n, i) => (n, OrtTensors.ToTensor(outputs[i])!)).ToDictionary(p => p.n, p => p.Item2);
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }
}
