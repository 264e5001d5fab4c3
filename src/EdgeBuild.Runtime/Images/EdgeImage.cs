using System.Globalization;

namespace EdgeBuild.Runtime;

/// <summary>How the bytes of one pixel of an <see cref="EdgeImage"/> are laid out (8 bits per channel).</summary>
public enum EdgePixelFormat
{
    /// <summary>Red, green, blue: 3 bytes.</summary>
    Rgb24,

    /// <summary>Blue, green, red: 3 bytes (OpenCV's order).</summary>
    Bgr24,

    /// <summary>Red, green, blue, alpha: 4 bytes (alpha ignored).</summary>
    Rgba32,

    /// <summary>Blue, green, red, alpha: 4 bytes (alpha ignored; SkiaSharp's native order on little-endian machines).</summary>
    Bgra32,

    /// <summary>One gray byte.</summary>
    Gray8,
}

/// <summary>
/// Raw pixels the caller owns: rows of <see cref="Width"/> pixels in <see cref="Format"/>, <see cref="Stride"/> bytes apart,
/// <see cref="Height"/> rows. A view, no copy: a generated class resizes and normalizes it into the model's input itself
/// (no image library involved). Wrap decoded pixels from any library: SkiaSharp's <c>SKBitmap.GetPixelSpan()</c>,
/// ImageSharp's pixel rows, a camera frame.
/// </summary>
public readonly ref struct EdgeImage
{
    /// <summary>Wraps pixels; <paramref name="stride"/> 0 means tightly packed rows (width x bytes per pixel).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive, the stride is shorter than a row, or the span is shorter than the image.</exception>
    public EdgeImage(ReadOnlySpan<byte> pixels, int width, int height, EdgePixelFormat format, int stride = 0)
    {
        if (width <= 0) throw new ArgumentOutOfRangeException(nameof(width), width, "an image is at least 1 pixel wide");
        if (height <= 0) throw new ArgumentOutOfRangeException(nameof(height), height, "an image is at least 1 pixel high");
        int bpp = BytesPerPixel(format);
        long row = (long)width * bpp;
        if (stride == 0) stride = row <= int.MaxValue ? (int)row : throw new ArgumentOutOfRangeException(nameof(width), width, "a row is longer than int.MaxValue bytes");
        if (stride < row)
            throw new ArgumentOutOfRangeException(nameof(stride), stride, $"a row of {width} {format} pixels takes {row} bytes; the stride is shorter");
        long needed = (long)stride * (height - 1) + row;
        if (pixels.Length < needed)
            throw new ArgumentOutOfRangeException(nameof(pixels), pixels.Length,
                string.Create(CultureInfo.InvariantCulture, $"a {width}x{height} {format} image with stride {stride} needs {needed} bytes, the span has {pixels.Length}"));
        Pixels = pixels;
        Width = width;
        Height = height;
        Stride = stride;
        Format = format;
    }

    /// <summary>The pixel bytes, row after row.</summary>
    public ReadOnlySpan<byte> Pixels { get; }

    /// <summary>Pixels per row.</summary>
    public int Width { get; }

    /// <summary>Rows.</summary>
    public int Height { get; }

    /// <summary>Bytes from the start of one row to the start of the next.</summary>
    public int Stride { get; }

    /// <summary>The layout of a pixel.</summary>
    public EdgePixelFormat Format { get; }

    /// <summary>Bytes per pixel of <paramref name="format"/>: 3, 4 or 1.</summary>
    public static int BytesPerPixel(EdgePixelFormat format) => format switch
    {
        EdgePixelFormat.Rgb24 or EdgePixelFormat.Bgr24 => 3,
        EdgePixelFormat.Rgba32 or EdgePixelFormat.Bgra32 => 4,
        EdgePixelFormat.Gray8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "not an EdgePixelFormat"),
    };
}
