using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// One graph rewrite. Passes are stateless (state lives in <see cref="PassContext"/>), so one instance can
/// serve every model; each reports what it did in a <see cref="PassResult"/>.
/// </summary>
public interface IPass
{
    /// <summary>The name used by <c>--passes</c> and in the pass table (kebab-case).</summary>
    string Name { get; }

    /// <summary>One line for <c>--help</c> and docs.</summary>
    string Description { get; }

    PassResult Run(Model model, PassContext context);
}

/// <summary>Options and services shared by the passes of one pipeline run.</summary>
public sealed class PassContext
{
    public PassContext(OptimizeOptions options, CancellationToken cancellationToken = default)
    {
        Options = options;
        CancellationToken = cancellationToken;
    }

    public OptimizeOptions Options { get; }
    public CancellationToken CancellationToken { get; }

    /// <summary>Receives warnings a pass wants the user to see (e.g. a BatchNormalization it could not fold).</summary>
    public Action<string> Warn { get; init; } = _ => { };

    /// <summary>Receives information lines (e.g. a constant left as a computation because it is over the folding budget).</summary>
    public Action<string> Info { get; init; } = _ => { };
}

/// <summary>Settings of an optimization run.</summary>
public sealed record OptimizeOptions
{
    /// <summary>Convert the default-domain opset up to this version first (null: keep the model's opset).</summary>
    public long? TargetOpset { get; init; }

    /// <summary>Run <see cref="GraphVerifier"/> after every pass (tests always do; it costs little).</summary>
    public bool VerifyAfterEachPass { get; init; } = true;

    /// <summary>
    /// Largest tensor constant folding may create, unless it is no larger than the constants it replaces. Keeps
    /// zero-padding tensors (ConstantOfShape, Expand) as cheap computations instead of bytes in the file.
    /// </summary>
    public long MaxFoldedTensorBytes { get; init; } = 4 << 10;

    /// <summary>
    /// Largest result constant folding evaluates at build time, in bytes, per node (by the inferred output shape). A
    /// ConstantOfShape, Expand or Tile of gigabytes in a few bytes of model stays a computation instead of filling memory.
    /// </summary>
    public long MaxFoldingResultBytes { get; init; } = 64L << 20;

    /// <summary>Largest sum of the results of one constant region evaluated at once, in bytes.</summary>
    public long MaxFoldingRegionBytes { get; init; } = 256L << 20;

    /// <summary>Largest multiply-accumulate count of one folded MatMul, Gemm or convolution (an 8192x8192 MatMul of constants is 2^39).</summary>
    public long MaxFoldingMacs { get; init; } = 1L << 30;

    /// <summary>Longest ONNX Runtime may take to evaluate the constant region; past it folding is skipped with a warning.</summary>
    public TimeSpan FoldingTimeLimit { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>How many times the pipeline is repeated at most while passes still change the graph.</summary>
    public int MaxRounds { get; init; } = 4;
}

/// <summary>What a pass did: counted changes, notes about what it left alone, and whether the graph changed.</summary>
public sealed class PassResult
{
    private readonly List<KeyValuePair<string, long>> changes = [];
    private readonly List<KeyValuePair<string, long>> notes = [];

    public bool Changed => changes.Any(c => c.Value != 0);

    /// <summary>Changes made (e.g. "folded_into_conv" 22); summed over rounds in the report.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> Changes => changes;

    /// <summary>Facts that are not changes (e.g. "not_folded" 1); the report shows the last round's.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> Notes => notes;

    public PassResult Count(string counter, long amount = 1)
    {
        Add(changes, counter, amount);
        return this;
    }

    public PassResult Note(string counter, long amount = 1)
    {
        Add(notes, counter, amount);
        return this;
    }

    /// <summary>A change or note by name (0 when absent).</summary>
    public long this[string counter] => changes.Concat(notes).Where(c => c.Key == counter).Sum(c => c.Value);

    private static void Add(List<KeyValuePair<string, long>> list, string counter, long amount)
    {
        int i = list.FindIndex(c => c.Key == counter);
        if (i >= 0) list[i] = new(counter, list[i].Value + amount);
        else list.Add(new(counter, amount));
    }
}
