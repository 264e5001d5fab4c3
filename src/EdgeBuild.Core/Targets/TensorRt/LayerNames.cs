using System.Text;
using EdgeBuild.Ir;
using EdgeBuild.Quantization;

namespace EdgeBuild.Targets.TensorRt;

/// <summary>
/// Gives every node of the kit's networks a unique name of letters, digits and <c>_ . / -</c>. TensorRT names each
/// layer after its ONNX node, and trtexec's --layerPrecisions takes <c>name:precision</c> pairs separated by commas, so a
/// name with ':' or ',' (or none at all) could not be addressed. Renaming nodes changes no computation. Nodes of If, Loop
/// and Scan bodies are layers too: they are named in the same space as the main graph's.
/// </summary>
internal static class LayerNames
{
    /// <summary>Renames the nodes of <paramref name="graph"/> and of its subgraphs; returns the new name of each node.</summary>
    public static Dictionary<Node, string> Assign(Graph graph)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        var result = new Dictionary<Node, string>();
        foreach (var node in graph.AllNodes())
        {
            string baseName = Sanitize(NodePatterns.NameOf(node));
            string name = baseName;
            for (int k = 2; !used.Add(name); k++) name = $"{baseName}_{k}";
            node.Name = name;
            result[node] = name;
        }
        return result;
    }

    private static string Sanitize(string name)
    {
        var b = new StringBuilder(name.Length);
        foreach (char c in name) b.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '/' or '-' ? c : '_');
        return b.Length == 0 ? "node" : b.ToString();
    }
}
