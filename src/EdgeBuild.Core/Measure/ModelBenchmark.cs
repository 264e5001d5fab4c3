using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeBuild.Measure;

/// <summary>Thrown when an artifact cannot be measured on this machine (no such execution provider, no runtime for the format, inputs that are not tensors).</summary>
public sealed class MeasurementUnavailableException(string reason) : Exception(reason);

/// <summary>
/// Measures one ONNX artifact in ONNX Runtime: session load time, warm-up, then timed runs in blocks interleaved
/// with the <see cref="ReferenceWorkload"/> until the P99's confidence interval is narrow enough or the time cap is
/// reached; then batched throughput. Inputs are random (latency of dense kernels does not depend on the values);
/// IO is bound once so the timed call is only <c>RunWithBinding</c>.
/// </summary>
public static class ModelBenchmark
{
    /// <summary>ONNX Runtime's name of an execution provider given as the EdgeModel metadata spells it.</summary>
    public static string OrtProviderName(string executionProvider) => executionProvider.ToLowerInvariant() switch
    {
        "cuda" => "CUDAExecutionProvider",
        "tensorrt" => "TensorrtExecutionProvider",
        _ => "CPUExecutionProvider",
    };

    /// <summary>Why <paramref name="executionProvider"/> cannot run here, or null when this ONNX Runtime build has it.</summary>
    public static string? UnavailableReason(string executionProvider)
    {
        string name = OrtProviderName(executionProvider);
        string[] available = OrtEnv.Instance().GetAvailableProviders();
        return available.Contains(name, StringComparer.Ordinal) ? null
            : $"this machine's ONNX Runtime has no {name} (it has {string.Join(", ", available)}; a {executionProvider} budget needs a machine with that provider)";
    }

    /// <summary>Measures the artifact at <paramref name="path"/> (an ONNX file).</summary>
    public static BenchResult Run(string path, BenchOptions options, string executionProvider = "Cpu", Action<string>? progress = null)
    {
        if (UnavailableReason(executionProvider) is { } reason) throw new MeasurementUnavailableException(reason);
        if (!File.Exists(path)) throw new EdgeBuildException(DiagnosticCodes.FileNotFound, path, "artifact not found");
        byte[] bytes = File.ReadAllBytes(path);
        string sha = Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

        using var sessionOptions = SessionOptionsFor(options, executionProvider);
        // The reference comes first so the memory probe's baseline already holds it.
        using var referenceSession = options.Reference ? new InferenceSession(ReferenceWorkload.Model, sessionOptions) : null;
        using var referenceFeed = referenceSession is null ? null : new BoundFeed(referenceSession, batch: null);
        referenceFeed?.Run();
        var memory = new MemoryProbe();
        var clock = Stopwatch.StartNew();
        InferenceSession session;
        try
        {
            session = new InferenceSession(bytes, sessionOptions);
        }
        catch (OnnxRuntimeException e)
        {
            throw new EdgeBuildException(DiagnosticCodes.MeasurementFailed, path, $"ONNX Runtime cannot load the artifact: {FirstLine(e.Message)}");
        }
        double loadMs = clock.Elapsed.TotalMilliseconds;
        using var _ = session;
        using var feed = new BoundFeed(session, batch: null);
        memory.Sample();

        try
        {
            feed.Run();
        }
        catch (OnnxRuntimeException e)
        {
            // Generated data is all a measurement has: a model that refuses it (a reflect Pad on a free dim fed at 1, an
            // index out of range) cannot be timed here, which is a reason to state, not a crash.
            throw new MeasurementUnavailableException($"ONNX Runtime cannot run it on generated inputs ({string.Join(", ", feed.Shapes)}" +
                (feed.FreeDimInputs.Count > 0 ? $"; free dims of {string.Join(", ", feed.FreeDimInputs)} fed at 1" : "") +
                $"): {FirstLine(e.Message)}; fix the input sizes with Shapes (--shape NAME=dims) to ones the model takes");
        }
        // Warm-up: first runs allocate the arena and page in weights.
        int warmup = 1;
        var warm = Stopwatch.StartNew();
        while (warmup < 2 || (warm.Elapsed.TotalSeconds < options.WarmupSeconds && warmup < 500))
        {
            feed.Run();
            referenceFeed?.Run();
            warmup++;
        }
        memory.Sample();
        progress?.Invoke($"measuring {Path.GetFileName(path)} ({options.Threads} thread(s), up to {options.TimeCapSeconds:0.#} s)");

        var samples = new List<double>(4096);
        var referenceSamples = new List<double>(4096);
        // CPU time is exact only when the whole run is on this thread (one intra-op thread).
        bool cpuClock = ThreadCpuClock.Available && options.Threads == 1;
        var cpuSamples = new List<double>(cpuClock ? 4096 : 0);
        var referenceCpuSamples = new List<double>(cpuClock ? 4096 : 0);
        // Where each block starts in the sample lists: every model run is normalized by the reference runs right after its block.
        var blockStarts = new List<int>();
        var referenceBlockStarts = new List<int>();
        long blockTicks = Math.Max(1, (long)(options.BlockSeconds * Stopwatch.Frequency));
        const int MaxRuns = 200_000;
        string stop = "time cap";
        var phase = Stopwatch.StartNew();
        while (true)
        {
            long blockStart = Stopwatch.GetTimestamp();
            blockStarts.Add(samples.Count);
            do
            {
                long c0 = cpuClock ? ThreadCpuClock.NowNanoseconds() : 0;
                long t0 = Stopwatch.GetTimestamp();
                feed.Run();
                samples.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                if (cpuClock) cpuSamples.Add((ThreadCpuClock.NowNanoseconds() - c0) / 1e6);
            }
            while (Stopwatch.GetTimestamp() - blockStart < blockTicks && samples.Count < MaxRuns);
            if (referenceFeed is not null)
            {
                long referenceStart = Stopwatch.GetTimestamp();
                referenceBlockStarts.Add(referenceSamples.Count);
                do
                {
                    long c0 = cpuClock ? ThreadCpuClock.NowNanoseconds() : 0;
                    long t0 = Stopwatch.GetTimestamp();
                    referenceFeed.Run();
                    referenceSamples.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                    if (cpuClock) referenceCpuSamples.Add((ThreadCpuClock.NowNanoseconds() - c0) / 1e6);
                }
                while (Stopwatch.GetTimestamp() - referenceStart < blockTicks / 4);
            }
            memory.Sample();
            if (phase.Elapsed.TotalSeconds >= options.TimeCapSeconds) break;
            if (samples.Count >= MaxRuns) { stop = "run cap"; break; }
            if (samples.Count >= options.MinRuns)
            {
                var sortedNow = (cpuClock ? cpuSamples : samples).Order().ToArray();
                var estimate = Quantiles.Of(sortedNow, 0.99);
                if (estimate.RelativeHalfWidth <= options.TargetRelativeHalfWidth || (estimate.High - estimate.Low) / 2 <= options.TargetAbsoluteHalfWidthMs) { stop = "stable"; break; }
            }
        }
        double seconds = phase.Elapsed.TotalSeconds;
        var arena = OrtArenaStatistics.Read(session, out string arenaNote);
        var figures = memory.Read() with { ArenaNote = arenaNote, Arena = arena };
        // What the arena held at once was resident while the model ran, whatever the page accounting says; so a
        // MaxMemoryMB budget never passes on a figure of 0.
        if (arena is not null && arena.MaxInUseMB > figures.ModelMB) figures = figures with { ModelMB = arena.MaxInUseMB };

        var sorted = samples.Order().ToArray();
        var mean = Quantiles.Mean(samples);
        var p50 = Quantiles.Of(sorted, 0.50);
        var p99 = Quantiles.Of(sorted, 0.99);
        var gateMean = cpuClock ? Quantiles.Mean(cpuSamples) : mean;
        Estimate? cpuP50 = null, cpuP99 = null;
        if (cpuClock)
        {
            var sortedCpu = cpuSamples.Order().ToArray();
            cpuP50 = Quantiles.Of(sortedCpu, 0.50);
            cpuP99 = Quantiles.Of(sortedCpu, 0.99);
        }
        ReferenceFigures? reference = null;
        Estimate? normalizedP50 = null, normalizedP99 = null;
        if (referenceSamples.Count > 0)
        {
            // Normalized on the clock the gate uses: CPU time over the reference's CPU time when there is one.
            var referenceP50 = Quantiles.Of((cpuClock ? referenceCpuSamples : referenceSamples).Order().ToArray(), 0.50);
            reference = new ReferenceFigures(ReferenceWorkload.Name, referenceSamples.Count, referenceP50);
            var ratios = BlockNormalized(cpuClock ? cpuSamples : samples, blockStarts, cpuClock ? referenceCpuSamples : referenceSamples, referenceBlockStarts);
            normalizedP50 = Quantiles.Of(ratios, 0.50);
            normalizedP99 = Quantiles.Of(ratios, 0.99);
        }

        BatchThroughput batched;
        if (options.BatchSize > 1 && p50.Value * options.BatchSize > 2000)
            batched = new BatchThroughput(options.BatchSize, null, null, "skipped: one padded batch would run longer than 2 s (edgebuild bench --batch-size measures it)");
        else if (options.BatchSize > 1)
        {
            // A model that cannot batch fails inside ONNX Runtime, which would log the failure itself: the reason goes in the result instead.
            using var quiet = SessionOptionsFor(options, executionProvider, OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL);
            batched = MeasureBatched(bytes, session, quiet, options);
        }
        else batched = new BatchThroughput(options.BatchSize, null, null, "batching switched off");

        return new BenchResult
        {
            Artifact = Path.GetFileName(path),
            Sha256 = sha,
            Bytes = bytes.LongLength,
            ExecutionProvider = OrtProviderName(executionProvider),
            Threads = options.Threads,
            InputShapes = feed.Shapes,
            FreeDimInputs = feed.FreeDimInputs,
            Machine = MachineFingerprint.Current(OrtProviderName(executionProvider)),
            SessionLoadMs = loadMs,
            WarmupRuns = warmup,
            Runs = samples.Count,
            Seconds = seconds,
            StopReason = stop,
            P50Ms = p50,
            P90Ms = Quantiles.Of(sorted, 0.90),
            P99Ms = p99,
            CpuP50Ms = cpuP50,
            CpuP99Ms = cpuP99,
            MaxMs = sorted[^1],
            MeanMs = mean,
            Fps = new Estimate(1000 / gateMean.Value, 1000 / gateMean.High, 1000 / gateMean.Low),
            Batched = batched,
            Memory = figures,
            Reference = reference,
            NormalizedP50 = normalizedP50,
            NormalizedP99 = normalizedP99,
            Histogram = Quantiles.Histogram(sorted),
        };
    }

    /// <summary>
    /// Each model run divided by the median of the reference block measured right after its own block (about 0.1 s
    /// later), sorted. Interference that lasts longer than a block (another build on the sibling hyperthread, a clock
    /// change) slows both and cancels; only what is shorter than a block stays in the tail.
    /// </summary>
    internal static double[] BlockNormalized(List<double> samples, List<int> blockStarts, List<double> reference, List<int> referenceBlockStarts)
    {
        var ratios = new double[samples.Count];
        int blocks = Math.Min(blockStarts.Count, referenceBlockStarts.Count);
        for (int b = 0; b < blockStarts.Count; b++)
        {
            int rb = Math.Min(b, blocks - 1);
            int rs = referenceBlockStarts[rb], re = rb + 1 < referenceBlockStarts.Count ? referenceBlockStarts[rb + 1] : reference.Count;
            var block = reference.GetRange(rs, re - rs);
            block.Sort();
            double median = block[block.Count / 2];
            int s0 = blockStarts[b], s1 = b + 1 < blockStarts.Count ? blockStarts[b + 1] : samples.Count;
            for (int i = s0; i < s1; i++) ratios[i] = samples[i] / median;
        }
        Array.Sort(ratios);
        return ratios;
    }

    /// <summary>The session settings every latency figure is measured under (<see cref="OrtSessions.ForMeasurement"/>).</summary>
    internal static SessionOptions SessionOptionsFor(BenchOptions options, string executionProvider, OrtLoggingLevel logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR) =>
        OrtSessions.ForMeasurement(options.Threads, executionProvider, logLevel);

    /// <summary>
    /// The article's batching: <see cref="BenchOptions.BatchSize"/> requests padded into one run. A model whose batch
    /// dimension is symbolic runs as it is; one fixed at 1 is tried with that dimension made symbolic (works unless a
    /// Reshape spells the batch out), and otherwise the figure is absent with the reason.
    /// </summary>
    private static BatchThroughput MeasureBatched(byte[] bytes, InferenceSession session, SessionOptions sessionOptions, BenchOptions options)
    {
        int batch = options.BatchSize;
        InferenceSession? owned = null;
        try
        {
            var inputs = session.InputMetadata.Values.ToList();
            if (inputs.Any(m => !m.IsTensor || m.Dimensions.Length == 0 || m.Dimensions[0] is not (-1 or 1)))
                return new BatchThroughput(batch, null, null, "the inputs have no batch dimension (first dimension 1 or symbolic)");
            var target = session;
            if (inputs.Any(m => m.Dimensions[0] == 1))
            {
                owned = new InferenceSession(WithSymbolicBatch(bytes), sessionOptions);
                target = owned;
            }
            using var feed = new BoundFeed(target, batch);
            feed.Run();
            var times = new List<double>();
            var clock = Stopwatch.StartNew();
            while (times.Count < 1 || (clock.Elapsed.TotalSeconds < options.BatchSeconds && times.Count < 200))
            {
                long t0 = Stopwatch.GetTimestamp();
                feed.Run();
                times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
            double p50 = Quantiles.Of(times.Order().ToArray(), 0.5).Value;
            return new BatchThroughput(batch, batch * 1000 / p50, p50, owned is null ? null : "batch dimension made symbolic for this measurement");
        }
        catch (Exception e) when (e is OnnxRuntimeException or EdgeBuildException)
        {
            return new BatchThroughput(batch, null, null, $"the model does not run at batch {batch}: {FirstLine(e.Message)}");
        }
        finally
        {
            owned?.Dispose();
        }
    }

    /// <summary>The model with the first dimension of every input and output symbolic and intermediate shapes dropped (ONNX Runtime infers them again).</summary>
    private static byte[] WithSymbolicBatch(byte[] bytes)
    {
        var model = OnnxImporter.Parse(bytes);
        var g = model.Graph;
        var edges = g.Inputs.Where(v => v.Initializer is null).Concat(g.Outputs).ToHashSet();
        foreach (var v in edges)
            if (v.TensorType is { Shape: { Rank: > 0 } shape } t)
                v.Type = new TensorType(t.ElementType, new Shape(shape.Dims.Select((d, i) => i == 0 ? Dim.Symbolic("batch") : d)));
        foreach (var v in g.Values.Where(v => !edges.Contains(v) && v.Initializer is null && v.Producer is not null).ToList())
            v.Type = null;
        return OnnxExporter.ToBytes(model);
    }

    /// <summary>
    /// Whether dim <paramref name="index"/> of an input of rank <paramref name="rank"/> is its batch: the leading dim of a
    /// rank >= 2 input. A free batch is fed at 1 (single-stream, what the budgets mean); any other free dim is a size
    /// the measurement cannot know.
    /// </summary>
    public static bool IsBatchDim(int index, int rank) => index == 0 && rank >= 2;

    private static string FirstLine(string s) => s.Split('\n')[0].Trim().TrimEnd('.');

    /// <summary>Random inputs bound once, outputs bound to the CPU allocator: the timed call is the run alone.</summary>
    private sealed class BoundFeed : IDisposable
    {
        private readonly InferenceSession session;
        private readonly List<OrtValue> values = [];
        private readonly OrtIoBinding binding;
        private readonly RunOptions runOptions = new();

        /// <summary>Each input's fed shape, "name=1x3x480x640".</summary>
        public List<string> Shapes { get; } = [];
        /// <summary>Inputs with a free dim other than the batch, fed at 1.</summary>
        public List<string> FreeDimInputs { get; } = [];

        public BoundFeed(InferenceSession session, int? batch)
        {
            this.session = session;
            if (batch is not null) runOptions.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
            binding = session.CreateIoBinding();
            var random = new Random(7);
            foreach (var (name, meta) in session.InputMetadata)
            {
                if (!meta.IsTensor) throw new MeasurementUnavailableException($"input '{name}' is not a tensor; only tensor inputs can be fed with generated data");
                long[] shape = meta.Dimensions.Select((d, i) => i == 0 && batch is int b ? b : d < 0 ? 1L : d).ToArray();
                Shapes.Add($"{name}={string.Join("x", shape)}");
                if (meta.Dimensions.Where((d, i) => d < 0 && !IsBatchDim(i, meta.Dimensions.Length)).Any()) FreeDimInputs.Add(name);
                var type = meta.ElementDataType;
                if (type == TensorElementType.String) throw new MeasurementUnavailableException($"input '{name}' is a string tensor");
                var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, type, shape);
                Fill(value, type, random);
                values.Add(value);
                binding.BindInput(name, value);
            }
            foreach (var name in session.OutputMetadata.Keys) binding.BindOutputToDevice(name, OrtMemoryInfo.DefaultInstance);
        }

        private static void Fill(OrtValue value, TensorElementType type, Random random)
        {
            var raw = value.GetTensorMutableRawData();
            switch (type)
            {
                case TensorElementType.Float:
                    foreach (ref var f in MemoryMarshal.Cast<byte, float>(raw)) f = (float)(random.NextDouble() * 2 - 1);
                    break;
                case TensorElementType.Float16:
                    foreach (ref var h in MemoryMarshal.Cast<byte, Half>(raw)) h = (Half)(random.NextDouble() * 2 - 1);
                    break;
                case TensorElementType.Double:
                    foreach (ref var d in MemoryMarshal.Cast<byte, double>(raw)) d = random.NextDouble() * 2 - 1;
                    break;
                case TensorElementType.UInt8 or TensorElementType.Int8:
                    random.NextBytes(raw);
                    break;
                default:
                    // Integer inputs are usually indices or lengths: zeros are always in range.
                    raw.Clear();
                    break;
            }
        }

        public void Run() => session.RunWithBinding(runOptions, binding);

        public void Dispose()
        {
            binding.Dispose();
            runOptions.Dispose();
            foreach (var v in values) v.Dispose();
        }
    }

    /// <summary>
    /// Peak resident memory from /proc/self/status. Writing 5 to /proc/self/clear_refs resets the kernel's peak (VmHWM)
    /// so it covers only this measurement; where that is refused the peak of sampled VmRSS values is used.
    /// The figure must not depend on what the process did before: a compile that has freed hundreds of MB (folding,
    /// calibration) hands the new session pages that are already resident, so its RSS barely grows (0.43 MB in a
    /// build against 9.7 MB in a fresh <c>edgebuild bench</c> for the same file). So freed memory goes back to the
    /// system first (a compacting, decommitting GC and glibc's malloc_trim), and the session's weights, arena and
    /// activations fault in new pages in every process alike. File-backed pages (RssFile: ONNX Runtime's kernels paged
    /// in on first use) are left out for the same reason: a process that ran the model before already holds them.
    /// </summary>
    private sealed class MemoryProbe
    {
        private readonly double baselineMB;
        private readonly double? baselineFileMB;
        private readonly bool peakReset;
        private double sampledPeakMB;

        public MemoryProbe()
        {
            FreedMemory.ReturnToSystem();
            try
            {
                File.WriteAllText("/proc/self/clear_refs", "5");
                peakReset = true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                peakReset = false;
            }
            baselineMB = Status("VmRSS") ?? 0;
            baselineFileMB = Status("RssFile");
            sampledPeakMB = baselineMB;
        }

        public void Sample() => sampledPeakMB = Math.Max(sampledPeakMB, Status("VmRSS") ?? 0);

        public MemoryFigures Read()
        {
            Sample();
            // The arena is read separately (OrtArenaStatistics) and replaces this note.
            const string Arena = "not read";
            if (!OperatingSystem.IsLinux())
            {
                double peak = Environment.WorkingSet / 1048576.0;
                return new MemoryFigures(peak, Math.Max(0, peak - baselineMB), "working set at the end (not Linux: no peak counter)", Arena);
            }
            double hwm = peakReset ? Status("VmHWM") ?? sampledPeakMB : sampledPeakMB;
            // Kernels 4.5 and later split the resident set. File-backed pages stay once paged in, and ONNX Runtime pages in
            // its kernels in the first runs, before the peak; so their growth to the end is what they added to the peak
            // (a page first touched after the peak would make the figure read that much low).
            double fileGrowth = baselineFileMB is double before && Status("RssFile") is double after ? Math.Max(0, after - before) : 0;
            string method = (peakReset ? "VmHWM after a reset (clear_refs)" : "peak of sampled VmRSS")
                + " minus VmRSS before the session" + (baselineFileMB is null ? "" : " and minus the growth of file-backed pages (RssFile)")
                + ", freed memory returned to the system first";
            return new MemoryFigures(hwm, Math.Max(0, hwm - baselineMB - fileGrowth), method, Arena);
        }

        private static double? Status(string key)
        {
            try
            {
                foreach (var line in File.ReadLines("/proc/self/status"))
                    if (line.StartsWith(key + ":", StringComparison.Ordinal)
                        && long.TryParse(line[(key.Length + 1)..].Trim().Split(' ')[0], out long kb))
                        return kb / 1024.0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
            return OperatingSystem.IsLinux() ? null : Environment.WorkingSet / 1048576.0;
        }
    }
}
