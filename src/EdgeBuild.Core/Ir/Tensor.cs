using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace EdgeBuild.Ir;

/// <summary>
/// A constant tensor. Numeric data is kept as raw little-endian bytes (the ONNX raw_data layout) whatever
/// field it was read from, so every pass sees one representation and the writer emits one.
/// </summary>
public sealed class Tensor
{
    /// <summary>The largest element count EdgeBuild accepts in one tensor (2^34, 64 GiB of float32).</summary>
    public const long MaxElements = 1L << 34;

    private Tensor(DataType elementType, long[] dims, byte[]? raw, byte[][]? strings)
    {
        ElementType = elementType;
        Dims = dims;
        Raw = raw ?? [];
        Strings = strings;
    }

    public DataType ElementType { get; }
    public long[] Dims { get; }

    /// <summary>Raw little-endian element bytes; empty for string tensors.</summary>
    public byte[] Raw { get; }

    /// <summary>Elements of a string tensor (ONNX strings are bytes); null for numeric tensors.</summary>
    public byte[][]? Strings { get; }

    /// <summary>The name the tensor carried in the file (initializers take the name of their value).</summary>
    public string? Name { get; set; }
    public string? DocString { get; set; }
    public List<KeyValuePair<string, string>> MetadataProps { get; } = [];

    public long ElementCount => CountElements(Dims);
    public int Rank => Dims.Length;
    public Shape Shape => Shape.Of(Dims);
    public TensorType Type => new(ElementType, Shape);

    public static long CountElements(IReadOnlyList<long> dims)
    {
        long n = 1;
        foreach (var d in dims) n *= d;
        return n;
    }

    public static Tensor FromRaw(DataType type, long[] dims, byte[] raw)
    {
        if (type == DataType.String) throw new ArgumentException("string tensors have no raw form", nameof(type));
        long expected = DataTypes.ByteCount(type, CountElements(dims));
        if (raw.LongLength != expected)
            throw new ArgumentException($"raw data has {raw.LongLength} bytes, {DataTypes.Name(type)}{Shape.Of(dims)} needs {expected}", nameof(raw));
        return new Tensor(type, dims, raw, null);
    }

    public static Tensor FromStrings(long[] dims, byte[][] strings)
    {
        if (strings.LongLength != CountElements(dims)) throw new ArgumentException("string count does not match dims", nameof(strings));
        return new Tensor(DataType.String, dims, null, strings);
    }

    public static Tensor FromSpan<T>(DataType type, long[] dims, ReadOnlySpan<T> values) where T : unmanaged =>
        FromRaw(type, dims, MemoryMarshal.AsBytes(values).ToArray());

    public static Tensor FromFloats(long[] dims, ReadOnlySpan<float> values) => FromSpan(DataType.Float, dims, values);
    public static Tensor FromInt64s(long[] dims, ReadOnlySpan<long> values) => FromSpan(DataType.Int64, dims, values);
    public static Tensor Scalar(float value) => FromFloats([], [value]);

    /// <summary>The data viewed as <typeparamref name="T"/>; the caller picks a T that matches <see cref="ElementType"/>.</summary>
    public ReadOnlySpan<T> AsSpan<T>() where T : unmanaged => MemoryMarshal.Cast<byte, T>(Raw);

    public float[] ToFloats() => ElementType switch
    {
        DataType.Float => AsSpan<float>().ToArray(),
        DataType.Double => Array.ConvertAll(AsSpan<double>().ToArray(), d => (float)d),
        DataType.Float16 => Array.ConvertAll(AsSpan<Half>().ToArray(), h => (float)h),
        _ => Array.ConvertAll(ToInt64s(), v => (float)v),
    };

    /// <summary>Integer data widened to int64 (for shapes, axes, indices).</summary>
    public long[] ToInt64s() => ElementType switch
    {
        DataType.Int64 => AsSpan<long>().ToArray(),
        DataType.Int32 => Array.ConvertAll(AsSpan<int>().ToArray(), v => (long)v),
        DataType.Int16 => Array.ConvertAll(AsSpan<short>().ToArray(), v => (long)v),
        DataType.Int8 => Array.ConvertAll(AsSpan<sbyte>().ToArray(), v => (long)v),
        DataType.UInt8 or DataType.Bool => Array.ConvertAll(Raw, v => (long)v),
        DataType.UInt16 => Array.ConvertAll(AsSpan<ushort>().ToArray(), v => (long)v),
        DataType.UInt32 => Array.ConvertAll(AsSpan<uint>().ToArray(), v => (long)v),
        DataType.UInt64 => Array.ConvertAll(AsSpan<ulong>().ToArray(), v => (long)v),
        DataType.Float => Array.ConvertAll(AsSpan<float>().ToArray(), v => (long)v),
        DataType.Double => Array.ConvertAll(AsSpan<double>().ToArray(), v => (long)v),
        _ => throw new InvalidOperationException($"{DataTypes.Name(ElementType)} tensor has no integer view"),
    };

    /// <summary>A content key: equal keys mean equal type, dims and bytes (SHA-256 over all three).</summary>
    public string ContentHash()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> head = stackalloc byte[8];
        BitConverter.TryWriteBytes(head, (long)ElementType);
        sha.AppendData(head);
        BitConverter.TryWriteBytes(head, (long)Dims.Length);
        sha.AppendData(head);
        foreach (var d in Dims)
        {
            BitConverter.TryWriteBytes(head, d);
            sha.AppendData(head);
        }
        if (Strings is null) sha.AppendData(Raw);
        else
        {
            foreach (var s in Strings)
            {
                BitConverter.TryWriteBytes(head, (long)s.Length);
                sha.AppendData(head);
                sha.AppendData(s);
            }
        }
        return Convert.ToHexString(sha.GetHashAndReset());
    }

    /// <summary>Same type, dims and data (names and doc strings are not compared).</summary>
    public bool ContentEquals(Tensor other)
    {
        if (ElementType != other.ElementType || !Dims.AsSpan().SequenceEqual(other.Dims)) return false;
        if (Strings is null || other.Strings is null) return Strings is null && other.Strings is null && Raw.AsSpan().SequenceEqual(other.Raw);
        if (Strings.Length != other.Strings.Length) return false;
        for (int i = 0; i < Strings.Length; i++)
            if (!Strings[i].AsSpan().SequenceEqual(other.Strings[i])) return false;
        return true;
    }

    public Tensor WithDims(long[] dims) => Strings is null ? FromRaw(ElementType, dims, Raw) : FromStrings(dims, Strings);

    public override string ToString() => $"{DataTypes.Name(ElementType)}{Shape}";
}

/// <summary>A sparse constant: values at the given indices of a dense tensor of <see cref="Dims"/> (ONNX SparseTensorProto).</summary>
public sealed class SparseTensor(Tensor values, Tensor indices, long[] dims)
{
    public Tensor Values { get; } = values;
    public Tensor Indices { get; } = indices;
    public long[] Dims { get; } = dims;

    /// <summary>The dense equivalent. Indices are either [NNZ] linear or [NNZ, rank] coordinates (ONNX spec).</summary>
    public Tensor ToDense()
    {
        long count = Tensor.CountElements(Dims);
        int elementBits = DataTypes.BitsPerElement(Values.ElementType);
        if (elementBits < 8) throw new InvalidOperationException($"sparse {DataTypes.Name(Values.ElementType)} tensors are not supported");
        int size = elementBits / 8;
        var dense = new byte[count * size];
        var idx = Indices.ToInt64s();
        long nnz = Values.ElementCount;
        for (long k = 0; k < nnz; k++)
        {
            long linear;
            if (Indices.Rank == 1) linear = idx[k];
            else
            {
                linear = 0;
                for (int r = 0; r < Dims.Length; r++) linear = linear * Dims[r] + idx[k * Dims.Length + r];
            }
            if (linear < 0 || linear >= count) throw new InvalidOperationException($"sparse index {linear} is outside {Shape.Of(Dims)}");
            Array.Copy(Values.Raw, k * size, dense, linear * size, size);
        }
        return Tensor.FromRaw(Values.ElementType, Dims, dense);
    }
}
