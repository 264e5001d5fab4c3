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
        // Identity/Dropout sit between Conv and BatchNorm in some exports; removing them enables the folds.
        new IdentityElimination(),
        new NoOpElimination(),
        new TransposeCancellation(),
        // BatchNorm before Mul/Add: a Conv->BN->Mul chain folds BN first, then the Mul into the same Conv.
        new BatchNormFolding(),
        new ConvMulAddFolding(),
        new MatMulAddToGemm(),
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
        int nodesBefore = model.Graph.Nodes.Count;
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
                ShapeInference.ClearInferred(model.Graph);
                ShapeInference.Infer(model);
                firstNodes.TryAdd(pass.Name, model.Graph.Nodes.Count);
                var sw = Stopwatch.StartNew();
                var result = pass.Run(model, context);
                sw.Stop();
                time[pass.Name] += sw.Elapsed;
                lastNodes[pass.Name] = model.Graph.Nodes.Count;
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
        ShapeInference.ClearInferred(model.Graph);
        ShapeInference.Infer(model);
        model.Graph.SortTopologically();
        var records = passes.Select(p => new PassRecord(p.Name, time[p.Name], firstNodes[p.Name], lastNodes[p.Name], rounds[p.Name], changes[p.Name].Changes.Concat(lastNotes[p.Name]).ToList())).ToList();
        return new OptimizationReport(records, round, nodesBefore, model.Graph.Nodes.Count, initsBefore, model.Graph.Initializers.Count, total.Elapsed);
    }

    private static void Verify(Model model, string passName)
    {
        var problems = GraphVerifier.Verify(model.Graph);
        if (problems.Count > 0)
            throw new EdgeBuildException(DiagnosticCodes.VerifierFailed, passName, $"the graph is invalid after pass '{passName}': {string.Join("; ", problems.Take(3))}");
    }
}
