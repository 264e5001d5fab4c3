using System.Globalization;
using System.Text;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Calibration;

/// <summary>Reads NumPy .npy arrays (format 1.0 to 3.0, C order, little-endian) as IR tensors, and writes them (format 1.0).</summary>
public static class NpyFile
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static Tensor Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (IOException e) { throw Unreadable(path, e.Message); }
        return Parse(bytes, path);
    }

    /// <summary>Parses the bytes of a .npy array; <paramref name="path"/> names it in errors (a file, or an archive member).</summary>
    public static Tensor Parse(byte[] bytes, string path)
    {
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic)) throw Unreadable(path, "not a .npy file (no NUMPY magic)");
        int major = bytes[6];
        int headerLength, offset;
        if (major == 1) { headerLength = BitConverter.ToUInt16(bytes, 8); offset = 10; }
        else if (major is 2 or 3 && bytes.Length >= 12) { headerLength = (int)BitConverter.ToUInt32(bytes, 8); offset = 12; }
        else throw Unreadable(path, $"unsupported .npy version {major}");
        if (offset + headerLength > bytes.Length) throw Unreadable(path, "truncated header");
        string header = Encoding.UTF8.GetString(bytes, offset, headerLength);
        string descr = Field(header, "descr", path).Trim('\'', '"', ' ');
        if (Field(header, "fortran_order", path).Trim() != "False") throw Unreadable(path, "Fortran-order arrays are not supported; save with np.ascontiguousarray");
        string shapeText = Field(header, "shape", path).Trim().TrimStart('(').TrimEnd(')');
        long[] dims = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => long.Parse(d, CultureInfo.InvariantCulture)).ToArray();
        var type = descr switch
        {
            "<f4" => DataType.Float, "<f2" => DataType.Float16, "<f8" => DataType.Double,
            "|u1" => DataType.UInt8, "|i1" => DataType.Int8, "<i4" => DataType.Int32, "<i8" => DataType.Int64, "|b1" => DataType.Bool,
            _ => throw Unreadable(path, $"element type '{descr}' is not supported"),
        };
        long needed = DataTypes.ByteCount(type, Tensor.CountElements(dims));
        int start = offset + headerLength;
        if (bytes.Length - start != needed) throw Unreadable(path, $"holds {bytes.Length - start} data bytes, shape ({shapeText}) needs {needed}");
        return Tensor.FromRaw(type, dims, bytes[start..]);
    }

    /// <summary>Writes a tensor as a .npy file (format 1.0, C order, little-endian), as numpy.save lays it out.</summary>
    public static void Write(string path, Tensor tensor) => File.WriteAllBytes(path, ToBytes(tensor));

    public static byte[] ToBytes(Tensor tensor)
    {
        string descr = tensor.ElementType switch
        {
            DataType.Float => "<f4", DataType.Float16 => "<f2", DataType.Double => "<f8",
            DataType.UInt8 => "|u1", DataType.Int8 => "|i1", DataType.Int32 => "<i4", DataType.Int64 => "<i8", DataType.Bool => "|b1",
            _ => throw new ArgumentException($"{DataTypes.Name(tensor.ElementType)} has no .npy form here", nameof(tensor)),
        };
        string shape = tensor.Dims.Length == 1 ? $"({tensor.Dims[0]},)" : "(" + string.Join(", ", tensor.Dims) + ")";
        string header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        int total = 10 + header.Length + 1;
        header = header + new string(' ', (64 - total % 64) % 64) + "\n";
        var bytes = new byte[10 + header.Length + tensor.Raw.Length];
        Magic.CopyTo(bytes, 0);
        bytes[6] = 1;
        bytes[7] = 0;
        BitConverter.TryWriteBytes(bytes.AsSpan(8), (ushort)header.Length);
        Encoding.ASCII.GetBytes(header).CopyTo(bytes, 10);
        tensor.Raw.CopyTo(bytes, 10 + header.Length);
        return bytes;
    }

    private static string Field(string header, string key, string path)
    {
        int k = header.IndexOf("'" + key + "'", StringComparison.Ordinal);
        if (k < 0) throw Unreadable(path, $"header has no '{key}'");
        int colon = header.IndexOf(':', k);
        int end = key == "shape" ? header.IndexOf(')', colon) + 1 : header.IndexOf(',', colon);
        if (colon < 0 || end <= colon) throw Unreadable(path, $"header field '{key}' is malformed");
        return header[(colon + 1)..end].Trim();
    }

    private static EdgeBuildException Unreadable(string path, string why) => new(DiagnosticCodes.CalibrationFileUnreadable, path, why);
}
