namespace EdgeBuild.Measure;

/// <summary>Requests per second when <see cref="BatchSize"/> requests are padded into one run; null figures with a <see cref="Note"/> when the model cannot batch.</summary>
public sealed record BatchThroughput(int BatchSize, double? ItemsPerSecond, double? BatchP50Ms, string? Note);

/// <summary>
/// Memory while the artifact ran: the process's peak resident set, the part of it the model added (peak minus the
/// resident set just before the session was created: weights, ONNX Runtime's arena and buffers, IO tensors), and
/// ONNX Runtime's CPU arena on its own when it can be read (<see cref="ArenaNote"/> says what it is, or why absent).
/// </summary>
public sealed record MemoryFigures(double PeakRssMB, double ModelMB, string Method, string ArenaNote)
{
    /// <summary>The session's CPU arena after the timed runs; null when it cannot be read.</summary>
    public ArenaFigures? Arena { get; init; }
}

/// <summary>The fixed reference workload's latency, measured interleaved with the artifact (see <see cref="ReferenceWorkload"/>).</summary>
public sealed record ReferenceFigures(string Workload, int Runs, Estimate P50Ms);

/// <summary>Everything one measurement of one artifact gives (docs/measurement.md).</summary>
public sealed record BenchResult
{
    public required string Artifact { get; init; }
    public required string Sha256 { get; init; }
    public required long Bytes { get; init; }
    public required string ExecutionProvider { get; init; }
    public required int Threads { get; init; }
    /// <summary>The shape each input was fed at, as "name=1x3x480x640": the size every figure here is for.</summary>
    public IReadOnlyList<string> InputShapes { get; init; } = [];
    /// <summary>Inputs with a dim other than the batch that the artifact leaves free, fed at 1 there: their figures say little about the real size.</summary>
    public IReadOnlyList<string> FreeDimInputs { get; init; } = [];
    public required MachineFingerprint Machine { get; init; }
    public required double SessionLoadMs { get; init; }
    public required int WarmupRuns { get; init; }
    public required int Runs { get; init; }
    public required double Seconds { get; init; }
    /// <summary>"stable" (the P99 interval reached the target width) or "time cap".</summary>
    public required string StopReason { get; init; }
    public required Estimate P50Ms { get; init; }
    public required Estimate P90Ms { get; init; }
    public required Estimate P99Ms { get; init; }
    /// <summary>Thread CPU time per run (one thread, Linux): the latency without the time other processes held the core; null otherwise.</summary>
    public Estimate? CpuP50Ms { get; init; }
    public Estimate? CpuP99Ms { get; init; }
    /// <summary>The P99 budgets and the stop rule use: CPU time when measured (preemption by other processes excluded), else wall clock.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Estimate GateP99Ms => CpuP99Ms ?? P99Ms;
    /// <summary>Which clock <see cref="GateP99Ms"/> and the normalized figures are on: "thread CPU time" or "wall clock".</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string GateClock => CpuP99Ms is null ? "wall clock" : "thread CPU time";
    /// <summary>The P50 on <see cref="GateClock"/>, beside <see cref="GateP99Ms"/>.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Estimate GateP50Ms => CpuP50Ms ?? P50Ms;
    /// <summary>What a figure was measured under, for every line that states one: input shapes, threads, provider, runs, CPU.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Conditions => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"input {(InputShapes.Count == 0 ? "?" : string.Join(", ", InputShapes))}{(FreeDimInputs.Count == 0 ? "" : " (free dims fed at 1)")}, {Threads} thread(s), {ExecutionProvider}, {Runs} runs, {Machine.CpuModel}");
    public required double MaxMs { get; init; }
    public required Estimate MeanMs { get; init; }
    /// <summary>Single-stream frames per second: one request at a time, back to back (1000 / mean latency on <see cref="GateClock"/>).</summary>
    public required Estimate Fps { get; init; }
    public required BatchThroughput Batched { get; init; }
    public required MemoryFigures Memory { get; init; }
    /// <summary>Null when the reference was switched off.</summary>
    public ReferenceFigures? Reference { get; init; }
    /// <summary>
    /// P50 and P99 in reference units, on <see cref="GateClock"/>: each run divided by the reference's median in the block
    /// measured right after it, so load that changes slower than a block cancels; comparable across runs and machines.
    /// </summary>
    public Estimate? NormalizedP50 { get; init; }
    public Estimate? NormalizedP99 { get; init; }
    public required LatencyHistogram Histogram { get; init; }
}
