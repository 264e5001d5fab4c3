namespace EdgeBuild.Session;

/// <summary>Which engine portability the device build asks TensorRT for (trtexec's compatibility options, TensorRT 8.6 and later).</summary>
public enum EnginePortability
{
    /// <summary>The engine runs only with the TensorRT version and GPU model it was built with (fastest; the default).</summary>
    None,

    /// <summary>--versionCompatible: later TensorRT versions of the same major can run the engine (lean runtime).</summary>
    Version,

    /// <summary>--hardwareCompatibilityLevel=ampere+: any Ampere or newer discrete GPU can run it (not Jetson/Orin integrated GPUs).</summary>
    Hardware,

    /// <summary>Both of the above.</summary>
    VersionAndHardware,
}

/// <summary>The TensorRT kit's settings (EdgeModel metadata TensorRTVersion, TensorRTStrict, TensorRTWorkspaceMiB, TensorRTProfile, TensorRTCompatibility).</summary>
public sealed record TensorRtSettings
{
    /// <summary>The TensorRT release on the device, "major.minor[.patch]". The default is JetPack 6's TensorRT (Jetson Orin).</summary>
    public string Version { get; init; } = "10.3.0";

    /// <summary>A layer TensorRT cannot run is an error (EB4201) instead of a warning.</summary>
    public bool Strict { get; init; }

    /// <summary>The builder's workspace memory pool in MiB (trtexec --memPoolSize=workspace:N).</summary>
    public int WorkspaceMiB { get; init; } = 1024;

    /// <summary>Shape profile entries for symbolic dimensions, "symbol=min:opt:max" (default for each symbol: 1:1:16).</summary>
    public IReadOnlyList<string> Profiles { get; init; } = [];

    /// <summary>Engine portability the device build asks for (TensorRTCompatibility metadata).</summary>
    public EnginePortability Compatibility { get; init; } = EnginePortability.None;
}

/// <summary>How rank-4 model inputs and outputs are laid out: NHWC (TFLite's own, default) or as in the ONNX model.</summary>
public enum TfliteIoLayout { Nhwc, Nchw }
