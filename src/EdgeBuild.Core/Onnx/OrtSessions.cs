using Microsoft.ML.OnnxRuntime;

namespace EdgeBuild.Onnx;

/// <summary>
/// Every ONNX Runtime session setting the compiler uses, in one place: what a session measures, evaluates, captures or
/// folds decides its threads, graph optimizations and provider, and the reason for each lives here.
/// </summary>
public static class OrtSessions
{
    /// <summary>
    /// The settings every latency figure is measured under (bench, the compile's measurement, Auto's profile and race):
    /// <paramref name="threads"/> intra-op threads, sequential, every graph optimization, the named execution provider.
    /// </summary>
    public static SessionOptions ForMeasurement(int threads, string executionProvider, OrtLoggingLevel logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR)
    {
        var o = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = logLevel,
        };
        // Idle worker threads spin by default, which steals the core the timed thread needs on a small machine.
        o.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        switch (executionProvider.ToLowerInvariant())
        {
            case "cuda": o.AppendExecutionProvider_CUDA(0); break;
            case "tensorrt": o.AppendExecutionProvider_Tensorrt(0); break;
        }
        return o;
    }

    /// <summary>
    /// Outputs compared between models (accuracy against FP32, artifact comparison): one thread, so results do not
    /// depend on the machine's core count, ONNX Runtime's default optimizations, errors only.
    /// </summary>
    public static SessionOptions ForEvaluation() =>
        new() { IntraOpNumThreads = 1, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };

    /// <summary>
    /// Intermediate tensors read out (calibration, per-layer error): basic optimizations only, so every requested tensor
    /// keeps its meaning and no fusion changes the numbers, and without ONNX Runtime's constant folding, which runs at
    /// session creation where no budget reaches it (a constant MatMul our folding left as a computation would block
    /// for minutes).
    /// </summary>
    public static SessionOptions ForCapture()
    {
        var o = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        o.AddSessionConfigEntry("optimization.disable_specified_optimizers", "ConstantFolding");
        // Every run is followed by managed reductions over its outputs (histograms, extremes) on the same cores: ONNX
        // Runtime's intra-op threads spinning on after Run took those cores from them (on a 2-core machine 15-19 % of a
        // calibration sample of PP-OCRv4's recognizer, interleaved A/B). Spinning changes no result, only who waits how.
        o.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return o;
    }

    /// <summary>Constant subgraphs evaluated by the folding pass: no optimization of ONNX Runtime's own, one thread.</summary>
    public static SessionOptions ForFolding() => new()
    {
        GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL,
        IntraOpNumThreads = 1,
        InterOpNumThreads = 1,
        LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
    };
}
