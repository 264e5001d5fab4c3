using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// Transpose followed by Transpose: removed when the permutations cancel, otherwise merged into one.
/// Exporters from NHWC frameworks (tf2onnx) leave such pairs around layout changes.
/// </summary>
public sealed class TransposeCancellation : IPass
{
    public string Name => "transpose-cancellation";
    public string Description => "Inverse Transpose pairs are removed, other Transpose chains merged";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        var graph = model.Graph;
        foreach (var second in graph.Nodes.ToList())
        {
            if (second.Graph is null || !second.Is("Transpose")) continue;
            if (second.Input(0) is not { Producer: { } first } middle || !first.Is("Transpose")) continue;
            if (!PassHelpers.IsOnlyConsumedBy(middle, second) || first.Input(0) is not { } source) continue;
            int? rank = source.TensorType?.Shape?.Rank;
            var p1 = first.GetInts("perm") ?? Reversed(rank);
            var p2 = second.GetInts("perm") ?? Reversed(rank);
            // A perm that is not a permutation of 0..rank-1 (a corrupt model) is left for the writer or runtime to refuse.
            if (p1 is null || p2 is null || p1.Length != p2.Length || !IsPermutation(p1) || !IsPermutation(p2)) continue;
            // Output dim i of the pair is input dim p1[p2[i]].
            var composed = p2.Select(i => p1[i]).ToArray();
            if (composed.Select((p, i) => p == i).All(x => x))
            {
                if (!PassHelpers.Bypass(graph, second, source)) continue;
                graph.RemoveNode(first);
                result.Count("pairs_removed");
            }
            else
            {
                second.SetInput(0, source);
                second.SetAttribute(Ir.Attribute.Of("perm", composed));
                graph.RemoveNode(first);
                result.Count("pairs_merged");
            }
        }
        return result;
    }

    private static bool IsPermutation(long[] perm)
    {
        var seen = new bool[perm.Length];
        foreach (long p in perm)
        {
            if (p < 0 || p >= perm.Length || seen[p]) return false;
            seen[p] = true;
        }
        return true;
    }

    private static long[]? Reversed(int? rank) => rank is int r ? Enumerable.Range(0, r).Reverse().Select(i => (long)i).ToArray() : null;
}
