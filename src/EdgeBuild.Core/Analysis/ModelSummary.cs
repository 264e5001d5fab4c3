using EdgeBuild.Ir;

namespace EdgeBuild.Analysis;

/// <summary>One input or output of a model as a user sees it.</summary>
public sealed record TensorSummary(string Name, string ElementType, IReadOnlyList<string> Shape);

/// <summary>Multiply-accumulates of one compute layer; null when a dimension is symbolic.</summary>
public sealed record LayerMacs(string Node, string OpType, long? Macs);

/// <summary>What <c>edgebuild inspect</c> reports about a model.</summary>
public sealed record ModelSummary(
    string Path,
    long FileBytes,
    long IrVersion,
    IReadOnlyList<OpsetId> Opsets,
    string? Producer,
    IReadOnlyList<TensorSummary> Inputs,
    IReadOnlyList<TensorSummary> Outputs,
    IReadOnlyDictionary<string, int> OpHistogram,
    int NodeCount,
    long Parameters,
    long ParameterBytes,
    IReadOnlyList<LayerMacs> Layers,
    long KnownMacs,
    int LayersWithSymbolicDims)
{
    public static ModelSummary Create(Model model, string path, long fileBytes)
    {
        ShapeInference.Infer(model);
        var graph = model.Graph;
        var histogram = graph.AllNodes()
            .GroupBy(n => n.IsStandardDomain ? n.OpType : $"{n.Domain}::{n.OpType}")
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count());
        long parameters = 0, parameterBytes = 0;
        foreach (var g in graph.SelfAndSubgraphs())
            foreach (var v in g.Initializers)
            {
                if (v.Initializer is { } t) { parameters += t.ElementCount; parameterBytes += t.Raw.LongLength; }
                else if (v.SparseInitializer is { } s) { parameters += s.Values.ElementCount; parameterBytes += s.Values.Raw.LongLength + s.Indices.Raw.LongLength; }
            }
        // Constant nodes (paddle2onnx stores weights that way) are parameters too.
        foreach (var n in graph.AllNodes().Where(n => n.Is("Constant")))
            if (n.GetAttribute("value")?.Tensor is { } ct) { parameters += ct.ElementCount; parameterBytes += ct.Raw.LongLength; }

        var layers = new List<LayerMacs>();
        foreach (var n in graph.Nodes)
            if (MacCounter.IsComputeLayer(n)) layers.Add(new LayerMacs(n.Name.Length > 0 ? n.Name : n.Output0.Name, n.OpType, MacCounter.Count(n)));
        var (inputs, outputs) = (graph.Inputs.Where(v => v.Initializer is null).Select(Describe).ToList(), graph.Outputs.Select(Describe).ToList());
        return new ModelSummary(path, fileBytes, model.IrVersion, model.Opsets.ToList(), model.ProducerName is null ? null : $"{model.ProducerName} {model.ProducerVersion}".Trim(),
            inputs, outputs, histogram, graph.AllNodes().Count(), parameters, parameterBytes, layers,
            layers.Sum(l => l.Macs ?? 0), layers.Count(l => l.Macs is null));
    }

    private static TensorSummary Describe(Value v) => v.Type switch
    {
        TensorType t => new TensorSummary(v.Name, DataTypes.Name(t.ElementType), t.Shape?.Dims.Select(d => d.ToString()).ToList() ?? ["*"]),
        null => new TensorSummary(v.Name, "?", ["*"]),
        var other => new TensorSummary(v.Name, other.ToString() ?? "?", []),
    };
}

/// <summary>Multiply-accumulate counts of the compute-heavy operators, from inferred shapes.</summary>
public static class MacCounter
{
    public static bool IsComputeLayer(Node n) => n.IsStandardDomain && n.OpType is "Conv" or "ConvTranspose" or "Gemm" or "MatMul";

    public static long? Count(Node n)
    {
        switch (n.OpType)
        {
            case "Conv":
            {
                // Each output element: (C/group) * prod(kernel) MACs.
                var w = n.Input(1)?.TensorType?.Shape;
                var y = n.Outputs[0]?.TensorType?.Shape;
                if (w?.ElementCount() is not long weights || y?.ElementCount() is not long outputs || w[0].Value is not long m || m == 0) return null;
                return Product(outputs, weights / m);
            }
            case "ConvTranspose":
            {
                // Each input element scatters into (M/group) * prod(kernel) outputs.
                var w = n.Input(1)?.TensorType?.Shape;
                var x = n.Input(0)?.TensorType?.Shape;
                if (w?.ElementCount() is not long weights || x?.ElementCount() is not long inputs || w[0].Value is not long c || c == 0) return null;
                return Product(inputs, weights / c);
            }
            case "Gemm":
            {
                var a = n.Input(0)?.TensorType?.Shape;
                var y = n.Outputs[0]?.TensorType?.Shape;
                if (a is not { Rank: 2 } || y?.ElementCount() is not long outputs) return null;
                var k = n.GetInt("transA", 0) != 0 ? a[0] : a[1];
                return k.Value is long kv ? Product(outputs, kv) : null;
            }
            case "MatMul":
            {
                var a = n.Input(0)?.TensorType?.Shape;
                var y = n.Outputs[0]?.TensorType?.Shape;
                if (a is null || a.Rank == 0 || y?.ElementCount() is not long outputs) return null;
                return a[a.Rank - 1].Value is long kv ? Product(outputs, kv) : null;
            }
        }
        return null;
    }

    /// <summary>a * b, held at long.MaxValue where it would wrap: a mutated model's dims can ask for more than a long holds, and a wrapped count would pass the compute ceiling.</summary>
    private static long Product(long a, long b)
    {
        if (a <= 0 || b <= 0) return 0;
        return a > long.MaxValue / b ? long.MaxValue : a * b;
    }
}
