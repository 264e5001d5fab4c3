using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.ML.OnnxRuntime;
using EdgeBuild.Runtime.Updates;

namespace EdgeBuild.Runtime;

/// <summary>
/// An ONNX Runtime session over one model artifact, with every input and output bound once to native
/// memory (an <see cref="OrtIoBinding"/>), so a run copies the caller's spans in, runs and copies the
/// results out without allocating managed memory. Generated model classes drive it; a run is
/// <see cref="Begin()"/> (or <see cref="Begin(ReadOnlySpan{long})"/>), <see cref="SetInput{T}"/> per input,
/// <see cref="CheckOutput{T}"/> per output, <see cref="Run"/>, <see cref="GetOutput{T}"/> per output.
/// </summary>
/// <remarks>
/// Not thread-safe: the bound buffers are shared by every run of the instance. Use one instance per
/// thread (ONNX Runtime shares nothing between them but the process-wide environment).
/// </remarks>
public sealed unsafe partial class EdgeSession : IDisposable
{
    private readonly long[] symbolValues;
    private readonly EdgeModelOptions options;
    private readonly ModelUpdater? updater;
    private LoadedModel model;
    private int generation;
    private LoadedModel? shadow;
    private int shadowGeneration;
    private int shadowCountdown;
    private KeyValuePair<string, object?> shadowVersionTag;
    private bool bound;
    private bool disposed;

    private EdgeSession(LoadedModel model, EdgeModelOptions options, ModelUpdater? updater, int generation)
    {
        this.model = model;
        this.options = options;
        this.updater = updater;
        this.generation = generation;
        symbolValues = new long[model.Description.Symbols.Count];
        bound = symbolValues.Length == 0;
    }

    /// <summary>The model this session runs (with an updater: the active version's artifacts).</summary>
    public EdgeModelDescription Description => model.Description;

    /// <summary>The execution provider the session runs on, after any fallback to the CPU.</summary>
    public ExecutionProvider ExecutionProvider => model.Provider;

    /// <summary>The full path of the artifact the session loaded.</summary>
    public string ModelPath => model.Path;

    /// <summary>The version this session runs: the active package's, or the bundled version for the artifacts built with the application.</summary>
    public string ModelVersion => model.Version;

    /// <summary>
    /// Loads the model's artifact and creates the session: the execution provider from
    /// <paramref name="options"/> (else the model's default); CUDA or TensorRT fall back to the CPU
    /// with one line to <see cref="EdgeModelOptions.Log"/> when this ONNX Runtime build or this machine
    /// cannot run them.
    /// </summary>
    /// <exception cref="FileNotFoundException">The artifact is not where the options say (by default next to the application).</exception>
    /// <exception cref="InvalidOperationException">The artifact's inputs or outputs do not match the manifest (a stale artifact).</exception>
    /// <exception cref="InvalidDataException">The artifact's sha256 is not the one its manifest records (changed or damaged after the build).</exception>
    /// <remarks>
    /// With <see cref="EdgeModelOptions.Updates"/>, the session runs the updater's active version and moves to a new one
    /// at the start of its next run after the updater switches (never during a run).
    /// </remarks>
    public static EdgeSession Create(EdgeModelDescription description, EdgeModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(description);
        options ??= new EdgeModelOptions();
        options.Validate();
        if (options.Updates is { } updater)
        {
            // The updater serves the active version: the package it installed, or the artifacts built with the application.
            updater.CheckModel(description);
            var active = updater.Current;
            var loaded = Load(active.Description, options, active.Directory, active.Version, updater.Health, drift: active.Drift);
            return new EdgeSession(loaded, options, updater, active.Generation);
        }
        return new EdgeSession(Load(description, options, options.ModelDirectory ?? AppContext.BaseDirectory, options.BundledVersion), options, null, 0);
    }

    /// <summary>Loads one version of the model (provider chain, hash check, ONNX Runtime session, bound tensors).</summary>
    internal static LoadedModel Load(EdgeModelDescription description, EdgeModelOptions options, string directory, string version, RunHealth? health = null,
        bool isShadow = false, OutputDrift? drift = null)
    {
        var log = options.Log ?? DefaultLog;
        var requested = options.ExecutionProvider ?? description.DefaultProvider;

        // TensorRT, then CUDA, then the CPU: each step down says why the one above cannot run, all in one line.
        var unavailable = new List<string>();
        foreach (var provider in ExecutionProviders.Chain(requested))
        {
            string path = ArtifactPath(description, provider, directory, options.TensorRt.UseCalibrationTable);
            string? reason = ExecutionProviders.MissingReason(provider);
            if (reason is null)
            {
                var gpuOptions = CreateSessionOptions(options);
                try
                {
                    string detail = ExecutionProviders.Append(gpuOptions, provider, options, description, directory, path);
                    options.ConfigureSessionOptions?.Invoke(gpuOptions);
                    var gpuSession = new InferenceSession(path, gpuOptions);
                    var session = Finish(description, gpuSession, gpuOptions, provider, path, version, health, isShadow, drift);
                    unavailable.Add($"running on {provider}{detail}");
                    log($"EdgeBuild: model '{description.Name}': {string.Join("; ", unavailable)}.");
                    return session;
                }
                catch (Exception e) when (ExecutionProviders.IsUnavailable(e))
                {
                    gpuOptions.Dispose();
                    reason = FirstLine(e.Message);
                }
                catch
                {
                    gpuOptions.Dispose();
                    throw;
                }
            }
            unavailable.Add($"{provider} execution provider unavailable ({reason})");
        }
        string cpuPath = ArtifactPath(description, ExecutionProvider.Cpu, directory, useCalibrationTable: false);
        var cpuOptions = CreateSessionOptions(options);
        // A TensorRT kit's network on the CPU: its weights use the full int8 range TensorRT accumulates in int32, which
        // ONNX Runtime's fused x86 int8 kernels saturate on CPUs without VNNI. Unfused (basic optimizations only), each
        // DequantizeLinear runs and the op computes in float: the kit's numbers on every CPU, slower.
        bool kitOnCpu = cpuPath.EndsWith(ExecutionProviders.TensorRtNetworkSuffix, StringComparison.Ordinal)
            && options.GraphOptimization is GraphOptimization.All or GraphOptimization.Extended;
        if (kitOnCpu) cpuOptions.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC;
        if (unavailable.Count > 0)
            log($"EdgeBuild: model '{description.Name}': {string.Join("; ", unavailable)}; running on CPU{(kitOnCpu ? " (the TensorRT kit's Q/DQ network computed in float, unfused)" : "")}.");
        try
        {
            options.ConfigureSessionOptions?.Invoke(cpuOptions);
            var cpuSession = new InferenceSession(cpuPath, cpuOptions);
            return Finish(description, cpuSession, cpuOptions, ExecutionProvider.Cpu, cpuPath, version, health, isShadow, drift);
        }
        catch
        {
            cpuOptions.Dispose();
            throw;
        }
    }

    /// <summary>Starts a run of a model without symbolic dimensions.</summary>
    /// <exception cref="InvalidOperationException">The model has symbolic dimensions: call <see cref="Begin(ReadOnlySpan{long})"/>.</exception>
    public void Begin()
    {
        ThrowIfDisposed();
        if (updater is not null) CheckVersions();
        if (symbolValues.Length != 0)
            throw new InvalidOperationException($"model '{Description.Name}' has symbolic dimensions ({string.Join(", ", Description.Symbols)}): pass their values");
    }

    /// <summary>
    /// Starts a run with values for the symbolic dimensions (in <see cref="EdgeModelDescription.Symbols"/>
    /// order). Tensors are rebound, which allocates, only when a value differs from the previous run's.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is negative, or makes a tensor larger than a span can hold.</exception>
    public void Begin(ReadOnlySpan<long> symbols)
    {
        ThrowIfDisposed();
        if (updater is not null) CheckVersions();
        if (bound && symbols.SequenceEqual(symbolValues)) return;
        if (symbols.Length != symbolValues.Length)
            throw new ArgumentException($"model '{Description.Name}' has {symbolValues.Length} symbolic dimensions, got {symbols.Length} values", nameof(symbols));
        for (int i = 0; i < symbols.Length; i++)
            if (symbols[i] < 0)
                throw new ArgumentOutOfRangeException(Description.Symbols[i], symbols[i], $"symbolic dimension '{Description.Symbols[i]}' must be 0 or more");
        // Until every tensor is rebound, the old bindings do not match the new values.
        bound = false;
        symbols.CopyTo(symbolValues);
        foreach (var t in model.Inputs.Concat(model.Outputs))
        {
            if (t.Spec.IsStatic) continue;
            var dims = new long[t.Spec.Shape.Count];
            for (int d = 0; d < dims.Length; d++)
                dims[d] = t.Spec.Symbols[d] is { } s ? symbolValues[Description.Symbols.IndexOf(s)] : t.Spec.Shape[d];
            t.Bind(model.Binding, dims, ElementCount(t, dims));
        }
        bound = true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CheckVersions()
    {
        if (updater!.Current.Generation != generation) Switch();
        if ((updater.Shadow?.Generation ?? 0) != shadowGeneration) SwitchShadow();
    }

    /// <summary>
    /// Loads (or drops) the shadow candidate for this instance. Models with symbolic dimensions are not shadowed: the
    /// candidate's tensors would need rebinding at every change of a dimension.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SwitchShadow()
    {
        var candidate = updater!.Shadow;
        shadowGeneration = candidate?.Generation ?? 0;
        shadow?.Dispose();
        shadow = null;
        if (candidate is null || symbolValues.Length != 0) return;
        try
        {
            shadow = Load(candidate.Description, options, candidate.Directory, candidate.Version, health: null, isShadow: true);
            shadowVersionTag = new("edgebuild.shadow.version", candidate.Version);
            shadowCountdown = updater.ShadowSampling.Every;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            (options.Log ?? DefaultLog)($"EdgeBuild: model '{model.Description.Name}': shadow version {candidate.Version} does not load ({FirstLine(e.Message)}); not shadowing.");
        }
    }

    /// <summary>
    /// Runs the shadow candidate on this run's inputs and compares its outputs with the live ones; its results are never
    /// returned and its failures never reach the caller. Allocation-free.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RunShadow(LoadedModel candidate)
    {
        shadowCountdown = updater!.ShadowSampling.Every;
        string outcome;
        try
        {
            for (int i = 0; i < model.Inputs.Length; i++)
            {
                var from = model.Inputs[i];
                long bytes = (long)from.Length * from.ElementSize;
                Buffer.MemoryCopy(from.Data, candidate.Inputs[i].Data, bytes, bytes);
            }
            candidate.Run();
            outcome = OutputsAgree(candidate, updater.ShadowSampling.Tolerance) ? "agree" : "disagree";
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            outcome = "error";
        }
        if (EdgeRuntimeMetrics.ShadowRuns.Enabled)
            EdgeRuntimeMetrics.ShadowRuns.Add(1, new KeyValuePair<string, object?>("edgebuild.model.name", model.Description.Name), shadowVersionTag,
                new KeyValuePair<string, object?>("edgebuild.shadow.outcome", outcome));
        updater.RecordShadow(shadowGeneration, outcome == "agree");
    }

    private bool OutputsAgree(LoadedModel candidate, double tolerance)
    {
        for (int o = 0; o < model.Outputs.Length; o++)
        {
            var live = model.Outputs[o];
            var other = candidate.Outputs[o];
            if (live.Spec.ElementType == EdgeElementType.Float32)
            {
                var a = new ReadOnlySpan<float>(live.Data, live.Length);
                var b = new ReadOnlySpan<float>(other.Data, other.Length);
                for (int i = 0; i < a.Length; i++)
                    if (!(Math.Abs(a[i] - b[i]) <= tolerance)) return false;
            }
            else if (!new ReadOnlySpan<byte>(live.Data, live.Length * live.ElementSize).SequenceEqual(new ReadOnlySpan<byte>(other.Data, other.Length * other.ElementSize)))
                return false;
        }
        return true;
    }

    /// <summary>
    /// Moves this instance to the updater's active version, between runs: the caller's thread owns the instance, so no
    /// run of it is in flight. A version that fails to load here keeps the old one serving (one line to the log).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Switch()
    {
        var active = updater!.Current;
        LoadedModel next;
        try
        {
            next = Load(active.Description, options, active.Directory, active.Version, updater.Health, drift: active.Drift);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            (options.Log ?? DefaultLog)($"EdgeBuild: model '{model.Description.Name}': version {active.Version} does not load ({FirstLine(e.Message)}); {model.Version} keeps serving.");
            generation = active.Generation;
            return;
        }
        var old = model;
        model = next;
        generation = active.Generation;
        // Symbolic tensors are rebound for the new session at the next Begin(symbols); static ones were bound by Load.
        bound = symbolValues.Length == 0;
        old.Dispose();
    }

    /// <summary>Copies input <paramref name="index"/>'s values into its bound memory.</summary>
    /// <exception cref="ArgumentException">The span's length or element type does not match the tensor.</exception>
    public void SetInput<T>(int index, ReadOnlySpan<T> values) where T : unmanaged
    {
        var t = model.Inputs[index];
        Check(t, EdgeElementTypes.Of<T>(), values.Length);
        values.CopyTo(new Span<T>(t.Data, t.Length));
    }

    /// <summary>Checks, before the run, that <paramref name="destination"/> fits output <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentException">The span's length or element type does not match the tensor.</exception>
    public void CheckOutput<T>(int index, Span<T> destination) where T : unmanaged => Check(model.Outputs[index], EdgeElementTypes.Of<T>(), destination.Length);

    /// <summary>Runs the model on the bound inputs, writing the bound outputs.</summary>
    public void Run()
    {
        ThrowIfDisposed();
        if (!bound) throw NotBound();
        model.Run();
        if (shadow is { } candidate && --shadowCountdown <= 0) RunShadow(candidate);
    }

    /// <summary>Copies output <paramref name="index"/> of the last run into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">The span's length or element type does not match the tensor.</exception>
    public void GetOutput<T>(int index, Span<T> destination) where T : unmanaged
    {
        var t = model.Outputs[index];
        Check(t, EdgeElementTypes.Of<T>(), destination.Length);
        new ReadOnlySpan<T>(t.Data, t.Length).CopyTo(destination);
    }

    /// <summary>Releases the session and the bound memory. Runs after this throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        model.Dispose();
        shadow?.Dispose();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Check(BoundTensor t, EdgeElementType type, int length)
    {
        ThrowIfDisposed();
        if (!bound) throw NotBound();
        if (type != t.Spec.ElementType) throw WrongType(t, type);
        if (length != t.Length) throw WrongLength(t, length);
    }

    private void ThrowIfDisposed()
    {
        if (disposed) ThrowDisposed();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowDisposed() => throw new ObjectDisposedException(Description.Name);

    private InvalidOperationException NotBound() =>
        new($"model '{Description.Name}': call Begin with the symbolic dimensions ({string.Join(", ", Description.Symbols)}) before a run");

    private static ArgumentException WrongType(BoundTensor t, EdgeElementType got) =>
        new($"{t.Kind} '{t.Spec.Name}' holds {EdgeElementTypes.CSharpName(t.Spec.ElementType)} values, got a span of {(got == 0 ? "another type" : EdgeElementTypes.CSharpName(got))}",
            t.Spec.ParameterName);

    private ArgumentException WrongLength(BoundTensor t, int got)
    {
        string shape = "[" + string.Join(",", t.Dims.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";
        var symbols = t.Spec.Symbols.Where(s => s is not null).Distinct()
            .Select(s => $"{s}={symbolValues[Description.Symbols.IndexOf(s!)].ToString(CultureInfo.InvariantCulture)}").ToList();
        string with = symbols.Count == 0 ? "" : " with " + string.Join(", ", symbols);
        return new ArgumentException(
            $"{t.Kind} '{t.Spec.Name}' expects {t.Length.ToString(CultureInfo.InvariantCulture)} {EdgeElementTypes.CSharpName(t.Spec.ElementType)} values (shape {shape}{with}), got {got.ToString(CultureInfo.InvariantCulture)}",
            t.Spec.ParameterName);
    }

    internal static int ElementCount(BoundTensor t, long[] dims)
    {
        long count = 1;
        foreach (long d in dims)
        {
            count *= d;
            if (count > int.MaxValue)
            {
                string shape = "[" + string.Join(",", dims.Select(x => x.ToString(CultureInfo.InvariantCulture))) + "]";
                throw new ArgumentOutOfRangeException(t.Spec.ParameterName,
                    $"{t.Kind} '{t.Spec.Name}' with shape {shape} would hold more than {int.MaxValue} elements, more than a span can");
            }
        }
        return (int)count;
    }

    private static LoadedModel Finish(EdgeModelDescription description, InferenceSession session, SessionOptions options,
        ExecutionProvider provider, string path, string version, RunHealth? health, bool isShadow, OutputDrift? drift)
    {
        try
        {
            CheckArtifactMatches(description, session, path);
            return new LoadedModel(description, session, options, provider, path, version, health, isShadow, drift);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    // A stale artifact (the model changed, the manifest did not) would otherwise fail inside ONNX Runtime
    // at the first run with a message about binding names.
    private static void CheckArtifactMatches(EdgeModelDescription description, InferenceSession session, string path)
    {
        var problems = new List<string>();
        void CheckAll(IEnumerable<EdgeTensorSpec> specs, IReadOnlyDictionary<string, NodeMetadata> metadata, string kind)
        {
            foreach (var spec in specs)
            {
                if (!metadata.TryGetValue(spec.Name, out var m)) problems.Add($"{kind} '{spec.Name}' is missing");
                else if (!m.IsTensor || (int)m.ElementDataType != (int)spec.ElementType)
                    problems.Add($"{kind} '{spec.Name}' is {(m.IsTensor ? m.ElementDataType.ToString() : m.OnnxValueType.ToString())}, the manifest says {spec.ElementType}");
                else if (m.Dimensions.Length != spec.Shape.Count)
                    problems.Add($"{kind} '{spec.Name}' has rank {m.Dimensions.Length}, the manifest says {spec.Shape.Count}");
            }
        }
        CheckAll(description.Inputs, session.InputMetadata, "input");
        CheckAll(description.Outputs, session.OutputMetadata, "output");
        if (problems.Count > 0)
            throw new InvalidOperationException(
                $"model '{description.Name}': the artifact {path} does not match its manifest ({string.Join("; ", problems)}). Rebuild so both come from the same compile.");
    }

    /// <summary>
    /// The file a provider runs: TensorRT the kit's network (<c>.trt.onnx</c>, or <c>.trt.fp32.onnx</c> with the calibration
    /// table), CUDA and the CPU the ONNX artifact; a model compiled with the TensorRT target alone runs its
    /// <c>.trt.onnx</c> there too (ONNX Runtime executes Q/DQ networks on every provider).
    /// </summary>
    private static string ArtifactPath(EdgeModelDescription description, ExecutionProvider provider, string directory, bool useCalibrationTable)
    {
        EdgeArtifact? artifact;
        if (provider == ExecutionProvider.TensorRT)
        {
            string suffix = useCalibrationTable ? ExecutionProviders.TensorRtFloatNetworkSuffix : ExecutionProviders.TensorRtNetworkSuffix;
            artifact = Find("TensorRT", suffix);
            if (artifact is null && useCalibrationTable)
                throw new InvalidOperationException(
                    $"model '{description.Name}' has no TensorRT float network with a calibration table ({description.Name}{suffix}); it is written for Precision Int8 or Mixed and TensorRT 10 or older. Set TensorRt.UseCalibrationTable to false.");
            artifact ??= Find("Onnx", null);
        }
        else artifact = Find("Onnx", null) ?? Find("TensorRT", ExecutionProviders.TensorRtNetworkSuffix);
        if (artifact is null) throw new InvalidOperationException($"model '{description.Name}' has no ONNX artifact in its manifest");
        string path = Resolve(directory, artifact);
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"model '{description.Name}': artifact not found at {path}. The build copies it next to the application; set EdgeModelOptions.ModelDirectory if it lives elsewhere.",
                path);
        ArtifactIntegrity.Check(description.Name, artifact, path);
        return path;

        EdgeArtifact? Find(string target, string? suffix) => description.Artifacts.FirstOrDefault(a =>
            string.Equals(a.Target, target, StringComparison.OrdinalIgnoreCase) && (suffix is null || a.Path.EndsWith(suffix, StringComparison.Ordinal)));
    }

    /// <summary>An artifact's full path under <paramref name="directory"/>.</summary>
    internal static string Resolve(string directory, EdgeArtifact artifact) =>
        Path.GetFullPath(Path.Combine(directory, artifact.Path.Replace('/', Path.DirectorySeparatorChar)));

    private static SessionOptions CreateSessionOptions(EdgeModelOptions options) => new()
    {
        IntraOpNumThreads = options.IntraOpThreads,
        InterOpNumThreads = options.InterOpThreads,
        ExecutionMode = options.ParallelExecution ? ExecutionMode.ORT_PARALLEL : ExecutionMode.ORT_SEQUENTIAL,
        GraphOptimizationLevel = options.GraphOptimization switch
        {
            GraphOptimization.Disabled => GraphOptimizationLevel.ORT_DISABLE_ALL,
            GraphOptimization.Basic => GraphOptimizationLevel.ORT_ENABLE_BASIC,
            GraphOptimization.Extended => GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            _ => GraphOptimizationLevel.ORT_ENABLE_ALL,
        },
        // ONNX Runtime's own warnings go to stdout; the application hears from us through Log instead.
        LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
    };

    internal static string FirstLine(string message)
    {
        string line = message.Split('\n')[0].Trim();
        return line.Length == 0 ? "no reason given" : line;
    }

    internal static void DefaultLog(string line) => Console.Error.WriteLine(line);
}
