namespace EdgeBuild.Ir;

/// <summary>
/// Checks the IR's invariants: every input is defined and visible, use lists match inputs, nodes are in
/// topological order, outputs are defined. Tests run it after every pass; a failure is a bug in a pass.
/// </summary>
public static class GraphVerifier
{
    public static IReadOnlyList<string> Verify(Graph graph)
    {
        var problems = new List<string>();
        VerifyGraph(graph, problems);
        return problems;
    }

    public static void ThrowIfInvalid(Graph graph, string afterWhat)
    {
        var problems = Verify(graph);
        if (problems.Count > 0)
            throw new InvalidOperationException($"graph invalid after {afterWhat}: {string.Join("; ", problems.Take(10))}");
    }

    private static void VerifyGraph(Graph g, List<string> problems)
    {
        var defined = new HashSet<Value>();
        foreach (var v in g.Inputs)
        {
            if (!v.IsGraphInput) problems.Add($"{g.Name}: input '{v.Name}' not flagged as input");
            defined.Add(v);
        }
        foreach (var v in g.Initializers)
        {
            if (v.Producer is not null) problems.Add($"{g.Name}: initializer '{v.Name}' has a producer");
            if (v.Initializer is null && v.SparseInitializer is null) problems.Add($"{g.Name}: initializer '{v.Name}' has no data");
            defined.Add(v);
        }
        foreach (var v in g.Values)
            if (g.LookupLocal(v.Name) != v) problems.Add($"{g.Name}: value '{v.Name}' not registered under its name");

        foreach (var n in g.Nodes)
        {
            if (n.Graph != g) problems.Add($"{g.Name}: node {n} claims another graph");
            for (int i = 0; i < n.Inputs.Count; i++)
            {
                var v = n.Inputs[i];
                if (v is null) continue;
                if (!v.Uses.Contains(new Use(n, i))) problems.Add($"{g.Name}: {n} input {i} '{v.Name}' missing from its use list");
                if (v.Graph == g)
                {
                    if (!defined.Contains(v)) problems.Add($"{g.Name}: {n} reads '{v.Name}' before it is defined (or it is not defined)");
                }
                else if (!v.Graph.Encloses(g) || !IsDefinedIn(v))
                {
                    problems.Add($"{g.Name}: {n} reads '{v.Name}', which is not visible from here");
                }
            }
            for (int i = 0; i < n.Outputs.Count; i++)
            {
                var o = n.Outputs[i];
                if (o is null) continue;
                if (o.Producer != n || o.ProducerOutputIndex != i) problems.Add($"{g.Name}: output '{o.Name}' of {n} has wrong producer link");
                if (o.Graph != g || g.LookupLocal(o.Name) != o) problems.Add($"{g.Name}: output '{o.Name}' of {n} not in scope");
                if (!defined.Add(o)) problems.Add($"{g.Name}: '{o.Name}' defined twice");
            }
            foreach (var s in n.Subgraphs)
            {
                if (s.Parent != g) problems.Add($"{g.Name}: subgraph '{s.Name}' of {n} has the wrong parent");
                VerifyGraph(s, problems);
            }
        }

        foreach (var v in g.Values)
            foreach (var u in v.Uses)
            {
                if (u.Node.Graph is null) problems.Add($"{g.Name}: '{v.Name}' is used by removed node {u.Node}");
                else if (u.InputIndex >= u.Node.Inputs.Count || u.Node.Inputs[u.InputIndex] != v)
                    problems.Add($"{g.Name}: stale use of '{v.Name}' by {u.Node} input {u.InputIndex}");
            }

        foreach (var v in g.Outputs)
        {
            if (!v.IsGraphOutput) problems.Add($"{g.Name}: output '{v.Name}' not flagged as output");
            if (v.Graph == g ? !defined.Contains(v) : !IsDefinedIn(v)) problems.Add($"{g.Name}: output '{v.Name}' is not defined");
        }
    }

    private static bool IsDefinedIn(Value v) =>
        v.IsGraphInput || v.Initializer is not null || v.SparseInitializer is not null || (v.Producer is { Graph: not null } p && p.Graph == v.Graph);
}
