using System.Text;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Tests.Support;
using SkiaSharp;

namespace EdgeBuild.Tests.Quantization;

public sealed class CalibrationInputTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-calib-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>A 4x2 PNG: left half pure red (255,0,0), right half (0,100,200).</summary>
    private string Png(string name = "a.png", int width = 4, int height = 2)
    {
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                bitmap.SetPixel(x, y, x < width / 2 ? new SKColor(255, 0, 0) : new SKColor(0, 100, 200));
        string path = Path.Combine(dir, name);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
        return path;
    }

    private static Model ImageModel(params long[] inputDims)
    {
        var b = new ModelBuilder();
        b.Output(b.Op("Relu", [b.Input("image", inputDims)], "y"));
        return b.Model;
    }

    [Fact]
    public void StretchedRgbNchwWithMeanAndStd()
    {
        var source = new FileCalibrationSource(ImageModel(1, 3, 2, 4), [Png()], new ImagePreprocessing { Mean = [127.5f], Std = [127.5f] });
        var t = source.Samples().Single()["image"];
        Assert.Equal(new long[] { 1, 3, 2, 4 }, t.Dims);
        var v = t.ToFloats();
        Assert.Equal(1f, v[0], 3);                        // R of a red pixel: (255 - 127.5) / 127.5
        Assert.Equal(-1f, v[8], 3);                       // G plane, red pixel
        Assert.Equal((200 - 127.5f) / 127.5f, v[16 + 3], 3); // B plane, right pixel
    }

    [Fact]
    public void GrayBgrNhwcAndScale()
    {
        var gray = new FileCalibrationSource(ImageModel(1, 2, 4, 1), [Png()], new ImagePreprocessing { ChannelOrder = ChannelOrder.Gray, Scale = 1f / 255 });
        var g = gray.Samples().Single()["image"];
        Assert.Equal(new long[] { 1, 2, 4, 1 }, g.Dims);    // NHWC read from the shape
        Assert.Equal(0.299f, g.ToFloats()[0], 3);

        var bgr = new FileCalibrationSource(ImageModel(1, 3, 2, 4), [Png()], new ImagePreprocessing { ChannelOrder = ChannelOrder.Bgr });
        var v = bgr.Samples().Single()["image"].ToFloats();
        Assert.Equal(0f, v[0]);     // first plane is blue: red pixel has none
        Assert.Equal(255f, v[16]);  // last plane is red
    }

    [Fact]
    public void LetterboxPadsAndCenterCropCrops()
    {
        string wide = Png("wide.png", 8, 2);
        var boxed = new FileCalibrationSource(ImageModel(1, 3, 4, 4), [wide], new ImagePreprocessing { Resize = ResizePolicy.Letterbox });
        var v = boxed.Samples().Single()["image"].ToFloats();
        Assert.Equal(114f, v[0]);                  // top row is padding
        Assert.Equal(114f, v[4]);                  // second row: still padding (the image fills one row, centred)
        Assert.Equal(255f, v[8], 0);               // third row, left: red
        var cropped = new FileCalibrationSource(ImageModel(1, 3, 2, 2), [wide], new ImagePreprocessing { Resize = ResizePolicy.CenterCrop });
        var c = cropped.Samples().Single()["image"].ToFloats();
        Assert.True(c[0] > 100 && c[1] < 100, "the centre crop straddles the colour boundary");
    }

    [Fact]
    public void NpyFilesAreReadAsTheyAre()
    {
        string path = Path.Combine(dir, "x.npy");
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 2, 4), }";
        header = header.PadRight(118) + "\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 };
        bytes.AddRange(BitConverter.GetBytes((ushort)header.Length));
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        for (int i = 0; i < 24; i++) bytes.AddRange(BitConverter.GetBytes((float)i));
        File.WriteAllBytes(path, bytes.ToArray());
        var source = new FileCalibrationSource(ImageModel(1, 3, 2, 4), [path], new ImagePreprocessing());
        Assert.Equal(23f, source.Samples().Single()["image"].ToFloats()[23]);
    }

    [Fact]
    public void FoldersAndWildcardsExpandInOrder()
    {
        Png("b.png");
        Png("a.png");
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "not calibration data");
        Assert.Equal(["a.png", "b.png"], CalibrationFiles.Expand([dir]).Select(Path.GetFileName));
        Assert.Equal(["b.png"], CalibrationFiles.Expand([Path.Combine(dir, "b*.png")]).Select(Path.GetFileName));
    }

    /// <summary>photos/2024/x.png, photos/2024/day1/y.png, photos/2025/z.jpg, photos/top.png and a text file: a tree to glob.</summary>
    private void PhotoTree()
    {
        foreach (var folder in new[] { "photos/2024/day1", "photos/2025" }) Directory.CreateDirectory(Path.Combine(dir, folder));
        Png("photos/2024/x.png");
        Png("photos/2024/day1/y.png");
        Png("photos/2025/z.jpg");
        Png("photos/top.png");
        File.WriteAllText(Path.Combine(dir, "photos", "2024", "notes.txt"), "not calibration data");
    }

    private static string Rel(string path, string root) => Path.GetRelativePath(root, path).Replace('\\', '/');

    [Fact]
    public void TwoStarsMatchAnyFoldersBelowAndWildcardsWorkInFolderNames()
    {
        PhotoTree();
        Assert.Equal(["photos/2024/day1/y.png", "photos/2024/x.png", "photos/top.png"],
            CalibrationFiles.Expand([Path.Combine(dir, "photos", "**", "*.png")]).Select(f => Rel(f, dir)));
        Assert.Equal(["photos/2024/x.png", "photos/2025/z.jpg"],
            CalibrationFiles.Expand([Path.Combine(dir, "photos", "20*", "*.*g")]).Select(f => Rel(f, dir)));
        // ? is one character of a name, in a folder as in the file name (FileSystemGlobbing alone would take it literally).
        Assert.Equal(["photos/2024/day1/y.png"], CalibrationFiles.Expand([Path.Combine(dir, "photos", "*", "day?", "?.png")]).Select(f => Rel(f, dir)));
        // A file named by a pattern and by itself is calibrated on once.
        Assert.Equal(["photos/2024/day1/y.png", "photos/2024/x.png"],
            CalibrationFiles.Expand([Path.Combine(dir, "photos", "**", "?.png"), Path.Combine(dir, "photos", "2024", "x.png")]).Select(f => Rel(f, dir)));
    }

    [Fact]
    public void ARelativePatternGivesRelativePathsInTheSameOrderEveryTime()
    {
        PhotoTree();
        string before = Directory.GetCurrentDirectory();
        try
        {
            Directory.SetCurrentDirectory(dir);
            var first = CalibrationFiles.Expand(["photos/**/*.png"]);
            Assert.Equal(["photos/2024/day1/y.png", "photos/2024/x.png", "photos/top.png"], first.Select(f => f.Replace('\\', '/')));
            Assert.Equal(first, CalibrationFiles.Expand(["photos/**/*.png"]));
            Assert.All(first, f => Assert.True(File.Exists(f), f));
        }
        finally
        {
            Directory.SetCurrentDirectory(before);
        }
    }

    [Fact]
    public void APatternWhoseFoldersMatchNothingIsOneClearError()
    {
        PhotoTree();
        foreach (var pattern in new[] { Path.Combine(dir, "photos", "**", "*.bmp"), Path.Combine(dir, "videos", "**", "*.png"), Path.Combine(dir, "photos", "19*", "*.png") })
        {
            var e = Assert.Throws<EdgeBuildException>(() => CalibrationFiles.Expand([pattern]));
            Assert.Equal("EB3008", e.Code);
            Assert.Equal(pattern, e.Subject);
            Assert.Equal($"error EB3008: {pattern}: no file matches it. {DiagnosticCodes.CalibrationNoMatch.Help}", e.Format());
        }
    }

    [Fact]
    public void FilesDecodeIntoSamplesInTheirOrderAndTheFirstBadFileInThatOrderIsTheOneReported()
    {
        var files = Enumerable.Range(0, 40).Select(i =>
        {
            string path = Path.Combine(dir, $"s{i:D2}.npy");
            NpyFile.Write(path, Tensor.FromFloats([1, 3, 2, 4], Enumerable.Repeat((float)i, 24).ToArray()));
            return path;
        }).ToList();
        files.Insert(20, Png("middle.png"));
        var source = new FileCalibrationSource(ImageModel(1, 3, 2, 4), files, new ImagePreprocessing());
        var firsts = source.Samples().Select(s => s["image"].ToFloats()[0]).ToList();
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (float)i), firsts.Take(20));
        Assert.Equal(255f, firsts[20]);
        Assert.Equal(Enumerable.Range(20, 20).Select(i => (float)i), firsts.Skip(21));

        string early = Path.Combine(dir, "early.jpg"), late = Path.Combine(dir, "late.jpg");
        File.WriteAllText(early, "this is text, not a JPEG");
        File.WriteAllText(late, "neither is this");
        files.Insert(35, late);
        files.Insert(5, early);
        // Decoded in parallel, the files may fail in any order; the error is always the first bad file's.
        for (int run = 0; run < 5; run++)
        {
            var e = Assert.Throws<EdgeBuildException>(() => new FileCalibrationSource(ImageModel(1, 3, 2, 4), files, new ImagePreprocessing()));
            Assert.Equal("EB3007", e.Code);
            Assert.Equal(early, e.Subject);
        }
    }

    private static void AssertCode(string code, Action action) => Assert.Equal(code, Assert.Throws<EdgeBuildException>(action).Code);

    [Fact]
    public void WildcardMatchingNothing() => AssertCode("EB3008", () => CalibrationFiles.Expand([Path.Combine(dir, "*.jpg")]));

    [Fact]
    public void MissingFile() => AssertCode("EB3002", () => CalibrationFiles.Expand([Path.Combine(dir, "nope.jpg")]));

    [Fact]
    public void FileThatIsNotAnImage()
    {
        string fake = Path.Combine(dir, "photo.jpg");
        File.WriteAllText(fake, "this is text, not a JPEG");
        AssertCode("EB3007", () => new FileCalibrationSource(ImageModel(1, 3, 2, 4), [fake], new ImagePreprocessing()));
    }

    [Fact]
    public void FewerImagesThanTheMinimum() =>
        AssertCode("EB3003", () => new FileCalibrationSource(ImageModel(1, 3, 2, 4), [Png()], new ImagePreprocessing(), minimumSamples: 8));

    [Fact]
    public void ModelInputThatIsNotAnImage() =>
        AssertCode("EB3006", () => new FileCalibrationSource(ImageModel(1, 16), [Png()], new ImagePreprocessing()));
}
