// FleetAgent: DriverMonitor's in-cabin pipeline on a fleet device. The eye-state model is kept current from a
// channel (docs/lifecycle.md): signed packages, verified against a pinned key, switched between runs, rolled back
// when its error rate or P99 (or, when asked, its output drift) breaks the policy.
//
//   dotnet run --project samples/FleetAgent -- --channel URL_OR_PATH --trusted signing.pub [--state DIR] [--device-id ID]
//       [--once] [--interval SECONDS] [--require-signed-channel] [--max-psi PSI]
//       [--shadow URL_OR_PATH [--max-shadow-disagreement SHARE]] [PHOTO_OR_FOLDER ...]
//
// --once: check the channel, apply what it offers, run the photos once, print the active version and exit
// (exit code 0 installed or unchanged, 3 refused, 4 the channel or package could not be fetched; 2 bad arguments).
// --require-signed-channel: refuse a channel file not signed by the trusted key (edgebuild publish --key).
// --max-psi: roll a new version back when an output's PSI against the statistics its package recorded on held-out
//   photos (edgebuild package --holdout) exceeds PSI; 0.25 marks a large shift. Off unless given: drift also follows
//   a change in what the cameras see, which going back does not cure.
// --shadow: run the version of a second channel (canary.json) in shadow on every 10th eye, compared, never used;
// --max-shadow-disagreement: reject that candidate for good when more than SHARE (0 to 1) of its runs disagree.
using System.Globalization;
using DriverMonitor;
using EdgeBuild.Runtime;
using EdgeBuild.Runtime.Updates;
using FleetAgent.Models;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
string? Arg(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
if (Arg("--channel") is not { } channelText || Arg("--trusted") is not { } trustedPath)
{
    Console.Error.WriteLine("usage: FleetAgent --channel URL_OR_PATH --trusted signing.pub [--state DIR] [--device-id ID] [--once] [--interval SECONDS]"
        + " [--require-signed-channel] [--max-psi PSI] [--shadow URL_OR_PATH [--max-shadow-disagreement SHARE]] [PHOTO_OR_FOLDER ...]");
    return 2;
}
bool once = args.Contains("--once");
bool requireSigned = args.Contains("--require-signed-channel");
string[] switches = ["--once", "--require-signed-channel"];
var optionNames = new HashSet<string> { "--channel", "--trusted", "--state", "--device-id", "--interval", "--max-psi", "--shadow", "--max-shadow-disagreement" };
var photoArgs = args.Where((a, i) => !switches.Contains(a) && !optionNames.Contains(a) && (i == 0 || !optionNames.Contains(args[i - 1]))).ToList();
double? maxPsi = null, maxShadowDisagreement = null;
if (Arg("--max-psi") is { } psiText)
{
    if (!double.TryParse(psiText, NumberStyles.Float, CultureInfo.InvariantCulture, out double psi) || !(psi > 0) || double.IsInfinity(psi))
        return BadArgument($"--max-psi '{psiText}' is not a positive number. Give the largest PSI to accept, e.g. --max-psi 0.25");
    maxPsi = psi;
}
if (Arg("--max-shadow-disagreement") is { } shareText)
{
    if (Arg("--shadow") is null)
        return BadArgument("--max-shadow-disagreement needs a shadow candidate. Add --shadow with the candidate's channel, e.g. --shadow site/canary.json");
    if (!double.TryParse(shareText, NumberStyles.Float, CultureInfo.InvariantCulture, out double share) || !(share is >= 0 and < 1))
        return BadArgument($"--max-shadow-disagreement '{shareText}' is not a share from 0 up to 1. Give e.g. --max-shadow-disagreement 0.05");
    maxShadowDisagreement = share;
}
string testData = TestDataFolder();
var photos = photoArgs.Count > 0
    ? photoArgs.SelectMany(a => Directory.Exists(a) ? Directory.GetFiles(a).Order(StringComparer.Ordinal) : new[] { a }.AsEnumerable()).ToList()
    : Directory.GetFiles(Path.Combine(testData, "photos", "faces")).Order(StringComparer.Ordinal).ToList();

var channel = ChannelUri(channelText);
using var trusted = PackageSignature.ReadKey(File.ReadAllText(trustedPath));
using var updater = new ModelUpdater(EyeState.ModelDescription, new ModelUpdaterOptions
{
    Channel = channel,
    TrustedKeys = [trusted],
    StateDirectory = Arg("--state") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "FleetAgent"),
    DeviceId = Arg("--device-id"),
    PollInterval = TimeSpan.FromSeconds(double.Parse(Arg("--interval") ?? "60", CultureInfo.InvariantCulture)),
    RequireSignedChannel = requireSigned,
    ShadowChannel = Arg("--shadow") is { } shadowText ? ChannelUri(shadowText) : null,
    Rollback = new RollbackPolicy { MaxPsi = maxPsi, MaxShadowDisagreement = maxShadowDisagreement },
    Log = line => Console.WriteLine(line),
});

int exit = 0;
if (once)
{
    var result = await updater.CheckAsync();
    Console.WriteLine($"update: {result.Outcome}{(result.Failure is { } f ? " (" + f + ")" : "")}: {result.Message}");
    exit = result.Outcome switch { UpdateOutcome.Refused => 3, UpdateOutcome.Failed => 4, _ => 0 };
    if (Arg("--shadow") is not null)
    {
        var shadowResult = await updater.CheckShadowAsync();
        Console.WriteLine($"shadow: {shadowResult.Outcome}{(shadowResult.Failure is { } sf ? " (" + sf + ")" : "")}: {shadowResult.Message}");
    }
}
else updater.Start();

using var detector = FaceDetector.Create();
using var landmarker = FaceLandmarks.Create();
using var eyes = EyeState.Create(new EdgeModelOptions { Updates = updater });
var detectorInput = new float[FaceDetector.InputLength];
var scores = new float[FaceDetector.ScoresLength];
var boxes = new float[FaceDetector.BoxesLength];
var landmarkInput = new float[FaceLandmarks.InputLength];
var points = new float[FaceLandmarks.OutputLength];
var eyeInput = new float[EyeState.InputLength];
var eyeLogits = new float[EyeState.OutputLength];
var pixels = new float[136];
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };

do
{
    int open = 0, closed = 0;
    foreach (var path in photos)
    {
        var photo = Photo.Load(path);
        photo.CropResize(0, 0, photo.Width, photo.Height, 320, 240, gray: false, v => (v - 127f) / 128f, detectorInput);
        detector.Run(detectorInput, scores, boxes);
        foreach (var face in FaceBoxes.Decode(scores, boxes, photo.Width, photo.Height))
        {
            photo.CropResize(face.X1, face.Y1, face.Width, face.Height, 64, 64, gray: true, v => v / 256f, landmarkInput);
            landmarker.Run(landmarkInput, points);
            for (int i = 0; i < 68; i++)
            {
                pixels[2 * i] = face.X1 + points[2 * i] * face.Width;
                pixels[2 * i + 1] = face.Y1 + points[2 * i + 1] * face.Height;
            }
            foreach (int first in new[] { 36, 42 })
            {
                if (EyeClosed(photo, pixels, first)) closed++;
                else open++;
            }
        }
    }
    Console.WriteLine($"active: EyeState {updater.ActiveVersion}; {photos.Count} photos, {open} eyes open, {closed} closed");
    if (updater.Shadow is { } candidate)
        Console.WriteLine($"shadow: EyeState {candidate.Version}; {updater.ShadowAgreement.Agreed} of {updater.ShadowAgreement.Runs} shadow runs agree");
    if (once) break;
    try { await Task.Delay(TimeSpan.FromSeconds(5), stop.Token); }
    catch (OperationCanceledException) { }
}
while (!stop.IsCancellationRequested);
return exit;

// As in DriverMonitor: a gray 24x24 crop around one eye, x / 255; logits[0] > logits[1] is "closed".
bool EyeClosed(Photo photo, float[] px, int first)
{
    float cx = (px[2 * (first + 1)] + px[2 * (first + 2)] + px[2 * (first + 4)] + px[2 * (first + 5)]) / 4;
    float cy = (px[2 * (first + 1) + 1] + px[2 * (first + 2) + 1] + px[2 * (first + 4) + 1] + px[2 * (first + 5) + 1]) / 4;
    float size = Math.Max(4, (px[2 * (first + 3)] - px[2 * first]) * 1.6f);
    photo.CropResize(cx - size / 2, cy - size / 2, size, size, 24, 24, gray: true, v => v / 255f, eyeInput);
    eyes.Run(eyeInput, eyeLogits);
    return eyeLogits[0] > eyeLogits[1];
}

static Uri ChannelUri(string text) => Uri.TryCreate(text, UriKind.Absolute, out var uri) ? uri : new Uri(Path.GetFullPath(text));

static int BadArgument(string message)
{
    Console.Error.WriteLine("FleetAgent: " + message);
    return 2;
}

static string TestDataFolder()
{
    if (Environment.GetEnvironmentVariable("EDGEBUILD_TESTDATA") is { Length: > 0 } env) return env;
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "EdgeBuild.sln"))) return Path.Combine(d.FullName, ".testdata-cache");
    throw new DirectoryNotFoundException("cannot find the test data; set EDGEBUILD_TESTDATA");
}
