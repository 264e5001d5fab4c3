namespace EdgeBuild.Measure;

/// <summary>
/// Somewhere other than this machine that measures artifacts (a target device over SSH, docs/devices.md). The measure
/// step asks it for its fingerprint (the measurement cache key and the report's machine) and for each measurement, and
/// judges the budgets on what it returns. Implemented in <c>EdgeBuild.Devices</c>, which stands on this layer.
/// </summary>
public interface IMeasuringDevice
{
    /// <summary>How budget findings and progress lines name it: "jetson (ssh://nvidia@10.0.0.7)".</summary>
    string Description { get; }

    /// <summary>The fingerprint of the machine the figures are measured on, for the execution provider as the compile names it (Cpu, Cuda, TensorRT).</summary>
    MachineFingerprint Fingerprint(string executionProvider);

    /// <summary>One measurement, the same figures <see cref="ModelBenchmark.Run"/> gives locally.</summary>
    BenchResult Run(string artifact, BenchOptions options, string executionProvider, Action<string>? progress);
}
