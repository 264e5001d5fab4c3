namespace EdgeBuild.Ir;

/// <summary>Attribute kinds; numbers are ONNX AttributeProto.AttributeType values.</summary>
public enum AttributeKind
{
    Undefined = 0,
    Float = 1,
    Int = 2,
    String = 3,
    Tensor = 4,
    Graph = 5,
    Floats = 6,
    Ints = 7,
    Strings = 8,
    Tensors = 9,
    Graphs = 10,
    SparseTensor = 11,
    SparseTensors = 12,
    TypeProto = 13,
    TypeProtos = 14,
}

/// <summary>A node attribute. Exactly the fields of its <see cref="Kind"/> are meaningful.</summary>
public sealed class Attribute
{
    public Attribute(string name, AttributeKind kind)
    {
        Name = name;
        Kind = kind;
    }

    public string Name { get; }
    public AttributeKind Kind { get; }

    public float Float { get; init; }
    public long Int { get; init; }
    public byte[] String { get; init; } = [];
    public Tensor? Tensor { get; init; }
    public Graph? Graph { get; set; }
    public SparseTensor? SparseTensor { get; init; }
    public ValueType? TypeProto { get; init; }
    public float[] Floats { get; init; } = [];
    public long[] Ints { get; init; } = [];
    public byte[][] Strings { get; init; } = [];
    public Tensor[] Tensors { get; init; } = [];
    public Graph[] Graphs { get; set; } = [];
    public SparseTensor[] SparseTensors { get; init; } = [];
    public ValueType?[] TypeProtos { get; init; } = [];

    /// <summary>Inside function bodies: the caller's attribute this one refers to.</summary>
    public string? RefAttrName { get; init; }
    public string? DocString { get; init; }

    public string StringValue => System.Text.Encoding.UTF8.GetString(String);

    /// <summary>The subgraphs this attribute holds (one for GRAPH, many for GRAPHS).</summary>
    public IEnumerable<Graph> Subgraphs => Kind switch
    {
        AttributeKind.Graph when Graph is not null => [Graph],
        AttributeKind.Graphs => Graphs,
        _ => [],
    };

    public static Attribute Of(string name, long value) => new(name, AttributeKind.Int) { Int = value };
    public static Attribute Of(string name, float value) => new(name, AttributeKind.Float) { Float = value };
    public static Attribute Of(string name, string value) => new(name, AttributeKind.String) { String = System.Text.Encoding.UTF8.GetBytes(value) };
    public static Attribute Of(string name, long[] values) => new(name, AttributeKind.Ints) { Ints = values };
    public static Attribute Of(string name, float[] values) => new(name, AttributeKind.Floats) { Floats = values };
    public static Attribute Of(string name, Tensor value) => new(name, AttributeKind.Tensor) { Tensor = value };
}
