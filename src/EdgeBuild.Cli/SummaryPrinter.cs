using System.Globalization;
using EdgeBuild.Analysis;

namespace EdgeBuild.Cli;

/// <summary>The human-readable form of <c>edgebuild inspect</c>.</summary>
internal static class SummaryPrinter
{
    public static void Print(ModelSummary s, TextWriter w)
    {
        var inv = CultureInfo.InvariantCulture;
        w.WriteLine($"{s.Path}: {Commands.Bytes(s.FileBytes)}, IR {s.IrVersion}, opsets {string.Join(", ", s.Opsets.Select(o => $"{(o.Domain.Length == 0 ? "ai.onnx" : o.Domain)} {o.Version}"))}{(s.Producer is null ? "" : $", producer {s.Producer}")}");
        w.WriteLine();
        var io = new List<string[]> { new[] { "io", "name", "type", "shape" } };
        io.AddRange(s.Inputs.Select(t => new[] { "input", t.Name, t.ElementType, "[" + string.Join(",", t.Shape) + "]" }));
        io.AddRange(s.Outputs.Select(t => new[] { "output", t.Name, t.ElementType, "[" + string.Join(",", t.Shape) + "]" }));
        TextTable.Write(io, w);
        w.WriteLine();
        w.WriteLine(string.Create(inv, $"nodes {s.NodeCount}, parameters {s.Parameters:N0} ({Commands.Bytes(s.ParameterBytes)})"));
        w.WriteLine("operators: " + string.Join(", ", s.OpHistogram.Select(kv => $"{kv.Key} {kv.Value}")));
        w.WriteLine();
        var layers = new List<string[]> { new[] { "layer", "op", "MACs" } };
        layers.AddRange(s.Layers.Select(l => new[] { l.Node, l.OpType, l.Macs?.ToString("N0", inv) ?? "symbolic" }));
        TextTable.Write(layers, w);
        w.WriteLine(string.Create(inv, $"total MACs {s.KnownMacs:N0}{(s.LayersWithSymbolicDims > 0 ? $" (+{s.LayersWithSymbolicDims} layers with symbolic dims not counted)" : "")}"));
    }
}
