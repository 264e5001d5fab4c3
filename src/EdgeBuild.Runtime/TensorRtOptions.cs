namespace EdgeBuild.Runtime;

/// <summary>
/// How the TensorRT execution provider builds and keeps its engine for a model compiled with the TensorRT target.
/// TensorRT builds the engine on the device the first time a session is created (seconds to minutes) and keeps it in
/// <see cref="EngineCacheDirectory"/>, so later starts load it.
/// </summary>
public sealed class TensorRtOptions
{
    /// <summary>
    /// Where engines and TensorRT's timing cache are kept. Default: <c>&lt;ModelDirectory&gt;/&lt;Name&gt;.trt-cache</c>, next to
    /// the artifacts; set it when that folder is read-only.
    /// </summary>
    public string? EngineCacheDirectory { get; init; }

    /// <summary>Let TensorRT run layers that are not INT8 in FP16 (default <see langword="true"/>).</summary>
    public bool Fp16 { get; init; } = true;

    /// <summary>INT8 kernels; <see langword="null"/> (default): on when the kit was compiled at Int8 or Mixed precision.</summary>
    public bool? Int8 { get; init; }

    /// <summary>
    /// Run the kit's float network (<c>Name.trt.fp32.onnx</c>) with its TensorRT calibration cache (<c>Name.calib.cache</c>)
    /// instead of the explicitly quantized <c>Name.trt.onnx</c>: TensorRT's implicit quantization, TensorRT 10 and older only.
    /// Default <see langword="false"/>.
    /// </summary>
    public bool UseCalibrationTable { get; init; }
}
