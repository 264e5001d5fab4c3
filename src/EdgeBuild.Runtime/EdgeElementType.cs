namespace EdgeBuild.Runtime;

/// <summary>
/// A tensor's element type, numbered as ONNX's TensorProto.DataType (and ONNX Runtime's
/// TensorElementType), so the values convert by cast.
/// </summary>
public enum EdgeElementType
{
    /// <summary>32-bit IEEE float (<see cref="float"/>).</summary>
    Float32 = 1,

    /// <summary>Unsigned 8-bit integer (<see cref="byte"/>).</summary>
    UInt8 = 2,

    /// <summary>Signed 8-bit integer (<see cref="sbyte"/>).</summary>
    Int8 = 3,

    /// <summary>Unsigned 16-bit integer (<see cref="ushort"/>).</summary>
    UInt16 = 4,

    /// <summary>Signed 16-bit integer (<see cref="short"/>).</summary>
    Int16 = 5,

    /// <summary>Signed 32-bit integer (<see cref="int"/>).</summary>
    Int32 = 6,

    /// <summary>Signed 64-bit integer (<see cref="long"/>).</summary>
    Int64 = 7,

    /// <summary>UTF-8 strings: described in manifests, but generated classes do not run them.</summary>
    String = 8,

    /// <summary>Boolean, one byte per element (<see cref="bool"/>).</summary>
    Bool = 9,

    /// <summary>16-bit IEEE float (<see cref="System.Half"/>).</summary>
    Float16 = 10,

    /// <summary>64-bit IEEE float (<see cref="double"/>).</summary>
    Float64 = 11,

    /// <summary>Unsigned 32-bit integer (<see cref="uint"/>).</summary>
    UInt32 = 12,

    /// <summary>Unsigned 64-bit integer (<see cref="ulong"/>).</summary>
    UInt64 = 13,
}

/// <summary>The .NET type behind each <see cref="EdgeElementType"/>.</summary>
public static class EdgeElementTypes
{
    /// <summary>The element type whose values a <typeparamref name="T"/> span holds; 0 when none does.</summary>
    public static EdgeElementType Of<T>() where T : unmanaged => ElementTypeOf<T>.Value;

    // The manifest's spelling of each element type (docs/manifest.md): the core's DataTypes.Name, which this project cannot
    // reference; ElementTypeNameTests in tests/EdgeBuild.Generator.Tests keeps the two (and the generator's) equal.
    private static readonly Dictionary<string, EdgeElementType> ManifestNames = new(StringComparer.Ordinal)
    {
        ["float32"] = EdgeElementType.Float32, ["float16"] = EdgeElementType.Float16, ["float64"] = EdgeElementType.Float64,
        ["int8"] = EdgeElementType.Int8, ["uint8"] = EdgeElementType.UInt8, ["int16"] = EdgeElementType.Int16,
        ["uint16"] = EdgeElementType.UInt16, ["int32"] = EdgeElementType.Int32, ["uint32"] = EdgeElementType.UInt32,
        ["int64"] = EdgeElementType.Int64, ["uint64"] = EdgeElementType.UInt64, ["bool"] = EdgeElementType.Bool,
        ["string"] = EdgeElementType.String,
    };

    /// <summary>The element type a manifest or package names ("float32", "int64", ...).</summary>
    internal static bool TryParseManifestName(string name, out EdgeElementType type) => ManifestNames.TryGetValue(name, out type);

    /// <summary>Every element type with its manifest name.</summary>
    internal static IReadOnlyDictionary<string, EdgeElementType> ByManifestName => ManifestNames;

    /// <summary>The C# name of the element type's .NET type ("float", "Half", "bool", ...), for messages.</summary>
    public static string CSharpName(EdgeElementType type) => type switch
    {
        EdgeElementType.Float32 => "float",
        EdgeElementType.UInt8 => "byte",
        EdgeElementType.Int8 => "sbyte",
        EdgeElementType.UInt16 => "ushort",
        EdgeElementType.Int16 => "short",
        EdgeElementType.Int32 => "int",
        EdgeElementType.Int64 => "long",
        EdgeElementType.String => "string",
        EdgeElementType.Bool => "bool",
        EdgeElementType.Float16 => "Half",
        EdgeElementType.Float64 => "double",
        EdgeElementType.UInt32 => "uint",
        EdgeElementType.UInt64 => "ulong",
        _ => type.ToString(),
    };

    /// <summary>Bytes per element; 0 for <see cref="EdgeElementType.String"/> and unknown values.</summary>
    public static int Size(EdgeElementType type) => type switch
    {
        EdgeElementType.UInt8 or EdgeElementType.Int8 or EdgeElementType.Bool => 1,
        EdgeElementType.UInt16 or EdgeElementType.Int16 or EdgeElementType.Float16 => 2,
        EdgeElementType.Float32 or EdgeElementType.Int32 or EdgeElementType.UInt32 => 4,
        EdgeElementType.Int64 or EdgeElementType.UInt64 or EdgeElementType.Float64 => 8,
        _ => 0,
    };

    // Computed once per T; the JIT reads it as a constant after tier-up, so the check in Run costs nothing.
    private static class ElementTypeOf<T> where T : unmanaged
    {
        public static readonly EdgeElementType Value =
            typeof(T) == typeof(float) ? EdgeElementType.Float32 :
            typeof(T) == typeof(byte) ? EdgeElementType.UInt8 :
            typeof(T) == typeof(sbyte) ? EdgeElementType.Int8 :
            typeof(T) == typeof(ushort) ? EdgeElementType.UInt16 :
            typeof(T) == typeof(short) ? EdgeElementType.Int16 :
            typeof(T) == typeof(int) ? EdgeElementType.Int32 :
            typeof(T) == typeof(long) ? EdgeElementType.Int64 :
            typeof(T) == typeof(bool) ? EdgeElementType.Bool :
            typeof(T) == typeof(Half) ? EdgeElementType.Float16 :
            typeof(T) == typeof(double) ? EdgeElementType.Float64 :
            typeof(T) == typeof(uint) ? EdgeElementType.UInt32 :
            typeof(T) == typeof(ulong) ? EdgeElementType.UInt64 :
            0;
    }
}
