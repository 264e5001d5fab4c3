// DriverMonitor: the in-cabin pipeline of the EdgeBuild article on real photos, through the classes
// EdgeBuild generates from the three <EdgeModel> items in DriverMonitor.csproj:
//   FaceDetector  (face-detect-rfb320): faces with boxes and scores
//   FaceLandmarks (face-landmark68):    68 points per face
//   EyeState      (eye-state):          each eye open or closed
// and the latency of each stage. Usage: dotnet run --project samples/DriverMonitor [-- PHOTO_OR_FOLDER ...]
using System.Diagnostics;
using System.Globalization;
using DriverMonitor;
using DriverMonitor.Models;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
string testData = TestDataFolder();
var photos = args.Length > 0
    ? args.SelectMany(a => Directory.Exists(a) ? Directory.GetFiles(a).Order(StringComparer.Ordinal) : new[] { a }.AsEnumerable()).ToList()
    : new[] { "faces", "people" }.SelectMany(g => Directory.GetFiles(Path.Combine(testData, "photos", g)).Order(StringComparer.Ordinal)).ToList();

using var detector = FaceDetector.Create();
using var landmarker = FaceLandmarks.Create();
using var eyes = EyeState.Create();

var detectorInput = new float[FaceDetector.InputLength];
var scores = new float[FaceDetector.ScoresLength];
var boxes = new float[FaceDetector.BoxesLength];
var landmarkInput = new float[FaceLandmarks.InputLength];
var points = new float[FaceLandmarks.OutputLength];
var eyeInput = new float[EyeState.InputLength];
var eyeLogits = new float[EyeState.OutputLength];
var timings = new Dictionary<string, List<double>> { ["detect"] = [], ["landmarks"] = [], ["eyes"] = [] };
var pixels = new float[136];

Console.WriteLine($"DriverMonitor: {photos.Count} photos; execution provider {detector.ExecutionProvider}");
int facesSeen = 0, eyesClosed = 0, eyesOpen = 0;
foreach (var path in photos)
{
    var photo = Photo.Load(path);
    // The detector sees the whole photo at 320x240, RGB, (x - 127) / 128 (the model's package does the same).
    photo.CropResize(0, 0, photo.Width, photo.Height, 320, 240, gray: false, v => (v - 127f) / 128f, detectorInput);
    var clock = Stopwatch.StartNew();
    detector.Run(detectorInput, scores, boxes);
    timings["detect"].Add(clock.Elapsed.TotalMilliseconds);
    var faces = FaceBoxes.Decode(scores, boxes, photo.Width, photo.Height);

    Console.WriteLine($"{Path.GetFileName(path)} ({photo.Width}x{photo.Height}): {faces.Count} face(s), detect {timings["detect"][^1]:F2} ms");
    foreach (var face in faces)
    {
        facesSeen++;
        // Landmarks: the face box, gray 64x64, x / 256; the 136 outputs are (x, y) pairs relative to the box.
        photo.CropResize(face.X1, face.Y1, face.Width, face.Height, 64, 64, gray: true, v => v / 256f, landmarkInput);
        clock.Restart();
        landmarker.Run(landmarkInput, points);
        timings["landmarks"].Add(clock.Elapsed.TotalMilliseconds);
        var px = pixels.AsSpan();
        for (int i = 0; i < 68; i++)
        {
            px[2 * i] = face.X1 + points[2 * i] * face.Width;
            px[2 * i + 1] = face.Y1 + points[2 * i + 1] * face.Height;
        }

        clock.Restart();
        bool leftClosed = EyeClosed(photo, px, 36), rightClosed = EyeClosed(photo, px, 42);
        timings["eyes"].Add(clock.Elapsed.TotalMilliseconds);
        eyesClosed += (leftClosed ? 1 : 0) + (rightClosed ? 1 : 0);
        eyesOpen += (leftClosed ? 0 : 1) + (rightClosed ? 0 : 1);
        Console.WriteLine($"  face {face.Score:F3} at ({face.X1:F0},{face.Y1:F0})-({face.X2:F0},{face.Y2:F0}): eyes {(leftClosed ? "closed" : "open")}/{(rightClosed ? "closed" : "open")}, " +
            $"landmarks {timings["landmarks"][^1]:F2} ms, eyes {timings["eyes"][^1]:F2} ms");
    }
}

Console.WriteLine();
Console.WriteLine($"{facesSeen} faces, {eyesOpen} eyes open, {eyesClosed} closed");
Console.WriteLine($"{"stage",-10} {"runs",5} {"mean ms",8} {"p50 ms",8} {"p99 ms",8}");
foreach (var (stage, t) in timings.Where(kv => kv.Value.Count > 0))
{
    var sorted = t.Order().ToArray();
    double P(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
    Console.WriteLine($"{stage,-10} {t.Count,5} {t.Average(),8:F3} {P(0.5),8:F3} {P(0.99),8:F3}");
}
return 0;

// The eye-state model takes a square gray 24x24 crop around one eye, x / 255. Its package crops 1.6x the
// eye's width around the mean of the eyelid points and reports softmax[0] > softmax[1] as "closed".
bool EyeClosed(Photo photo, ReadOnlySpan<float> px, int first)
{
    // 68-point scheme: eye corners are points first and first+3, eyelids first+1, first+2, first+4, first+5.
    float cx = (px[2 * (first + 1)] + px[2 * (first + 2)] + px[2 * (first + 4)] + px[2 * (first + 5)]) / 4;
    float cy = (px[2 * (first + 1) + 1] + px[2 * (first + 2) + 1] + px[2 * (first + 4) + 1] + px[2 * (first + 5) + 1]) / 4;
    float size = Math.Max(4, (px[2 * (first + 3)] - px[2 * first]) * 1.6f);
    photo.CropResize(cx - size / 2, cy - size / 2, size, size, 24, 24, gray: true, v => v / 255f, eyeInput);
    eyes.Run(eyeInput, eyeLogits);
    return eyeLogits[0] > eyeLogits[1]; // softmax is monotonic: comparing logits is comparing probabilities
}

static string TestDataFolder()
{
    if (Environment.GetEnvironmentVariable("EDGEBUILD_TESTDATA") is { Length: > 0 } env) return env;
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "EdgeBuild.sln"))) return Path.Combine(d.FullName, ".testdata-cache");
    throw new DirectoryNotFoundException("cannot find the test data; set EDGEBUILD_TESTDATA");
}
