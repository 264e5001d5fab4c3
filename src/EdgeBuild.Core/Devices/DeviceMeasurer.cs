using EdgeBuild.Measure;

namespace EdgeBuild.Devices;

/// <summary>
/// A <see cref="Device"/> as the compile's measure step sees it (<c>compile --device NAME</c>): the runner is prepared
/// on first use and kept for every artifact of the compile, so one build checks and copies once.
/// </summary>
public sealed class DeviceMeasurer(Device device, string runnerSource) : IMeasuringDevice
{
    private RemoteRunner? runner;

    public string Description => $"{device.Name} ({device.Address})";

    public MachineFingerprint Fingerprint(string executionProvider) => Runner(null).Fingerprint(executionProvider);

    public BenchResult Run(string artifact, BenchOptions options, string executionProvider, Action<string>? progress) =>
        Runner(progress).Bench(artifact, options, executionProvider, progress);

    private RemoteRunner Runner(Action<string>? progress) => runner ??= RemoteRunner.Prepare(device, runnerSource, progress);
}
