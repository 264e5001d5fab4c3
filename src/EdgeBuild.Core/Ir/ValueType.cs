using System.Text;

namespace EdgeBuild.Ir;

/// <summary>One dimension of a shape: a known size, a symbolic name, or unknown (both null).</summary>
public readonly record struct Dim(long? Value, string? Param, string? Denotation = null)
{
    public static Dim Of(long value) => new(value, null);
    public static Dim Symbolic(string name) => new(null, name);
    public static readonly Dim Unknown = new(null, null);

    public bool IsKnown => Value.HasValue;

    public override string ToString() => Value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? Param ?? "?";
}

/// <summary>A tensor shape of known rank. Value equality over the dimensions.</summary>
public sealed class Shape : IEquatable<Shape>
{
    private readonly Dim[] dims;

    public Shape(IEnumerable<Dim> dims) => this.dims = dims.ToArray();

    public static Shape Of(params long[] dims) => new(dims.Select(Dim.Of));

    public IReadOnlyList<Dim> Dims => dims;
    public int Rank => dims.Length;
    public Dim this[int index] => dims[index];

    /// <summary>True when every dimension is a known number.</summary>
    public bool IsStatic => dims.All(d => d.Value.HasValue);

    /// <summary>The dimensions as numbers; only valid when <see cref="IsStatic"/>.</summary>
    public long[] ToArray() => dims.Select(d => d.Value ?? throw new InvalidOperationException("shape is not static")).ToArray();

    /// <summary>The element count; null when a dim is unknown or negative, long.MaxValue when the product overflows.</summary>
    public long? ElementCount()
    {
        long n = 1;
        foreach (var d in dims)
        {
            if (d.Value is not long v || v < 0) return null;
            n = v != 0 && n > long.MaxValue / v ? long.MaxValue : n * v;
        }
        return n;
    }

    public bool Equals(Shape? other) => other is not null && dims.AsSpan().SequenceEqual(other.dims);
    public override bool Equals(object? obj) => Equals(obj as Shape);
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var d in dims) h.Add(d);
        return h.ToHashCode();
    }

    public override string ToString()
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < dims.Length; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append(dims[i].ToString());
        }
        return sb.Append(']').ToString();
    }
}

/// <summary>The type of a value: tensor, sparse tensor, sequence, map or optional (ONNX TypeProto).</summary>
public abstract record ValueType(string? Denotation);

/// <summary>A dense tensor; <see cref="Shape"/> is null when the rank is unknown.</summary>
public sealed record TensorType(DataType ElementType, Shape? Shape, string? Denotation = null) : ValueType(Denotation)
{
    public override string ToString() => DataTypes.Name(ElementType) + (Shape?.ToString() ?? "[*]");
}

public sealed record SparseTensorType(DataType ElementType, Shape? Shape, string? Denotation = null) : ValueType(Denotation)
{
    public override string ToString() => "sparse " + DataTypes.Name(ElementType) + (Shape?.ToString() ?? "[*]");
}

public sealed record SequenceType(ValueType? ElementType, string? Denotation = null) : ValueType(Denotation)
{
    public override string ToString() => $"seq<{ElementType?.ToString() ?? "?"}>";
}

public sealed record MapType(DataType KeyType, ValueType? ValueType, string? Denotation = null) : ValueType(Denotation)
{
    public override string ToString() => $"map<{DataTypes.Name(KeyType)},{ValueType?.ToString() ?? "?"}>";
}

public sealed record OptionalType(ValueType? ElementType, string? Denotation = null) : ValueType(Denotation)
{
    public override string ToString() => $"optional<{ElementType?.ToString() ?? "?"}>";
}
