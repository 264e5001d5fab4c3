namespace EdgeBuild.Ir;

/// <summary>An operator application. Inputs and outputs are SSA values; a null entry is an omitted optional one ("").</summary>
public sealed class Node
{
    private readonly List<Value?> inputs = [];
    private readonly List<Value?> outputs = [];

    internal Node(Graph graph, string opType, string domain, string name)
    {
        Graph = graph;
        OpType = opType;
        Domain = domain;
        Name = name;
    }

    /// <summary>The graph this node sits in; null after it was removed.</summary>
    public Graph? Graph { get; internal set; }

    public string OpType { get; set; }

    /// <summary>Operator set domain; "" is the default ONNX domain (also spelled ai.onnx).</summary>
    public string Domain { get; set; }

    public string Name { get; set; }
    public string? Overload { get; set; }
    public string? DocString { get; set; }
    public List<KeyValuePair<string, string>> MetadataProps { get; } = [];
    public List<Attribute> Attributes { get; } = [];

    public IReadOnlyList<Value?> Inputs => inputs;
    public IReadOnlyList<Value?> Outputs => outputs;

    public bool IsStandardDomain => Domain is "" or "ai.onnx";

    /// <summary>True for op <paramref name="opType"/> in the default ONNX domain.</summary>
    public bool Is(string opType) => OpType == opType && IsStandardDomain;

    public Value? Input(int index) => index < inputs.Count ? inputs[index] : null;
    public Value Output0 => outputs[0] ?? throw new InvalidOperationException($"node {Name} has no first output");

    public bool HasSubgraphs => Attributes.Any(a => a.Kind is AttributeKind.Graph or AttributeKind.Graphs);
    public IEnumerable<Graph> Subgraphs => Attributes.SelectMany(a => a.Subgraphs);

    public Attribute? GetAttribute(string name) => Attributes.FirstOrDefault(a => a.Name == name);
    public long GetInt(string name, long fallback) => GetAttribute(name) is { Kind: AttributeKind.Int } a ? a.Int : fallback;
    public float GetFloat(string name, float fallback) => GetAttribute(name) is { Kind: AttributeKind.Float } a ? a.Float : fallback;
    public long[]? GetInts(string name) => GetAttribute(name) is { Kind: AttributeKind.Ints } a ? a.Ints : null;
    public string? GetString(string name) => GetAttribute(name) is { Kind: AttributeKind.String } a ? a.StringValue : null;

    public void SetAttribute(Attribute attribute)
    {
        int i = Attributes.FindIndex(a => a.Name == attribute.Name);
        if (i >= 0) Attributes[i] = attribute;
        else Attributes.Add(attribute);
    }

    public void RemoveAttribute(string name) => Attributes.RemoveAll(a => a.Name == name);

    public void AddInput(Value? value)
    {
        inputs.Add(value);
        value?.uses.Add(new Use(this, inputs.Count - 1));
    }

    public void SetInput(int index, Value? value)
    {
        while (inputs.Count <= index) inputs.Add(null);
        var old = inputs[index];
        old?.uses.Remove(new Use(this, index));
        inputs[index] = value;
        value?.uses.Add(new Use(this, index));
    }

    /// <summary>Drops trailing inputs from <paramref name="count"/> on.</summary>
    public void TruncateInputs(int count)
    {
        for (int i = inputs.Count - 1; i >= count; i--)
        {
            inputs[i]?.uses.Remove(new Use(this, i));
            inputs.RemoveAt(i);
        }
    }

    internal void AddOutput(Value? value)
    {
        if (value is not null)
        {
            value.Producer = this;
            value.ProducerOutputIndex = outputs.Count;
        }
        outputs.Add(value);
    }

    /// <summary>Empties or refills an output slot (used when another value takes over a graph output's name).</summary>
    internal void ReplaceOutputSlot(int index, Value? value)
    {
        outputs[index] = value;
        if (value is not null)
        {
            value.Producer = this;
            value.ProducerOutputIndex = index;
        }
    }

    /// <summary>Removes this node's uses of its inputs, and those of every node in its subgraphs.</summary>
    internal void DetachInputs()
    {
        for (int i = 0; i < inputs.Count; i++) inputs[i]?.uses.Remove(new Use(this, i));
        foreach (var sub in Subgraphs)
            foreach (var inner in sub.Nodes) inner.DetachInputs();
    }

    /// <summary>Values from enclosing scopes that this node's subgraphs read (ONNX "implicit inputs").</summary>
    public IEnumerable<Value> ImplicitInputs()
    {
        var seen = new HashSet<Value>();
        foreach (var sub in Subgraphs) CollectOuter(sub, sub, seen);
        return seen;
    }

    private static void CollectOuter(Graph scope, Graph g, HashSet<Value> seen)
    {
        foreach (var n in g.Nodes)
        {
            foreach (var v in n.Inputs)
                if (v is not null && !scope.Encloses(v.Graph)) seen.Add(v);
            foreach (var s in n.Subgraphs) CollectOuter(scope, s, seen);
        }
        foreach (var v in g.Outputs)
            if (!scope.Encloses(v.Graph)) seen.Add(v);
    }

    public override string ToString() => $"{OpType}({Name})";
}
