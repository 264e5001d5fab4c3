using System.Numerics;
using System.Runtime.InteropServices;

namespace EdgeBuild.Runtime;

/// <summary>
/// Turns an <see cref="EdgeImage"/> into one sample of a float image input, the way the build did for calibration
/// (<see cref="EdgeImagePreprocessing"/>): bilinear at pixel centres, fitted by the resize policy, normalized per
/// channel, laid out NCHW or NHWC. No allocation per call: the sampling tables are sized by the input at construction
/// and recomputed in place only when the source size changes. Rows are filtered horizontally once each, then blended
/// and normalized with <see cref="Vector{T}"/>. Not thread-safe (one per model instance).
/// </summary>
public sealed unsafe class EdgeImageInput
{
    // The letterbox border, in pixel values before normalization: mid gray, as the build's calibration pads.
    private const float Pad = 114f;

    private readonly float[] scale;
    private readonly float[] mean;
    private readonly float[] std;
    private readonly int[] x0;
    private readonly int[] x1;
    private readonly float[] ax;
    private readonly int[] y0;
    private readonly int[] y1;
    private readonly float[] ay;
    private float[] upper;
    private float[] lower;
    private readonly float[] blended;
    private int xStart, xEnd, yStart, yEnd;
    private int tableWidth = -1, tableHeight = -1;

    /// <summary>An input of <paramref name="channels"/> (1 or 3) x <paramref name="height"/> x <paramref name="width"/> in <paramref name="layout"/>.</summary>
    public EdgeImageInput(EdgeImagePreprocessing preprocessing, EdgeImageLayout layout, int channels, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(preprocessing);
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "an image input has 1 or 3 channels");
        if (height <= 0) throw new ArgumentOutOfRangeException(nameof(height), height, "must be positive");
        if (width <= 0) throw new ArgumentOutOfRangeException(nameof(width), width, "must be positive");
        if ((long)channels * height * width > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(width), width, "the input is larger than a span can hold");
        Preprocessing = preprocessing;
        Layout = layout;
        Channels = channels;
        Height = height;
        Width = width;
        scale = new float[channels];
        mean = new float[channels];
        std = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            scale[c] = preprocessing.Scale;
            mean[c] = preprocessing.MeanOf(c);
            std[c] = preprocessing.StdOf(c);
        }
        x0 = new int[width];
        x1 = new int[width];
        ax = new float[width];
        y0 = new int[height];
        y1 = new int[height];
        ay = new float[height];
        upper = new float[channels * width];
        lower = new float[channels * width];
        blended = new float[width];
    }

    /// <summary>The preprocessing applied.</summary>
    public EdgeImagePreprocessing Preprocessing { get; }

    /// <summary>Where the channel dimension is.</summary>
    public EdgeImageLayout Layout { get; }

    /// <summary>Channels of the input (1 or 3).</summary>
    public int Channels { get; }

    /// <summary>Rows of the input.</summary>
    public int Height { get; }

    /// <summary>Columns of the input.</summary>
    public int Width { get; }

    /// <summary>Floats one sample takes: channels x height x width.</summary>
    public int Length => Channels * Height * Width;

    /// <summary>Writes <paramref name="image"/> as one sample into <paramref name="destination"/> (exactly <see cref="Length"/> floats).</summary>
    /// <exception cref="ArgumentException">The destination's length is not <see cref="Length"/>.</exception>
    public void Write(EdgeImage image, Span<float> destination)
    {
        if (destination.Length != Length)
            throw new ArgumentException($"an image sample is {Length} floats ({Channels}x{Height}x{Width}), the destination holds {destination.Length}", nameof(destination));
        if (image.Pixels.IsEmpty) throw new ArgumentException("the image is empty (default EdgeImage)", nameof(image));
        if (image.Width != tableWidth || image.Height != tableHeight) BuildTables(image.Width, image.Height);

        var (r, g, b) = ChannelOffsets(image.Format);
        int bpp = EdgeImage.BytesPerPixel(image.Format);
        int plane = Height * Width;
        int upperRow = -1, lowerRow = -1;
        fixed (byte* pixels = image.Pixels)
        fixed (float* dst = destination)
        {
            for (int y = 0; y < Height; y++)
            {
                if (y < yStart || y >= yEnd)
                {
                    for (int c = 0; c < Channels; c++)
                    {
                        blended.AsSpan().Fill(Normalize(PadValue(), c));
                        Store(dst, c, y, plane);
                    }
                    continue;
                }
                int top = y0[y], bottom = y1[y];
                // Consecutive output rows mostly share source rows: filter each source row once.
                if (upperRow != top)
                {
                    if (lowerRow == top) { (upper, lower) = (lower, upper); (upperRow, lowerRow) = (lowerRow, -1); }
                    else { FilterRow(pixels + (long)top * image.Stride, bpp, r, g, b, upper); upperRow = top; }
                }
                if (lowerRow != bottom)
                {
                    if (bottom == upperRow) upper.AsSpan().CopyTo(lower);
                    else FilterRow(pixels + (long)bottom * image.Stride, bpp, r, g, b, lower);
                    lowerRow = bottom;
                }
                float wy = ay[y];
                for (int c = 0; c < Channels; c++)
                {
                    Blend(upper.AsSpan(c * Width, Width), lower.AsSpan(c * Width, Width), wy, scale[c], mean[c], std[c], blended);
                    Store(dst, c, y, plane);
                }
            }
        }
    }

    private void Store(float* dst, int channel, int y, int plane)
    {
        if (Layout == EdgeImageLayout.Nchw)
        {
            blended.AsSpan().CopyTo(new Span<float>(dst + (long)channel * plane + (long)y * Width, Width));
            return;
        }
        float* row = dst + (long)y * Width * Channels + channel;
        for (int x = 0; x < Width; x++) row[(long)x * Channels] = blended[x];
    }

    /// <summary>value = (((top x (1 - w)) + bottom x w) x scale - mean) / std, a vector at a time: the build's arithmetic, in its order.</summary>
    private static void Blend(ReadOnlySpan<float> top, ReadOnlySpan<float> bottom, float w, float scale, float mean, float std, Span<float> result)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && top.Length >= Vector<float>.Count)
        {
            var vw = new Vector<float>(w);
            var vnw = new Vector<float>(1 - w);
            var vs = new Vector<float>(scale);
            var vm = new Vector<float>(mean);
            var vd = new Vector<float>(std);
            var t = MemoryMarshal.Cast<float, Vector<float>>(top);
            var bo = MemoryMarshal.Cast<float, Vector<float>>(bottom);
            var r = MemoryMarshal.Cast<float, Vector<float>>(result);
            for (int k = 0; k < t.Length; k++) r[k] = ((t[k] * vnw + bo[k] * vw) * vs - vm) / vd;
            i = t.Length * Vector<float>.Count;
        }
        for (; i < top.Length; i++) result[i] = ((top[i] * (1 - w) + bottom[i] * w) * scale - mean) / std;
    }

    private float Normalize(float pixel, int channel) => (pixel * scale[channel] - mean[channel]) / std[channel];

    // What the border is for each channel: gray 114 on every colour channel, and its luma for a gray model.
    private float PadValue() => Preprocessing.ChannelOrder == EdgeChannelOrder.Gray ? 0.299f * Pad + 0.587f * Pad + 0.114f * Pad : Pad;

    /// <summary>Horizontal pass over one source row: per model channel, the value at each output column (the border outside the letterbox).</summary>
    private void FilterRow(byte* row, int bpp, int r, int g, int b, float[] into)
    {
        float pad = PadValue();
        int w = Width;
        for (int c = 0; c < Channels; c++)
        {
            into.AsSpan(c * w, xStart).Fill(pad);
            into.AsSpan(c * w + xEnd, w - xEnd).Fill(pad);
        }
        var order = Preprocessing.ChannelOrder;
        for (int x = xStart; x < xEnd; x++)
        {
            byte* p0 = row + (long)x0[x] * bpp, p1 = row + (long)x1[x] * bpp;
            float a = ax[x], na = 1 - a;
            float red = p0[r] * na + p1[r] * a;
            float green = p0[g] * na + p1[g] * a;
            float blue = p0[b] * na + p1[b] * a;
            if (order == EdgeChannelOrder.Gray)
            {
                // Luma of the interpolated colour, as the build computes it; a gray model reads channel 0 only.
                float luma = 0.299f * red + 0.587f * green + 0.114f * blue;
                for (int c = 0; c < Channels; c++) into[c * w + x] = luma;
                continue;
            }
            bool bgr = order == EdgeChannelOrder.Bgr;
            into[x] = bgr ? blue : red;
            if (Channels == 3)
            {
                into[w + x] = green;
                into[2 * w + x] = bgr ? red : blue;
            }
        }
    }

    private static (int R, int G, int B) ChannelOffsets(EdgePixelFormat format) => format switch
    {
        EdgePixelFormat.Rgb24 or EdgePixelFormat.Rgba32 => (0, 1, 2),
        EdgePixelFormat.Bgr24 or EdgePixelFormat.Bgra32 => (2, 1, 0),
        EdgePixelFormat.Gray8 => (0, 0, 0),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "not an EdgePixelFormat"),
    };

    /// <summary>
    /// Where each output column and row samples the source, for the resize policy: the source rectangle (a centre crop)
    /// and the destination rectangle (a letterbox) in the build's own float arithmetic, so both agree to the last bit.
    /// </summary>
    private void BuildTables(int sourceWidth, int sourceHeight)
    {
        float sx = 0, sy = 0, sw = sourceWidth, sh = sourceHeight;
        float dx = 0, dy = 0, dw = Width, dh = Height;
        float sourceAspect = sw / sh, inputAspect = (float)Width / Height;
        if (Preprocessing.Resize == EdgeResize.CenterCrop)
        {
            if (sourceAspect > inputAspect) { sw = sh * inputAspect; sx = (sourceWidth - sw) / 2; }
            else { sh = sw / inputAspect; sy = (sourceHeight - sh) / 2; }
        }
        else if (Preprocessing.Resize == EdgeResize.Letterbox)
        {
            if (sourceAspect > inputAspect) { dh = Width / sourceAspect; dy = (Height - dh) / 2; }
            else { dw = Height * sourceAspect; dx = (Width - dw) / 2; }
        }
        (xStart, xEnd) = Axis(sourceWidth, sx, sw, dx, dw, x0, x1, ax);
        (yStart, yEnd) = Axis(sourceHeight, sy, sh, dy, dh, y0, y1, ay);
        tableWidth = sourceWidth;
        tableHeight = sourceHeight;
    }

    private static (int Start, int End) Axis(int source, float s, float sLength, float d, float dLength, int[] lo, int[] hi, float[] weight)
    {
        int start = lo.Length, end = 0;
        for (int i = 0; i < lo.Length; i++)
        {
            if (!(i >= d && i < d + dLength)) continue;
            start = Math.Min(start, i);
            end = i + 1;
            float f = Math.Clamp(s + ((i - d) + 0.5f) * sLength / dLength - 0.5f, 0, source - 1);
            lo[i] = (int)f;
            hi[i] = Math.Min(lo[i] + 1, source - 1);
            weight[i] = f - lo[i];
        }
        return start <= end ? (start, end) : (0, 0);
    }
}
