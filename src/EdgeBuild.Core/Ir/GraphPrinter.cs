using System.Globalization;
using System.Text;

namespace EdgeBuild.Ir;

/// <summary>
/// A readable, stable text form of a model, for snapshot tests, diffs and <c>edgebuild optimize --dump</c>.
/// One line per input, initializer, node and output; constants show a content hash (or their values
/// when tiny), so two printouts are equal exactly when the graphs are.
/// </summary>
public static class GraphPrinter
{
    public static string Print(Model model)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"model ir={model.IrVersion} opsets=");
        sb.AppendJoin(",", model.Opsets.Select(o => $"{(o.Domain.Length == 0 ? "ai.onnx" : o.Domain)}:{o.Version}"));
        if (model.ProducerName is not null) sb.Append(CultureInfo.InvariantCulture, $" producer={model.ProducerName}");
        if (model.Functions.Count > 0) sb.Append(CultureInfo.InvariantCulture, $" functions={model.Functions.Count}");
        sb.Append('\n');
        PrintGraph(sb, model.Graph, "");
        return sb.ToString();
    }

    public static string Print(Graph graph)
    {
        var sb = new StringBuilder();
        PrintGraph(sb, graph, "");
        return sb.ToString();
    }

    private static void PrintGraph(StringBuilder sb, Graph g, string indent)
    {
        sb.Append(indent).Append("graph ").Append(g.Name).Append(" {\n");
        string inner = indent + "  ";
        foreach (var v in g.Inputs)
            sb.Append(inner).Append("input ").Append(v.Name).Append(": ").Append(TypeText(v.Type)).Append(v.Initializer is not null ? " (has default)" : "").Append('\n');
        foreach (var v in g.Initializers)
            sb.Append(inner).Append("init ").Append(v.Name).Append(" = ").Append(ConstantText(v)).Append('\n');
        foreach (var n in g.Nodes)
        {
            sb.Append(inner);
            sb.AppendJoin(", ", n.Outputs.Select(o => o is null ? "_" : $"%{o.Name}: {TypeText(o.Type)}"));
            sb.Append(" = ");
            if (!n.IsStandardDomain) sb.Append(n.Domain).Append("::");
            sb.Append(n.OpType).Append('(');
            sb.AppendJoin(", ", n.Inputs.Select(i => i is null ? "_" : i.Name));
            sb.Append(')');
            var plain = n.Attributes.Where(a => a.Kind is not (AttributeKind.Graph or AttributeKind.Graphs)).ToList();
            if (plain.Count > 0)
            {
                sb.Append(" {");
                sb.AppendJoin(", ", plain.Select(a => $"{a.Name}={AttributeText(a)}"));
                sb.Append('}');
            }
            if (n.Name.Length > 0) sb.Append("  # ").Append(n.Name);
            sb.Append('\n');
            foreach (var a in n.Attributes)
                foreach (var s in a.Subgraphs)
                {
                    sb.Append(inner).Append("  ").Append(a.Name).Append(":\n");
                    PrintGraph(sb, s, inner + "    ");
                }
        }
        foreach (var v in g.Outputs)
            sb.Append(inner).Append("output ").Append(v.Name).Append(": ").Append(TypeText(v.Type)).Append('\n');
        sb.Append(indent).Append("}\n");
    }

    public static string TypeText(ValueType? type) => type?.ToString() ?? "?";

    private static string ConstantText(Value v)
    {
        if (v.SparseInitializer is { } s) return $"sparse {DataTypes.Name(s.Values.ElementType)}{Shape.Of(s.Dims)} nnz={s.Values.ElementCount}";
        var t = v.Initializer!;
        return $"{t} {TensorText(t)}";
    }

    public static string TensorText(Tensor t)
    {
        if (t.ElementCount <= 8 && t.Strings is null && DataTypes.BitsPerElement(t.ElementType) >= 8 && t.ElementType is not (DataType.Complex64 or DataType.Complex128))
        {
            string[] items = t.ElementType switch
            {
                DataType.Float or DataType.Double or DataType.Float16 => t.ToFloats().Select(f => f.ToString("R", CultureInfo.InvariantCulture)).ToArray(),
                DataType.BFloat16 or DataType.Float8E4M3FN or DataType.Float8E4M3FNUZ or DataType.Float8E5M2 or DataType.Float8E5M2FNUZ =>
                    t.Raw.Select(b => b.ToString("x2", CultureInfo.InvariantCulture)).ToArray(),
                DataType.UInt64 => t.AsSpan<ulong>().ToArray().Select(x => x.ToString(CultureInfo.InvariantCulture)).ToArray(),
                _ => t.ToInt64s().Select(x => x.ToString(CultureInfo.InvariantCulture)).ToArray(),
            };
            return "[" + string.Join(",", items) + "]";
        }
        return "#" + t.ContentHash()[..12].ToLowerInvariant();
    }

    private static string AttributeText(Attribute a) => a.Kind switch
    {
        AttributeKind.Float => a.Float.ToString("R", CultureInfo.InvariantCulture),
        AttributeKind.Int => a.Int.ToString(CultureInfo.InvariantCulture),
        AttributeKind.String => Quote(a.String),
        AttributeKind.Floats => "[" + string.Join(",", a.Floats.Select(f => f.ToString("R", CultureInfo.InvariantCulture))) + "]",
        AttributeKind.Ints => "[" + string.Join(",", a.Ints.Select(i => i.ToString(CultureInfo.InvariantCulture))) + "]",
        AttributeKind.Strings => "[" + string.Join(",", a.Strings.Select(Quote)) + "]",
        AttributeKind.Tensor when a.Tensor is not null => $"{a.Tensor} {TensorText(a.Tensor)}",
        AttributeKind.Tensors => "[" + string.Join(",", a.Tensors.Select(t => $"{t} {TensorText(t)}")) + "]",
        AttributeKind.SparseTensor when a.SparseTensor is not null => $"sparse{Shape.Of(a.SparseTensor.Dims)}",
        AttributeKind.TypeProto => TypeText(a.TypeProto),
        AttributeKind.TypeProtos => "[" + string.Join(",", a.TypeProtos.Select(TypeText)) + "]",
        _ => a.RefAttrName is not null ? "@" + a.RefAttrName : "?",
    };

    private static string Quote(byte[] bytes)
    {
        var s = System.Text.Encoding.UTF8.GetString(bytes);
        return "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal) + "\"";
    }
}
