using SkiaSharp;

namespace EdgeBuild.Tests.Support;

/// <summary>Photos as RGB bytes 0..255: whole and resized, or a rectangle of it resized (a face crop).</summary>
public static class PhotoPixels
{
    /// <summary>The decoded photo's width and height.</summary>
    public static (int Width, int Height) Size(string photo)
    {
        using var codec = SKCodec.Create(photo) ?? throw new InvalidDataException($"cannot decode {photo}");
        return (codec.Info.Width, codec.Info.Height);
    }

    /// <summary>
    /// The rectangle (x, y, w, h in pixels, clipped to the photo) resized to <paramref name="width"/> x
    /// <paramref name="height"/> with linear filtering; row-major RGB, 3 bytes a pixel.
    /// </summary>
    public static byte[] Rgb(string photo, int width, int height, SKRectI? rectangle = null)
    {
        using var decoded = SKBitmap.Decode(photo) ?? throw new InvalidDataException($"cannot decode {photo}");
        var source = decoded;
        using var subset = new SKBitmap();
        if (rectangle is { } r)
        {
            var clipped = SKRectI.Intersect(r, new SKRectI(0, 0, decoded.Width, decoded.Height));
            if (clipped.Width <= 0 || clipped.Height <= 0 || !decoded.ExtractSubset(subset, clipped))
                throw new InvalidDataException($"{photo}: rectangle {r} is outside the {decoded.Width}x{decoded.Height} photo");
            source = subset;
        }
        using var resized = source.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear))
            ?? throw new InvalidDataException($"cannot resize {photo}");
        var rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var p = resized.GetPixel(x, y);
                int i = (y * width + x) * 3;
                rgb[i] = p.Red;
                rgb[i + 1] = p.Green;
                rgb[i + 2] = p.Blue;
            }
        return rgb;
    }
}
