using System.Globalization;
using EdgeBuild.Diagnostics;

namespace EdgeBuild.Ir;

/// <summary>
/// The largest tensor EdgeBuild lets ONNX Runtime make while it runs a model at build time (calibration, accuracy,
/// measurement). A 207-byte model whose ConstantOfShape, Expand or Tile asks for 8 GiB would otherwise take the machine's
/// memory; it is refused before the run with EB2004. Judged from the shapes inference knows; EDGEBUILD_MAX_TENSOR_MB
/// raises or lowers the ceiling (default 2048).
/// </summary>
public static class MemoryCeiling
{
    public const long DefaultMaxTensorBytes = 2048L << 20;

    public static long MaxTensorBytes =>
        Environment.GetEnvironmentVariable("EDGEBUILD_MAX_TENSOR_MB") is { Length: > 0 } text
        && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long mb) && mb > 0 && mb < long.MaxValue >> 20
            ? mb << 20
            : DefaultMaxTensorBytes;

    /// <summary>Throws EB2004 naming the first tensor (node output, in every subgraph) over the ceiling; runs shape inference first.</summary>
    public static void Check(Model model, string subject)
    {
        ShapeInference.Infer(model);
        long max = MaxTensorBytes;
        foreach (var graph in model.Graph.SelfAndSubgraphs())
            foreach (var node in graph.Nodes)
                foreach (var v in node.Outputs)
                {
                    if (v?.TensorType is not { Shape: { } shape } type || shape.ElementCount() is not long count) continue;
                    long bytesPer = Math.Max(1, DataTypes.BitsPerElement(type.ElementType) / 8);
                    long bytes = count > long.MaxValue / bytesPer ? long.MaxValue : count * bytesPer;
                    if (bytes > max)
                        throw new EdgeBuildException(DiagnosticCodes.MemoryCeilingExceeded, subject,
                            $"'{v.Name}', output of node '{node.Name}' ({node.OpType}), would be {DataTypes.Name(type.ElementType)}{shape}: {Gib(bytes)} GiB, over the ceiling of {Gib(max)} GiB for one tensor");
                }
    }

    private static string Gib(long bytes) => (bytes / (double)(1L << 30)).ToString(bytes >= 1L << 50 ? "E2" : "0.##", CultureInfo.InvariantCulture);
}
