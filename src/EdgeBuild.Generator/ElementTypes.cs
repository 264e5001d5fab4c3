using System;
using System.Collections.Generic;
using System.Linq;

namespace EdgeBuild.Generator;

/// <summary>
/// The manifest element types a generated Run can pass: the manifest's name, the C# type of a span of them, and the
/// runtime's <c>EdgeElementType</c> member. The names are the core's (DataTypes.Name) and the runtime's
/// (EdgeElementTypes); this netstandard2.0 project references neither, so ElementTypeNameTests keeps the three equal.
/// </summary>
internal static class ElementTypes
{
    public static readonly IReadOnlyList<(string Name, string ClrType, string Member)> All = new[]
    {
        ("float32", "float", "Float32"),
        ("float16", "global::System.Half", "Float16"),
        ("float64", "double", "Float64"),
        ("int8", "sbyte", "Int8"),
        ("uint8", "byte", "UInt8"),
        ("int16", "short", "Int16"),
        ("uint16", "ushort", "UInt16"),
        ("int32", "int", "Int32"),
        ("uint32", "uint", "UInt32"),
        ("int64", "long", "Int64"),
        ("uint64", "ulong", "UInt64"),
        ("bool", "bool", "Bool"),
    };

    private static readonly Dictionary<string, (string ClrType, string Member)> ByName =
        All.ToDictionary(t => t.Name, t => (t.ClrType, t.Member), StringComparer.Ordinal);

    public static bool IsKnown(string name) => ByName.ContainsKey(name);

    /// <summary>The C# type of the element type (<c>float</c>, <c>global::System.Half</c>, ...).</summary>
    public static string ClrType(string name) => ByName[name].ClrType;

    /// <summary>The <c>EdgeElementType</c> member (<c>Float32</c>, ...).</summary>
    public static string Member(string name) => ByName.TryGetValue(name, out var t) ? t.Member
        : throw new ArgumentOutOfRangeException(nameof(name), name, "not a supported element type");
}
