namespace EdgeBuild.Ir;

/// <summary>Tensor element types. Numbers are the ONNX TensorProto.DataType values, so they cross the wire unchanged.</summary>
public enum DataType
{
    Undefined = 0,
    Float = 1,
    UInt8 = 2,
    Int8 = 3,
    UInt16 = 4,
    Int16 = 5,
    Int32 = 6,
    Int64 = 7,
    String = 8,
    Bool = 9,
    Float16 = 10,
    Double = 11,
    UInt32 = 12,
    UInt64 = 13,
    Complex64 = 14,
    Complex128 = 15,
    BFloat16 = 16,
    Float8E4M3FN = 17,
    Float8E4M3FNUZ = 18,
    Float8E5M2 = 19,
    Float8E5M2FNUZ = 20,
    UInt4 = 21,
    Int4 = 22,
    Float4E2M1 = 23,
}

public static class DataTypes
{
    /// <summary>Bits one element takes in raw (little-endian) storage; 0 for strings and unknown types.</summary>
    public static int BitsPerElement(DataType type) => type switch
    {
        DataType.Float or DataType.Int32 or DataType.UInt32 => 32,
        DataType.UInt8 or DataType.Int8 or DataType.Bool => 8,
        DataType.Float8E4M3FN or DataType.Float8E4M3FNUZ or DataType.Float8E5M2 or DataType.Float8E5M2FNUZ => 8,
        DataType.UInt16 or DataType.Int16 or DataType.Float16 or DataType.BFloat16 => 16,
        DataType.Int64 or DataType.UInt64 or DataType.Double or DataType.Complex64 => 64,
        DataType.Complex128 => 128,
        DataType.UInt4 or DataType.Int4 or DataType.Float4E2M1 => 4,
        _ => 0,
    };

    /// <summary>Bytes that <paramref name="count"/> elements take in raw storage (4-bit types pack two per byte).</summary>
    public static long ByteCount(DataType type, long count) => (count * BitsPerElement(type) + 7) / 8;

    public static bool IsFloatingPoint(DataType type) => type is DataType.Float or DataType.Double or DataType.Float16 or DataType.BFloat16;

    public static bool IsInteger(DataType type) => type is DataType.Int8 or DataType.UInt8 or DataType.Int16 or DataType.UInt16
        or DataType.Int32 or DataType.UInt32 or DataType.Int64 or DataType.UInt64 or DataType.Int4 or DataType.UInt4;

    public static bool IsKnown(DataType type) => type == DataType.String || BitsPerElement(type) > 0;

    /// <summary>The lower-case name ONNX tools print (float, int64, ...).</summary>
    public static string Name(DataType type) => type switch
    {
        DataType.Float => "float32",
        DataType.Double => "float64",
        DataType.Float16 => "float16",
        DataType.BFloat16 => "bfloat16",
        DataType.Undefined => "?",
        _ => type.ToString().ToLowerInvariant(),
    };
}
