using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;

namespace EdgeBuild.Runtime;

/// <summary>
/// One loaded version of a model: its ONNX Runtime session with every static tensor bound to native memory. An
/// <see cref="EdgeSession"/> runs one at a time and swaps it for another between runs when the updater switches versions.
/// </summary>
internal sealed class LoadedModel : IDisposable
{
    private readonly InferenceSession session;
    private readonly SessionOptions sessionOptions;
    private readonly RunOptions runOptions;
    private readonly KeyValuePair<string, object?> nameTag;
    private readonly KeyValuePair<string, object?> versionTag;
    private readonly Updates.RunHealth? health;
    private readonly bool isShadow;
    private readonly Updates.DriftRecorder? drift;

    public LoadedModel(EdgeModelDescription description, InferenceSession session, SessionOptions sessionOptions,
        ExecutionProvider provider, string path, string version, Updates.RunHealth? health = null, bool isShadow = false, Updates.OutputDrift? drift = null)
    {
        this.isShadow = isShadow;
        Description = description;
        this.session = session;
        this.sessionOptions = sessionOptions;
        Provider = provider;
        Path = path;
        Version = version;
        this.health = health;
        nameTag = new("edgebuild.model.name", description.Name);
        versionTag = new("edgebuild.model.version", version);
        runOptions = new RunOptions();
        Binding = session.CreateIoBinding();
        Inputs = description.Inputs.Select(s => new BoundTensor(s, isInput: true)).ToArray();
        Outputs = description.Outputs.Select(s => new BoundTensor(s, isInput: false)).ToArray();
        foreach (var t in Inputs.Concat(Outputs))
            if (t.Spec.IsStatic) t.Bind(Binding, t.Spec.Shape.ToArray(), EdgeSession.ElementCount(t, t.Spec.Shape.ToArray()));
        this.drift = isShadow ? null : drift?.Attach(Outputs);
    }

    public EdgeModelDescription Description { get; }
    public ExecutionProvider Provider { get; }
    public string Path { get; }
    public string Version { get; }
    public OrtIoBinding Binding { get; }
    public BoundTensor[] Inputs { get; }
    public BoundTensor[] Outputs { get; }

    /// <summary>
    /// Runs on the bound tensors; records duration, count and errors on the <c>EdgeBuild.Runtime</c> meter, and the outputs'
    /// histogram when the version's package recorded output statistics (no allocation).
    /// </summary>
    public void Run()
    {
        if (isShadow)
        {
            // A shadow candidate's runs are reported as agreement (edgebuild.shadow.runs), not as the application's inferences.
            session.RunWithBinding(runOptions, Binding);
            return;
        }
        long start = Stopwatch.GetTimestamp();
        try
        {
            session.RunWithBinding(runOptions, Binding);
        }
        catch
        {
            if (EdgeRuntimeMetrics.Errors.Enabled) EdgeRuntimeMetrics.Errors.Add(1, nameTag, versionTag);
            health?.Record(Version, 0, runFailed: true);
            throw;
        }
        long elapsed = Stopwatch.GetTimestamp() - start;
        double seconds = elapsed / (double)Stopwatch.Frequency;
        if (EdgeRuntimeMetrics.Duration.Enabled) EdgeRuntimeMetrics.Duration.Record(seconds, nameTag, versionTag);
        if (EdgeRuntimeMetrics.Count.Enabled) EdgeRuntimeMetrics.Count.Add(1, nameTag, versionTag);
        health?.Record(Version, seconds, runFailed: false);
        drift?.Record(Outputs);
    }

    public void Dispose()
    {
        drift?.Detach();
        Binding.Dispose();
        foreach (var t in Inputs) t.Dispose();
        foreach (var t in Outputs) t.Dispose();
        runOptions.Dispose();
        session.Dispose();
        sessionOptions.Dispose();
    }
}
