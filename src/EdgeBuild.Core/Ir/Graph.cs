namespace EdgeBuild.Ir;

/// <summary>Thrown when the nodes of a graph cannot be ordered because they form a cycle.</summary>
public sealed class GraphCycleException(string graphName, IReadOnlyList<Node> nodesOnCycle)
    : Exception($"graph '{graphName}' has a cycle through {string.Join(", ", nodesOnCycle.Take(5).Select(n => n.ToString()))}")
{
    public IReadOnlyList<Node> NodesOnCycle { get; } = nodesOnCycle;
}

/// <summary>A value annotation of ONNX quantization_annotation: quantization parameter tensors of a tensor.</summary>
public sealed record TensorAnnotation(string TensorName, List<KeyValuePair<string, string>> QuantParameterTensorNames);

/// <summary>
/// A graph (the main graph or an If/Loop/Scan body): a scope of named values, a list of nodes, and the
/// inputs and outputs. Subgraphs look names up through <see cref="Parent"/> (lexical scoping).
/// </summary>
public sealed class Graph
{
    private readonly Dictionary<string, Value> values = new(StringComparer.Ordinal);
    // Removal marks the node (Graph = null) and the list is compacted on the next read: removing node after node is
    // linear in the graph, where List.Remove made a pass over a 400k-node Identity chain take 21 s.
    private readonly List<Node> nodeList = [];
    private int removedNodes;
    private readonly List<Value> inputs = [];
    private readonly List<Value> outputs = [];
    private readonly List<Value> initializers = [];
    private int nameCounter;

    public Graph(string name = "main", Graph? parent = null)
    {
        Name = name;
        Parent = parent;
    }

    public string Name { get; set; }
    public string? DocString { get; set; }
    public Graph? Parent { get; private set; }
    public List<KeyValuePair<string, string>> MetadataProps { get; } = [];
    public List<TensorAnnotation> QuantizationAnnotations { get; } = [];

    public IReadOnlyList<Node> Nodes => LiveNodes;

    private List<Node> LiveNodes
    {
        get
        {
            if (removedNodes > 0)
            {
                nodeList.RemoveAll(n => n.Graph != this);
                removedNodes = 0;
            }
            return nodeList;
        }
    }
    public IReadOnlyList<Value> Inputs => inputs;
    public IReadOnlyList<Value> Outputs => outputs;

    /// <summary>Values holding dense or sparse constants, in file order.</summary>
    public IReadOnlyList<Value> Initializers => initializers;

    /// <summary>Every value this scope defines (inputs, initializers, node outputs).</summary>
    public IEnumerable<Value> Values => values.Values;

    /// <summary>True when <paramref name="other"/> is this graph or nested inside it.</summary>
    public bool Encloses(Graph other)
    {
        for (var g = other; g is not null; g = g.Parent)
            if (ReferenceEquals(g, this)) return true;
        return false;
    }

    /// <summary>Looks a name up in this scope, then in the enclosing ones.</summary>
    public Value? Lookup(string name)
    {
        for (var g = this; g is not null; g = g.Parent)
            if (g.values.TryGetValue(name, out var v)) return v;
        return null;
    }

    public Value? LookupLocal(string name) => values.GetValueOrDefault(name);

    /// <summary>A name not yet used in this scope or any enclosing or enclosed one, based on <paramref name="hint"/>.</summary>
    public string UniqueName(string hint)
    {
        if (!NameTaken(hint)) return hint;
        string candidate;
        do candidate = $"{hint}__{++nameCounter}";
        while (NameTaken(candidate));
        return candidate;
    }

    private bool NameTaken(string name) => Root.NameTakenBelow(name);

    private Graph Root
    {
        get
        {
            var g = this;
            while (g.Parent is not null) g = g.Parent;
            return g;
        }
    }

    private bool NameTakenBelow(string name)
    {
        if (values.ContainsKey(name)) return true;
        foreach (var n in LiveNodes)
            foreach (var s in n.Subgraphs)
                if (s.NameTakenBelow(name)) return true;
        return false;
    }

    private Value Define(string name)
    {
        if (values.ContainsKey(name)) throw new InvalidOperationException($"value '{name}' is defined twice in graph '{Name}'");
        var v = new Value(this, name);
        values.Add(name, v);
        return v;
    }

    public Value AddInput(string name, ValueType? type)
    {
        var v = Define(name);
        v.Type = type;
        v.IsGraphInput = true;
        inputs.Add(v);
        return v;
    }

    /// <summary>Marks an existing value (an initializer, in IR &lt; 4 files) as a graph input too.</summary>
    public void AddInput(Value existing)
    {
        if (existing.Graph != this) throw new ArgumentException("value belongs to another graph", nameof(existing));
        existing.IsGraphInput = true;
        inputs.Add(existing);
    }

    public Value AddInitializer(string name, Tensor tensor)
    {
        var v = Define(name);
        SetInitializer(v, tensor);
        return v;
    }

    /// <summary>Attaches constant data to <paramref name="value"/> (a new initializer, or new data for an existing one).</summary>
    public void SetInitializer(Value value, Tensor tensor)
    {
        if (value.Producer is not null) throw new InvalidOperationException($"'{value.Name}' is produced by a node and cannot become an initializer");
        if (value.Initializer is null && value.SparseInitializer is null) initializers.Add(value);
        value.Initializer = tensor;
        value.SparseInitializer = null;
        value.Type = tensor.Type with { Denotation = value.Type?.Denotation };
    }

    public Value AddSparseInitializer(string name, SparseTensor tensor)
    {
        var v = Define(name);
        v.SparseInitializer = tensor;
        v.Type = new SparseTensorType(tensor.Values.ElementType, Shape.Of(tensor.Dims));
        initializers.Add(v);
        return v;
    }

    /// <summary>Adds a node at the end of the list; call <see cref="SortTopologically"/> before relying on order.</summary>
    public Node AddNode(string opType, IEnumerable<Value?> nodeInputs, IEnumerable<string?> outputNames, string domain = "", string? name = null,
        IEnumerable<Attribute>? attributes = null)
    {
        var node = new Node(this, opType, domain, name ?? "");
        foreach (var i in nodeInputs) node.AddInput(i);
        foreach (var o in outputNames) node.AddOutput(o is null or "" ? null : Define(o));
        if (attributes is not null) node.Attributes.AddRange(attributes);
        LiveNodes.Add(node);
        return node;
    }

    /// <summary>Adds a node whose outputs get fresh names derived from <paramref name="hint"/>.</summary>
    /// <summary>Adds a node whose outputs get fresh names from <paramref name="hint"/>; the node is named after the hint too unless <paramref name="named"/> is false.</summary>
    public Node AddNodeWithFreshOutputs(string opType, IEnumerable<Value?> nodeInputs, int outputCount, string hint, IEnumerable<Attribute>? attributes = null, bool named = true)
    {
        var names = new List<string>();
        for (int i = 0; i < outputCount; i++) names.Add(UniqueName(outputCount == 1 ? hint : $"{hint}_{i}"));
        return AddNode(opType, nodeInputs, names, "", named ? UniqueNodeName(hint) : "", attributes);
    }

    public string UniqueNodeName(string hint)
    {
        var taken = new HashSet<string>(LiveNodes.Select(n => n.Name), StringComparer.Ordinal);
        if (!taken.Contains(hint)) return hint;
        int i = 1;
        while (taken.Contains($"{hint}_{i}")) i++;
        return $"{hint}_{i}";
    }

    public void AddOutput(Value value)
    {
        value.IsGraphOutput = true;
        outputs.Add(value);
    }

    /// <summary>Removes a node; its outputs must be unused. Output values leave the scope.</summary>
    public void RemoveNode(Node node)
    {
        if (node.Graph != this) throw new ArgumentException($"node {node} is not in graph '{Name}'", nameof(node));
        foreach (var o in node.Outputs)
            if (o is not null && o.IsUsed) throw new InvalidOperationException($"cannot remove {node}: output '{o.Name}' is still used");
        node.DetachInputs();
        foreach (var o in node.Outputs)
            if (o is not null) values.Remove(o.Name);
        node.Graph = null;
        removedNodes++;
    }

    /// <summary>
    /// Moves the nodes and initializers of <paramref name="body"/> into this graph (inlining an If branch).
    /// The body must already be detached from its node (no attribute holds it any more), have no inputs, and
    /// only read values visible from here. Values keep their names unless the name is taken somewhere in the
    /// model (a sibling body may use the same one); then they get fresh ones. Subgraphs of the moved nodes now
    /// look names up here. The body is left empty; its outputs list still names what it returned.
    /// </summary>
    public void AdoptContentsOf(Graph body)
    {
        if (body.Parent != this) throw new ArgumentException($"graph '{body.Name}' is not a body nested in '{Name}'", nameof(body));
        if (body.inputs.Count > 0) throw new ArgumentException($"graph '{body.Name}' has inputs and cannot be inlined", nameof(body));
        foreach (var v in body.initializers)
        {
            body.values.Remove(v.Name);
            TakeOver(v);
            initializers.Add(v);
        }
        body.initializers.Clear();
        foreach (var n in body.LiveNodes)
        {
            n.Graph = this;
            foreach (var o in n.Outputs)
                if (o is not null)
                {
                    body.values.Remove(o.Name);
                    TakeOver(o);
                }
            foreach (var s in n.Subgraphs) s.Parent = this;
            LiveNodes.Add(n);
        }
        body.nodeList.Clear();
    }

    private void TakeOver(Value v)
    {
        string name = UniqueName(v.Name);
        v.Graph = this;
        v.Rename(name);
        values.Add(name, v);
    }

    /// <summary>Removes an unused initializer (dense or sparse).</summary>
    public void RemoveInitializer(Value value)
    {
        if (value.IsUsed || value.IsGraphInput) throw new InvalidOperationException($"initializer '{value.Name}' is still used");
        initializers.Remove(value);
        values.Remove(value.Name);
        value.Initializer = null;
        value.SparseInitializer = null;
    }

    /// <summary>Removes a graph input that nothing uses (e.g. an IR 3 input duplicating an unused initializer).</summary>
    public void RemoveInput(Value value)
    {
        if (value.IsUsed) throw new InvalidOperationException($"input '{value.Name}' is still used");
        inputs.Remove(value);
        value.IsGraphInput = false;
        if (value.Initializer is null && value.SparseInitializer is null) values.Remove(value.Name);
    }

    /// <summary>Points every use of <paramref name="old"/> at <paramref name="replacement"/> (graph outputs excluded).</summary>
    public static void ReplaceAllUses(Value old, Value replacement)
    {
        if (ReferenceEquals(old, replacement)) return;
        foreach (var use in old.Uses.ToArray()) use.Node.SetInput(use.InputIndex, replacement);
    }

    /// <summary>
    /// Makes <paramref name="replacement"/> stand for <paramref name="old"/> everywhere, graph outputs included.
    /// When <paramref name="old"/> is a graph output, the replacement takes over its name so the model's
    /// interface stays the same; that is only possible when the replacement is a plain node output of this
    /// graph. Returns false, changing nothing, when it is not possible.
    /// </summary>
    public bool TrySubstitute(Value old, Value replacement)
    {
        if (ReferenceEquals(old, replacement)) return true;
        if (old.IsGraphOutput)
        {
            if (old.Graph != this || replacement.Graph != this || replacement.Producer is null
                || replacement.IsGraphOutput || replacement.IsGraphInput) return false;
            if (old.Producer is null) return false;
            // Flagged as an output only because a subgraph returns it (an If branch yielding an outer
            // value): it has no slot here to rename into, and the subgraph still names it.
            int position = outputs.IndexOf(old);
            if (position < 0) return false;
            ReplaceAllUses(old, replacement);
            string name = old.Name;
            var declared = old.Type;
            // old leaves the graph: detach it from its producer's output slot.
            var oldProducer = old.Producer;
            old.IsGraphOutput = false;
            values.Remove(name);
            oldProducer.ReplaceOutputSlot(old.ProducerOutputIndex, null);
            values.Remove(replacement.Name);
            replacement.Rename(name);
            values.Add(name, replacement);
            replacement.IsGraphOutput = true;
            if (declared is not null)
            {
                replacement.Type = declared;
                replacement.TypeInferred = old.TypeInferred;
            }
            outputs[position] = replacement;
            return true;
        }
        ReplaceAllUses(old, replacement);
        return true;
    }

    /// <summary>Replaces graph output <paramref name="old"/> by <paramref name="replacement"/> in the outputs list.</summary>
    public void ReplaceOutput(Value old, Value replacement)
    {
        int i = outputs.IndexOf(old);
        if (i < 0) throw new ArgumentException($"'{old.Name}' is not an output", nameof(old));
        outputs[i] = replacement;
        old.IsGraphOutput = outputs.Contains(old);
        replacement.IsGraphOutput = true;
    }

    /// <summary>Renames a value of this scope (the name must be free).</summary>
    public void Rename(Value value, string newName)
    {
        if (value.Graph != this) throw new ArgumentException("value belongs to another graph", nameof(value));
        if (values.ContainsKey(newName)) throw new InvalidOperationException($"name '{newName}' is taken");
        values.Remove(value.Name);
        value.Rename(newName);
        values.Add(newName, value);
    }

    /// <summary>
    /// Orders nodes so every value is defined before it is used, keeping the current order where it is
    /// already valid (Kahn's algorithm, always taking the earliest ready node). Throws on a cycle.
    /// </summary>
    public void SortTopologically()
    {
        var index = new Dictionary<Node, int>();
        for (int i = 0; i < LiveNodes.Count; i++) index[LiveNodes[i]] = i;
        var pending = new int[LiveNodes.Count];
        // Every list exists before the first is filled: a node may depend on one later in the list.
        var dependents = new List<int>[LiveNodes.Count];
        for (int i = 0; i < LiveNodes.Count; i++) dependents[i] = [];
        for (int i = 0; i < LiveNodes.Count; i++)
        {
            var deps = new HashSet<int>();
            foreach (var v in DependenciesOf(LiveNodes[i]))
                if (v.Producer is { } p && index.TryGetValue(p, out int j)) deps.Add(j);
            // A node reading its own output waits on itself, never becomes ready, and is reported as a cycle.
            foreach (var j in deps)
            {
                dependents[j].Add(i);
                pending[i]++;
            }
        }
        var ready = new SortedSet<int>();
        for (int i = 0; i < LiveNodes.Count; i++) if (pending[i] == 0) ready.Add(i);
        var order = new List<Node>(LiveNodes.Count);
        while (ready.Count > 0)
        {
            int i = ready.Min;
            ready.Remove(i);
            order.Add(LiveNodes[i]);
            foreach (var d in dependents[i])
                if (--pending[d] == 0) ready.Add(d);
        }
        if (order.Count != LiveNodes.Count)
        {
            var placed = new HashSet<Node>(order);
            throw new GraphCycleException(Name, LiveNodes.Where(n => !placed.Contains(n)).ToList());
        }
        LiveNodes.Clear();
        LiveNodes.AddRange(order);
    }

    /// <summary>Values a node needs before it runs: its inputs and what its subgraphs capture from this scope.</summary>
    private IEnumerable<Value> DependenciesOf(Node node)
    {
        foreach (var v in node.Inputs)
            if (v is not null && v.Graph == this) yield return v;
        if (node.HasSubgraphs)
            foreach (var v in node.ImplicitInputs())
                for (var g = v.Graph; g is not null; g = g.Parent)
                    if (g == this) { yield return v; break; }
    }

    /// <summary>This graph and every subgraph below it, depth first.</summary>
    public IEnumerable<Graph> SelfAndSubgraphs()
    {
        yield return this;
        foreach (var n in LiveNodes)
            foreach (var s in n.Subgraphs)
                foreach (var g in s.SelfAndSubgraphs()) yield return g;
    }

    /// <summary>Nodes of this graph and of all its subgraphs.</summary>
    public IEnumerable<Node> AllNodes() => SelfAndSubgraphs().SelectMany(g => g.Nodes);
}
