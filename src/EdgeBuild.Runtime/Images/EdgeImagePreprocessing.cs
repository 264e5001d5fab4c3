namespace EdgeBuild.Runtime;

/// <summary>How an image is fitted to the model input's height and width (the item's <c>Resize</c>).</summary>
public enum EdgeResize
{
    /// <summary>Scaled to the input's size, aspect ratio ignored.</summary>
    Stretch,

    /// <summary>Scaled to fit inside, aspect kept, centred; the border is gray 114 (before normalization).</summary>
    Letterbox,

    /// <summary>The centre region with the input's aspect ratio, scaled to fill it.</summary>
    CenterCrop,
}

/// <summary>The channel order the model takes (the item's <c>ChannelOrder</c>); <see cref="Gray"/> is one channel, BT.601 luma.</summary>
public enum EdgeChannelOrder
{
    /// <summary>Red, green, blue.</summary>
    Rgb,

    /// <summary>Blue, green, red.</summary>
    Bgr,

    /// <summary>One channel: 0.299 R + 0.587 G + 0.114 B.</summary>
    Gray,
}

/// <summary>Where the channel dimension of an image input is.</summary>
public enum EdgeImageLayout
{
    /// <summary>[N, C, H, W]: one plane per channel.</summary>
    Nchw,

    /// <summary>[N, H, W, C]: channels interleaved.</summary>
    Nhwc,
}

/// <summary>
/// How the build turned images into the model's input (the manifest's <c>options.preprocessing</c>): pixels 0..255 in
/// <see cref="ChannelOrder"/>, bilinear-resized by <see cref="Resize"/> (sampling at pixel centres), then
/// value = (pixel x <see cref="Scale"/> - <see cref="Mean"/>[c]) / <see cref="Std"/>[c]. A generated class feeds images the same way.
/// </summary>
public sealed class EdgeImagePreprocessing
{
    /// <summary>Describes preprocessing; one mean or std value applies to every channel.</summary>
    /// <exception cref="ArgumentException">A list is not 1 or 3 values, a value is not finite, or a std is 0.</exception>
    public EdgeImagePreprocessing(float scale, float[] mean, float[] std, EdgeChannelOrder channelOrder, EdgeResize resize)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (!float.IsFinite(scale)) throw new ArgumentException($"scale {scale} is not a finite number", nameof(scale));
        Check(mean, nameof(mean));
        Check(std, nameof(std));
        if (std.Contains(0f)) throw new ArgumentException("a std of 0 divides by zero", nameof(std));
        Scale = scale;
        Mean = Array.AsReadOnly((float[])mean.Clone());
        Std = Array.AsReadOnly((float[])std.Clone());
        ChannelOrder = channelOrder;
        Resize = resize;
    }

    private static void Check(float[] values, string name)
    {
        if (values.Length is not (1 or 3)) throw new ArgumentException($"{name} must hold 1 value or 3 (one per channel), got {values.Length}", name);
        foreach (float v in values)
            if (!float.IsFinite(v)) throw new ArgumentException($"{name} holds {v}, not a finite number", name);
    }

    /// <summary>Multiplies each pixel (0..255) first.</summary>
    public float Scale { get; }

    /// <summary>Subtracted per channel after scaling (one value: every channel).</summary>
    public System.Collections.ObjectModel.ReadOnlyCollection<float> Mean { get; }

    /// <summary>Divides per channel last (one value: every channel).</summary>
    public System.Collections.ObjectModel.ReadOnlyCollection<float> Std { get; }

    /// <summary>The channel order the model takes.</summary>
    public EdgeChannelOrder ChannelOrder { get; }

    /// <summary>How the image is fitted to the input's size.</summary>
    public EdgeResize Resize { get; }

    internal float MeanOf(int channel) => Mean[Math.Min(channel, Mean.Count - 1)];

    internal float StdOf(int channel) => Std[Math.Min(channel, Std.Count - 1)];
}
