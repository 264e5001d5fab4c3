using System.Globalization;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;

namespace EdgeBuild.Analysis;

/// <summary>
/// The most multiply-accumulates one inference may take when EdgeBuild runs the model at build time (calibration,
/// accuracy, measurement). Constant folding leaves an over-budget region as a computation (a ConstantOfShape 8192x8192
/// squared by a MatMul is 5.5e11 multiply-adds in a few hundred bytes), and one such run holds a core for about a
/// minute, so every calibration sample, every accuracy sample and every timed run would make the build hang. The
/// memory side is <see cref="MemoryCeiling"/>. Judged from the shapes inference knows (Conv, ConvTranspose, Gemm and
/// MatMul, as <c>edgebuild inspect</c> counts them); EDGEBUILD_MAX_GMACS raises or lowers it.
/// </summary>
public static class ComputeCeiling
{
    /// <summary>100 GMAC: 24 times ResNet-50 (4.1 GMAC) and 7 times a 640x640 YOLOv8s (14.3 GMAC); a server-size detector such as YOLOv8x (129 GMAC) needs EDGEBUILD_MAX_GMACS.</summary>
    public const long DefaultMaxMacs = 100_000_000_000;

    public static long MaxMacs =>
        Environment.GetEnvironmentVariable("EDGEBUILD_MAX_GMACS") is { Length: > 0 } text
        && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long g) && g > 0 && g < long.MaxValue / 1_000_000_000
            ? g * 1_000_000_000
            : DefaultMaxMacs;

    /// <summary>Throws EB1014 naming the largest layer when one inference of <paramref name="model"/> (every graph) is over the ceiling; runs shape inference first.</summary>
    public static void Check(Model model, string subject)
    {
        ShapeInference.Infer(model);
        long total = 0;
        (Node Node, long Macs)? largest = null;
        foreach (var graph in model.Graph.SelfAndSubgraphs())
            foreach (var node in graph.Nodes)
            {
                if (!MacCounter.IsComputeLayer(node) || MacCounter.Count(node) is not long macs) continue;
                total = macs > long.MaxValue - total ? long.MaxValue : total + macs;
                if (largest is null || macs > largest.Value.Macs) largest = (node, macs);
            }
        long max = MaxMacs;
        if (total <= max || largest is not { } top) return;
        throw new EdgeBuildException(DiagnosticCodes.ComputeCeilingExceeded, subject,
            $"one inference would take {Gmac(total)} GMAC ({Gmac(top.Macs)} of them in node '{top.Node.Name}' ({top.Node.OpType})), over the ceiling of {Gmac(max)} GMAC for running the model at build time");
    }

    private static string Gmac(long macs) => (macs / 1e9).ToString(macs >= 1_000_000_000_000_000 ? "E2" : "0.#", CultureInfo.InvariantCulture);
}
