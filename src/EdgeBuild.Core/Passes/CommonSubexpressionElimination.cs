using System.Runtime.CompilerServices;
using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// Merges nodes that compute the same thing: same op and domain, the same input values in the same order and
/// equal attributes (tensors compared by content). Dynamic-shape exports repeat Shape -> Gather -> Unsqueeze
/// chains once per use (a BERT encoder rebuilds its attention-mask shape in every layer); after this pass each
/// chain exists once. Nodes are visited in topological order and a duplicate's readers are pointed at the first
/// node's outputs before later nodes are keyed, so whole duplicated chains collapse in one sweep.
/// Never merged: random and other non-deterministic ops, nodes with subgraphs, ops outside the standard domain,
/// and a duplicate whose output is a graph output that cannot take over (kept, so the interface stays the same).
/// </summary>
public sealed class CommonSubexpressionElimination : IPass
{
    /// <summary>Ops whose two runs on the same inputs may differ (randomness) or that training mode makes random.</summary>
    private static readonly HashSet<string> NonDeterministic = new(StringComparer.Ordinal)
    {
        "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli", "Dropout",
    };

    public string Name => "common-subexpression-elimination";
    public string Description => "Nodes with the same op, inputs and attributes are merged";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        var graphs = model.Graph.SelfAndSubgraphs().ToList();
        // Values that a body returns from an enclosing scope: their graph-output flag belongs to that body, which
        // TrySubstitute cannot rewrite, so such a value is never the one merged away.
        var returnedFromOuterScope = new HashSet<Value>();
        foreach (var g in graphs)
            foreach (var o in g.Outputs)
                if (o.Graph != g) returnedFromOuterScope.Add(o);
        foreach (var graph in graphs)
            EliminateIn(graph, returnedFromOuterScope, result);
        return result;
    }

    private static void EliminateIn(Graph graph, HashSet<Value> returnedFromOuterScope, PassResult result)
    {
        graph.SortTopologically();
        var constants = new SmallConstants();
        var seen = new Dictionary<int, List<Node>>();
        foreach (var node in graph.Nodes.ToList())
        {
            if (node.Graph is null || !IsMergeable(node)) continue;
            int key = KeyOf(node, constants);
            if (!seen.TryGetValue(key, out var bucket))
            {
                seen[key] = [node];
                continue;
            }
            var first = bucket.FirstOrDefault(other => SameComputation(other, node, constants));
            if (first is null || !CanTakeOver(graph, first, node, returnedFromOuterScope))
            {
                bucket.Add(node);
                if (first is not null) result.Note("kept_at_graph_boundary");
                continue;
            }
            for (int i = 0; i < node.Outputs.Count; i++)
                if (node.Outputs[i] is { } duplicate && first.Outputs[i] is { } kept && !graph.TrySubstitute(duplicate, kept))
                    throw new InvalidOperationException($"common-subexpression-elimination: '{duplicate.Name}' could not be replaced after the check allowed it");
            graph.RemoveNode(node);
            result.Count("nodes_merged");
        }
    }

    private static bool IsMergeable(Node node) =>
        node.IsStandardDomain && !NonDeterministic.Contains(node.OpType) && !node.HasSubgraphs && node.Outputs.Count > 0;

    /// <summary>
    /// True when <paramref name="duplicate"/>'s outputs can all be replaced by <paramref name="first"/>'s: every used
    /// output has a counterpart, and a graph output is renamed onto a counterpart that is a plain node output (never
    /// two graph outputs onto one value: both nodes stay then).
    /// </summary>
    private static bool CanTakeOver(Graph graph, Node first, Node duplicate, HashSet<Value> returnedFromOuterScope)
    {
        var claimed = new HashSet<Value>();
        for (int i = 0; i < duplicate.Outputs.Count; i++)
        {
            if (duplicate.Outputs[i] is not { } d || !d.IsUsed) continue;
            if (first.Outputs[i] is not { } kept) return false;
            if (!d.IsGraphOutput) continue;
            if (returnedFromOuterScope.Contains(d) || graph.Outputs.Count(o => o == d) != 1) return false;
            if (kept.IsGraphOutput || kept.IsGraphInput || !claimed.Add(kept)) return false;
        }
        return true;
    }

    /// <summary>
    /// Small constants stand for their content: exporters write a separate initializer for every Gather index 0 or
    /// Unsqueeze axes [0], so two Gathers of one Shape read equal but distinct constants and are still the same
    /// computation. Large weights are compared by identity only (hashing them is not worth it here;
    /// initializer-deduplication shares them and the next round sees the merge).
    /// </summary>
    private sealed class SmallConstants
    {
        private const int MaxBytes = 256;
        private readonly Dictionary<string, Value> byContent = new(StringComparer.Ordinal);
        private readonly Dictionary<Value, Value> canonical = [];

        public Value? Canonical(Value? v)
        {
            if (v?.ConstantValue is not { } t || t.Raw.Length > MaxBytes || (t.Strings is { } s && s.Sum(x => x.Length) > MaxBytes)) return v;
            if (canonical.TryGetValue(v, out var c)) return c;
            c = byContent.TryAdd(t.ContentHash(), v) ? v : byContent[t.ContentHash()];
            canonical[v] = c;
            return c;
        }
    }

    private static int KeyOf(Node node, SmallConstants constants)
    {
        var h = new HashCode();
        h.Add(node.OpType);
        h.Add(node.Overload);
        h.Add(node.Outputs.Count);
        foreach (var v in node.Inputs) h.Add(constants.Canonical(v) is { } c ? RuntimeHelpers.GetHashCode(c) : 0);
        foreach (var a in node.Attributes.OrderBy(a => a.Name, StringComparer.Ordinal))
        {
            h.Add(a.Name);
            h.Add(a.Kind);
            h.Add(a.Int);
            h.Add(a.Ints.Length);
            h.Add(a.Tensor?.Raw.Length ?? -1);
        }
        return h.ToHashCode();
    }

    private static bool SameComputation(Node a, Node b, SmallConstants constants)
    {
        if (a.OpType != b.OpType || a.Overload != b.Overload || a.Outputs.Count != b.Outputs.Count || a.Inputs.Count != b.Inputs.Count) return false;
        for (int i = 0; i < a.Inputs.Count; i++)
            if (!ReferenceEquals(constants.Canonical(a.Inputs[i]), constants.Canonical(b.Inputs[i]))) return false;
        if (a.Attributes.Count != b.Attributes.Count) return false;
        foreach (var x in a.Attributes)
        {
            var y = b.GetAttribute(x.Name);
            if (y is null || !AttributesEqual(x, y)) return false;
        }
        return true;
    }

    /// <summary>Deep equality of two attributes of the same name; floats compared bit for bit (0 and -0 differ, NaN equals NaN).</summary>
    internal static bool AttributesEqual(Ir.Attribute x, Ir.Attribute y)
    {
        if (x.Kind != y.Kind || x.RefAttrName != y.RefAttrName) return false;
        return x.Kind switch
        {
            AttributeKind.Float => BitConverter.SingleToInt32Bits(x.Float) == BitConverter.SingleToInt32Bits(y.Float),
            AttributeKind.Int => x.Int == y.Int,
            AttributeKind.String => x.String.AsSpan().SequenceEqual(y.String),
            AttributeKind.Floats => x.Floats.Length == y.Floats.Length && x.Floats.Select(BitConverter.SingleToInt32Bits).SequenceEqual(y.Floats.Select(BitConverter.SingleToInt32Bits)),
            AttributeKind.Ints => x.Ints.AsSpan().SequenceEqual(y.Ints),
            AttributeKind.Strings => x.Strings.Length == y.Strings.Length && x.Strings.Zip(y.Strings).All(p => p.First.AsSpan().SequenceEqual(p.Second)),
            AttributeKind.Tensor => TensorsEqual(x.Tensor, y.Tensor),
            AttributeKind.Tensors => x.Tensors.Length == y.Tensors.Length && x.Tensors.Zip(y.Tensors).All(p => TensorsEqual(p.First, p.Second)),
            AttributeKind.SparseTensor => SparseEqual(x.SparseTensor, y.SparseTensor),
            AttributeKind.SparseTensors => x.SparseTensors.Length == y.SparseTensors.Length && x.SparseTensors.Zip(y.SparseTensors).All(p => SparseEqual(p.First, p.Second)),
            AttributeKind.TypeProto => Equals(x.TypeProto, y.TypeProto),
            AttributeKind.TypeProtos => x.TypeProtos.SequenceEqual(y.TypeProtos),
            // Graphs are not compared: nodes holding them are never merged.
            _ => false,
        };
    }

    private static bool TensorsEqual(Tensor? a, Tensor? b) =>
        a is not null && b is not null && a.ElementType == b.ElementType && a.Dims.AsSpan().SequenceEqual(b.Dims) && a.ContentEquals(b);

    private static bool SparseEqual(SparseTensor? a, SparseTensor? b) =>
        a is not null && b is not null && a.Dims.AsSpan().SequenceEqual(b.Dims) && TensorsEqual(a.Values, b.Values) && TensorsEqual(a.Indices, b.Indices);
}
