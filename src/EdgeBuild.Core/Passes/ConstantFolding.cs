using EdgeBuild.Ir;
using Microsoft.ML.OnnxRuntime;
using EdgeBuild.Onnx;

namespace EdgeBuild.Passes;

/// <summary>
/// Evaluates every node whose inputs are all constants, and Shape/Size of tensors whose shape is fully
/// known, replacing the results by initializers. The constant part of the graph is cut out as one model
/// and run once by ONNX Runtime, so folding supports every standard operator with the exact kernels the
/// model would run with. Random operators (training-mode Dropout too), Q/DQ (folding would undo
/// quantization), nodes with subgraphs and custom domains are never folded. Results larger than
/// <see cref="OptimizeOptions.MaxFoldedTensorBytes"/> are kept as computations when they would grow the model.
/// If/Loop/Scan bodies are folded too, each as its own region (constants of enclosing scopes count as constants).
/// </summary>
public sealed class ConstantFolding : IPass
{
    private static readonly HashSet<string> NeverFold =
    [
        "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
        "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "Constant", "If", "Loop", "Scan",
        "Optional", "OptionalHasElement", "OptionalGetElement",
    ];

    public string Name => "constant-folding";
    public string Description => "Nodes with constant inputs, and Shape of static shapes, are evaluated at build time";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        // Enclosing graphs first: a body's constant region may start from values folded outside it.
        foreach (var graph in model.Graph.SelfAndSubgraphs().ToList())
            FoldIn(model, graph, context, result);
        return result;
    }

    private static void FoldIn(Model model, Graph graph, PassContext context, PassResult result)
    {
        // A Loop body's declared shapes may be the traced iteration's: not trusted.
        if (PassHelpers.HasFixedShapes(graph))
        {
            FoldStaticShapes(graph, model.DefaultOpset, result);
            FoldKnownDims(graph, model.DefaultOpset, result);
        }

        var foldable = new HashSet<Node>();
        var overBudget = new List<string>();
        long regionBytes = 0;
        foreach (var node in graph.Nodes)
        {
            if (!IsFoldableOp(node)) continue;
            bool allConstant = node.Inputs.All(v => v is null || v.ConstantValue is not null || (v.Producer is { } p && foldable.Contains(p)));
            if (!allConstant || !node.Inputs.Any(v => v is not null)) continue;
            // Checked before anything runs: what is over budget stays a computation, and so does all it feeds.
            if (FoldingBudget.Exceeded(node, context.Options, ref regionBytes) is { } why)
            {
                overBudget.Add($"'{node.Name}' ({node.OpType}) {why}");
                continue;
            }
            foldable.Add(node);
        }
        if (overBudget.Count > 0)
        {
            result.Note("kept_over_budget", overBudget.Count);
            context.Info($"constant folding left {overBudget.Count} node(s) as computations, over its budget: {string.Join("; ", overBudget.Take(3))}{(overBudget.Count > 3 ? "; ..." : "")}");
        }
        if (foldable.Count == 0) return;

        // The values that leave the constant region are the ones to materialize.
        var frontier = new List<Value>();
        foreach (var node in graph.Nodes.Where(foldable.Contains))
            foreach (var o in node.Outputs)
                if (o is not null && (o.IsGraphOutput || o.Uses.Any(u => u.Node.Graph != graph || !foldable.Contains(u.Node))))
                    frontier.Add(o);
        if (frontier.Count == 0) return;

        var constantsUsed = graph.Nodes.Where(foldable.Contains).SelectMany(n => n.Inputs)
            .Where(v => v is not null && v.Producer is null).Distinct().ToList();

        IReadOnlyDictionary<Value, Tensor> values;
        try
        {
            values = Evaluate(model, graph.Nodes.Where(foldable.Contains).ToList(), constantsUsed!, frontier, context.Options.FoldingTimeLimit);
        }
        catch (OnnxRuntimeException e)
        {
            context.Warn($"constant folding skipped: ONNX Runtime could not evaluate the constant subgraph within {context.Options.FoldingTimeLimit.TotalSeconds:0} s ({FirstLine(e.Message)})");
            result.Note("evaluation_failed");
            return;
        }

        foreach (var v in frontier)
        {
            if (!values.TryGetValue(v, out var tensor)) continue;
            if (tensor.Raw.LongLength > context.Options.MaxFoldedTensorBytes && tensor.Raw.LongLength > ConeInputBytes(v, foldable))
            {
                result.Note("kept_too_large");
                continue;
            }
            if (v.IsGraphOutput)
            {
                result.Note("kept_graph_output");
                continue;
            }
            var fresh = graph.AddInitializer(graph.UniqueName(v.Name + "_folded"), tensor);
            Graph.ReplaceAllUses(v, fresh);
            result.Count("values_folded");
        }
        int before = graph.Nodes.Count;
        RemoveDead(graph, foldable);
        result.Count("nodes_folded", before - graph.Nodes.Count);
    }

    /// <summary>Bytes of the constants that feed <paramref name="value"/> through folded nodes: what folding it replaces.</summary>
    private static long ConeInputBytes(Value value, HashSet<Node> foldable)
    {
        var seen = new HashSet<Value>();
        var stack = new Stack<Value>([value]);
        long bytes = 0;
        while (stack.Count > 0)
        {
            var v = stack.Pop();
            if (!seen.Add(v)) continue;
            if (v.Producer is { } p && foldable.Contains(p))
            {
                foreach (var i in p.Inputs)
                    if (i is not null) stack.Push(i);
            }
            else if (v.ConstantValue is { } t) bytes += t.Raw.LongLength;
        }
        return bytes;
    }

    private static bool IsFoldableOp(Node node) =>
        node.IsStandardDomain && !NeverFold.Contains(node.OpType) && !node.HasSubgraphs && !IsTrainingDropout(node)
        && !node.OpType.StartsWith("Sequence", StringComparison.Ordinal) && node.OpType != "SplitToSequence"
        && node.Outputs.All(o => o is null || o.Type is null or TensorType);

    /// <summary>Dropout-12+ with training_mode set drops random elements: folding it would bake one random mask into the model.</summary>
    private static bool IsTrainingDropout(Node node) =>
        node.Is("Dropout") && node.Input(2) is { } trainingMode
        && (trainingMode.ConstantValue is not { } t || t.ToInt64s().Any(v => v != 0));

    /// <summary>Shape and Size only need the input's shape, which shape inference may know even for activations.</summary>
    private static void FoldStaticShapes(Graph graph, long opset, PassResult result)
    {
        foreach (var node in graph.Nodes.ToList())
        {
            if (!(node.Is("Shape") || node.Is("Size")) || node.Outputs[0] is not { } output || output.IsGraphOutput) continue;
            if (node.Input(0)?.TensorType?.Shape is not { IsStatic: true } shape) continue;
            long[] dims = shape.ToArray();
            Tensor tensor;
            if (node.OpType == "Size") tensor = Tensor.FromInt64s([], [Tensor.CountElements(dims)]);
            else
            {
                int rank = dims.Length;
                long start = opset >= 15 ? node.GetInt("start", 0) : 0;
                long end = opset >= 15 ? node.GetInt("end", rank) : rank;
                start = Math.Clamp(start < 0 ? start + rank : start, 0, rank);
                end = Math.Clamp(end < 0 ? end + rank : end, 0, rank);
                var slice = dims[(int)start..(int)Math.Max(start, end)];
                tensor = Tensor.FromInt64s([slice.Length], slice);
            }
            var fresh = graph.AddInitializer(graph.UniqueName(output.Name + "_folded"), tensor);
            Graph.ReplaceAllUses(output, fresh);
            graph.RemoveNode(node);
            result.Count("shapes_folded");
        }
    }

    /// <summary>
    /// Gather or Slice of a Shape whose picked dims are numbers while others are symbolic: Silero's state input is
    /// [2, batch, 128] and the model branches on its first dim; ONNX Runtime folds such picks, and so do we. Only
    /// constant indices on axis 0 (Gather), one axis with step 1 (Slice).
    /// </summary>
    private static void FoldKnownDims(Graph graph, long opset, PassResult result)
    {
        foreach (var node in graph.Nodes.ToList())
        {
            if (!(node.Is("Gather") || node.Is("Slice")) || node.Outputs[0] is not { } output || output.IsGraphOutput) continue;
            if (node.Input(0)?.Producer is not { } shapeNode || !shapeNode.Is("Shape") || shapeNode.Input(0)?.TensorType?.Shape is not { } shape) continue;
            int rank = shape.Rank;
            long start = opset >= 15 ? shapeNode.GetInt("start", 0) : 0;
            long end = opset >= 15 ? shapeNode.GetInt("end", rank) : rank;
            start = Math.Clamp(start < 0 ? start + rank : start, 0, rank);
            end = Math.Clamp(end < 0 ? end + rank : end, 0, rank);
            int length = (int)Math.Max(0, end - start);
            long[]? picked = node.OpType == "Gather" ? GatheredPositions(node, length) : SlicedPositions(node, length);
            if (picked is null) continue;
            var dims = new long[picked.Length];
            bool known = true;
            for (int i = 0; i < picked.Length && known; i++)
            {
                if (shape[(int)(start + picked[i])].Value is long d && d >= 0) dims[i] = d;
                else known = false;
            }
            if (!known) continue;
            long[] resultDims = node.OpType == "Gather" ? node.Input(1)!.ConstantValue!.Dims : [dims.Length];
            var fresh = graph.AddInitializer(graph.UniqueName(output.Name + "_folded"), Tensor.FromInt64s(resultDims, dims));
            Graph.ReplaceAllUses(output, fresh);
            graph.RemoveNode(node);
            result.Count("shapes_folded");
        }
    }

    /// <summary>The positions a Gather on axis 0 with constant indices picks from a vector of <paramref name="length"/>; null when out of range or not constant.</summary>
    private static long[]? GatheredPositions(Node gather, int length)
    {
        if (gather.GetInt("axis", 0) != 0 || gather.Input(1)?.ConstantValue is not { } indices) return null;
        var positions = indices.ToInt64s();
        for (int i = 0; i < positions.Length; i++)
        {
            long p = positions[i] < 0 ? positions[i] + length : positions[i];
            if (p < 0 || p >= length) return null;
            positions[i] = p;
        }
        return positions;
    }

    /// <summary>The positions a one-axis, step-1 Slice with constant bounds takes from a vector of <paramref name="length"/>.</summary>
    private static long[]? SlicedPositions(Node slice, int length)
    {
        if (slice.Inputs.Count < 3) return null; // Slice-1 kept its bounds as attributes: rare on shapes, left alone
        long[]? starts = slice.Input(1)?.ConstantValue?.ToInt64s();
        long[]? ends = slice.Input(2)?.ConstantValue?.ToInt64s();
        long[]? axes = slice.Input(3) is { } a ? a.ConstantValue?.ToInt64s() : [0];
        long[]? steps = slice.Input(4) is { } s ? s.ConstantValue?.ToInt64s() : [1];
        if (starts is not [var from] || ends is not [var to] || axes is not ([0] or [-1]) || steps is not [1]) return null;
        from = Math.Clamp(from < 0 ? from + length : from, 0, length);
        to = Math.Clamp(to < 0 ? to + length : to, 0, length);
        var positions = new List<long>();
        for (long i = from; i < to; i++) positions.Add(i);
        return [.. positions];
    }

    private static void RemoveDead(Graph graph, HashSet<Node> candidates)
    {
        for (int i = graph.Nodes.Count - 1; i >= 0; i--)
        {
            var n = graph.Nodes[i];
            if (candidates.Contains(n) && !n.Outputs.Any(o => o is not null && o.IsUsed)) graph.RemoveNode(n);
        }
    }

    /// <summary>Runs the constant nodes as a standalone model in ONNX Runtime and reads the frontier values back.</summary>
    private static Dictionary<Value, Tensor> Evaluate(Model model, List<Node> nodes, List<Value> constants, List<Value> frontier, TimeSpan timeLimit)
    {
        var sub = new Graph("constant_subgraph");
        var map = new Dictionary<Value, Value>();
        foreach (var c in constants)
            map[c] = sub.AddInitializer(c.Name, c.ConstantValue!);
        foreach (var n in nodes)
        {
            var copy = sub.AddNode(n.OpType, n.Inputs.Select(i => i is null ? null : map[i]), n.Outputs.Select(o => o?.Name), n.Domain, n.Name, n.Attributes);
            for (int i = 0; i < n.Outputs.Count; i++)
                if (n.Outputs[i] is { } o) map[o] = copy.Outputs[i]!;
        }
        foreach (var v in frontier) sub.AddOutput(map[v]);
        var mini = new Model(sub) { IrVersion = Math.Max(model.IrVersion, 4) };
        mini.Opsets.AddRange(model.Opsets);
        byte[] bytes = Onnx.OnnxExporter.ToBytes(mini);

        using var options = Onnx.OrtSessions.ForFolding();
        using var session = new InferenceSession(bytes, options);
        using var runOptions = new RunOptions();
        var names = frontier.Select(v => map[v].Name).ToArray();
        // The size budget leaves ops whose cost the shapes do not show (loops in a custom kernel, huge Range steps): the clock stops them.
        using var stop = new Timer(_ => runOptions.Terminate = true, null, timeLimit, Timeout.InfiniteTimeSpan);
        using var outputs = session.Run(runOptions, Array.Empty<string>(), Array.Empty<OrtValue>(), names);
        var result = new Dictionary<Value, Tensor>();
        int k = 0;
        foreach (var ov in outputs)
        {
            var v = frontier[k++];
            if (OrtTensors.ToTensor(ov) is { } t) result[v] = t;
        }
        return result;
    }

    private static string FirstLine(string s) => s.Split('\n')[0].Trim();
}
