namespace EdgeBuild.Ir;

/// <summary>
/// Forward shape and element-type inference for the operators the passes look at (and the common ones
/// around them). It only fills in types nobody declared: a type from the file or a pass is never changed, and
/// an operator it does not know leaves its outputs unknown. Inferred types are flagged so the writer can
/// leave them out of value_info (a wrong guess must never reach ONNX Runtime as a declared shape).
/// </summary>
public static class ShapeInference
{
    /// <summary>Runs over the graph in order; returns how many values got a type.</summary>
    public static int Infer(Model model) => Infer(model.Graph, model.DefaultOpset);

    public static int Infer(Graph graph, long opset)
    {
        int filled = 0;
        foreach (var node in graph.Nodes)
        {
            if (!node.IsStandardDomain) continue;
            TensorType?[] results;
            try
            {
                results = InferNode(node, opset);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or IndexOutOfRangeException or OverflowException or DivideByZeroException)
            {
                continue; // malformed attributes: leave unknown, the runtime will report it
            }
            for (int i = 0; i < results.Length && i < node.Outputs.Count; i++)
            {
                var o = node.Outputs[i];
                var t = results[i];
                // An unknown element type says nothing (written out it would be the invalid type 0).
                if (o is null || t is null || t.ElementType == DataType.Undefined) continue;
                // A declared type is a fact from the file or a pass: never overwritten, never merged into.
                if (o.Type is not null && !o.TypeInferred) continue;
                o.Type = t;
                o.TypeInferred = true;
                filled++;
            }
        }
        return filled;
    }

    /// <summary>Forgets every inferred type (declared ones stay), e.g. before inferring again after a rewrite.</summary>
    public static void ClearInferred(Graph graph)
    {
        foreach (var n in graph.Nodes)
            foreach (var o in n.Outputs)
                if (o is not null && o.TypeInferred)
                {
                    o.Type = null;
                    o.TypeInferred = false;
                }
    }

    private static TensorType? In(Node n, int i) => n.Input(i)?.TensorType;
    private static DataType ET(Node n, int i) => In(n, i)?.ElementType ?? DataType.Undefined;
    private static Shape? S(Node n, int i) => In(n, i)?.Shape;
    private static long[]? ConstInts(Node n, int i) => n.Input(i)?.ConstantValue is { } t && t.ElementType is DataType.Int64 or DataType.Int32 ? t.ToInt64s() : null;

    private static TensorType?[] One(DataType et, Shape? shape) => [new TensorType(et, shape)];

    private static readonly HashSet<string> SameShapeUnary =
    [
        "Relu", "Sigmoid", "Tanh", "Exp", "Log", "Abs", "Neg", "Sqrt", "Reciprocal", "Floor", "Ceil", "LeakyRelu", "Elu", "Selu",
        "HardSigmoid", "HardSwish", "Softmax", "LogSoftmax", "Hardmax", "Clip", "Identity", "Erf", "Sin", "Cos", "Tan", "Softplus", "Softsign",
        "Mish", "Gelu", "Sign", "Round", "ThresholdedRelu", "Celu", "LRN", "InstanceNormalization", "LpNormalization", "MeanVarianceNormalization",
        "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "CumSum", "Shrink", "LayerNormalization",
    ];

    private static readonly HashSet<string> BroadcastArithmetic = ["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Mod", "PRelu", "BitShift"];
    private static readonly HashSet<string> BroadcastCompare = ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"];

    private static TensorType?[] InferNode(Node n, long opset)
    {
        string op = n.OpType;
        if (SameShapeUnary.Contains(op) || op is "Dropout" or "BatchNormalization")
        {
            var t = In(n, 0);
            if (t is null) return [];
            if (op == "Dropout" && n.Outputs.Count > 1) return [t, new TensorType(DataType.Bool, t.Shape)];
            return [t with { Denotation = null }];
        }
        if (BroadcastArithmetic.Contains(op) || BroadcastCompare.Contains(op))
        {
            var shapes = n.Inputs.Select(i => i?.TensorType?.Shape).ToList();
            Shape? shape = shapes.Count == 0 || shapes.Any(s => s is null) ? null : shapes.Aggregate(Broadcast!);
            var et = BroadcastCompare.Contains(op) ? DataType.Bool : ET(n, 0);
            return One(et, shape);
        }
        switch (op)
        {
            case "If": return IfOutputs(n, opset);
            case "LSTM" or "GRU" or "RNN": return RecurrentOutputs(n);
            case "Not": return One(DataType.Bool, S(n, 0));
            case "IsNaN" or "IsInf": return One(DataType.Bool, S(n, 0));
            case "Where":
            {
                var s = new[] { S(n, 0), S(n, 1), S(n, 2) };
                return One(ET(n, 1), s.Any(x => x is null) ? null : Broadcast(Broadcast(s[0]!, s[1]!)!, s[2]!));
            }
            case "Cast":
                return One((DataType)n.GetInt("to", 0), S(n, 0));
            case "CastLike":
                return One(ET(n, 1), S(n, 0));
            case "Constant":
                // value_float(s) and value_int(s) are opset 12's short forms.
                if (n.GetAttribute("value") is { Tensor: { } ct }) return [ct.Type];
                if (n.GetAttribute("value_float") is not null) return One(DataType.Float, Shape.Of());
                if (n.GetAttribute("value_int") is not null) return One(DataType.Int64, Shape.Of());
                if (n.GetAttribute("value_floats") is { Floats: { } fs }) return One(DataType.Float, Shape.Of(fs.Length));
                if (n.GetAttribute("value_ints") is { Ints: { } ns }) return One(DataType.Int64, Shape.Of(ns.Length));
                return [];
            case "ScatterND" or "ScatterElements" or "Scatter":
                return One(ET(n, 0), S(n, 0));
            case "Col2Im":
            {
                // [N, C * prod(block_shape), L] -> [N, C, image_shape...].
                var s = S(n, 0);
                if (s is not { Rank: 3 } || ConstInts(n, 1) is not { } image || ConstInts(n, 2) is not { } block || block.Length != image.Length) return One(ET(n, 0), null);
                long blocks = block.Aggregate(1L, (a, b) => a * b);
                var channels = s[1].Value is long c && blocks > 0 && c % blocks == 0 ? Dim.Of(c / blocks) : Dim.Unknown;
                return One(ET(n, 0), new Shape([s[0], channels, .. image.Select(Dim.Of)]));
            }
            case "Shape":
            {
                var s = S(n, 0);
                if (s is null) return One(DataType.Int64, null);
                long start = n.GetInt("start", 0), end = n.GetInt("end", s.Rank);
                start = Math.Clamp(start < 0 ? start + s.Rank : start, 0, s.Rank);
                end = Math.Clamp(end < 0 ? end + s.Rank : end, 0, s.Rank);
                return One(DataType.Int64, Shape.Of(Math.Max(0, end - start)));
            }
            case "Size": return One(DataType.Int64, Shape.Of());
            case "Conv" or "ConvInteger" or "QLinearConv": return ConvLike(n, transposed: false);
            case "ConvTranspose": return ConvLike(n, transposed: true);
            case "MaxPool" or "AveragePool" or "LpPool": return Pool(n);
            case "GlobalAveragePool" or "GlobalMaxPool" or "GlobalLpPool":
            {
                var s = S(n, 0);
                return One(ET(n, 0), s is null ? null : new Shape(s.Dims.Select((d, i) => i < 2 ? d : Dim.Of(1))));
            }
            case "Gemm":
            {
                var a = S(n, 0);
                var b = S(n, 1);
                if (a is null || b is null || a.Rank != 2 || b.Rank != 2) return One(ET(n, 0), null);
                var m = n.GetInt("transA", 0) != 0 ? a[1] : a[0];
                var nn = n.GetInt("transB", 0) != 0 ? b[0] : b[1];
                return One(ET(n, 0), new Shape([m, nn]));
            }
            case "MatMul": return One(ET(n, 0), MatMulShape(S(n, 0), S(n, 1)));
            case "Split":
            {
                var s = S(n, 0);
                int count = n.Outputs.Count;
                if (s is null || count == 0) return Enumerable.Repeat(new TensorType(ET(n, 0), null), count).ToArray();
                int axis = (int)n.GetInt("axis", 0);
                if (axis < 0) axis += s.Rank;
                var sizes = n.GetInts("split") ?? ConstInts(n, 1);
                // Equal parts only when no split sizes are given at all (a non-constant split input leaves the shapes unknown).
                if (sizes is null && n.Input(1) is null && s[axis].Value is long total)
                {
                    long each = (total + count - 1) / count;
                    sizes = Enumerable.Range(0, count).Select(i => Math.Min(each, total - i * each)).ToArray();
                }
                return Enumerable.Range(0, count).Select(i => new TensorType(ET(n, 0), sizes is null || sizes.Length != count ? null
                    : new Shape(s.Dims.Select((d, k) => k == axis ? Dim.Of(sizes[i]) : d)))).ToArray();
            }
            case "DepthToSpace" or "SpaceToDepth":
            {
                var s = S(n, 0);
                long block = n.GetInt("blocksize", 0);
                if (s is not { Rank: 4, IsStatic: true } || block <= 0) return One(ET(n, 0), null);
                var d = s.ToArray();
                return One(ET(n, 0), op == "DepthToSpace"
                    ? Shape.Of(d[0], d[1] / (block * block), d[2] * block, d[3] * block)
                    : Shape.Of(d[0], d[1] * block * block, d[2] / block, d[3] / block));
            }
            case "Flatten":
            {
                var s = S(n, 0);
                if (s is null) return One(ET(n, 0), null);
                long axis = n.GetInt("axis", 1);
                if (axis < 0) axis += s.Rank;
                return One(ET(n, 0), new Shape([Product(s.Dims.Take((int)axis)), Product(s.Dims.Skip((int)axis))]));
            }
            case "Reshape":
            {
                var target = ConstInts(n, 1);
                if (target is null)
                {
                    // The values are computed at run time, but a shape tensor of known length still fixes the rank.
                    if (S(n, 1) is { Rank: 1 } ts && ts[0].Value is long rank) return One(ET(n, 0), new Shape(Enumerable.Repeat(Dim.Unknown, (int)rank)));
                    return One(ET(n, 0), null);
                }
                return One(ET(n, 0), ReshapeShape(S(n, 0), target, n.GetInt("allowzero", 0) != 0));
            }
            case "Transpose":
            {
                var s = S(n, 0);
                if (s is null) return One(ET(n, 0), null);
                var perm = n.GetInts("perm") ?? Enumerable.Range(0, s.Rank).Reverse().Select(i => (long)i).ToArray();
                return One(ET(n, 0), new Shape(perm.Select(p => s[(int)p])));
            }
            case "Unsqueeze":
            {
                var s = S(n, 0);
                var axes = opset >= 13 ? ConstInts(n, 1) : n.GetInts("axes");
                if (s is null || axes is null) return One(ET(n, 0), null);
                int rank = s.Rank + axes.Length;
                var norm = axes.Select(a => a < 0 ? a + rank : a).ToHashSet();
                var dims = new List<Dim>();
                int k = 0;
                for (int i = 0; i < rank; i++) dims.Add(norm.Contains(i) ? Dim.Of(1) : s[k++]);
                return One(ET(n, 0), new Shape(dims));
            }
            case "Squeeze":
            {
                var s = S(n, 0);
                var axes = opset >= 13 ? (n.Inputs.Count > 1 ? ConstInts(n, 1) : null) : n.GetInts("axes");
                if (s is null) return One(ET(n, 0), null);
                if (axes is null)
                {
                    if ((opset >= 13 && n.Inputs.Count > 1 && n.Input(1) is not null) || !s.IsStatic) return One(ET(n, 0), null);
                    return One(ET(n, 0), new Shape(s.Dims.Where(d => d.Value != 1)));
                }
                var norm = axes.Select(a => a < 0 ? a + s.Rank : a).ToHashSet();
                return One(ET(n, 0), new Shape(s.Dims.Where((_, i) => !norm.Contains(i))));
            }
            case "Concat":
            {
                var shapes = n.Inputs.Select(i => i?.TensorType?.Shape).ToList();
                if (shapes.Any(s => s is null)) return One(ET(n, 0), null);
                int rank = shapes[0]!.Rank;
                if (shapes.Any(s => s!.Rank != rank)) return One(ET(n, 0), null);
                long axis = n.GetInt("axis", 0);
                if (axis < 0) axis += rank;
                var dims = new Dim[rank];
                for (int d = 0; d < rank; d++)
                {
                    if (d == axis)
                    {
                        long sum = 0;
                        bool known = true;
                        foreach (var s in shapes) { if (s![d].Value is long v) sum += v; else known = false; }
                        dims[d] = known ? Dim.Of(sum) : Dim.Unknown;
                    }
                    else
                    {
                        dims[d] = shapes.Select(s => s![d]).FirstOrDefault(x => x.IsKnown, shapes[0]![d]);
                    }
                }
                return One(ET(n, 0), new Shape(dims));
            }
            case "Gather":
            {
                var data = S(n, 0);
                var idx = S(n, 1);
                if (data is null || idx is null) return One(ET(n, 0), null);
                long axis = n.GetInt("axis", 0);
                if (axis < 0) axis += data.Rank;
                var dims = data.Dims.Take((int)axis).Concat(idx.Dims).Concat(data.Dims.Skip((int)axis + 1));
                return One(ET(n, 0), new Shape(dims));
            }
            case "Slice": return One(ET(n, 0), SliceShape(n, opset));
            case "ReduceMean" or "ReduceSum" or "ReduceMax" or "ReduceMin" or "ReduceProd" or "ReduceL1" or "ReduceL2"
                or "ReduceLogSum" or "ReduceLogSumExp" or "ReduceSumSquare":
            {
                var s = S(n, 0);
                if (s is null) return One(ET(n, 0), null);
                bool axesAsInput = op == "ReduceSum" ? opset >= 13 : opset >= 18;
                var axes = axesAsInput ? (n.Inputs.Count > 1 && n.Input(1) is not null ? ConstInts(n, 1) : []) : (n.GetInts("axes") ?? []);
                if (axes is null) return One(ET(n, 0), null);
                bool keep = n.GetInt("keepdims", 1) != 0;
                if (axes.Length == 0 && n.GetInt("noop_with_empty_axes", 0) != 0) return One(ET(n, 0), s);
                var norm = axes.Length == 0 ? Enumerable.Range(0, s.Rank).Select(i => (long)i).ToHashSet() : axes.Select(a => a < 0 ? a + s.Rank : a).ToHashSet();
                var dims = new List<Dim>();
                for (int i = 0; i < s.Rank; i++)
                    if (!norm.Contains(i)) dims.Add(s[i]);
                    else if (keep) dims.Add(Dim.Of(1));
                return One(ET(n, 0), new Shape(dims));
            }
            case "Expand":
            {
                var target = ConstInts(n, 1);
                var s = S(n, 0);
                if (s is null) return One(ET(n, 0), null);
                // A shape computed at run time (a BERT export's token_type_ids.expand(batch, sequence)): its length still fixes the rank.
                if (target is null)
                    return One(ET(n, 0), S(n, 1) is { Rank: 1 } ts && ts[0].Value is long length ? new Shape(Enumerable.Repeat(Dim.Unknown, (int)Math.Max(length, s.Rank))) : null);
                return One(ET(n, 0), Broadcast(s, Shape.Of(target)));
            }
            case "ConstantOfShape":
            {
                var target = ConstInts(n, 0);
                var et = n.GetAttribute("value")?.Tensor?.ElementType ?? DataType.Float;
                if (target is null) return One(et, S(n, 0) is { Rank: 1 } ts && ts[0].Value is long length ? new Shape(Enumerable.Repeat(Dim.Unknown, (int)length)) : null);
                return One(et, Shape.Of(target));
            }
            case "Range": return One(ET(n, 0), new Shape([Dim.Unknown]));
            case "NonZero": return One(DataType.Int64, S(n, 0) is { } nz ? new Shape([Dim.Of(nz.Rank), Dim.Unknown]) : null);
            case "Tile":
            {
                var reps = ConstInts(n, 1);
                var s = S(n, 0);
                if (s is not null && reps is null) return One(ET(n, 0), new Shape(Enumerable.Repeat(Dim.Unknown, s.Rank)));
                if (reps is null || s is null || reps.Length != s.Rank) return One(ET(n, 0), null);
                return One(ET(n, 0), new Shape(s.Dims.Select((d, i) => d.Value is long v ? Dim.Of(v * reps[i]) : reps[i] == 1 ? d : Dim.Unknown)));
            }
            case "Resize" or "Upsample": return One(ET(n, 0), ResizeShape(n));
            case "Pad":
            {
                var s = S(n, 0);
                var pads = opset >= 11 ? ConstInts(n, 1) : n.GetInts(opset >= 2 ? "pads" : "paddings");
                if (s is null || pads is null) return One(ET(n, 0), null);
                if (opset >= 18 && n.Inputs.Count > 3 && n.Input(3) is { } axesValue)
                {
                    // Pad-18: the pads name only these axes (begins, then ends); spread them over all axes.
                    if (ConstInts(n, 3) is not { } axes || pads.Length != 2 * axes.Length) return One(ET(n, 0), null);
                    var full = new long[2 * s.Rank];
                    for (int i = 0; i < axes.Length; i++)
                    {
                        long axis = axes[i] < 0 ? axes[i] + s.Rank : axes[i];
                        if (axis < 0 || axis >= s.Rank) return One(ET(n, 0), null);
                        full[axis] += pads[i];
                        full[s.Rank + axis] += pads[axes.Length + i];
                    }
                    pads = full;
                }
                if (pads.Length != 2 * s.Rank) return One(ET(n, 0), null);
                return One(ET(n, 0), new Shape(s.Dims.Select((d, i) => d.Value is long v ? Dim.Of(v + pads[i] + pads[i + s.Rank]) : pads[i] + pads[i + s.Rank] == 0 ? d : Dim.Unknown)));
            }
            case "ArgMax" or "ArgMin":
            {
                var s = S(n, 0);
                if (s is null) return One(DataType.Int64, null);
                long axis = n.GetInt("axis", 0);
                if (axis < 0) axis += s.Rank;
                bool keep = n.GetInt("keepdims", 1) != 0;
                var dims = new List<Dim>();
                for (int i = 0; i < s.Rank; i++)
                    if (i != axis) dims.Add(s[i]);
                    else if (keep) dims.Add(Dim.Of(1));
                return One(DataType.Int64, new Shape(dims));
            }
            case "QuantizeLinear":
                return One(n.Input(2)?.TensorType?.ElementType ?? DataType.UInt8, S(n, 0));
            case "DequantizeLinear":
                return One(ET(n, 1) == DataType.Undefined ? DataType.Float : ET(n, 1), S(n, 0));
        }
        return [];
    }

    private static Dim Product(IEnumerable<Dim> dims)
    {
        long p = 1;
        foreach (var d in dims)
        {
            if (d.Value is not long v) return Dim.Unknown;
            p *= v;
        }
        return Dim.Of(p);
    }

    /// <summary>Numpy broadcasting with symbolic dims: equal names match, 1 stretches, anything else unknown.</summary>
    /// <summary>If outputs: the branches' output types where both declare the same tensor type (the shape only where it is the same too).</summary>
    /// <summary>LSTM / GRU / RNN (layout 0: X [seq, batch, input]; layout 1: [batch, seq, input]): Y, Y_h and Y_c by the spec's shapes.</summary>
    private static TensorType?[] RecurrentOutputs(Node n)
    {
        var x = S(n, 0);
        long? hidden = n.GetAttribute("hidden_size") is { Kind: AttributeKind.Int } h ? h.Int : null;
        if (x is null || x.Rank != 3 || hidden is null) return [];
        long directions = n.GetString("direction") == "bidirectional" ? 2 : 1;
        bool batchFirst = n.GetInt("layout", 0) != 0;
        Dim seq = batchFirst ? x[1] : x[0], batch = batchFirst ? x[0] : x[1];
        var et = ET(n, 0);
        var y = batchFirst ? new Shape([batch, seq, Dim.Of(directions), Dim.Of(hidden.Value)]) : new Shape([seq, Dim.Of(directions), batch, Dim.Of(hidden.Value)]);
        var state = batchFirst ? new Shape([batch, Dim.Of(directions), Dim.Of(hidden.Value)]) : new Shape([Dim.Of(directions), batch, Dim.Of(hidden.Value)]);
        return [new TensorType(et, y), new TensorType(et, state), new TensorType(et, state)];
    }

    private static TensorType?[] IfOutputs(Node n, long opset)
    {
        if (n.GetAttribute("then_branch")?.Graph is not { } thenBranch || n.GetAttribute("else_branch")?.Graph is not { } elseBranch) return [];
        // The branches read outer values (fixed input shapes reach them only this way): inferred before their outputs are read.
        Infer(thenBranch, opset);
        Infer(elseBranch, opset);
        var results = new TensorType?[n.Outputs.Count];
        for (int i = 0; i < results.Length && i < thenBranch.Outputs.Count && i < elseBranch.Outputs.Count; i++)
        {
            if (thenBranch.Outputs[i].TensorType is not { } a || elseBranch.Outputs[i].TensorType is not { } b || a.ElementType != b.ElementType) continue;
            var shape = a.Shape is not null && b.Shape is not null && a.Shape.Equals(b.Shape) ? a.Shape : null;
            results[i] = new TensorType(a.ElementType, shape);
        }
        return results;
    }

    public static Shape? Broadcast(Shape a, Shape b)
    {
        int rank = Math.Max(a.Rank, b.Rank);
        var dims = new Dim[rank];
        for (int i = 0; i < rank; i++)
        {
            var da = i - (rank - a.Rank) >= 0 ? a[i - (rank - a.Rank)] : Dim.Of(1);
            var db = i - (rank - b.Rank) >= 0 ? b[i - (rank - b.Rank)] : Dim.Of(1);
            if (da.Value == 1) dims[i] = db;
            else if (db.Value == 1) dims[i] = da;
            else if (da.Value is long va && db.Value is long vb) dims[i] = va == vb ? da : throw new ArgumentException("shapes do not broadcast");
            else if (da.IsKnown) dims[i] = da;
            else if (db.IsKnown) dims[i] = db;
            else if (da.Param is not null && da.Param == db.Param) dims[i] = da;
            else dims[i] = Dim.Unknown;
        }
        return new Shape(dims);
    }

    private static Shape? MatMulShape(Shape? a, Shape? b)
    {
        if (a is null || b is null || a.Rank == 0 || b.Rank == 0) return null;
        bool aVec = a.Rank == 1, bVec = b.Rank == 1;
        var a2 = aVec ? new Shape([Dim.Of(1), a[0]]) : a;
        var b2 = bVec ? new Shape([b[0], Dim.Of(1)]) : b;
        var batch = Broadcast(new Shape(a2.Dims.Take(a2.Rank - 2)), new Shape(b2.Dims.Take(b2.Rank - 2)));
        if (batch is null) return null;
        var dims = batch.Dims.ToList();
        if (!aVec) dims.Add(a2[a2.Rank - 2]);
        if (!bVec) dims.Add(b2[b2.Rank - 1]);
        return new Shape(dims);
    }

    public static Shape? ReshapeShape(Shape? input, long[] target, bool allowZero)
    {
        var dims = new Dim[target.Length];
        int inferIndex = -1;
        for (int i = 0; i < target.Length; i++)
        {
            if (target[i] == -1) { inferIndex = i; dims[i] = Dim.Unknown; }
            else if (target[i] == 0 && !allowZero) dims[i] = input is not null && i < input.Rank ? input[i] : Dim.Unknown;
            else dims[i] = Dim.Of(target[i]);
        }
        if (inferIndex >= 0 && input?.ElementCount() is long total)
        {
            long known = 1;
            for (int i = 0; i < dims.Length; i++)
                if (i != inferIndex)
                {
                    if (dims[i].Value is not long v) return new Shape(dims);
                    known *= v;
                }
            if (known != 0) dims[inferIndex] = Dim.Of(total / known);
        }
        return new Shape(dims);
    }

    private static TensorType?[] ConvLike(Node n, bool transposed)
    {
        var x = S(n, 0);
        var w = S(n, n.OpType == "QLinearConv" ? 3 : 1);
        var et = n.OpType == "ConvInteger" ? DataType.Int32 : n.OpType == "QLinearConv" ? ET(n, 7) : ET(n, 0);
        if (x is null || w is null || x.Rank < 3 || w.Rank != x.Rank) return One(et, null);
        int spatial = x.Rank - 2;
        var kernel = n.GetInts("kernel_shape") ?? w.Dims.Skip(2).Select(d => d.Value ?? -1).ToArray();
        var strides = n.GetInts("strides") ?? Enumerable.Repeat(1L, spatial).ToArray();
        var dil = n.GetInts("dilations") ?? Enumerable.Repeat(1L, spatial).ToArray();
        long group = n.GetInt("group", 1);
        var channels = transposed ? (w[1].Value is long c ? Dim.Of(c * group) : Dim.Unknown) : w[0];
        var dims = new List<Dim> { x[0], channels };
        if (transposed && n.GetInts("output_shape") is { } os)
        {
            dims.AddRange(os.TakeLast(spatial).Select(Dim.Of));
            return One(et, new Shape(dims));
        }
        var pads = n.GetInts("pads") ?? new long[2 * spatial];
        string autoPad = n.GetString("auto_pad") ?? "NOTSET";
        var outPad = n.GetInts("output_padding") ?? new long[spatial];
        for (int i = 0; i < spatial; i++)
        {
            if (x[i + 2].Value is not long inSize || kernel[i] < 0) { dims.Add(Dim.Unknown); continue; }
            long k = (kernel[i] - 1) * dil[i] + 1;
            long size;
            if (transposed)
            {
                if (autoPad is "SAME_UPPER" or "SAME_LOWER") size = inSize * strides[i];
                else size = strides[i] * (inSize - 1) + outPad[i] + k - pads[i] - pads[i + spatial];
            }
            else if (autoPad is "SAME_UPPER" or "SAME_LOWER") size = (inSize + strides[i] - 1) / strides[i];
            else if (autoPad == "VALID") size = (inSize - k) / strides[i] + 1;
            else size = (inSize + pads[i] + pads[i + spatial] - k) / strides[i] + 1;
            dims.Add(Dim.Of(size));
        }
        return One(et, new Shape(dims));
    }

    private static TensorType?[] Pool(Node n)
    {
        var x = S(n, 0);
        var kernel = n.GetInts("kernel_shape");
        if (x is null || kernel is null || x.Rank < 3) return One(ET(n, 0), null);
        int spatial = x.Rank - 2;
        var strides = n.GetInts("strides") ?? Enumerable.Repeat(1L, spatial).ToArray();
        var dil = n.GetInts("dilations") ?? Enumerable.Repeat(1L, spatial).ToArray();
        var pads = n.GetInts("pads") ?? new long[2 * spatial];
        bool ceil = n.GetInt("ceil_mode", 0) != 0;
        string autoPad = n.GetString("auto_pad") ?? "NOTSET";
        var dims = new List<Dim> { x[0], x[1] };
        for (int i = 0; i < spatial; i++)
        {
            if (x[i + 2].Value is not long inSize) { dims.Add(Dim.Unknown); continue; }
            long k = (kernel[i] - 1) * dil[i] + 1;
            long size;
            if (autoPad is "SAME_UPPER" or "SAME_LOWER") size = (inSize + strides[i] - 1) / strides[i];
            else if (autoPad == "VALID") size = (inSize - k) / strides[i] + 1;
            else
            {
                long num = inSize + pads[i] + pads[i + spatial] - k;
                size = (ceil ? (num + strides[i] - 1) / strides[i] : num / strides[i]) + 1;
                // ceil mode never starts a window inside the end padding.
                if (ceil && (size - 1) * strides[i] >= inSize + pads[i]) size--;
            }
            dims.Add(Dim.Of(size));
        }
        var result = new TensorType(ET(n, 0), new Shape(dims));
        return n.Outputs.Count > 1 ? [result, new TensorType(DataType.Int64, result.Shape)] : [result];
    }

    private static Shape? SliceShape(Node n, long opset)
    {
        var s = S(n, 0);
        if (s is null) return null;
        long[]? starts, ends, axes, steps;
        if (opset >= 10)
        {
            starts = ConstInts(n, 1);
            ends = ConstInts(n, 2);
            // Without axes the first len(starts) dims are sliced; a computed starts still has a length when its shape is known.
            long? count = starts?.Length ?? (S(n, 1) is { Rank: 1 } ss ? ss[0].Value : null);
            axes = n.Inputs.Count > 3 && n.Input(3) is not null ? ConstInts(n, 3) : count is long k ? Enumerable.Range(0, (int)k).Select(i => (long)i).ToArray() : null;
            steps = n.Inputs.Count > 4 && n.Input(4) is not null ? ConstInts(n, 4) : Enumerable.Repeat(1L, starts?.Length ?? 0).ToArray();
        }
        else
        {
            starts = n.GetInts("starts");
            ends = n.GetInts("ends");
            axes = n.GetInts("axes") ?? Enumerable.Range(0, starts?.Length ?? 0).Select(i => (long)i).ToArray();
            steps = Enumerable.Repeat(1L, starts?.Length ?? 0).ToArray();
        }
        // Bounds computed at run time (position_ids[:, :sequence] in a BERT export) leave the sliced dims unknown, never the rank.
        if (starts is null || ends is null || steps is null)
            return axes is null ? new Shape(Enumerable.Repeat(Dim.Unknown, s.Rank)) : new Shape(s.Dims.Select((d, i) => axes.Any(a => a == i || a + s.Rank == i) ? Dim.Unknown : d));
        if (axes is null) return new Shape(Enumerable.Repeat(Dim.Unknown, s.Rank));
        var dims = s.Dims.ToArray();
        for (int k = 0; k < starts.Length; k++)
        {
            long axis = axes[k] < 0 ? axes[k] + s.Rank : axes[k];
            if (dims[axis].Value is not long size) { dims[axis] = Dim.Unknown; continue; }
            long step = steps[k];
            if (step == 0) return null;
            long start = starts[k] < 0 ? starts[k] + size : starts[k];
            long end = ends[k] < 0 ? ends[k] + size : ends[k];
            if (step > 0)
            {
                start = Math.Clamp(start, 0, size);
                end = Math.Clamp(end, 0, size);
                dims[axis] = Dim.Of(Math.Max(0, (end - start + step - 1) / step));
            }
            else
            {
                start = Math.Clamp(start, -1, size - 1);
                end = Math.Clamp(end, -1, size - 1);
                dims[axis] = Dim.Of(Math.Max(0, (start - end + (-step) - 1) / (-step)));
            }
        }
        return new Shape(dims);
    }

    private static Shape? ResizeShape(Node n)
    {
        var s = S(n, 0);
        if (s is null) return null;
        float[]? scales = null;
        long[]? sizes = null;
        if (n.OpType == "Upsample")
            scales = n.GetAttribute("scales")?.Floats is { Length: > 0 } f ? f : n.Input(1)?.ConstantValue?.ToFloats();
        else
        {
            // Resize-10: (X, scales); Resize-11+: (X, roi, scales, sizes).
            if (n.Inputs.Count == 2) scales = n.Input(1)?.ConstantValue?.ToFloats();
            else
            {
                if (n.Input(3) is { } sz) sizes = sz.ConstantValue?.ToInt64s() ?? [];
                if (n.Input(2) is { } sc) scales = sc.ConstantValue?.ToFloats();
                if (sizes is { Length: 0 }) return null;
            }
        }
        // Resize-18: scales and sizes may name only some axes.
        var axes = (n.GetInts("axes") ?? Enumerable.Range(0, s.Rank).Select(i => (long)i).ToArray()).Select(a => a < 0 ? a + s.Rank : a).ToArray();
        if (axes.Any(a => a < 0 || a >= s.Rank)) return null;
        var dims = s.Dims.ToArray();
        if (sizes is { Length: > 0 } && sizes.Length == axes.Length)
        {
            string policy = n.GetString("keep_aspect_ratio_policy") ?? "stretch";
            if (policy == "stretch")
            {
                for (int i = 0; i < axes.Length; i++) dims[axes[i]] = Dim.Of(sizes[i]);
                return new Shape(dims);
            }
            // not_larger / not_smaller: one scale for every named axis, the smallest or largest of sizes / input, each
            // output round(scale * input) (half away from zero, as C's round).
            if (axes.Any(a => dims[a].Value is null) || policy is not ("not_larger" or "not_smaller")) return null;
            var ratios = axes.Select((a, i) => sizes[i] / (double)dims[a].Value!.Value).ToArray();
            double scale = policy == "not_larger" ? ratios.Min() : ratios.Max();
            foreach (var a in axes) dims[a] = Dim.Of((long)Math.Round(scale * dims[a].Value!.Value, MidpointRounding.AwayFromZero));
            return new Shape(dims);
        }
        if (scales is { Length: > 0 } && scales.Length == axes.Length)
        {
            for (int i = 0; i < axes.Length; i++)
                dims[axes[i]] = dims[axes[i]].Value is long v ? Dim.Of((long)Math.Floor(v * (double)scales[i])) : scales[i] == 1 ? dims[axes[i]] : Dim.Unknown;
            return new Shape(dims);
        }
        return null;
    }
}
