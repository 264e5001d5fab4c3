using System.Diagnostics;
using System.Globalization;
using EdgeBuild.Tests.Support;
using Xunit.Abstractions;

namespace EdgeBuild.Tests.Package;

/// <summary>
/// Issue 18's acceptance, as a user meets it: a new console app outside the repository, with its own empty NuGet packages
/// folder and the packed EdgeBuild and EdgeBuild.SkiaSharp packages, decodes a photo with SkiaSharp, runs the face detector
/// through the generated image Run, and reads scores and boxes through the generated result type. The app compares them
/// with the hand-written path (decode, bilinear resize, normalize, NCHW loops, the span Run) and counts the bytes an image
/// run allocates after warm-up.
/// </summary>
[Collection(PackCollection.Name)]
public sealed class ImageApiPackageTests(ITestOutputHelper output) : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("edgebuild-image-pack-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(work, recursive: true); }
        catch (IOException) { }
    }

    [SkippableFact]
    public void ConsoleAppRunsTheDetectorOnAPhotoThroughTheImageApi()
    {
        string model = TestData.Model("face-detect-rfb320");
        string photo = Directory.GetFiles(TestData.Photos("faces"), "*.jpg").Order(StringComparer.Ordinal).First();
        string repo = TestData.RepoRoot;
        string feed = Path.Combine(work, "feed");
        string app = Path.Combine(work, "Photo App");
        string packages = Path.Combine(work, "packages");
        Directory.CreateDirectory(Path.Combine(app, "models"));

        Run(repo, "dotnet", "pack", "src/EdgeBuild.MSBuild/EdgeBuild.MSBuild.csproj", "-c", "Release", "-o", feed, "-nodeReuse:false");
        Run(repo, "dotnet", "pack", "src/EdgeBuild.Runtime/EdgeBuild.Runtime.csproj", "-c", "Release", "-o", feed, "-nodeReuse:false");
        Run(repo, "dotnet", "pack", "src/EdgeBuild.SkiaSharp/EdgeBuild.SkiaSharp.csproj", "-c", "Release", "-o", feed, "-nodeReuse:false");
        var adapter = Assert.Single(Directory.GetFiles(feed, "EdgeBuild.SkiaSharp.*.nupkg"));
        output.WriteLine($"adapter package: {Path.GetFileName(adapter)}, {new FileInfo(adapter).Length / 1024.0:F1} KiB");

        Run(app, "dotnet", "new", "console", "-n", "PhotoApp", "-o", ".");
        LocalFeed.WriteNuGetConfig(app, feed, packages);
        Run(app, "dotnet", "add", "package", "EdgeBuild");
        Run(app, "dotnet", "add", "package", "EdgeBuild.Runtime");
        Run(app, "dotnet", "add", "package", "EdgeBuild.SkiaSharp");
        Run(app, "dotnet", "add", "package", "SkiaSharp.NativeAssets.Linux.NoDependencies", "--version", "3.119.0");
        File.Copy(model, Path.Combine(app, "models", "face-detect-rfb320.onnx"));
        string csproj = Path.Combine(app, "PhotoApp.csproj");
        File.WriteAllText(csproj, File.ReadAllText(csproj).Replace("</Project>", """
              <PropertyGroup><EdgeBuildMeasure>false</EdgeBuildMeasure></PropertyGroup>
              <ItemGroup>
                <EdgeModel Include="models/face-detect-rfb320.onnx" ClassName="FaceDetector" Mean="127" Std="128" />
              </ItemGroup>
            </Project>
            """));
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using System.Globalization;
            using EdgeBuild.Runtime;
            using PhotoApp;
            using SkiaSharp;

            using var bitmap = SKBitmap.Decode(args[0]);
            using var detector = FaceDetector.Create();

            // The image API: the class resizes and normalizes the pixels itself; the result type reads the outputs in place.
            var result = detector.Run(bitmap.AsEdgeImage());
            int faces = 0;
            for (int i = 0; i < result.Scores.Dimension(1); i++)
                if (result.Scores[0, i, 1] > 0.7f) faces++;
            var scores = result.Scores.Span.ToArray();
            var boxes = result.Boxes.Span.ToArray();
            Console.WriteLine("dims " + result.Scores.ToString() + " " + result.Boxes.ToString());
            Console.WriteLine($"faces {faces} first-box {result.Boxes[0, 0, 0].ToString("R", CultureInfo.InvariantCulture)}");

            // The hand-written path: RGBA, bilinear at pixel centres to 320x240, (x - 127) / 128, NCHW, the span Run.
            using var rgba = bitmap.Copy(SKColorType.Rgba8888);
            var px = rgba.GetPixelSpan();
            int w = rgba.Width, h = rgba.Height;
            var input = new float[FaceDetector.InputLength];
            for (int y = 0; y < 240; y++)
                for (int x = 0; x < 320; x++)
                {
                    float fx = Math.Clamp((x + 0.5f) * w / 320 - 0.5f, 0, w - 1), fy = Math.Clamp((y + 0.5f) * h / 240 - 0.5f, 0, h - 1);
                    int x0 = (int)fx, y0 = (int)fy, x1 = Math.Min(x0 + 1, w - 1), y1 = Math.Min(y0 + 1, h - 1);
                    float ax = fx - x0, ay = fy - y0;
                    for (int c = 0; c < 3; c++)
                    {
                        float top = px[(y0 * w + x0) * 4 + c] * (1 - ax) + px[(y0 * w + x1) * 4 + c] * ax;
                        float bottom = px[(y1 * w + x0) * 4 + c] * (1 - ax) + px[(y1 * w + x1) * 4 + c] * ax;
                        input[(c * 240 + y) * 320 + x] = (top * (1 - ay) + bottom * ay - 127) / 128;
                    }
                }
            var handScores = new float[FaceDetector.ScoresLength];
            var handBoxes = new float[FaceDetector.BoxesLength];
            detector.Run(input, handScores, handBoxes);
            double maxDiff = 0;
            for (int i = 0; i < scores.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs(scores[i] - handScores[i]));
            for (int i = 0; i < boxes.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs(boxes[i] - handBoxes[i]));
            Console.WriteLine($"maxdiff {maxDiff.ToString("R", CultureInfo.InvariantCulture)}");

            // Bytes per image run after warm-up: decode once, run and read many times.
            float sink = 0;
            for (int i = 0; i < 20; i++) sink += detector.Run(bitmap.AsEdgeImage()).Scores[0, 0, 1];
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 200; i++)
            {
                var r = detector.Run(bitmap.AsEdgeImage());
                sink += r.Scores[0, i, 1] + r.Boxes[0, i, 3];
            }
            Console.WriteLine($"bytes {GC.GetAllocatedBytesForCurrentThread() - before} sink {float.IsFinite(sink)}");
            """);

        Run(app, "dotnet", "build", "-c", "Release", "-nodeReuse:false");
        string stdout = Run(app, "dotnet", "run", "-c", "Release", "--no-build", "--", photo);
        string Line(string key) => stdout.Split('\n').Single(l => l.StartsWith(key + " ", StringComparison.Ordinal))[(key.Length + 1)..].Trim();
        foreach (var key in new[] { "dims", "faces", "maxdiff", "bytes" }) output.WriteLine($"app: {key} {Line(key)}");

        Assert.Equal("[1,4420,2] [1,4420,4]", Line("dims"));
        Assert.True(int.Parse(Line("faces").Split(' ')[0], CultureInfo.InvariantCulture) > 0, "the detector finds the face in a face photo: " + Line("faces"));
        double maxDiff = double.Parse(Line("maxdiff"), CultureInfo.InvariantCulture);
        Assert.True(maxDiff <= 1e-5, $"image API against the hand-written path: max |diff| {maxDiff}");
        Assert.Equal("0 sink True", Line("bytes"));
    }

    private string Run(string directory, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file, args) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment.Remove("NUGET_PACKAGES");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(10)), $"{file} {string.Join(' ', args)} timed out");
        string all = stdout.Result + stderr.Result;
        output.WriteLine($"$ {file} {string.Join(' ', args)}  (exit {p.ExitCode})");
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)} failed ({p.ExitCode}):\n{string.Join('\n', all.Split('\n').TakeLast(40))}");
        return all;
    }
}
