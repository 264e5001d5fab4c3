namespace EdgeBuild.Runtime;

/// <summary>Where ONNX Runtime executes a model.</summary>
public enum ExecutionProvider
{
    /// <summary>The CPU execution provider: always available, the fallback for the others.</summary>
    Cpu = 0,

    /// <summary>NVIDIA CUDA. Needs an ONNX Runtime build with CUDA (the Microsoft.ML.OnnxRuntime.Gpu package) and a GPU.</summary>
    Cuda = 1,

    /// <summary>NVIDIA TensorRT. Needs an ONNX Runtime build with TensorRT, its libraries and a GPU.</summary>
    TensorRT = 2,
}

/// <summary>How much ONNX Runtime rewrites the graph when it loads a model (its GraphOptimizationLevel).</summary>
public enum GraphOptimization
{
    /// <summary>No graph rewrites.</summary>
    Disabled = 0,

    /// <summary>Semantics-preserving rewrites that every execution provider supports (constant folding, redundant node removal).</summary>
    Basic = 1,

    /// <summary>Basic plus fusions specific to the CPU and CUDA providers.</summary>
    Extended = 2,

    /// <summary>Everything, including layout changes (ONNX Runtime's default).</summary>
    All = 3,
}
