namespace EdgeBuild.Ir;

/// <summary>A use of a value: input <see cref="InputIndex"/> of <see cref="Node"/> (which may sit in a subgraph).</summary>
public readonly record struct Use(Node Node, int InputIndex);

/// <summary>
/// A named SSA value: a graph input, an initializer (constant), or a node output. Values know their
/// producer and every use, including uses from inside If/Loop/Scan bodies that capture them.
/// </summary>
public sealed class Value
{
    internal readonly List<Use> uses = [];

    internal Value(Graph graph, string name)
    {
        Graph = graph;
        Name = name;
    }

    /// <summary>The graph (scope) that defines this value; changes only when an inlined body's values move to its parent.</summary>
    public Graph Graph { get; internal set; }

    public string Name { get; private set; }

    public ValueType? Type { get; set; }

    /// <summary>True when <see cref="Type"/> came from <see cref="ShapeInference"/> rather than the file or a pass.</summary>
    public bool TypeInferred { get; set; }

    /// <summary>Shortcut for the tensor type, or null when the type is unknown or not a tensor.</summary>
    public TensorType? TensorType => Type as TensorType;

    public Node? Producer { get; internal set; }
    public int ProducerOutputIndex { get; internal set; }

    /// <summary>Constant data when the value is an initializer.</summary>
    public Tensor? Initializer { get; internal set; }

    /// <summary>Set when the value is a sparse initializer.</summary>
    public SparseTensor? SparseInitializer { get; internal set; }

    public bool IsGraphInput { get; internal set; }
    public bool IsGraphOutput { get; internal set; }

    /// <summary>
    /// A constant the optimizer may rely on: an initializer that is not also a graph input. (Before IR 4 an
    /// initializer listed as an input is a default that callers may override, so folding it would be wrong.)
    /// </summary>
    public Tensor? ConstantValue => IsGraphInput ? null : Initializer;

    public IReadOnlyList<Use> Uses => uses;

    /// <summary>Doc string and metadata of the value's ValueInfoProto (inputs, outputs, value_info).</summary>
    public string? DocString { get; set; }
    public List<KeyValuePair<string, string>> MetadataProps { get; } = [];

    /// <summary>True when anything observes the value: a node (here or in a subgraph) or the graph outputs.</summary>
    public bool IsUsed => uses.Count > 0 || IsGraphOutput;

    /// <summary>The nodes that consume this value, each once.</summary>
    public IEnumerable<Node> Consumers => uses.Select(u => u.Node).Distinct();

    internal void Rename(string name) => Name = name;

    public override string ToString() => Name;
}
