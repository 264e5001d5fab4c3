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

    /// <summary>The kit's explicitly quantized network (the TensorRT target's first artifact, docs/manifest.md).</summary>
    public const string TensorRtNetworkSuffix = ".trt.onnx";

    /// <summary>The kit's float network that its calibration cache describes.</summary>
    public const string TensorRtFloatNetworkSuffix = ".trt.fp32.onnx";

    /// <summary>The kit's TensorRT calibration cache.</summary>
    public const string TensorRtCacheSuffix = ".calib.cache";

    /// <summary>The GPU providers to try, best first, for a requested provider: TensorRT falls back to CUDA, then (after the list) the CPU.</summary>
    public static IReadOnlyList<ExecutionProvider> Chain(ExecutionProvider requested) => requested switch
    {
        ExecutionProvider.TensorRT => [ExecutionProvider.TensorRT, ExecutionProvider.Cuda],
        ExecutionProvider.Cuda => [ExecutionProvider.Cuda],
        _ => [],
    };

    /// <summary>Adds the provider to the session options; returns what the log line should add about it ("" when nothing).</summary>
    public static string Append(SessionOptions options, ExecutionProvider provider, EdgeModelOptions settings, EdgeModelDescription description,
        string directory, string modelPath)
    {
        switch (provider)
        {
            case ExecutionProvider.Cuda:
                options.AppendExecutionProvider_CUDA(settings.DeviceId);
                return "";
            case ExecutionProvider.TensorRT:
            {
                var trt = settings.TensorRt;
                string cache = trt.EngineCacheDirectory ?? Path.Combine(directory, description.Name + ".trt-cache");
                Directory.CreateDirectory(cache);
                bool int8 = trt.Int8 ?? description.Artifacts.Any(a => string.Equals(a.Target, "TensorRT", StringComparison.OrdinalIgnoreCase)
                    && a.Precision is "Int8" or "Mixed");
                // Keys of ONNX Runtime's TensorRT provider options (its TensorRT execution provider documentation).
                var values = new Dictionary<string, string>
                {
                    ["device_id"] = settings.DeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["trt_fp16_enable"] = trt.Fp16 ? "1" : "0",
                    ["trt_int8_enable"] = int8 ? "1" : "0",
                    ["trt_engine_cache_enable"] = "1",
                    ["trt_engine_cache_path"] = cache,
                    ["trt_timing_cache_enable"] = "1",
                    ["trt_timing_cache_path"] = cache,
                };
                string table = "";
                if (trt.UseCalibrationTable)
                {
                    string network = Path.GetFileName(modelPath);
                    table = Path.Combine(Path.GetDirectoryName(modelPath)!, network[..^TensorRtFloatNetworkSuffix.Length] + TensorRtCacheSuffix);
                    values["trt_int8_calibration_table_name"] = table;
                    values["trt_int8_use_native_calibration_table"] = "1";
                }
                using (var providerOptions = new OrtTensorRTProviderOptions())
                {
                    providerOptions.UpdateOptions(values);
                    options.AppendExecutionProvider_Tensorrt(providerOptions);
                }
                // Nodes TensorRT does not take run on CUDA rather than on the CPU.
                options.AppendExecutionProvider_CUDA(settings.DeviceId);
                return $" (engine cache {cache}, FP16 {(trt.Fp16 ? "on" : "off")}, INT8 {(int8 ? "on" : "off")}{(table.Length > 0 ? ", calibration table " + table : "")})";
            }
            default:
                return "";
        }
    }

    /// <summary>
    /// The failures that mean "this provider cannot run here": the native entry point is missing (a
    /// CPU-only build), its libraries do not load, or ONNX Runtime refuses (no GPU, no driver, wrong CUDA).
    /// </summary>
    public static bool IsUnavailable(Exception e) =>
        e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException;
}
