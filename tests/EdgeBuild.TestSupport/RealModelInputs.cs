using SkiaSharp;
using Tensor = EdgeBuild.Ir.Tensor;
using EdgeBuild.Onnx;

namespace EdgeBuild.Tests.Support;

/// <summary>
/// How each pinned real model is fed (testdata/MODELS.md section 1.1): input name, layout, size,
/// channels, normalization and the photo groups that suit it. Shared by tests and benchmarks.
/// </summary>
public sealed record RealModelSpec(
    string Id,
    string InputName,
    int Channels,
    int Height,
    int Width,
    bool Nhwc,
    Func<float, int, float> Normalize,
    string[] PhotoGroups,
    bool IsClassifier = false,
    string? FeedThrough = null)
{
    private static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];

    public static IReadOnlyList<RealModelSpec> All { get; } =
    [
        new("face-detect-rfb320", "input", 3, 240, 320, false, (x, _) => (x - 127f) / 128f, ["faces", "people"]),
        new("face-landmark68", "input", 1, 64, 64, false, (x, _) => x / 256f, ["faces"]),
        new("eye-state", "input", 1, 24, 24, false, (x, _) => x / 255f, ["faces"], IsClassifier: true),
        new("face-embedding", "input", 3, 112, 112, false, (x, _) => (x - 127f) / 128f, ["faces"]),
        new("blazeface-front128", "input:0", 3, 128, 128, true, (x, _) => x / 127.5f - 1f, ["faces", "people"]),
        new("blazeface-back256", "input:0", 3, 256, 256, true, (x, _) => x / 127.5f - 1f, ["people", "faces"]),
        new("resnet18-preprocess", "OriginalInput", 3, 224, 224, false, (x, _) => x, ["objects", "street"]),
        // The trunk takes what the preprocessing graph makes of a photo.
        new("resnet18-features", "Input247", 3, 224, 224, false, (x, _) => x, ["objects", "street"], FeedThrough: "resnet18-preprocess"),
        new("ocr-angle-cls", "x", 3, 48, 192, false, (x, _) => (x / 255f - 0.5f) / 0.5f, ["street", "objects"], IsClassifier: true),
        new("ocr-det-ppocrv4", "x", 3, 480, 640, false, (x, c) => (x / 255f - ImageNetMean[c]) / ImageNetStd[c], ["street", "objects"]),
    ];

    public static RealModelSpec Get(string id) => All.Single(s => s.Id == id);

    /// <summary>The first <paramref name="count"/> photos of the spec's groups, in a stable order.</summary>
    public IReadOnlyList<string> Photos(string testData, int count) =>
        PhotoGroups.SelectMany(g => Directory.GetFiles(Path.Combine(testData, "photos", g)).Order(StringComparer.Ordinal)).Take(count).ToList();

    /// <summary>The photo resized to the model's input and normalized, as a [1,C,H,W] or [1,H,W,C] tensor.</summary>
    public Tensor Load(string photo)
    {
        using var decoded = SKBitmap.Decode(photo) ?? throw new InvalidDataException($"cannot decode {photo}");
        using var resized = decoded.Resize(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Unpremul), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear))
            ?? throw new InvalidDataException($"cannot resize {photo}");
        var data = new float[Channels * Height * Width];
        for (int y = 0; y < Height; y++)
            for (int x = 0; x < Width; x++)
            {
                var p = resized.GetPixel(x, y);
                Span<float> rgb = [p.Red, p.Green, p.Blue];
                for (int c = 0; c < Channels; c++)
                {
                    float v = Channels == 1 ? 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2] : rgb[c];
                    int index = Nhwc ? (y * Width + x) * Channels + c : (c * Height + y) * Width + x;
                    data[index] = Normalize(v, c);
                }
            }
        long[] dims = Nhwc ? [1, Height, Width, Channels] : [1, Channels, Height, Width];
        return Tensor.FromFloats(dims, data);
    }
}

/// <summary>
/// A spec's photos as model inputs (a calibration or evaluation source), made once up front. For a model fed
/// through another (resnet18-features takes what resnet18-preprocess makes of a photo) the feeding model runs first.
/// </summary>
public sealed class RealModelSamples : EdgeBuild.Quantization.ICalibrationDataSource
{
    public RealModelSamples(RealModelSpec spec, IEnumerable<string> photos, string testData)
    {
        Spec = spec;
        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions
        {
            IntraOpNumThreads = 1,
            LogSeverityLevel = Microsoft.ML.OnnxRuntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        using var feeder = spec.FeedThrough is { } feed ? new Microsoft.ML.OnnxRuntime.InferenceSession(Path.Combine(testData, "models", feed + ".onnx"), options) : null;
        using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
        foreach (var photo in photos)
        {
            var input = spec.Load(photo);
            if (feeder is not null)
            {
                using var value = OrtTensors.ToOrtValue(input);
                using var outputs = feeder.Run(runOptions, [feeder.InputNames[0]], [value], feeder.OutputNames);
                input = OrtTensors.ToTensor(outputs[0])!;
            }
            Inputs.Add(input);
        }
    }

    public RealModelSpec Spec { get; }

    /// <summary>The model inputs, one per photo, in photo order.</summary>
    public List<Tensor> Inputs { get; } = [];

    public int Count => Inputs.Count;

    public IEnumerable<IReadOnlyDictionary<string, Tensor>> Samples() =>
        Inputs.Select(t => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { [Spec.InputName] = t });
}
