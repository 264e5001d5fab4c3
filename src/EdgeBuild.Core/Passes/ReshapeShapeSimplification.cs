using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// Turns a Reshape target computed from the Reshape's own input into a constant. Dynamic-shape exports write
/// <c>x.view(x.size(0), x.size(1), 12, 32)</c> as Shape(x) -> Gather -> Unsqueeze -> Concat per Reshape (a BERT encoder
/// has four such chains per layer). Where each part of the Concat is a constant or dim k of the Reshape's input at
/// position k, the target becomes a constant with 0 there, which Reshape (allowzero 0) reads as "copy dim k of the
/// input": the same numbers on every run, and the chain goes to dead-code elimination. Parts read as Gather of a Shape
/// (scalar index then Unsqueeze, or a one-element index) and Slice of a Shape.
/// </summary>
public sealed class ReshapeShapeSimplification : IPass
{
    public string Name => "reshape-shape-simplification";
    public string Description => "A Reshape target built from its own input's Shape becomes a constant (0 copies a dim)";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        long opset = model.DefaultOpset;
        // Ranks of a Loop body's values are only declared, not inferred: left alone.
        foreach (var graph in model.Graph.SelfAndSubgraphs().Where(PassHelpers.HasFixedShapes).ToList())
            foreach (var reshape in graph.Nodes.Where(n => n.Is("Reshape") && n.Inputs.Count > 1).ToList())
            {
                if (reshape.Input(0) is not { } data || reshape.Input(1) is not { ConstantValue: null } target) continue;
                if (reshape.GetInt("allowzero", 0) != 0 || target.Producer is not { } concat || !concat.Is("Concat")) continue;
                if (ConstantTarget(concat, data, opset) is not { } dims) continue;
                var constant = graph.AddInitializer(graph.UniqueName(target.Name + "_const"), Tensor.FromInt64s([dims.Length], dims));
                reshape.SetInput(1, constant);
                result.Count("targets_made_constant");
            }
        return result;
    }

    /// <summary>The target with 0 for every dim copied from <paramref name="data"/> at its own position; null when a part is anything else.</summary>
    private static long[]? ConstantTarget(Node concat, Value data, long opset)
    {
        var dims = new List<long>();
        foreach (var part in concat.Inputs)
        {
            if (part is null) return null;
            if (part.ConstantValue is { ElementType: DataType.Int64 or DataType.Int32, Rank: 1 } constant)
            {
                dims.AddRange(constant.ToInt64s());
                continue;
            }
            if (CopiedDims(part, data, opset) is not { } indices) return null;
            foreach (long i in indices)
            {
                // Dim i of the input lands at position i of the target: Reshape's 0 says exactly that.
                if (i != dims.Count) return null;
                dims.Add(0);
            }
        }
        // Only one -1 is allowed; the parts had at most that one, and copying adds none.
        return dims.Count(d => d == -1) <= 1 ? [.. dims] : null;
    }

    /// <summary>Which dims of <paramref name="data"/> the one-dimensional part holds, in order, when it reads them from Shape(data).</summary>
    private static long[]? CopiedDims(Value part, Value data, long opset)
    {
        if (Uncast(part).Producer is not { } producer) return null;
        if (producer.Is("Unsqueeze"))
        {
            long[]? axes = opset >= 13 ? producer.Input(1)?.ConstantValue?.ToInt64s() : producer.GetInts("axes");
            if (axes is not ([0] or [-1]) || producer.Input(0) is not { } scalar || scalar.Producer is not { } inner || !inner.Is("Gather")) return null;
            return GatheredDims(inner, data, scalarIndex: true);
        }
        if (producer.Is("Gather")) return GatheredDims(producer, data, scalarIndex: false);
        if (producer.Is("Slice")) return SlicedDims(producer, data, opset);
        return null;
    }

    private static long[]? GatheredDims(Node gather, Value data, bool scalarIndex)
    {
        if (gather.GetInt("axis", 0) != 0 || gather.Input(1)?.ConstantValue is not { } index) return null;
        if (scalarIndex ? index.Rank != 0 : index.Rank != 1) return null;
        if (ShapeOf(gather.Input(0), data) is not { } offset) return null;
        var dims = new List<long>();
        foreach (long i in index.ToInt64s())
        {
            // A negative index needs the rank; a non-negative one is a dim of the input whatever the rank (Gather checks the bound).
            if (i >= 0) dims.Add(i + offset);
            else if (RankOf(data) is int rank && i + rank - offset >= 0) dims.Add(i + rank);
            else return null;
        }
        return [.. dims];
    }

    private static long[]? SlicedDims(Node slice, Value data, long opset)
    {
        if (ShapeOf(slice.Input(0), data) is not { } offset || RankOf(data) is not int rank) return null;
        // Slice clamps to the rank, which must be known here. Slice-1 kept its bounds as attributes, later ones as inputs.
        bool attributes = opset < 10;
        long[]? starts = attributes ? slice.GetInts("starts") : slice.Input(1)?.ConstantValue?.ToInt64s();
        long[]? ends = attributes ? slice.GetInts("ends") : slice.Input(2)?.ConstantValue?.ToInt64s();
        long[]? axes = attributes ? slice.GetInts("axes") ?? [0] : slice.Input(3) is { } a ? a.ConstantValue?.ToInt64s() : [0];
        long[]? steps = attributes ? [1] : slice.Input(4) is { } s ? s.ConstantValue?.ToInt64s() : [1];
        if (starts is not [var start] || ends is not [var end] || axes is not ([0] or [-1]) || steps is not [1]) return null;
        long length = rank - offset;
        start = Math.Clamp(start < 0 ? start + length : start, 0, length);
        end = Math.Clamp(end < 0 ? end + length : end, 0, length);
        var dims = new List<long>();
        for (long i = start; i < end; i++) dims.Add(i + offset);
        return [.. dims];
    }

    /// <summary>The first dim a Shape of <paramref name="data"/> starts at (its start attribute), or null when it is not Shape(data).</summary>
    private static int? ShapeOf(Value? shape, Value data)
    {
        if (shape is null || Uncast(shape).Producer is not { } node || !node.Is("Shape") || !ReferenceEquals(node.Input(0), data)) return null;
        if (node.GetAttribute("end") is not null) return null;
        long start = node.GetInt("start", 0);
        if (start == 0) return 0;
        if (RankOf(data) is not int rank) return null;
        if (start < 0) start += rank;
        return start < 0 || start > rank ? null : (int)start;
    }

    /// <summary>
    /// Looks through Casts between int32 and int64 (paddle2onnx casts shapes to int32 and back): a dim is the same
    /// number in both, as no tensor dim reaches 2^31.
    /// </summary>
    private static Value Uncast(Value v)
    {
        while (v.Producer is { } cast && cast.Is("Cast") && cast.GetInt("to", 0) is (long)DataType.Int32 or (long)DataType.Int64
               && cast.Input(0) is { TensorType.ElementType: DataType.Int32 or DataType.Int64 } inner)
            v = inner;
        return v;
    }

    private static int? RankOf(Value data) => data.TensorType?.Shape?.Rank;
}
