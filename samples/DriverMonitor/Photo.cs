using SkiaSharp;

namespace DriverMonitor;

/// <summary>A decoded photo as 8-bit RGB, with the crops and resizes the three models need.</summary>
internal sealed class Photo
{
    private readonly byte[] rgb;

    private Photo(int width, int height, byte[] rgb)
    {
        Width = width;
        Height = height;
        this.rgb = rgb;
    }

    public int Width { get; }
    public int Height { get; }

    public static Photo Load(string path)
    {
        using var bitmap = SKBitmap.Decode(path) ?? throw new InvalidDataException($"cannot decode {path}");
        using var rgba = bitmap.Copy(SKColorType.Rgba8888) ?? throw new InvalidDataException($"cannot convert {path} to RGBA");
        var pixels = rgba.GetPixelSpan();
        var rgb = new byte[rgba.Width * rgba.Height * 3];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgb[i] = pixels[j];
            rgb[i + 1] = pixels[j + 1];
            rgb[i + 2] = pixels[j + 2];
        }
        return new Photo(rgba.Width, rgba.Height, rgb);
    }

    /// <summary>
    /// Bilinear resize of the region (x, y, w, h) into <paramref name="destination"/>, planar CHW: RGB
    /// (3 planes) or gray (1 plane, BT.601 weights), each value mapped by <paramref name="normalize"/>.
    /// </summary>
    public void CropResize(float x, float y, float w, float h, int outWidth, int outHeight, bool gray, Func<float, float> normalize, Span<float> destination)
    {
        int plane = outWidth * outHeight;
        Span<float> c = stackalloc float[3];
        for (int oy = 0; oy < outHeight; oy++)
        {
            float sy = Math.Clamp(y + (oy + 0.5f) * h / outHeight - 0.5f, 0, Height - 1);
            int y0 = (int)sy, y1 = Math.Min(y0 + 1, Height - 1);
            float fy = sy - y0;
            for (int ox = 0; ox < outWidth; ox++)
            {
                float sx = Math.Clamp(x + (ox + 0.5f) * w / outWidth - 0.5f, 0, Width - 1);
                int x0 = (int)sx, x1 = Math.Min(x0 + 1, Width - 1);
                float fx = sx - x0;
                for (int k = 0; k < 3; k++)
                {
                    float top = Sample(x0, y0, k) * (1 - fx) + Sample(x1, y0, k) * fx;
                    float bottom = Sample(x0, y1, k) * (1 - fx) + Sample(x1, y1, k) * fx;
                    c[k] = top * (1 - fy) + bottom * fy;
                }
                int o = oy * outWidth + ox;
                if (gray) destination[o] = normalize(0.299f * c[0] + 0.587f * c[1] + 0.114f * c[2]);
                else
                {
                    destination[o] = normalize(c[0]);
                    destination[plane + o] = normalize(c[1]);
                    destination[2 * plane + o] = normalize(c[2]);
                }
            }
        }
    }

    private float Sample(int x, int y, int channel) => rgb[(y * Width + x) * 3 + channel];
}
