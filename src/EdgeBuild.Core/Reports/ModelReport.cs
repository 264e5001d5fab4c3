using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeBuild.Analysis;
using EdgeBuild.Compile;
using EdgeBuild.Devices;
using EdgeBuild.Ir;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;
using EdgeBuild.Targets;
using EdgeBuild.Session;
using EdgeBuild.Quantization;

namespace EdgeBuild.Reports;

/// <summary>One compute layer of the float model: what it computes and how it was deployed.</summary>
public sealed record ReportLayer(string Node, string Op, string OutputShape, long? Macs, long Parameters, string Precision, double? SqnrDb)
{
    /// <summary>Precision=Auto: the layer's kernel time in FP32 and in INT8 (µs; null where it ran fused into a neighbour) and why it got its precision.</summary>
    public double? Fp32Microseconds { get; init; }
    public double? Int8Microseconds { get; init; }
    public string? Why { get; init; }
}

/// <summary>Precision=Auto's decision: what it chose, the interleaved race of FP32 against the quantized candidates, and the one-line reason.</summary>
/// <param name="Chosen">The precision Auto chose.</param>
/// <param name="Summary">Its one-line reason.</param>
/// <param name="Conditions">How the race measured.</param>
/// <param name="Race">FP32 and each candidate, with its ratio to FP32.</param>
/// <param name="FasterBelow">The ratio a candidate's whole interval had to stay under (<see cref="RaceReport.FasterBelow"/>).</param>
public sealed record ReportAuto(string Chosen, string Summary, string Conditions, IReadOnlyList<RaceResult> Race, double FasterBelow);

/// <summary>A part of the artifact's bytes: weights of one element type, or the graph itself.</summary>
public sealed record ReportSizePart(string Part, long Bytes, int Tensors);

/// <summary>One artifact in the report: its measurement (or why none) and its device estimates.</summary>
public sealed record ReportArtifact(string Path, string Target, string Precision, string Key, long Bytes, BenchResult? Result, string? Unavailable,
    double? AccuracyLossPercent, IReadOnlyList<DeviceEstimate> Devices)
{
    /// <summary>The target device it was measured on (docs/devices.md); null: the build machine.</summary>
    public string? Device { get; init; }

    /// <summary>The path, and the device where it was measured on one: how the report's rows name it.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Label => Device is null ? Path : $"{Path} on {Device}";
}

/// <summary>One output against FP32 on the held-out samples: SQNR (dB) and mean cosine, each with its 95 % interval.</summary>
public sealed record ReportOutputAgreement(string Name, Estimate SqnrDb, Estimate Cosine);

/// <summary>
/// The quantized model against FP32 (docs/quantization.md, "The accuracy gate"): the loss with its 95 % interval and
/// verdict, the output floors, the held-out sample count, and how much of the model stayed float.
/// </summary>
public sealed record ReportAccuracy(string Task, string Metric, double Value, Estimate LossPercent, string Interval, int HeldOutSamples,
    double? MaxAccuracyLoss, string Verdict, string? LossVerdict, int? SamplesToSettle, double MinSqnrDb, double MinCosine,
    IReadOnlyList<ReportOutputAgreement> Outputs, IReadOnlyList<string> ReferenceProblems,
    IReadOnlyDictionary<string, int> LayersByPrecision, long IntegerWeights, long Float16Weights, long Float32Weights, double Float32WeightPercent);

/// <summary>A budget or baseline finding as the report shows it.</summary>
public sealed record ReportFinding(string Severity, string Code, string Subject, string Message);

/// <summary>
/// Everything a model's reports show; <c>report.json</c> is this record (schema in docs/measurement.md, versioned by
/// <see cref="SchemaVersion"/>), and <c>report.md</c> and <c>report.html</c> are rendered from it.
/// </summary>
public sealed record ModelReportData
{
    public const int CurrentSchemaVersion = 1;
    public int SchemaVersion { get; init; } = CurrentSchemaVersion;
    /// <summary>"pass", "warn" (warnings only) or "fail".</summary>
    public required string Status { get; init; }
    public required string Name { get; init; }
    public required string SourceFile { get; init; }
    public required string SourceSha256 { get; init; }
    public required long SourceBytes { get; init; }
    public required string Precision { get; init; }
    public required IReadOnlyList<string> Targets { get; init; }
    public required string ExecutionProvider { get; init; }
    public required MachineFingerprint Machine { get; init; }
    public required BenchOptions Bench { get; init; }
    public required string ReferenceWorkload { get; init; }
    public required long Macs { get; init; }
    public required long BytesMoved { get; init; }
    public required IReadOnlyList<ReportArtifact> Artifacts { get; init; }
    public required IReadOnlyList<BudgetOutcome> Budgets { get; init; }
    public BaselineSummary? Baseline { get; init; }
    public required IReadOnlyList<ReportFinding> Findings { get; init; }
    public required IReadOnlyList<ReportLayer> Layers { get; init; }
    public required IReadOnlyList<ReportSizePart> Size { get; init; }
    public required IReadOnlyList<DeviceProfile> DeviceProfiles { get; init; }
    /// <summary>The quantized model against FP32; null for an FP32 build or one without held-out samples.</summary>
    public ReportAccuracy? Accuracy { get; init; }
    /// <summary>Precision=Auto's choice beside optimized FP32; null for the other precisions.</summary>
    public ReportAuto? Auto { get; init; }
    /// <summary>Per device profile, runtime and precision: the layers that would fall back to the CPU and the roofline there (estimates; docs/devices.md).</summary>
    public IReadOnlyList<OffloadResult> Offload { get; init; } = [];
    /// <summary>Nodes the FP16 range rule kept in FP32, each with the tensor, the measured value and the limit (empty where it kept none).</summary>
    public IReadOnlyList<Fp16RangeFinding> RangeKeptFp32 { get; init; } = [];
}

/// <summary>Builds a model's report data and writes report.json, report.md and report.html beside its artifacts.</summary>
public static class ModelReport
{
    public const string JsonName = "report.json";
    public const string MarkdownName = "report.md";
    public const string HtmlName = "report.html";

    /// <summary>Writes the three reports into <paramref name="outputDirectory"/> (atomically, each).</summary>
    public static ModelReportData WriteAll(string outputDirectory, ModelManifest manifest, CompileSession context, MeasurementReport measurement)
    {
        var data = Build(manifest, context, measurement);
        Write(outputDirectory, data);
        return data;
    }

    /// <summary>Writes report.json, report.md and report.html for <paramref name="data"/>.</summary>
    public static void Write(string outputDirectory, ModelReportData data)
    {
        AtomicFile.WriteAllText(Path.Combine(outputDirectory, JsonName), JsonSerializer.Serialize(data, MeasureJson.Options) + "\n");
        AtomicFile.WriteAllText(Path.Combine(outputDirectory, MarkdownName), MarkdownReport.Render(data));
        AtomicFile.WriteAllText(Path.Combine(outputDirectory, HtmlName), HtmlReport.Render(data));
    }

    /// <summary>Whether <paramref name="outputDirectory"/> holds reports of the model <paramref name="name"/>.</summary>
    public static bool Describes(string outputDirectory, string name) =>
        File.Exists(Path.Combine(outputDirectory, JsonName)) && Read(Path.Combine(outputDirectory, JsonName))?.Name == name;

    /// <summary>Reads a report.json back (for <c>edgebuild report</c>).</summary>
    public static ModelReportData? Read(string path)
    {
        try
        {
            var data = JsonSerializer.Deserialize<ModelReportData>(File.ReadAllText(path), MeasureJson.Options);
            return data?.SchemaVersion == ModelReportData.CurrentSchemaVersion ? data : null;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The compile's TensorRTVersion; a value the TensorRT writer would refuse (EB4202) only matters to a TensorRT build, so the report falls back to the default.</summary>
    private static Targets.TensorRt.TensorRtVersion? TensorRtVersionOrDefault(string version)
    {
        try { return Targets.TensorRt.TensorRtVersion.Parse(version); }
        catch (Diagnostics.EdgeBuildException) { return null; }
    }

    public static ModelReportData Build(ModelManifest manifest, CompileSession context, MeasurementReport measurement)
    {
        var floatModel = context.CloneFloatModel();
        ShapeInference.Infer(floatModel);
        var quantized = context.Quantization?.Report.Layers.ToDictionary(l => l.Node, StringComparer.Ordinal) ?? [];
        string defaultPrecision = context.Options.Precision == Precision.Fp16 ? "Fp16" : "Fp32";
        var auto = context.Quantization?.Auto?.Layers.ToDictionary(l => l.Node, StringComparer.Ordinal) ?? [];
        var rangeKept = context.Quantization?.Report.RangeKeptFp32 ?? [];
        var rangeReason = rangeKept.GroupBy(f => f.Node, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Reason, StringComparer.Ordinal);
        var layers = new List<ReportLayer>();
        long activationElements = 0, parameters = 0;
        foreach (var n in floatModel.Graph.Nodes)
        {
            foreach (var o in n.Outputs)
                if (o?.TensorType?.Shape?.ElementCount() is long count) activationElements += count;
            if (!MacCounter.IsComputeLayer(n)) continue;
            string name = n.Name.Length > 0 ? n.Name : n.Output0.Name;
            long p = n.Inputs.Where(i => i?.Initializer is not null).Sum(i => i!.Initializer!.ElementCount);
            parameters += p;
            var q = quantized.GetValueOrDefault(name);
            string shape = n.Output0.TensorType?.Shape is { } s ? "[" + string.Join(",", s.Dims.Select(d => d.ToString())) + "]" : "?";
            var chosen = auto.GetValueOrDefault(name);
            layers.Add(new ReportLayer(name, n.OpType, shape, MacCounter.Count(n), p, q?.Precision ?? defaultPrecision,
                q?.Sqnr is double db && double.IsFinite(db) ? Math.Round(db, 2) : null)
            {
                Fp32Microseconds = chosen?.Fp32Microseconds,
                Int8Microseconds = chosen?.Int8Microseconds,
                Why = chosen?.Reason ?? rangeReason.GetValueOrDefault(name),
            });
        }
        long macs = layers.Sum(l => l.Macs ?? 0);
        int bytesPerElement = context.Options.Precision switch { Precision.Fp32 => 4, Precision.Fp16 => 2, _ => 1 };
        // Weights read once and every activation written and read once: no reuse in caches, so an upper bound on traffic.
        long weightBytes = floatModel.Graph.Initializers.Sum(v => v.Initializer?.ElementCount ?? 0) * bytesPerElement;
        long bytesMoved = weightBytes + 2 * activationElements * bytesPerElement;

        var size = new List<ReportSizePart>();
        long initializerBytes = 0;
        foreach (var group in context.DeployedModel.Graph.Initializers.Where(v => v.Initializer is not null).GroupBy(v => v.Initializer!.ElementType).OrderByDescending(g => g.Sum(v => v.Initializer!.Raw.LongLength)))
        {
            long bytes = group.Sum(v => v.Initializer!.Raw.LongLength);
            initializerBytes += bytes;
            size.Add(new ReportSizePart($"weights {ModelManifest.ElementTypeName(group.Key)}", bytes, group.Count()));
        }
        long onnxBytes = manifest.Artifacts.FirstOrDefault(a => a.Target == nameof(TargetKind.Onnx))?.Bytes ?? 0;
        if (onnxBytes > initializerBytes) size.Add(new ReportSizePart("graph, names and metadata", onnxBytes - initializerBytes, 0));

        var profiles = new List<DeviceProfile>(DeviceProfiles.All);
        var firstReference = measurement.Artifacts.Select(a => a.Result?.Reference).FirstOrDefault(r => r is not null);
        if (firstReference is not null) profiles.Add(DeviceProfiles.LocalCpu(measurement.Machine, firstReference, measurement.Options.Threads));

        var artifacts = measurement.Artifacts.Select(a =>
        {
            string precision = a.Precision is "Int8" or "Int8Dynamic" or "Mixed" ? "Int8" : a.Precision;
            // A device that does not run the artifact's precision has no row (an FP32 artifact gets none on the Edge TPU).
            // One artifact measured on several devices has one set of estimates: they depend on the file, not on where it ran.
            var devices = !ReferenceEquals(measurement.Artifacts.First(m => m.Path == a.Path), a) ? []
                : profiles.Select(p => DeviceProfiles.Estimate(p, precision, macs, bytesMoved)).OfType<DeviceEstimate>().ToList();
            long bytes = manifest.Artifacts.FirstOrDefault(m => m.Path == a.Path)?.Bytes ?? a.Result?.Bytes ?? 0;
            return new ReportArtifact(a.Path, a.Target, a.Precision, a.Key, bytes, a.Result, a.Unavailable, a.AccuracyLossPercent, devices) { Device = a.Device };
        }).ToList();

        var gateFindings = context.Quantization?.Judgement?.Findings ?? [];
        var findings = gateFindings.Concat(measurement.Findings).Select(f => new ReportFinding(f.Severity == FindingSeverity.Error ? "error" : "warning", f.Descriptor.Code, f.Subject, f.Message)).ToList();
        string status = findings.Any(f => f.Severity == "error") ? "fail" : findings.Count > 0 ? "warn" : "pass";
        return new ModelReportData
        {
            Status = status,
            Name = manifest.Name,
            SourceFile = manifest.SourceFile,
            SourceSha256 = manifest.SourceSha256,
            SourceBytes = manifest.SourceBytes,
            // Auto names what it chose: "Auto (Mixed)".
            Precision = manifest.Options.Precision == context.Options.Precision ? manifest.Options.Precision.ToString() : $"{manifest.Options.Precision} ({context.Options.Precision})",
            Targets = manifest.Options.Targets.Select(t => t.ToString()).ToList(),
            ExecutionProvider = manifest.Options.ExecutionProvider.ToString(),
            Machine = measurement.Machine,
            Bench = measurement.Options,
            ReferenceWorkload = Measure.ReferenceWorkload.Name,
            Macs = macs,
            BytesMoved = bytesMoved,
            Artifacts = artifacts,
            Budgets = measurement.Budgets,
            Baseline = measurement.Baseline,
            Findings = findings,
            Layers = layers,
            Size = size,
            DeviceProfiles = profiles,
            Offload = OffloadAnalysis.Analyze(floatModel, tensorRt: TensorRtVersionOrDefault(context.Options.TensorRt.Version)),
            Accuracy = Accuracy(context.Quantization),
            Auto = context.Quantization?.Auto is { } a ? new ReportAuto(a.Choice, a.Summary, a.Race.Conditions, a.Race.Results, a.Race.FasterBelow) : null,
            RangeKeptFp32 = rangeKept,
        };
    }

    private static ReportAccuracy? Accuracy(QuantizeStepResult? q)
    {
        if (q?.Accuracy is not { } a || q.Judgement is not { } j) return null;
        var share = q.Share;
        return new ReportAccuracy(a.Task.ToString(), a.Metric, a.Value, a.Loss, "95 % " + a.IntervalMethod, a.Samples, j.Budget,
            j.Verdict.ToString().ToLowerInvariant(), j.Loss?.Verdict.ToString().ToLowerInvariant(), j.Loss?.SamplesToSettle, j.Floors.MinSqnrDb, j.Floors.MinCosine,
            a.Outputs.Select(o => new ReportOutputAgreement(o.Name, o.Sqnr, o.Cosine)).ToList(), a.ReferenceProblems,
            share?.Layers ?? new Dictionary<string, int>(), share?.IntegerWeights ?? 0, share?.Float16Weights ?? 0, share?.Float32Weights ?? 0, share?.Float32WeightPercent ?? 0);
    }

    /// <summary>The accuracy lines of report.md and the build summary: loss with its interval and verdict, the floors, what stayed float.</summary>
    internal static IEnumerable<string> AccuracyLines(ReportAccuracy a)
    {
        yield return Inv($"Accuracy against FP32 ({a.Task}, {a.HeldOutSamples} held-out samples): loss {a.LossPercent.Value:F3} % [95 % CI {a.LossPercent.Low:F3}, {a.LossPercent.High:F3}] ({a.Interval}; {a.Metric} {a.Value:G4})") +
            (a.MaxAccuracyLoss is double b ? Inv($" against MaxAccuracyLoss={b:G}: {a.LossVerdict}") + (a.SamplesToSettle is int n ? Inv($" ({n} held-out samples would settle it)") : "") : ", no MaxAccuracyLoss") +
            Inv($"; verdict {a.Verdict}");
        foreach (var o in a.Outputs)
            yield return Inv($"Output '{o.Name}': SQNR {Db(o.SqnrDb.Value)} dB [{Db(o.SqnrDb.Low)}, {Db(o.SqnrDb.High)}] (floor {a.MinSqnrDb:G}), cosine {o.Cosine.Value:F5} [{o.Cosine.Low:F5}, {o.Cosine.High:F5}] (floor {a.MinCosine:G})");
        long total = a.IntegerWeights + a.Float16Weights + a.Float32Weights;
        yield return Inv($"Stayed float: {a.LayersByPrecision.Where(l => l.Key != "Int8").Sum(l => l.Value)} of {a.LayersByPrecision.Values.Sum()} compute layers ({string.Join(", ", a.LayersByPrecision.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => Inv($"{l.Value} {l.Key}")))}); {a.Float32WeightPercent:F1} % of {total:N0} weights in float32");
        foreach (var p in a.ReferenceProblems) yield return "FP32 reference: " + p;
    }

    internal static string Db(double v) => AccuracyEvaluator.FormatDb(v);

    internal static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>A figure with three decimals, or "n/a" where the device publishes nothing to estimate it from.</summary>
    internal static string Optional(double? value) => value is double v ? v.ToString("F3", CultureInfo.InvariantCulture) : "n/a";

    internal static string Bytes(long n) => n switch
    {
        >= 1 << 20 => Inv($"{n / 1048576.0:F2} MiB"),
        >= 1 << 10 => Inv($"{n / 1024.0:F1} KiB"),
        _ => Inv($"{n} B"),
    };

    internal static string Est(Estimate? e, string unit, int decimals = 3) => e is null ? "n/a" : e.Format(unit, decimals);
}

/// <summary>report.md: the short form for pull-request comments.</summary>
public static class MarkdownReport
{
    public static string Render(ModelReportData d)
    {
        var s = new StringBuilder();
        string icon = d.Status switch { "fail" => "FAIL", "warn" => "WARN", _ => "PASS" };
        s.Append(ModelReport.Inv($"## EdgeBuild: {d.Name} — {icon}\n\n"));
        s.Append(ModelReport.Inv($"`{d.SourceFile}` ({ModelReport.Bytes(d.SourceBytes)}), precision {d.Precision}, {d.ExecutionProvider}; measured on {d.Machine.CpuModel} ({d.Machine.LogicalCores} cores, ONNX Runtime {d.Machine.OrtVersion}), {d.Bench.Threads} thread(s); machine {d.Machine.Id}\n\n"));
        if (d.Findings.Count > 0)
        {
            foreach (var f in d.Findings) s.Append(ModelReport.Inv($"- **{f.Severity} {f.Code}** {f.Subject}: {f.Message}\n"));
            s.Append('\n');
        }
        if (d.Auto is { } auto)
        {
            s.Append("- ").Append(auto.Summary).Append('\n');
            foreach (var r in auto.Race) s.Append(ModelReport.Inv($"  - {r.Name}: P50 {r.P50Ms:F3} ms, {r.Ratio:F3}x FP32 [95 % CI {r.RatioLow:F3}, {r.RatioHigh:F3}]\n"));
            s.Append('\n');
        }
        if (d.RangeKeptFp32.Count > 0)
        {
            s.Append(ModelReport.Inv($"- FP16 range rule: {d.RangeKeptFp32.Count} node(s) kept in FP32\n"));
            foreach (var f in d.RangeKeptFp32) s.Append(ModelReport.Inv($"  - {f.Node} ({f.OpType}): {f.Reason}\n"));
            s.Append('\n');
        }
        if (d.Accuracy is { } accuracy)
        {
            foreach (var line in ModelReport.AccuracyLines(accuracy)) s.Append("- ").Append(line).Append('\n');
            s.Append('\n');
        }
        s.Append("| artifact | size | P50 ms | P99 ms (95 % CI), budget clock and what was measured | fps | batched/s | load ms | memory MB | normalized P99 |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        foreach (var a in d.Artifacts)
        {
            if (a.Result is not { } r) { s.Append(ModelReport.Inv($"| {a.Label} | {ModelReport.Bytes(a.Bytes)} | not measured: {a.Unavailable} | | | | | | |\n")); continue; }
            s.Append(ModelReport.Inv($"| {a.Label} | {ModelReport.Bytes(a.Bytes)} | {r.GateP50Ms.Value:F3} | {r.GateP99Ms.Value:F3} [{r.GateP99Ms.Low:F3}, {r.GateP99Ms.High:F3}] ({r.GateClock}; {r.Conditions}) | {r.Fps.Value:F1} | {(r.Batched.ItemsPerSecond is double b ? b.ToString("F1", CultureInfo.InvariantCulture) : "n/a")} | {r.SessionLoadMs:F1} | {r.Memory.ModelMB:F1} | {(r.NormalizedP99 is { } n ? n.Value.ToString("F3", CultureInfo.InvariantCulture) : "n/a")} |\n"));
        }
        if (d.Budgets.Count > 0)
        {
            s.Append("\n| budget | limit | measured | status |\n| --- | --- | --- | --- |\n");
            foreach (var b in d.Budgets)
                s.Append(ModelReport.Inv($"| {b.Budget} ({b.Artifact}) | {b.Limit:G} {b.Unit} | {b.Measured:F3}{(b.Low is double lo ? ModelReport.Inv($" [{lo:F3}, {b.High:F3}]") : "")} {b.Unit} | {b.Status} |\n"));
        }
        if (d.Baseline is { } bl)
        {
            s.Append(ModelReport.Inv($"\nBaseline `{bl.File}` ({(bl.SameMachine ? "same machine" : "another machine: normalized figures compared")}{(bl.SameModel ? "" : "; model changed since")}):\n\n| artifact | metric | baseline | now | limit | status |\n| --- | --- | --- | --- | --- | --- |\n"));
            foreach (var r in bl.Rows) s.Append(ModelReport.Inv($"| {r.Key} | {r.Metric} | {r.Baseline:G6} | {r.Current:G6} | {r.LimitValue:G6} | {r.Status} |\n"));
        }
        s.Append("\nDevice estimates (roofline lower bounds from dense peak rates, energy = rated power x latency; estimates, not measurements; a device that does not run an artifact's precision has no row; see docs/measurement.md):\n\n| artifact | device | precision | latency ms | bound | energy mJ | W at 30 fps |\n| --- | --- | --- | --- | --- | --- | --- |\n");
        foreach (var a in d.Artifacts)
            foreach (var e in a.Devices)
                s.Append(ModelReport.Inv($"| {a.Path} | {e.Device} | {e.Precision} | {e.LatencyMs:F3} | {e.Bound} | {ModelReport.Optional(e.EnergyMj)} | {ModelReport.Optional(e.PowerWAt30Fps)} |\n"));
        AppendOffload(s, d.Offload);
        return s.ToString();
    }

    /// <summary>The layers each device's runtimes would leave to the CPU, per precision, with the roofline there; at most <see cref="ListedLayers"/> layers named per row.</summary>
    private static void AppendOffload(StringBuilder s, IReadOnlyList<OffloadResult> offload)
    {
        if (offload.Count == 0) return;
        s.Append("\nOffload estimates per device profile (estimates from the runtimes' published operator lists, before anything is deployed; roofline lower bounds; not measurements; docs/devices.md):\n\n| device | runtime | precision | layers on the accelerator | fall back to the CPU | roofline ms (estimate) | energy mJ (estimate) |\n| --- | --- | --- | --- | --- | --- | --- |\n");
        foreach (var o in offload)
        {
            string fallBack = o.NotJudged is not null ? $"not judged: {o.NotJudged}"
                : o.FallBack.Count == 0 ? "none"
                : string.Join("; ", o.FallBack.Take(ListedLayers).Select(l => $"{l.Node} ({l.Op}): {l.Reason}")) + (o.FallBack.Count > ListedLayers ? ModelReport.Inv($"; and {o.FallBack.Count - ListedLayers} more (report.json)") : "");
            string placed = o.NotJudged is not null ? "?" : ModelReport.Inv($"{o.Layers - o.FallBack.Count} of {o.Layers}");
            s.Append(ModelReport.Inv($"| {o.Device} | {o.RuntimeName} | {o.Precision} | {placed} | {fallBack.Replace("|", "\\|", StringComparison.Ordinal)} | {(o.Estimate is { } e ? e.LatencyMs.ToString("F3", CultureInfo.InvariantCulture) : "n/a")} | {ModelReport.Optional(o.Estimate?.EnergyMj)} |\n"));
        }
    }

    private const int ListedLayers = 5;
}
