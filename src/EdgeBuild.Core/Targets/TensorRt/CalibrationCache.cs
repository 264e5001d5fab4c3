using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace EdgeBuild.Targets.TensorRt;

/// <summary>
/// TensorRT's calibration cache in its text form, the file an IInt8EntropyCalibrator2 reads back
/// (trtexec --calib): a header line <c>TRT-&lt;library version&gt;-EntropyCalibration2</c>, then one line per tensor,
/// <c>name: hhhhhhhh</c>, the hex digits being the big-endian IEEE-754 bits of the float32 scale (amax / 127).
/// TensorRT compares the header with its own version and calibrator and recalibrates when they differ.
/// </summary>
public static class CalibrationCache
{
    /// <summary>The algorithm name in the header: the calibrator trtexec builds (IInt8EntropyCalibrator2).</summary>
    public const string Algorithm = "EntropyCalibration2";

    public static string Header(TensorRtVersion version) => $"TRT-{version.LibraryNumber.ToString(CultureInfo.InvariantCulture)}-{Algorithm}";

    /// <summary>One cache line's hex: the scale's float32 bits, most significant byte first, lower case.</summary>
    public static string Hex(float scale)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteSingleBigEndian(bytes, scale);
        return Convert.ToHexString(bytes).ToLowerInvariant();
    }

    /// <summary>The scale a cache line's hex stands for.</summary>
    public static float Decode(string hex) => BinaryPrimitives.ReadSingleBigEndian(Convert.FromHexString(hex));

    /// <summary>The whole file: the header and one line per (tensor, scale), in the given order, '\n' line ends.</summary>
    public static byte[] Write(TensorRtVersion version, IEnumerable<(string Tensor, float Scale)> scales)
    {
        var b = new StringBuilder();
        b.Append(Header(version)).Append('\n');
        foreach (var (tensor, scale) in scales) b.Append(tensor).Append(": ").Append(Hex(scale)).Append('\n');
        return Encoding.UTF8.GetBytes(b.ToString());
    }

    /// <summary>Reads a cache: its header and the scale of every tensor (the name is everything before the last ": ").</summary>
    public static (string Header, IReadOnlyList<(string Tensor, float Scale)> Scales) Parse(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0) throw new FormatException("empty calibration cache");
        var scales = new List<(string, float)>();
        foreach (var line in lines.Skip(1))
        {
            int colon = line.LastIndexOf(": ", StringComparison.Ordinal);
            if (colon <= 0 || line.Length - colon - 2 != 8) throw new FormatException($"not a cache line: {line}");
            scales.Add((line[..colon], Decode(line[(colon + 2)..])));
        }
        return (lines[0], scales);
    }
}
