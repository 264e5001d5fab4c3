using Microsoft.ML.OnnxRuntime;

namespace EdgeBuild.Runtime;

/// <summary>Asking ONNX Runtime for an execution provider, and telling why it cannot have one.</summary>
internal static class ExecutionProviders
{
    /// <summary>ONNX Runtime's name for the provider (what GetAvailableProviders lists).</summary>
    public static string OrtName(ExecutionProvider provider) => provider switch
    {
        ExecutionProvider.Cuda => "CUDAExecutionProvider",
        ExecutionProvider.TensorRT => "TensorrtExecutionProvider",
        _ => "CPUExecutionProvider",
    };

    /// <summary>Why this ONNX Runtime build cannot run <paramref name="provider"/>; null when it says it can.</summary>
    public static string? MissingReason(ExecutionProvider provider)
    {
        string[] available;
        try
        {
            available = OrtEnv.Instance().GetAvailableProviders();
        }
        catch (Exception e) when (IsUnavailable(e))
        {
            return e.Message.Split('\n')[0].Trim();
        }
        if (available.Contains(OrtName(provider), StringComparer.Ordinal)) return null;
        return $"this ONNX Runtime build has no {OrtName(provider)} (it has {string.Join(", ", available)}); reference Microsoft.ML.OnnxRuntime.Gpu for CUDA and TensorRT";
    }

    public static void Append(SessionOptions options, ExecutionProvider provider, int deviceId)
    {
        switch (provider)
        {
            case ExecutionProvider.Cuda:
                options.AppendExecutionProvider_CUDA(deviceId);
                break;
            case ExecutionProvider.TensorRT:
                options.AppendExecutionProvider_Tensorrt(deviceId);
                break;
        }
    }

    /// <summary>
    /// The failures that mean "this provider cannot run here": the native entry point is missing (a
    /// CPU-only build), its libraries do not load, or ONNX Runtime refuses (no GPU, no driver, wrong CUDA).
    /// </summary>
    public static bool IsUnavailable(Exception e) =>
        e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException;
}
