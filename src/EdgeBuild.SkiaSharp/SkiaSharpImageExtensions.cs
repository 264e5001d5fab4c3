using SkiaSharp;

namespace EdgeBuild.Runtime;

/// <summary>
/// SkiaSharp bitmaps as <see cref="EdgeImage"/>: a view of their pixels, no copy and no allocation, for a generated class's
/// image <c>Run</c>. Decoded JPEGs and PNGs are <c>Bgra8888</c> or <c>Rgba8888</c> (by platform) and opaque, which is what a
/// model wants; a bitmap with premultiplied transparency is read as stored (colours darkened by alpha).
/// </summary>
public static class SkiaSharpImageExtensions
{
    /// <summary>The bitmap's pixels as an <see cref="EdgeImage"/> (valid while the bitmap lives and is not changed).</summary>
    /// <exception cref="ArgumentException">The bitmap's colour type is not 8-bit RGBA, BGRA, RGB-X or gray; convert it with <c>bitmap.Copy(SKColorType.Rgba8888)</c>.</exception>
    public static EdgeImage AsEdgeImage(this SKBitmap bitmap)
    {
        ArgumentNullException.ThrowIfNull(bitmap);
        return Wrap(bitmap.GetPixelSpan(), bitmap.Width, bitmap.Height, bitmap.RowBytes, bitmap.ColorType, nameof(bitmap));
    }

    /// <summary>The pixmap's pixels as an <see cref="EdgeImage"/> (valid while the pixmap's memory lives).</summary>
    /// <exception cref="ArgumentException">The colour type is not 8-bit RGBA, BGRA, RGB-X or gray.</exception>
    public static EdgeImage AsEdgeImage(this SKPixmap pixmap)
    {
        ArgumentNullException.ThrowIfNull(pixmap);
        return Wrap(pixmap.GetPixelSpan(), pixmap.Width, pixmap.Height, pixmap.RowBytes, pixmap.ColorType, nameof(pixmap));
    }

    private static EdgeImage Wrap(ReadOnlySpan<byte> pixels, int width, int height, int rowBytes, SKColorType colorType, string parameter)
    {
        var format = colorType switch
        {
            SKColorType.Rgba8888 or SKColorType.Rgb888x => EdgePixelFormat.Rgba32,
            SKColorType.Bgra8888 => EdgePixelFormat.Bgra32,
            SKColorType.Gray8 => EdgePixelFormat.Gray8,
            _ => throw new ArgumentException(
                $"a {colorType} bitmap has no EdgePixelFormat; convert it first: bitmap.Copy(SKColorType.Rgba8888)", parameter),
        };
        return new EdgeImage(pixels, width, height, format, rowBytes);
    }
}
