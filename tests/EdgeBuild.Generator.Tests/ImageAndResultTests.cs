using EdgeBuild.Generator.Tests.Models;
using EdgeBuild.Generator.Tests.Support;
using EdgeBuild.Ir;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Runtime;
using SkiaSharp;

namespace EdgeBuild.Generator.Tests;

/// <summary>
/// The richer generated API: image input from the manifest's preprocessing (against the build's own preprocessing of the
/// same pixels), result views with dimensions, the dims struct, batched runs and the pool.
/// </summary>
public sealed class ImageAndResultTests(ModelFolder models) : IClassFixture<ModelFolder>, IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("edgebuild-image-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(work, recursive: true); }
        catch (IOException) { }
    }

    private EdgeModelOptions Options() => new() { ModelDirectory = models.Path };

    /// <summary>Random opaque RGBA pixels (opaque: SkiaSharp premultiplies alpha, which would change the colours).</summary>
    private static byte[] Pixels(int width, int height, int seed)
    {
        var rng = new Random(seed);
        var rgba = new byte[width * height * 4];
        rng.NextBytes(rgba);
        for (int i = 3; i < rgba.Length; i += 4) rgba[i] = 255;
        return rgba;
    }

    /// <summary>The build's preprocessing (calibration's ImagePreprocessing.Load) of the same pixels, written as a PNG.</summary>
    private float[] BuildPreprocessing(byte[] rgba, int width, int height, ImagePreprocessing preprocessing, ImageInputSpec spec)
    {
        string path = Path.Combine(work, $"photo-{Guid.NewGuid():N}.png");
        using (var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul)))
        {
            rgba.CopyTo(bitmap.GetPixelSpan());
            using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(path, data.ToArray());
        }
        return preprocessing.Load(path, spec).ToFloats();
    }

    /// <summary>The same pixels in another format: RGB, BGR, BGRA or gray (gray: the R channel, repeated into RGBA for the reference).</summary>
    private static (byte[] Pixels, byte[] ReferenceRgba) Convert(byte[] rgba, EdgePixelFormat format, int padPerRow, int width, int height)
    {
        int bpp = EdgeImage.BytesPerPixel(format);
        int stride = width * bpp + padPerRow;
        var result = new byte[stride * height];
        var reference = (byte[])rgba.Clone();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int s = (y * width + x) * 4, d = y * stride + x * bpp;
                byte r = rgba[s], g = rgba[s + 1], b = rgba[s + 2];
                switch (format)
                {
                    case EdgePixelFormat.Rgb24: (result[d], result[d + 1], result[d + 2]) = (r, g, b); break;
                    case EdgePixelFormat.Bgr24: (result[d], result[d + 1], result[d + 2]) = (b, g, r); break;
                    case EdgePixelFormat.Rgba32: (result[d], result[d + 1], result[d + 2], result[d + 3]) = (r, g, b, 255); break;
                    case EdgePixelFormat.Bgra32: (result[d], result[d + 1], result[d + 2], result[d + 3]) = (b, g, r, 255); break;
                    case EdgePixelFormat.Gray8:
                        result[d] = r;
                        (reference[s + 1], reference[s + 2]) = (r, r);
                        break;
                }
            }
        return (result, reference);
    }

    public static TheoryData<ResizePolicy, ChannelOrder, ImageLayout, int, EdgePixelFormat, int, int> Cases()
    {
        var data = new TheoryData<ResizePolicy, ChannelOrder, ImageLayout, int, EdgePixelFormat, int, int>();
        // Sources wider, taller, larger and smaller than the input, every policy, order, layout and pixel format.
        (int W, int H)[] sizes = [(37, 23), (11, 29), (8, 6), (5, 3)];
        int k = 0;
        foreach (var resize in Enum.GetValues<ResizePolicy>())
            foreach (var order in Enum.GetValues<ChannelOrder>())
                foreach (var layout in new[] { ImageLayout.Nchw, ImageLayout.Nhwc })
                {
                    var format = Enum.GetValues<EdgePixelFormat>()[k % 5];
                    var (w, h) = sizes[k % sizes.Length];
                    data.Add(resize, order, layout, order == ChannelOrder.Gray && k % 2 == 0 ? 1 : 3, format, w, h);
                    k++;
                }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ImageInputEqualsTheBuildsPreprocessing(ResizePolicy resize, ChannelOrder order, ImageLayout layout, int channels, EdgePixelFormat format, int width, int height)
    {
        const int InputHeight = 12, InputWidth = 20;
        var rgba = Pixels(width, height, width * 31 + height);
        var (pixels, referenceRgba) = Convert(rgba, format, padPerRow: 3, width, height);
        var build = new ImagePreprocessing { Resize = resize, ChannelOrder = order, Layout = layout, Mean = [120f, 100f, 90.5f], Std = [58f, 57f, 60f], Scale = 1.25f };
        var expected = BuildPreprocessing(referenceRgba, width, height, build, new ImageInputSpec("x", layout, channels, InputHeight, InputWidth));

        var runtime = new EdgeImagePreprocessing(1.25f, [120f, 100f, 90.5f], [58f, 57f, 60f], (EdgeChannelOrder)order, (EdgeResize)resize);
        var input = new EdgeImageInput(runtime, layout == ImageLayout.Nchw ? EdgeImageLayout.Nchw : EdgeImageLayout.Nhwc, channels, InputHeight, InputWidth);
        var actual = new float[input.Length];
        int stride = width * EdgeImage.BytesPerPixel(format) + 3;
        input.Write(new EdgeImage(pixels, width, height, format, stride), actual);

        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * Math.Max(1, Math.Abs(expected[i])), $"[{i}]: {actual[i]} vs the build's {expected[i]}");
    }

    [Fact]
    public void GeneratedImageRunFeedsTheModelAsTheBuildDid()
    {
        const int Width = 29, Height = 13;
        var rgba = Pixels(Width, Height, 7);
        // ImageNet.edgemodel.json: Bgr, Letterbox, mean [127.5,120,110.25], std [128,64,32], scale 1, NCHW [1,3,6,8].
        var build = new ImagePreprocessing { Resize = ResizePolicy.Letterbox, ChannelOrder = ChannelOrder.Bgr, Layout = ImageLayout.Nchw, Mean = [127.5f, 120f, 110.25f], Std = [128f, 64f, 32f] };
        var expected = BuildPreprocessing(rgba, Width, Height, build, new ImageInputSpec("pixels", ImageLayout.Nchw, 3, 6, 8));

        using var model = ImageNet.Create(Options());
        var result = model.Run(new EdgeImage(rgba, Width, Height, EdgePixelFormat.Rgba32));
        Assert.Equal([1L, 3, 6, 8], result.ResultTensor.Dims.ToArray());
        Assert.Equal([1L, 1, 6, 8], result.Mean.Dims.ToArray());
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 6; y++)
                for (int x = 0; x < 8; x++)
                {
                    float e = expected[(c * 6 + y) * 8 + x];
                    Assert.True(Math.Abs(e - result.ResultTensor[0, c, y, x]) <= 1e-5f, $"[0,{c},{y},{x}]: {result.ResultTensor[0, c, y, x]} vs {e}");
                }
        Assert.Equal((expected[5] + expected[48 + 5] + expected[96 + 5]) / 3, result.Mean[0, 0, 0, 5], 5);
        Assert.Throws<IndexOutOfRangeException>(() => model.Run(new EdgeImage(rgba, Width, Height, EdgePixelFormat.Rgba32)).Mean[0, 1, 0, 0]);
        Assert.Throws<InvalidOperationException>(() => model.Run(new EdgeImage(rgba, Width, Height, EdgePixelFormat.Rgba32)).Mean[0, 0]);
    }

    [Fact]
    public void ImageRunAllocatesNothingAfterWarmUp()
    {
        var rgba = Pixels(64, 48, 3);
        using var model = ImageNet.Create(Options());
        float sink = 0;
        for (int i = 0; i < 10; i++) sink += model.Run(new EdgeImage(rgba, 64, 48, EdgePixelFormat.Bgra32)).Mean[0, 0, 1, 1];
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 2000; i++) sink += model.Run(new EdgeImage(rgba, 64, 48, EdgePixelFormat.Bgra32)).Mean[0, 0, 1, 1];
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(float.IsFinite(sink));
    }

    [Fact]
    public void ResultViewsCarryTheActualDimensionsOfDynamicOutputs()
    {
        using var model = SymbolicNet.Create(Options());
        var x = Enumerable.Range(0, 12).Select(i => i * 0.25f).ToArray();
        var y = new float[6];
        var flat = new float[12];
        model.Run(x, y, flat, 3, 12);

        var result = model.Run(x, new SymbolicNet.Dims(batchSize: 3, dim0: 12));
        Assert.Equal([3L, 2], result.Y.Dims.ToArray());
        Assert.Equal([12L], result.Flat.Dims.ToArray());
        for (int b = 0; b < 3; b++)
            for (int j = 0; j < 2; j++) Assert.Equal(y[b * 2 + j], result.Y[b, j]);
        Assert.Equal(flat, result.Flat.Span.ToArray());
        Assert.Equal([2L], result.Y.Slice(1).Dims.ToArray());
        Assert.Equal(y[3], result.Y.Slice(1)[1]);
        Assert.Equal(1, SymbolicNet.Dims.Default.BatchSize);
    }

    [Fact]
    public void BatchedRunPadsToTheFixedBatchWithoutAllocating()
    {
        Assert.Equal(8, BatchNet.Dims.Default.Batch); // options.shapes in the manifest: the item's Shapes
        using var model = BatchNet.Create(Options());
        var samples = Enumerable.Range(0, 5 * 4).Select(i => (i % 9) * 0.5f - 1).ToArray();
        var one = new float[2];
        var reference = new float[5][];
        for (int s = 0; s < 5; s++)
        {
            model.Run(samples.AsSpan(s * 4, 4), one, 1);
            reference[s] = (float[])one.Clone();
        }

        var result = model.RunBatch(samples, batch: 8);
        Assert.Equal([8L, 2], result.Y.Dims.ToArray());
        for (int s = 0; s < 5; s++) Assert.Equal(reference[s], result.Y.Slice(s).Span.ToArray());
        for (int s = 5; s < 8; s++) Assert.Equal([0f, 0f], result.Y.Slice(s).Span.ToArray());

        // Varying counts at a fixed batch: nothing rebinds, nothing allocates.
        long before = GC.GetAllocatedBytesForCurrentThread();
        float sink = 0;
        for (int i = 0; i < 1000; i++) sink += model.RunBatch(samples.AsSpan(0, (1 + i % 5) * 4), 8).Y[0, 1];
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(reference[0][1] * 1000, sink, 2);

        var tooMany = new float[9 * 4];
        var e = Assert.Throws<ArgumentException>(() => model.RunBatch(tooMany, 8));
        Assert.Equal("x", e.ParamName);
        Assert.Throws<ArgumentException>(() => model.RunBatch(new float[6], 8));
    }

    [Fact]
    public void ImagesFillABatchThroughImageInput()
    {
        Assert.Equal(4, ImageBatchNet.Dims.Default.N);
        using var model = ImageBatchNet.Create(Options());
        int sample = model.ImageInput.Length;
        Assert.Equal(6 * 8 * 3, sample);
        var photos = new[] { Pixels(30, 10, 1), Pixels(9, 21, 2), Pixels(16, 12, 3) };
        (int W, int H)[] sizes = [(30, 10), (9, 21), (16, 12)];
        var singles = new float[3][];
        for (int i = 0; i < 3; i++) singles[i] = model.Run(new EdgeImage(photos[i], sizes[i].W, sizes[i].H, EdgePixelFormat.Rgba32)).Twice.Span.ToArray();

        var batch = new float[3 * sample];
        for (int i = 0; i < 3; i++) model.ImageInput.Write(new EdgeImage(photos[i], sizes[i].W, sizes[i].H, EdgePixelFormat.Rgba32), batch.AsSpan(i * sample, sample));
        var result = model.RunBatch(batch, ImageBatchNet.Dims.Default.N is var n ? (int)n : 0);
        Assert.Equal([4L, 6, 8, 3], result.Twice.Dims.ToArray());
        for (int i = 0; i < 3; i++) Assert.Equal(singles[i], result.Twice.Slice(i).Span.ToArray());
        // Gray into three channels: each pixel's three values are the same luma.
        var first = result.Twice.Slice(0);
        Assert.Equal(first[2, 5, 0], first[2, 5, 2]);
    }

    [Fact]
    public void BadImagesAreRefusedWithTheReason()
    {
        var pixels = new byte[10 * 4 * 3];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new EdgeImage(pixels, 10, 4, EdgePixelFormat.Rgba32));
        Assert.Equal("pixels", e.ParamName);
        Assert.Contains("needs 160 bytes, the span has 120", e.Message);
        Assert.Equal("stride", Assert.Throws<ArgumentOutOfRangeException>(() => new EdgeImage(pixels, 10, 4, EdgePixelFormat.Rgb24, stride: 29)).ParamName);
        Assert.Equal("width", Assert.Throws<ArgumentOutOfRangeException>(() => new EdgeImage(pixels, 0, 4, EdgePixelFormat.Gray8)).ParamName);
        var input = new EdgeImageInput(ImageNet.ImagePreprocessing, EdgeImageLayout.Nchw, 3, 6, 8);
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => input.Write(new EdgeImage(pixels, 10, 4, EdgePixelFormat.Rgb24), new float[10])).ParamName);
        Assert.Equal("std", Assert.Throws<ArgumentException>(() => new EdgeImagePreprocessing(1, [0], [0], EdgeChannelOrder.Rgb, EdgeResize.Stretch)).ParamName);
    }

    [Fact]
    public async Task PoolDisposesInstancesAndRefusesRunsAfterDispose()
    {
        var created = new List<BatchNet>();
        var pool = new EdgeModelPool<BatchNet>(() => { var m = BatchNet.Create(Options()); lock (created) created.Add(m); return m; }, 3);
        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(async () => await pool.RunAsync(m => m.Run(new float[4], new BatchNet.Dims(1)).Y[0, 0]))));
        Assert.InRange(created.Count, 1, 3);
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => created[0].Run(new float[4], new BatchNet.Dims(1)));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await pool.RunAsync(m => 0));
    }

    [Fact]
    public async Task PoolRunsConcurrentCallersOnInstancesOfTheirOwn()
    {
        using var pool = BatchNet.CreatePool(size: 2, Options());
        Assert.Equal(2, pool.Size);
        var tasks = Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
        {
            var x = new float[] { i, 0, 0, 1 };
            return await pool.RunAsync(model => model.Run(x, new BatchNet.Dims(1)).Y.Span.ToArray());
        })).ToArray();
        var results = await Task.WhenAll(tasks);
        for (int i = 0; i < 16; i++) Assert.Equal(new[] { i * 1f + 7, i * 2f + 8 }, results[i]);
    }
}

/// <summary>What the parser makes of symbols, preprocessing and shapes (the rest of the API is in the baselines).</summary>
public sealed class DimsAndImageParsingTests
{
    [Theory]
    [InlineData("batch_size", true)]
    [InlineData("N", true)]
    [InlineData("sequence", true)]
    [InlineData("p2o.DynamicDimension.0", false)]
    [InlineData("unk__42", false)]
    [InlineData("Reshape_output_dim_1", false)]
    [InlineData("???", false)]
    public void ExporterNamesAreReplaced(string name, bool usable) => Assert.Equal(usable, ManifestParser.IsUsableSymbolName(name));

    [Fact]
    public void DimsFieldsAreCleanNames()
    {
        string manifest = GeneratorHarness.ReadManifest("SymbolicNet")
            .Replace("\"batch_size\"", "\"p2o.DynamicDimension.0\"");
        var result = ManifestParser.Parse("x/SymbolicNet.edgemodel.json", manifest, default);
        Assert.Empty(result.Diagnostics);
        Assert.Equal(["Dim0", "Dim1"], result.Model!.Symbols.Select(s => s.FieldName).ToArray());
    }

    [Theory]
    [InlineData("\"mean\": [127.5, 120, 110.25]", "\"mean\": [1, 2]", "options.preprocessing.mean")]
    [InlineData("\"std\": [128, 64, 32]", "\"std\": [0]", "options.preprocessing.std")]
    [InlineData("\"channelOrder\": \"Bgr\"", "\"channelOrder\": \"Rgba\"", "options.preprocessing.channelOrder")]
    [InlineData("\"resize\": \"Letterbox\"", "\"resize\": 3", "options.preprocessing.resize")]
    public void MalformedPreprocessingIsEbg003NamingTheField(string good, string bad, string field)
    {
        string manifest = GeneratorHarness.ReadManifest("ImageNet");
        Assert.Contains(good, manifest);
        var result = ManifestParser.Parse("x/ImageNet.edgemodel.json", manifest.Replace(good, bad), default);
        Assert.Null(result.Model);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("EBG003", d.Id);
        Assert.Equal(field, d.Arguments[1]);
    }

    [Fact]
    public void ImageRunNeedsOneFloatImageInput()
    {
        var image = ManifestParser.Parse("x/ImageNet.edgemodel.json", GeneratorHarness.ReadManifest("ImageNet"), default).Model!.Image;
        Assert.Equal(new ImageSpec("Nchw", 3, 6, 8, "1f", new EquatableArray<string>(["127.5f", "120f", "110.25f"]),
            new EquatableArray<string>(["128f", "64f", "32f"]), "Bgr", "Letterbox", false), image);
        // Channels last is found from the shape too; a channel count of 5 is no image.
        string nhwc = GeneratorHarness.ReadManifest("ImageNet").Replace("[1, 3, 6, 8] }\n  ],\n  \"outputs\"", "[1, 6, 8, 3] }\n  ],\n  \"outputs\"");
        Assert.Equal("Nhwc", ManifestParser.Parse("x/ImageNet.edgemodel.json", nhwc, default).Model!.Image!.Layout);
        string five = GeneratorHarness.ReadManifest("ImageNet").Replace("[1, 3, 6, 8] }\n  ],\n  \"outputs\"", "[1, 5, 6, 8] }\n  ],\n  \"outputs\"");
        Assert.Null(ManifestParser.Parse("x/ImageNet.edgemodel.json", five, default).Model!.Image);
        // Two inputs: no image Run.
        Assert.Null(ManifestParser.Parse("x/TinyDetector.edgemodel.json", GeneratorHarness.ReadManifest("TinyDetector"), default).Model!.Image);
    }

    /// <summary>Inputs named like the new overloads' own parameters and locals (batch, count, dims), an output named result: still compiles clean.</summary>
    [Fact]
    public void NamesOfTheNewOverloadsGiveWayToTensorNames()
    {
        string json = GeneratorHarness.ReadManifest("BatchNet")
            .Replace("{ \"name\": \"x\", \"csharpName\": \"x\", \"elementType\": \"float32\", \"shape\": [\"batch\", 4] }",
                "{ \"name\": \"batch\", \"csharpName\": \"batch\", \"elementType\": \"float32\", \"shape\": [\"batch\", 4] }, { \"name\": \"count\", \"csharpName\": \"count\", \"elementType\": \"float32\", \"shape\": [\"batch\", 2] }, { \"name\": \"dims\", \"csharpName\": \"dims\", \"elementType\": \"float32\", \"shape\": [\"batch\"] }")
            .Replace("{ \"name\": \"y\", \"csharpName\": \"y\"", "{ \"name\": \"result\", \"csharpName\": \"result\"");
        Assert.Contains("\"count\"", json);
        var (result, output) = GeneratorHarness.Run(("BatchNet.edgemodel.json", json));
        Assert.Empty(result.Diagnostics);
        string source = Assert.Single(result.GeneratedSources).SourceText.ToString();
        Assert.Contains("public Result RunBatch(global::System.ReadOnlySpan<float> batch, global::System.ReadOnlySpan<float> count, global::System.ReadOnlySpan<float> dims, int batch2)", source);
        Assert.Contains("public global::EdgeBuild.Runtime.EdgeTensorView<float> ResultTensor { get; }", source);
        var problems = output.GetDiagnostics().Where(d => d.Severity >= Microsoft.CodeAnalysis.DiagnosticSeverity.Warning).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}
