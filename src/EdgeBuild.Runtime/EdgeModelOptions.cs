namespace EdgeBuild.Runtime;

/// <summary>
/// How a generated model class loads and runs its model. Every property has a default suited to an
/// edge device: the manifest's execution provider, one intra-op thread, sequential execution, all
/// graph optimizations, the artifact next to the application.
/// </summary>
public sealed class EdgeModelOptions
{
    /// <summary>
    /// The execution provider to ask for; <see langword="null"/> (the default) takes the one the model
    /// was compiled for (the manifest's <c>options.executionProvider</c>). When CUDA or TensorRT is asked
    /// for but the ONNX Runtime build or the machine lacks it, the session runs on the CPU and
    /// <see cref="Log"/> gets one line saying why.
    /// </summary>
    public ExecutionProvider? ExecutionProvider { get; init; }

    /// <summary>The GPU for CUDA and TensorRT (default 0).</summary>
    public int DeviceId { get; init; }

    /// <summary>
    /// Threads ONNX Runtime uses inside one operator (default 1: predictable latency, no thread pool
    /// spinning next to the application's own threads). 0 lets ONNX Runtime choose (one per core).
    /// </summary>
    public int IntraOpThreads { get; init; } = 1;

    /// <summary>Threads that run independent operators at once when <see cref="ParallelExecution"/> is on (default 1; 0 lets ONNX Runtime choose).</summary>
    public int InterOpThreads { get; init; } = 1;

    /// <summary>Run independent branches of the graph in parallel (default <see langword="false"/>: sequential).</summary>
    public bool ParallelExecution { get; init; }

    /// <summary>ONNX Runtime's graph optimization level when the session loads (default <see cref="GraphOptimization.All"/>).</summary>
    public GraphOptimization GraphOptimization { get; init; } = GraphOptimization.All;

    /// <summary>
    /// The folder the manifest's artifact paths are relative to. Default: <see cref="AppContext.BaseDirectory"/>,
    /// where the build copies the artifacts (keeping their paths relative to the manifest).
    /// </summary>
    public string? ModelDirectory { get; init; }

    /// <summary>
    /// Where the runtime reports what the application should know but that is no error (today: one line
    /// when an execution provider falls back to the CPU). Default: a line on standard error.
    /// </summary>
    public Action<string>? Log { get; init; }

    /// <summary>
    /// Called with ONNX Runtime's session options after EdgeBuild has set them and before the session is
    /// created: the escape hatch for settings EdgeBuild does not expose (profiling, custom operators, ...).
    /// </summary>
    public Action<Microsoft.ML.OnnxRuntime.SessionOptions>? ConfigureSessionOptions { get; init; }

    /// <summary>The TensorRT execution provider's engine cache, precision flags and calibration table (used when TensorRT runs the model).</summary>
    public TensorRtOptions TensorRt { get; init; } = new();

    /// <summary>
    /// Over-the-air updates: the session runs the updater's active version and moves to each new one at the start of
    /// its next run (docs/lifecycle.md). <see langword="null"/> (the default): the artifacts built with the application.
    /// </summary>
    public Updates.ModelUpdater? Updates { get; init; }

    /// <summary>The version the artifacts built with the application report in metrics (default <c>0.0.0</c>); with <see cref="Updates"/>, the updater's <see cref="Updates.ModelUpdaterOptions.BundledVersion"/> counts.</summary>
    public string BundledVersion { get; init; } = "0.0.0";

    internal void Validate()
    {
        if (IntraOpThreads < 0) throw new ArgumentOutOfRangeException(nameof(IntraOpThreads), IntraOpThreads, "IntraOpThreads must be 0 (ONNX Runtime chooses) or more.");
        if (InterOpThreads < 0) throw new ArgumentOutOfRangeException(nameof(InterOpThreads), InterOpThreads, "InterOpThreads must be 0 (ONNX Runtime chooses) or more.");
        if (DeviceId < 0) throw new ArgumentOutOfRangeException(nameof(DeviceId), DeviceId, "DeviceId must not be negative.");
        if (ExecutionProvider is { } ep && !Enum.IsDefined(ep)) throw new ArgumentOutOfRangeException(nameof(ExecutionProvider), ep, "Unknown execution provider.");
        if (!Enum.IsDefined(GraphOptimization)) throw new ArgumentOutOfRangeException(nameof(GraphOptimization), GraphOptimization, "Unknown graph optimization level.");
    }
}
