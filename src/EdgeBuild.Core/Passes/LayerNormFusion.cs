using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// Layer normalization written out in primitives, as PyTorch exports it before opset 17 (BERT, ViT, Whisper ...):
/// <c>d = x - ReduceMean(x); y = d / Sqrt(ReduceMean(d * d) + eps) [* gamma] [+ beta]</c>, with the square as
/// <c>Pow(d, 2)</c> or <c>Mul(d, d)</c> and the division as <c>Div</c> or <c>Mul</c> by a <c>Reciprocal</c>, becomes
/// one LayerNormalization (opset 17). Only where the model's opset already has the op: the pass never raises the opset
/// (ask for that with <c>TargetOpset</c>, which the opset conversion at the head of the pipeline applies first).
/// Matched by op pattern and constants: both means over the same trailing axes with keepdims, a scalar epsilon, gamma
/// and beta constants that vary only along the normalized axes, float32 throughout, every intermediate read by the
/// pattern alone (the fusion trap of ONNX Runtime issues 4110 and 15109).
/// </summary>
public sealed class LayerNormFusion : IPass
{
    /// <summary>The first opset with LayerNormalization.</summary>
    public const long MinOpset = 17;

    public string Name => "layer-norm-fusion";
    public string Description => "ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div[/Mul/Add] becomes LayerNormalization (opset >= 17 only)";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        long opset = model.DefaultOpset;
        if (opset < MinOpset) return result;
        foreach (var graph in model.Graph.SelfAndSubgraphs().Where(PassHelpers.HasFixedShapes).ToList())
        {
            bool changed = false;
            foreach (var mean in graph.Nodes.Where(n => n.Is("ReduceMean")).ToList())
            {
                if (mean.Graph is null || Match(mean, opset) is not { } m) continue;
                Fuse(graph, m);
                changed = true;
                result.Count("fused");
            }
            if (changed) graph.SortTopologically();
        }
        return result;
    }

    /// <summary>The pattern found from its first ReduceMean: what it reads, its nodes (last first), and the op's inputs.</summary>
    private sealed record Found(Value X, long Axis, float Epsilon, Tensor Scale, Tensor? Bias, Node Last, List<Node> Nodes);

    private static Found? Match(Node mean, long opset)
    {
        if (mean.Input(0) is not { } x || x.TensorType is not { ElementType: DataType.Float, Shape: { } shape }) return null;
        int rank = shape.Rank;
        if (TrailingAxes(mean, opset, rank) is not int axis) return null;
        int normalized = rank - axis;
        // x - mean: the centred value, read by the square and by the division (twice by a Mul(d, d) square).
        if (PassHelpers.SoleConsumer(mean.Output0) is not { } sub || !sub.Is("Sub") || sub.Input(0) != x || sub.Input(1) != mean.Output0) return null;
        var d = sub.Output0;
        if (d.IsGraphOutput) return null;
        var readers = d.Consumers.ToList();
        if (readers.Count != 2 || d.Uses.Count != (readers.Any(IsSelfSquare) ? 3 : 2)) return null;
        var square = readers.FirstOrDefault(n => IsSelfSquare(n) || (n.Is("Pow") && n.Input(0) == d && PassHelpers.ScalarConstant(n.Input(1)) == 2.0));
        var divide = readers.FirstOrDefault(n => n != square);
        if (square is null || divide is null) return null;

        if (PassHelpers.SoleConsumer(square.Output0) is not { } variance || !variance.Is("ReduceMean") || TrailingAxes(variance, opset, rank) != axis) return null;
        if (PassHelpers.SoleConsumer(variance.Output0) is not { } addEps || !addEps.Is("Add")
            || PassHelpers.OtherOperand(addEps, variance.Output0) is not { } epsValue || PassHelpers.ScalarConstant(epsValue) is not double eps
            || epsValue.TensorType?.ElementType != DataType.Float || eps < 0) return null;
        if (PassHelpers.SoleConsumer(addEps.Output0) is not { } sqrt || !sqrt.Is("Sqrt")) return null;
        var nodes = new List<Node> { mean, sub, square, variance, addEps, sqrt };
        Node normalize;
        if (divide.Is("Div") && divide.Input(0) == d && divide.Input(1) == sqrt.Output0 && PassHelpers.IsOnlyConsumedBy(sqrt.Output0, divide))
            normalize = divide;
        else if (divide.Is("Mul") && PassHelpers.SoleConsumer(sqrt.Output0) is { } reciprocal && reciprocal.Is("Reciprocal")
                 && PassHelpers.IsOnlyConsumedBy(reciprocal.Output0, divide) && PassHelpers.OtherOperand(divide, d) == reciprocal.Output0)
        {
            nodes.Add(reciprocal);
            normalize = divide;
        }
        else return null;
        nodes.Add(normalize);

        if (NormalizedDims(shape, axis) is not { } dims) return null;
        var last = normalize;
        Tensor? scale = null, bias = null;
        // The affine part: Mul by gamma, then Add of beta, each optional, constants on either side.
        if (PassHelpers.SoleConsumer(last.Output0) is { } mul && mul.Is("Mul") && PassHelpers.OtherOperand(mul, last.Output0) is { } gamma
            && Broadcast(gamma, dims, rank) is { } g)
        {
            scale = g;
            nodes.Add(mul);
            last = mul;
        }
        if (PassHelpers.SoleConsumer(last.Output0) is { } add && add.Is("Add") && PassHelpers.OtherOperand(add, last.Output0) is { } beta
            && Broadcast(beta, dims, rank) is { } b)
        {
            bias = b;
            nodes.Add(add);
            last = add;
        }
        scale ??= Tensor.FromFloats(dims, Enumerable.Repeat(1f, (int)Tensor.CountElements(dims)).ToArray());
        // The fused op's output must be a plain node output the graph can rename (a graph output keeps its name).
        if (!PassHelpers.OnlyFirstOutputUsed(last)) return null;
        nodes.Reverse();
        return new Found(x, axis, (float)eps, scale, bias, last, nodes);
    }

    private static void Fuse(Graph graph, Found m)
    {
        var scale = PassHelpers.AddFloatInitializer(graph, PassHelpers.Hint(m.Last, "ln_scale"), m.Scale.Dims, m.Scale.ToFloats());
        var bias = m.Bias is null ? null : PassHelpers.AddFloatInitializer(graph, PassHelpers.Hint(m.Last, "ln_bias"), m.Bias.Dims, m.Bias.ToFloats());
        var ln = graph.AddNodeWithFreshOutputs("LayerNormalization", bias is null ? [m.X, scale] : [m.X, scale, bias], 1,
            PassHelpers.Hint(m.Last, "layer_norm"), [Ir.Attribute.Of("axis", m.Axis), Ir.Attribute.Of("epsilon", m.Epsilon)]);
        ln.Output0.Type = m.Last.Output0.Type;
        ln.Output0.TypeInferred = m.Last.Output0.TypeInferred;
        if (!PassHelpers.Bypass(graph, m.Last, ln.Output0))
        {
            graph.RemoveNode(ln);
            foreach (var v in new[] { scale, bias }) if (v is not null && !v.IsUsed) graph.RemoveInitializer(v);
            return;
        }
        // Last first: each node's outputs are unused once the nodes after it are gone.
        foreach (var n in m.Nodes.Skip(1)) graph.RemoveNode(n);
    }

    /// <summary>Mul(d, d).</summary>
    private static bool IsSelfSquare(Node n) => n.Is("Mul") && n.Inputs.Count == 2 && n.Input(0) is { } a && a == n.Input(1);

    /// <summary>
    /// The first axis of a ReduceMean over the trailing axes with keepdims=1 (axes as an attribute before opset 18, as a
    /// constant input from 18), or null. LayerNormalization normalizes over [axis, rank).
    /// </summary>
    private static int? TrailingAxes(Node reduce, long opset, int rank)
    {
        if (reduce.GetInt("keepdims", 1) != 1 || rank < 1) return null;
        long[]? axes = opset >= 18 ? reduce.Input(1)?.ConstantValue?.ToInt64s() : reduce.GetInts("axes");
        if (axes is null || axes.Length == 0 || axes.Length > rank) return null;
        var normalized = axes.Select(a => a < 0 ? a + rank : a).Order().ToArray();
        for (int i = 0; i < normalized.Length; i++)
            if (normalized[i] != rank - normalized.Length + i) return null;
        return rank - normalized.Length;
    }

    /// <summary>The static sizes of the normalized axes (the shape of the op's scale and bias), or null.</summary>
    private static long[]? NormalizedDims(Shape shape, int axis)
    {
        var dims = new long[shape.Rank - axis];
        for (int i = 0; i < dims.Length; i++)
        {
            if (shape.Dims[axis + i].Value is not long v || v < 1) return null;
            dims[i] = v;
        }
        return dims;
    }

    /// <summary>
    /// A float32 constant that broadcasts against a rank-<paramref name="rank"/> input and varies only along the
    /// normalized axes, spread out to <paramref name="dims"/>; null when it is anything else (then the Mul/Add stays
    /// outside the fused op, and the pattern still fuses up to it).
    /// </summary>
    private static Tensor? Broadcast(Value value, long[] dims, int rank)
    {
        if (PassHelpers.FloatConstant(value) is not { } t || t.Rank > rank) return null;
        // Right-aligned: every axis before the normalized ones must be 1, each normalized one 1 or its size.
        int lead = t.Rank - dims.Length;
        for (int i = 0; i < t.Rank; i++)
        {
            long size = t.Dims[i];
            if (i < lead ? size != 1 : size != 1 && size != dims[i - lead]) return null;
        }
        var source = t.ToFloats();
        var srcDims = new long[dims.Length];
        for (int i = 0; i < dims.Length; i++) srcDims[i] = i - (dims.Length - t.Rank) is int j && j >= 0 ? t.Dims[j] : 1;
        long count = Tensor.CountElements(dims);
        var data = new float[count];
        var index = new long[dims.Length];
        for (long k = 0; k < count; k++)
        {
            long rest = k, offset = 0;
            for (int i = dims.Length - 1; i >= 0; i--)
            {
                index[i] = rest % dims[i];
                rest /= dims[i];
            }
            for (int i = 0; i < dims.Length; i++) offset = offset * srcDims[i] + (srcDims[i] == 1 ? 0 : index[i]);
            data[k] = source[offset];
        }
        return Tensor.FromFloats(dims, data);
    }
}
