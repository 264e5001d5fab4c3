using EdgeBuild.Ir;
using EdgeBuild.Targets.Tflite.Schema;

namespace EdgeBuild.Targets.Tflite.Ops;

/// <summary>
/// If with a computed condition (a constant one the optimizer has already inlined): both branches are converted into
/// the main graph and SELECT_V2 picks each output by the condition. Both branches run on every invoke, which costs
/// time but keeps the file a single subgraph that every TFLite delegate and the int8 tooling understand; a branch
/// that cannot run on the other branch's inputs (shapes that differ, ops TFLite lacks) refuses the If, naming why.
/// </summary>
internal static class ControlFlowOps
{
    public static IEnumerable<(string, OpRule)> Rules()
    {
        yield return ("If", new OpRule(CheckIf, ConvertIf));
    }

    private static (Graph Then, Graph Else)? Branches(Node n) =>
        n.GetAttribute("then_branch")?.Graph is { } t && n.GetAttribute("else_branch")?.Graph is { } e ? (t, e) : null;

    private static string? CheckIf(Node n)
    {
        if (Branches(n) is not { } branches) return "a branch is missing";
        var (then, otherwise) = branches;
        var inner = then.Nodes.Concat(otherwise.Nodes)
            .Select(x => (Node: x, Why: TflOpRegistry.Unsupported(x))).Where(p => p.Why is not null).ToList();
        if (inner.Count > 0)
            return $"its branches hold {inner.Count} node(s) TFLite cannot express ({string.Join("; ", inner.Take(6).Select(p => $"{p.Node.OpType} {(p.Node.Name.Length > 0 ? p.Node.Name : p.Node.Output0.Name)}{(p.Why!.Length > 0 ? ": " + p.Why : "")}"))}{(inner.Count > 6 ? "; ..." : "")})";
        if (then.Outputs.Count != n.Outputs.Count || otherwise.Outputs.Count != n.Outputs.Count) return "its branches return a different number of outputs than it has";
        for (int i = 0; i < n.Outputs.Count; i++)
        {
            var a = then.Outputs[i].TensorType?.Shape;
            var b = otherwise.Outputs[i].TensorType?.Shape;
            if (a is not { IsStatic: true } || b is not { IsStatic: true } || !a.Equals(b))
                return $"output {i} comes out of the branches as {a?.ToString() ?? "[*]"} and {b?.ToString() ?? "[*]"}; both branches run in TFLite and SELECT_V2 picks one, so they must give one static shape";
            if (then.Outputs[i].TensorType!.ElementType != otherwise.Outputs[i].TensorType?.ElementType) return $"output {i} has different types in the branches";
        }
        return null;
    }

    private static void ConvertIf(Node n, TflConverter c)
    {
        var (then, otherwise) = Branches(n)!.Value;
        c.ConvertNodes(then.Nodes);
        c.ConvertNodes(otherwise.Nodes);
        int condition = c.InOnnx(n.Input(0)!);
        if (c.Tensor(condition).Shape.Length > 0)
        {
            // A one-element condition of any rank as a scalar: SELECT_V2 then broadcasts it over outputs of any rank.
            int scalar = c.NewTensor(n.Input(0)!.Name + "/scalar", [], Schema.TensorType.BOOL);
            c.Op(BuiltinOperator.RESHAPE, [condition, c.Int32Const(n.Input(0)!.Name + "/scalar_shape", [], [0])], [scalar], new ReshapeOptions([]));
            condition = scalar;
        }
        for (int i = 0; i < n.Outputs.Count; i++)
        {
            if (n.Outputs[i] is not { } output) continue;
            var perm = c.PermOf(then.Outputs[i]);
            int a = c.In(then.Outputs[i], perm), b = c.In(otherwise.Outputs[i], perm);
            c.Op(BuiltinOperator.SELECT_V2, [condition, a, b], [c.Out(output, perm)], null);
        }
    }
}
