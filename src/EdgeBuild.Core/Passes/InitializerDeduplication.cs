using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// Shares identical weights: initializers with the same type, dims and bytes (SHA-256 of all three,
/// then compared byte for byte) are merged into the first one. The article's "shared weights". Each If/Loop/Scan
/// body is deduplicated within itself.
/// </summary>
public sealed class InitializerDeduplication : IPass
{
    public string Name => "initializer-deduplication";
    public string Description => "Identical initializers are merged (shared weights)";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        foreach (var graph in model.Graph.SelfAndSubgraphs().ToList())
            DeduplicateIn(graph, result);
        return result;
    }

    private static void DeduplicateIn(Graph graph, PassResult result)
    {
        var firstByHash = new Dictionary<string, List<Value>>(StringComparer.Ordinal);
        foreach (var v in graph.Initializers.ToList())
        {
            // Overridable inputs and graph outputs are part of the interface: never merged.
            if (v.ConstantValue is not { } tensor || v.IsGraphOutput) continue;
            string hash = tensor.ContentHash();
            if (!firstByHash.TryGetValue(hash, out var kept))
            {
                firstByHash[hash] = [v];
                continue;
            }
            var same = kept.FirstOrDefault(k => k.ConstantValue!.ContentEquals(tensor));
            if (same is null)
            {
                kept.Add(v);
                continue;
            }
            Graph.ReplaceAllUses(v, same);
            graph.RemoveInitializer(v);
            result.Count("duplicates_removed");
            result.Count("bytes_saved", tensor.Raw.LongLength);
        }
    }
}
