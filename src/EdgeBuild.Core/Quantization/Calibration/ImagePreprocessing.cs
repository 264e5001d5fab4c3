using System.Globalization;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using SkiaSharp;

namespace EdgeBuild.Quantization.Calibration;

/// <summary>How a photo is fitted to the model input's height and width.</summary>
public enum ResizePolicy { Stretch, Letterbox, CenterCrop }

/// <summary>Channel order the model expects (Gray: one channel, BT.601 luma).</summary>
public enum ChannelOrder { Rgb, Bgr, Gray }

/// <summary>Tensor layout of an image input (Auto: read from the input's shape).</summary>
public enum ImageLayout { Auto, Nchw, Nhwc }

/// <summary>
/// How photos become model inputs: value = (pixel * Scale - Mean[c]) / Std[c], pixels 0..255 in the given
/// channel order, resized by the policy, laid out as NCHW or NHWC. The same options exist as EdgeModel
/// metadata and as edgebuild options (--mean, --std, --scale, --channel-order, --resize, --layout).
/// </summary>
public sealed record ImagePreprocessing
{
    public ResizePolicy Resize { get; init; } = ResizePolicy.Stretch;
    public ChannelOrder ChannelOrder { get; init; } = ChannelOrder.Rgb;
    public ImageLayout Layout { get; init; } = ImageLayout.Auto;
    public float[] Mean { get; init; } = [0f];
    public float[] Std { get; init; } = [1f];
    public float Scale { get; init; } = 1f;

    /// <summary>Parses "127.5,127.5,127.5" (one value applies to every channel).</summary>
    public static float[] ParseFloats(string option, string text)
    {
        var parts = text.Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries);
        var values = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !float.IsFinite(values[i]))
                throw new EdgeBuildException(DiagnosticCodes.InvalidCompileOption, option, $"'{text}' is not a list of numbers");
        if (values.Length is not (1 or 3))
            throw new EdgeBuildException(DiagnosticCodes.InvalidCompileOption, option, $"'{text}' must give 1 value or 3 (one per channel)");
        return values;
    }

    private float Normalize(float pixel, int channel) =>
        (pixel * Scale - Mean[Math.Min(channel, Mean.Length - 1)]) / Std[Math.Min(channel, Std.Length - 1)];

    /// <summary>Decodes <paramref name="path"/> and makes the model input tensor (batch 1).</summary>
    public Tensor Load(string path, ImageInputSpec input)
    {
        SKBitmap? decoded;
        try { decoded = SKBitmap.Decode(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { decoded = null; }
        if (decoded is null)
            throw new EdgeBuildException(DiagnosticCodes.CalibrationFileUnreadable, path, "not an image SkiaSharp can decode");
        using var bitmap = decoded;
        using var rgba = bitmap.Copy(SKColorType.Rgba8888)
            ?? throw new EdgeBuildException(DiagnosticCodes.CalibrationFileUnreadable, path, "the image cannot be converted to RGBA");

        // SKBitmap's Width and Height are native calls: read once, not ten times per pixel (most of a small image's decode time).
        int width = rgba.Width, height = rgba.Height;
        // Source rectangle (crop) and destination rectangle (letterbox) in pixels.
        float sx = 0, sy = 0, sw = width, sh = height;
        float dx = 0, dy = 0, dw = input.Width, dh = input.Height;
        float srcAspect = sw / sh, dstAspect = (float)input.Width / input.Height;
        if (Resize == ResizePolicy.CenterCrop)
        {
            if (srcAspect > dstAspect) { sw = sh * dstAspect; sx = (width - sw) / 2; }
            else { sh = sw / dstAspect; sy = (height - sh) / 2; }
        }
        else if (Resize == ResizePolicy.Letterbox)
        {
            if (srcAspect > dstAspect) { dh = input.Width / srcAspect; dy = (input.Height - dh) / 2; }
            else { dw = input.Height * srcAspect; dx = (input.Width - dw) / 2; }
        }

        var pixels = rgba.GetPixelSpan();
        int channels = input.Channels;
        var data = new float[channels * input.Height * input.Width];
        Span<float> rgb = stackalloc float[3];
        for (int y = 0; y < input.Height; y++)
            for (int x = 0; x < input.Width; x++)
            {
                bool inside = x >= dx && x < dx + dw && y >= dy && y < dy + dh;
                if (inside)
                {
                    // Bilinear sample at the destination pixel's centre.
                    float fx = sx + ((x - dx) + 0.5f) * sw / dw - 0.5f, fy = sy + ((y - dy) + 0.5f) * sh / dh - 0.5f;
                    fx = Math.Clamp(fx, 0, width - 1);
                    fy = Math.Clamp(fy, 0, height - 1);
                    int x0 = (int)fx, y0 = (int)fy, x1 = Math.Min(x0 + 1, width - 1), y1 = Math.Min(y0 + 1, height - 1);
                    float ax = fx - x0, ay = fy - y0;
                    for (int k = 0; k < 3; k++)
                    {
                        float top = pixels[(y0 * width + x0) * 4 + k] * (1 - ax) + pixels[(y0 * width + x1) * 4 + k] * ax;
                        float bottom = pixels[(y1 * width + x0) * 4 + k] * (1 - ax) + pixels[(y1 * width + x1) * 4 + k] * ax;
                        rgb[k] = top * (1 - ay) + bottom * ay;
                    }
                }
                else
                {
                    rgb.Fill(114f); // letterbox padding: mid gray, the usual choice of detector pipelines
                }
                for (int c = 0; c < channels; c++)
                {
                    float v = ChannelOrder switch
                    {
                        ChannelOrder.Gray => 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2],
                        ChannelOrder.Bgr => rgb[2 - c],
                        _ => rgb[c],
                    };
                    int index = input.Layout == ImageLayout.Nhwc ? (y * input.Width + x) * channels + c : (c * input.Height + y) * input.Width + x;
                    data[index] = Normalize(v, c);
                }
            }
        long[] dims = input.Layout == ImageLayout.Nhwc ? [1, input.Height, input.Width, channels] : [1, channels, input.Height, input.Width];
        return Tensor.FromFloats(dims, data);
    }
}

/// <summary>A model input that takes images: its name, layout, channel count and fixed size.</summary>
public sealed record ImageInputSpec(string Name, ImageLayout Layout, int Channels, int Height, int Width)
{
    /// <summary>
    /// Reads the layout from the input's shape ([N,C,H,W] with C 1 or 3, or [N,H,W,C]); EB3004 when the input
    /// is not a float image with fixed height and width.
    /// </summary>
    public static ImageInputSpec From(Value input, ImageLayout layout, string subject)
    {
        if (input.TensorType is not { ElementType: DataType.Float, Shape: { Rank: 4 } shape })
            throw NotImage(input, subject, "it is not a float32 tensor of rank 4");
        long? d1 = shape[1].Value, d3 = shape[3].Value;
        if (layout == ImageLayout.Auto)
            layout = d1 is 1 or 3 ? ImageLayout.Nchw : d3 is 1 or 3 ? ImageLayout.Nhwc : ImageLayout.Auto;
        if (layout == ImageLayout.Auto) throw NotImage(input, subject, "neither dimension 1 nor dimension 3 is a channel count (1 or 3)");
        var (c, h, w) = layout == ImageLayout.Nchw ? (shape[1], shape[2], shape[3]) : (shape[3], shape[1], shape[2]);
        if (c.Value is not (1 or 3)) throw NotImage(input, subject, $"its channel dimension is {c}, not 1 or 3");
        if (h.Value is not long hv || w.Value is not long wv) throw NotImage(input, subject,
            $"its height and width ({h}, {w}) are not fixed; fix them at the size the images should have with Shapes (--shape {input.Name}={string.Join(",", Enumerable.Range(0, shape.Rank).Select(i => shape[i].Value is long v ? v.ToString(System.Globalization.CultureInfo.InvariantCulture) : i == 0 ? "1" : "SIZE"))})");
        return new ImageInputSpec(input.Name, layout, (int)c.Value!, (int)hv, (int)wv);
    }

    private static EdgeBuildException NotImage(Value input, string subject, string why) =>
        new(DiagnosticCodes.CalibrationInputNotImage, subject, $"input '{input.Name}' ({input.Type}) cannot take images: {why}");
}
