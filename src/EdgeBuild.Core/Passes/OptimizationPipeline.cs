using System.Diagnostics;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>What one pass did over the whole run (summed over rounds).</summary>
public sealed record PassRecord(string Name, TimeSpan Time, int NodesBefore, int NodesAfter, int Rounds, IReadOnlyList<KeyValuePair<string, long>> Counters)
{
    /// <summary>The counters as "name=value" pairs, for the pass table.</summary>
    public string Summary => Counters.Count == 0 ? "-" : string.Join(", ", Counters.Select(c => $"{c.Key.Replace('_', ' ')} {c.Value}"));
}

/// <summary>The outcome of <see cref="OptimizationPipeline.Run"/>: per-pass records and graph sizes before and after.</summary>
public sealed record OptimizationReport(IReadOnlyList<PassRecord> Passes, int Rounds, int NodesBefore, int NodesAfter, int InitializersBefore, int InitializersAfter, TimeSpan Total);

/// <summary>
/// THE optimization pipeline: every pass, in the one order they run. The list repeats until a round
/// changes nothing (at most <see cref="OptimizeOptions.MaxRounds"/>), because one rewrite exposes another
/// (folding a Shape chain turns a Reshape into a no-op; removing a Dropout puts a BatchNorm next to its Conv).
/// </summary>
public static class OptimizationPipeline
{
    public static IReadOnlyList<IPass> DefaultPasses { get; } =
    [
        // First, so every later pass sees one operator set.
        new OpsetConversion(),
        // Before folding: paddle2onnx-style Constant weights must be initializers to be folded into anything.
        new ConstantToInitializer(),
        // Evaluates shape arithmetic (Shape->Gather->Concat->Reshape) so the no-op Reshape check can see it.
        new ConstantFolding(),
        // After folding, which is what makes most conditions constant (a sample rate from a fixed input); the branch's
        // nodes then meet every later pass in the enclosing graph.
        new ConstantIfInlining(),
        // Identity/Dropout sit between Conv and BatchNorm in some exports; removing them enables the folds.
        new IdentityElimination(),
        new NoOpElimination(),
        new TransposeCancellation(),
        // After identity and no-op removal, which make equal computations read the same values; before the folds,
        // so a shared shape chain is folded or fused once.
        new CommonSubexpressionElimination(),
        // After CSE (one Shape per tensor left): the Reshape targets built from shapes become constants.
        new ReshapeShapeSimplification(),
        // After folding, which leaves ConstantOfShape zeros unfolded (larger than the budget) for this to find.
        new ConcatZerosToPad(),
        // After folding and CSE, which make a Pad's amounts and fill value the constants it checks.
        new PadFusion(),
        // BatchNorm before Mul/Add: a Conv->BN->Mul chain folds BN first, then the Mul into the same Conv.
        new BatchNormFolding(),
        new ConvMulAddFolding(),
        new MatMulAddToGemm(),
        // After CSE, which merges the two (x - mean) some exports compute, and after folding, which turns the epsilon,
        // the 0.5 and the sqrt 2 into the constants these match. Each fuses only where the model's opset has the op.
        new LayerNormFusion(),
        new GeluFusion(),
        // Cleanup after the rewrites: the old weights of folded layers become unused here.
        new DeadCodeElimination(),
        // Sharing and flushing run on the final set of weights, so nothing new is created after them.
        new InitializerDeduplication(),
        new SubnormalFlushing(),
    ];

    public static IReadOnlyList<string> PassNames => DefaultPasses.Select(p => p.Name).ToList();

    /// <summary>
    /// The passes named in <paramref name="names"/>, in pipeline order (the order given does not matter).
    /// Throws EB2001 for an unknown name.
    /// </summary>
    public static IReadOnlyList<IPass> Select(IEnumerable<string> names, string subject = "--passes")
    {
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var raw in names)
        {
            var name = raw.Trim();
            if (name.Length == 0) continue;
            if (!DefaultPasses.Any(p => p.Name == name))
                throw new EdgeBuildException(DiagnosticCodes.UnknownPass, subject, $"there is no pass named '{name}' (passes: {string.Join(", ", PassNames)})");
            wanted.Add(name);
        }
        return DefaultPasses.Where(p => wanted.Contains(p.Name)).ToList();
    }

    /// <summary>Runs the passes over <paramref name="model"/> in place; information lines go to <paramref name="info"/>, or to <paramref name="progress"/> without it.</summary>
    public static OptimizationReport Run(Model model, OptimizeOptions options, IReadOnlyList<IPass>? passes = null,
        Action<string>? progress = null, Action<string>? warn = null, CancellationToken cancellationToken = default, Action<string>? info = null)
    {
        passes ??= DefaultPasses;
        var context = new PassContext(options, cancellationToken) { Warn = warn ?? (_ => { }), Info = info ?? progress ?? (_ => { }) };
        var total = Stopwatch.StartNew();
        int nodesBefore = NodeCount(model);
        int initsBefore = model.Graph.Initializers.Count;
        var time = passes.ToDictionary(p => p.Name, _ => TimeSpan.Zero);
        var firstNodes = new Dictionary<string, int>();
        var lastNodes = new Dictionary<string, int>();
        var changes = passes.ToDictionary(p => p.Name, _ => new PassResult());
        var lastNotes = passes.ToDictionary(p => p.Name, _ => (IReadOnlyList<KeyValuePair<string, long>>)[]);
        var rounds = passes.ToDictionary(p => p.Name, _ => 0);
        int round = 0;
        bool changed = true;
        while (changed && round < Math.Max(1, options.MaxRounds))
        {
            round++;
            changed = false;
            foreach (var pass in passes)
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Invoke($"round {round}: {pass.Name}");
                InferShapes(model);
                firstNodes.TryAdd(pass.Name, NodeCount(model));
                var sw = Stopwatch.StartNew();
                var result = pass.Run(model, context);
                sw.Stop();
                time[pass.Name] += sw.Elapsed;
                lastNodes[pass.Name] = NodeCount(model);
                rounds[pass.Name]++;
                foreach (var c in result.Changes) changes[pass.Name].Count(c.Key, c.Value);
                lastNotes[pass.Name] = result.Notes;
                if (result.Changed)
                {
                    changed = true;
                    if (options.VerifyAfterEachPass) Verify(model, pass.Name);
                }
            }
        }
        InferShapes(model);
        model.Graph.SortTopologically();
        var records = passes.Select(p => new PassRecord(p.Name, time[p.Name], firstNodes[p.Name], lastNodes[p.Name], rounds[p.Name], changes[p.Name].Changes.Concat(lastNotes[p.Name]).ToList())).ToList();
        return new OptimizationReport(records, round, nodesBefore, NodeCount(model), initsBefore, model.Graph.Initializers.Count, total.Elapsed);
    }

    /// <summary>Fresh inferred types for the main graph and the If branches (not Loop/Scan bodies: <see cref="PassHelpers.HasFixedShapes"/>).</summary>
    private static void InferShapes(Model model)
    {
        foreach (var graph in model.Graph.SelfAndSubgraphs().ToList())
        {
            ShapeInference.ClearInferred(graph);
            if (PassHelpers.HasFixedShapes(graph)) ShapeInference.Infer(graph, model.DefaultOpset);
        }
    }

    /// <summary>Nodes of the model, those inside If/Loop/Scan bodies included (inlining a branch moves them, it does not add any).</summary>
    public static int NodeCount(Model model) => model.Graph.AllNodes().Count();

    private static void Verify(Model model, string passName)
    {
        var problems = GraphVerifier.Verify(model.Graph);
        if (problems.Count > 0)
            throw new EdgeBuildException(DiagnosticCodes.VerifierFailed, passName, $"the graph is invalid after pass '{passName}': {string.Join("; ", problems.Take(3))}");
    }
}
