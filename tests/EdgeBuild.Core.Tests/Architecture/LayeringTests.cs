using System.Text.RegularExpressions;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Architecture;

/// <summary>
/// The dependency direction inside EdgeBuild.Core (docs/architecture.md, "Rules of the road"), read from the compiled
/// assembly: a namespace may use its own layer and the layers below it, never one above, except for the upward edges
/// listed here and in the document (none today). The list must stay true both ways: a new upward edge fails, and
/// so does a listed one that the code no longer has (take it off the list and the document).
/// </summary>
public sealed class LayeringTests
{
    /// <summary>The layers of EdgeBuild.Core, lowest first (the second part of a namespace: EdgeBuild.Targets.Tflite is Targets).</summary>
    internal static readonly string[] Order =
        ["Diagnostics", "Ir", "Onnx", "Analysis", "Passes", "Measure", "Quantization", "Session", "Targets", "Devices", "Reports", "Compile", "Packaging"];

    /// <summary>
    /// Upward edges allowed as exceptions, each with the types that make it; docs/architecture.md carries the same list.
    /// Empty since the compile session (issue 14): keep it so, by moving the type or inverting the call.
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, string> KnownUpwardEdges = new Dictionary<string, string>();

    private static readonly Lazy<IReadOnlyList<NamespaceDependencies.Edge>> CoreEdges = new(() =>
        NamespaceDependencies.Read(typeof(EdgeBuild.Ir.Graph).Assembly.Location, LayerOf));

    private static string? LayerOf(string ns)
    {
        if (!ns.StartsWith("EdgeBuild.", StringComparison.Ordinal)) return null; // embedded compiler attributes
        string layer = ns.Split('.')[1];
        return Order.Contains(layer) ? layer
            : throw new InvalidOperationException($"namespace {ns} has no place in LayeringTests.Order: add its layer there and in docs/architecture.md");
    }

    private static bool IsUpward(NamespaceDependencies.Edge e) => Array.IndexOf(Order, e.From) < Array.IndexOf(Order, e.To);

    [Fact]
    public void Every_edge_points_down_the_layers_or_is_a_listed_exception()
    {
        var upward = CoreEdges.Value.Where(IsUpward).ToList();
        var unlisted = upward.Where(e => !KnownUpwardEdges.ContainsKey($"{e.From} -> {e.To}"))
            .Select(e => $"{e.From} -> {e.To}, made by:\n    {string.Join("\n    ", e.References)}").ToList();
        Assert.True(unlisted.Count == 0,
            $"new upward edges in EdgeBuild.Core (order, lowest first: {string.Join(" < ", Order)}); move the type or invert the call:\n" +
            string.Join("\n", unlisted));

        var gone = KnownUpwardEdges.Keys.Where(k => !upward.Any(e => $"{e.From} -> {e.To}" == k)).ToList();
        Assert.True(gone.Count == 0,
            $"listed upward edges the code no longer has: {string.Join(", ", gone)}; remove them from KnownUpwardEdges and from docs/architecture.md");
    }

    [Fact]
    public void The_document_lists_the_same_order_and_exceptions()
    {
        string doc = File.ReadAllText(Path.Combine(TestData.RepoRoot, "docs", "architecture.md"));
        Assert.Contains(string.Join(" < ", Order.Select(l => $"`{l}`")), doc);
        // The exceptions table: rows that start with the edge in backquotes.
        var listed = Regex.Matches(doc, @"^\| `(\w+ -> \w+)` \|", RegexOptions.Multiline).Select(m => m.Groups[1].Value).Order().ToList();
        Assert.Equal(KnownUpwardEdges.Keys.Order().ToList(), listed);
    }

    [Fact]
    public void Every_namespace_of_the_core_has_a_layer()
    {
        // LayerOf throws for an EdgeBuild namespace outside Order; reading the edges visits every type.
        Assert.NotEmpty(CoreEdges.Value);
        Assert.All(typeof(EdgeBuild.Ir.Graph).Assembly.GetTypes().Where(t => t.Namespace is not null),
            t => Assert.True(!t.Namespace!.StartsWith("EdgeBuild.", StringComparison.Ordinal) || LayerOf(t.Namespace) is not null));
    }

    [Fact]
    public void Edges_are_read_from_method_bodies_closures_and_generic_arguments()
    {
        // The fixture's namespaces reach Bottom only inside method bodies (no field, signature or base type names it), the
        // way the core often writes a qualified call with no using line.
        const string prefix = "EdgeBuild.Tests.Architecture.LayeringFixture.";
        var edges = NamespaceDependencies.Read(typeof(LayeringTests).Assembly.Location,
            ns => ns.StartsWith(prefix, StringComparison.Ordinal) ? ns[prefix.Length..] : null);
        Assert.Equal(["CallOnly -> Bottom", "GenericArgumentOnly -> Bottom", "LambdaOnly -> Bottom"],
            edges.Select(e => $"{e.From} -> {e.To}").Order().ToArray());
        Assert.Contains($"{prefix}LambdaOnly.User -> {prefix}Bottom.Helper", edges.Single(e => e.From == "LambdaOnly").References);
    }
}
