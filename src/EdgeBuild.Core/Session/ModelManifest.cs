using System.Text;
using System.Text.Json;
using EdgeBuild.Ir;
using EdgeBuild.Measure;

namespace EdgeBuild.Session;

/// <summary>A tensor of the model's interface as the manifest describes it.</summary>
public sealed record ManifestTensor(string Name, string CSharpName, string ElementType, IReadOnlyList<object?>? Shape);

/// <summary>A file the compile step wrote, relative to the manifest's folder.</summary>
public sealed record ManifestArtifact(string Path, string Target, string Precision, string Sha256, long Bytes)
{
    /// <summary>The artifact's inputs and outputs when they differ from the ONNX interface (TFLite: layout, shape, type); written as "io".</summary>
    public IReadOnlyList<ManifestArtifactTensor>? Io { get; init; }

    /// <summary>The program that loads this file as a model (None: a recipe, script or cache). Known to the compile that wrote it; not written to the manifest.</summary>
    public ArtifactRuntime Runtime { get; init; }
}

/// <summary>
/// One input or output of an artifact: its ONNX name, role, element type and shape in the artifact, the layout
/// ("NHWC": the ONNX NCHW tensor transposed; "ONNX": the ONNX dims), the permutation from the ONNX dims, and
/// int8 quantization when the artifact takes or gives int8.
/// </summary>
public sealed record ManifestArtifactTensor(string Name, string Role, string ElementType, IReadOnlyList<int> Shape, string Layout, IReadOnlyList<int> Perm, float? Scale, long? ZeroPoint);

/// <summary>
/// The manifest (docs/manifest.md): the contract between the compile step, the source generator and
/// the runtime. <see cref="ToJson"/> is deterministic so the CLI and the build give identical bytes.
/// </summary>
public sealed record ModelManifest(
    string Name,
    string Namespace,
    string ToolVersion,
    string SourceFile,
    string SourceSha256,
    long SourceBytes,
    CompileOptions Options,
    IReadOnlyList<ManifestTensor> Inputs,
    IReadOnlyList<ManifestTensor> Outputs,
    IReadOnlyList<ManifestArtifact> Artifacts,
    int NodesBefore,
    int NodesAfter)
{
    public const int SchemaVersion = 1;

    /// <summary>Set when the model was quantized: written as the "quantization" section and metrics.accuracy.</summary>
    public QuantizeStepResult? Quantization { get; init; }
    /// <summary>Set when the artifacts were measured: written into metrics (docs/measurement.md).</summary>
    public Measure.MeasurementReport? Measurement { get; init; }
    public const string FileSuffix = ".edgemodel.json";

    /// <summary>The manifest element type name of an IR element type ("float32", "int64", ...): <see cref="DataTypes.Name"/>, where the printer's "?" is "undefined".</summary>
    public static string ElementTypeName(DataType type) => type == DataType.Undefined ? "undefined" : DataTypes.Name(type);

    /// <summary>Shape entries: numbers, symbol names, or null for unknown dims; null when the rank is unknown.</summary>
    public static IReadOnlyList<object?>? ShapeEntries(Shape? shape) =>
        shape?.Dims.Select(d => d.Value is long v ? (object?)v : d.Param).ToList();

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, NewLine = "\n" }))
        {
            w.WriteStartObject();
            w.WriteNumber("schemaVersion", SchemaVersion);
            w.WriteString("name", Name);
            w.WriteString("namespace", Namespace);
            w.WriteStartObject("tool");
            w.WriteString("name", "edgebuild");
            w.WriteString("version", ToolVersion);
            w.WriteEndObject();
            w.WriteStartObject("source");
            w.WriteString("file", SourceFile);
            w.WriteString("sha256", SourceSha256);
            w.WriteNumber("bytes", SourceBytes);
            w.WriteEndObject();
            WriteOptions(w);
            WriteTensors(w, "inputs", Inputs);
            WriteTensors(w, "outputs", Outputs);
            w.WriteStartArray("artifacts");
            foreach (var a in Artifacts)
            {
                w.WriteStartObject();
                w.WriteString("path", a.Path);
                w.WriteString("target", a.Target);
                w.WriteString("precision", a.Precision);
                w.WriteString("sha256", a.Sha256);
                w.WriteNumber("bytes", a.Bytes);
                if (a.Io is { } io)
                {
                    w.WriteStartArray("io");
                    foreach (var t in io)
                    {
                        w.WriteStartObject();
                        w.WriteString("name", t.Name);
                        w.WriteString("role", t.Role);
                        w.WriteString("elementType", t.ElementType);
                        w.WriteStartArray("shape");
                        foreach (var d in t.Shape) w.WriteNumberValue(d);
                        w.WriteEndArray();
                        w.WriteString("layout", t.Layout);
                        w.WriteStartArray("perm");
                        foreach (var d in t.Perm) w.WriteNumberValue(d);
                        w.WriteEndArray();
                        if (t.Scale is float scale)
                        {
                            w.WriteNumber("scale", scale);
                            w.WriteNumber("zeroPoint", t.ZeroPoint ?? 0);
                        }
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("optimization");
            w.WriteNumber("nodesBefore", NodesBefore);
            w.WriteNumber("nodesAfter", NodesAfter);
            w.WriteEndObject();
            if (Quantization is { } q)
            {
                w.WriteStartObject("quantization");
                w.WriteString("mode", q.Report.Mode.ToString());
                w.WriteNumber("quantizedNodes", q.Report.QuantizedNodes);
                w.WriteNumber("keptNodes", q.Report.KeptNodes);
                w.WriteNumber("calibrationSamples", q.CalibrationFiles.Count);
                w.WriteNumber("heldOutSamples", q.HeldOutFiles.Count);
                w.WriteStartArray("keptInFp32ForBudget");
                foreach (var l in q.KeptInFloat) w.WriteStringValue(l.Node);
                w.WriteEndArray();
                // Only where the FP16 range rule kept something, so the manifests of every other build keep their bytes.
                if (q.Report.RangeKeptFp32.Count > 0)
                {
                    w.WriteStartArray("keptInFp32ForRange");
                    foreach (var f in q.Report.RangeKeptFp32)
                    {
                        w.WriteStartObject();
                        w.WriteString("node", f.Node);
                        w.WriteString("op", f.OpType);
                        w.WriteString("tensor", f.Tensor);
                        w.WriteString("kind", JsonNamingPolicy.CamelCase.ConvertName(f.Kind.ToString()));
                        w.WriteNumber("value", f.Value);
                        w.WriteNumber("limit", f.Limit);
                        w.WriteString("reason", f.Reason);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }
                if (q.Auto is { } auto)
                {
                    // Precision=Auto: what it chose, the race that decided, and every layer's precision with its measured kernel times and reason.
                    w.WriteStartObject("auto");
                    w.WriteString("chosen", auto.Choice);
                    w.WriteString("summary", auto.Summary);
                    w.WriteString("race", auto.Race.Conditions);
                    w.WriteStartArray("candidates");
                    foreach (var r in auto.Race.Results)
                    {
                        w.WriteStartObject();
                        w.WriteString("name", r.Name);
                        w.WriteNumber("p50Ms", Math.Round(r.P50Ms, 4));
                        w.WriteNumber("ratio", Math.Round(r.Ratio, 4));
                        w.WriteNumber("ratioLow", Math.Round(r.RatioLow, 4));
                        w.WriteNumber("ratioHigh", Math.Round(r.RatioHigh, 4));
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteStartArray("layers");
                    foreach (var l in auto.Layers)
                    {
                        w.WriteStartObject();
                        w.WriteString("node", l.Node);
                        w.WriteString("op", l.OpType);
                        w.WriteString("precision", l.Precision);
                        if (l.Fp32Microseconds is double f) w.WriteNumber("fp32Us", f);
                        if (l.Int8Microseconds is double i) w.WriteNumber("int8Us", i);
                        w.WriteString("reason", l.Reason);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                if (q.Share is { } share)
                {
                    // What really runs in which precision: a "precision Int8" model may keep most of its weights in float.
                    w.WriteStartObject("layers");
                    foreach (var (precision, count) in share.Layers.OrderBy(l => l.Key, StringComparer.Ordinal)) w.WriteNumber(precision, count);
                    w.WriteEndObject();
                    w.WriteStartObject("weights");
                    w.WriteNumber("integer", share.IntegerWeights);
                    w.WriteNumber("float16", share.Float16Weights);
                    w.WriteNumber("float32", share.Float32Weights);
                    w.WriteNumber("float32Percent", Math.Round(share.Float32WeightPercent, 3));
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            // Filled by the measurement step (latency, memory); accuracy comes from quantization when there was one.
            w.WriteStartObject("metrics");
            if (Quantization?.Accuracy is { } accuracy)
            {
                w.WriteStartObject("accuracy");
                w.WriteString("task", accuracy.Task.ToString());
                w.WriteString("metric", accuracy.Metric);
                w.WriteNumber("value", Math.Round(accuracy.Value, 6));
                w.WriteNumber("lossPercent", Math.Round(accuracy.LossPercent, 6));
                w.WriteNumber("lossLow", Math.Round(accuracy.Loss.Low, 6));
                w.WriteNumber("lossHigh", Math.Round(accuracy.Loss.High, 6));
                w.WriteString("interval", "95 % " + accuracy.IntervalMethod);
                w.WriteNumber("samples", accuracy.Samples);
                if (Quantization.Judgement is { } judgement)
                {
                    w.WriteString("verdict", judgement.Verdict.ToString().ToLowerInvariant());
                    if (judgement.Loss is { } loss)
                    {
                        w.WriteString("lossVerdict", loss.Verdict.ToString().ToLowerInvariant());
                        if (loss.SamplesToSettle is int settle) w.WriteNumber("samplesToSettle", settle);
                    }
                    w.WriteNumber("minSqnrDb", judgement.Floors.MinSqnrDb);
                    w.WriteNumber("minCosine", judgement.Floors.MinCosine);
                }
                w.WriteStartArray("outputs");
                foreach (var o in accuracy.Outputs)
                {
                    w.WriteStartObject();
                    w.WriteString("name", o.Name);
                    WriteEstimate(w, "sqnrDb", o.Sqnr);
                    WriteEstimate(w, "cosine", o.Cosine);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteStartArray("referenceProblems");
                foreach (var p in accuracy.ReferenceProblems) w.WriteStringValue(p);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            if (Measurement is { } measurement) WriteMetrics(w, measurement);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private void WriteOptions(Utf8JsonWriter w)
    {
        var o = Options;
        w.WriteStartObject("options");
        w.WriteString("precision", o.Precision.ToString());
        w.WriteStartArray("targets");
        foreach (var t in o.Targets) w.WriteStringValue(t.ToString());
        w.WriteEndArray();
        w.WriteString("executionProvider", o.ExecutionProvider.ToString());
        WriteNullable(w, "latencyBudgetMs", o.LatencyBudgetMs);
        WriteNullable(w, "maxAccuracyLoss", o.MaxAccuracyLoss);
        w.WriteStartArray("calibration");
        foreach (var c in o.Calibration) w.WriteStringValue(Path.GetFileName(c));
        w.WriteEndArray();
        if (o.TargetOpset is long opset) w.WriteNumber("targetOpset", opset);
        else w.WriteNull("targetOpset");
        // How this build turned images into inputs (calibration, held-out samples), so the runtime and the generated class can do the same.
        var p = o.Preprocessing;
        w.WriteStartObject("preprocessing");
        w.WriteNumber("scale", p.Scale);
        w.WriteStartArray("mean");
        foreach (var m in p.Mean) w.WriteNumberValue(m);
        w.WriteEndArray();
        w.WriteStartArray("std");
        foreach (var d in p.Std) w.WriteNumberValue(d);
        w.WriteEndArray();
        w.WriteString("channelOrder", p.ChannelOrder.ToString());
        w.WriteString("resize", p.Resize.ToString());
        w.WriteString("layout", p.Layout.ToString());
        w.WriteEndObject();
        // The item's Shapes, only when given (manifests without them keep their bytes): the generated dims struct's defaults.
        if (o.Shapes.Count > 0)
        {
            w.WriteStartObject("shapes");
            foreach (var (name, dims) in o.Shapes.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                w.WriteStartArray(name);
                foreach (long d in dims) w.WriteNumberValue(d);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    /// <summary>{"value", "low", "high"}, each rounded; an infinite or undefined bound (identical outputs) is null.</summary>
    private static void WriteEstimate(Utf8JsonWriter w, string name, Measure.Estimate e)
    {
        w.WriteStartObject(name);
        foreach (var (key, v) in new[] { ("value", e.Value), ("low", e.Low), ("high", e.High) })
        {
            if (double.IsFinite(v)) w.WriteNumber(key, Math.Round(v, 6));
            else w.WriteNull(key);
        }
        w.WriteEndObject();
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, double? value)
    {
        if (value is double v) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }

    private static void WriteTensors(Utf8JsonWriter w, string name, IReadOnlyList<ManifestTensor> tensors)
    {
        w.WriteStartArray(name);
        foreach (var t in tensors)
        {
            w.WriteStartObject();
            w.WriteString("name", t.Name);
            w.WriteString("csharpName", t.CSharpName);
            w.WriteString("elementType", t.ElementType);
            if (t.Shape is null) w.WriteNull("shape");
            else
            {
                w.WriteStartArray("shape");
                foreach (var d in t.Shape)
                {
                    switch (d)
                    {
                        case long v: w.WriteNumberValue(v); break;
                        case string s: w.WriteStringValue(s); break;
                        default: w.WriteNullValue(); break;
                    }
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>
    /// The manifest's metrics: machine, threads, and per artifact the measured figures (or why none), then the budget
    /// outcomes. Only cached-or-measured values go in, so a cache hit writes the same bytes.
    /// </summary>
    private static void WriteMetrics(Utf8JsonWriter w, MeasurementReport m)
    {
        w.WritePropertyName("machine");
        JsonSerializer.Serialize(w, m.Machine, MeasureJson.Options);
        w.WriteNumber("threads", m.Options.Threads);
        w.WriteString("referenceWorkload", ReferenceWorkload.Name);
        w.WriteStartArray("artifacts");
        foreach (var a in m.Artifacts)
        {
            w.WriteStartObject();
            w.WriteString("path", a.Path);
            w.WriteString("target", a.Target);
            w.WriteString("precision", a.Precision);
            w.WriteString("key", a.Key);
            if (a.Device is { } device) w.WriteString("device", device);
            if (a.Result is { } r)
            {
                w.WriteBoolean("measured", true);
                w.WriteNumber("bytes", r.Bytes);
                w.WriteNumber("sessionLoadMs", Math.Round(r.SessionLoadMs, 3));
                w.WriteNumber("runs", r.Runs);
                w.WriteString("stopReason", r.StopReason);
                WriteMetricEstimate(w, "p50Ms", r.P50Ms);
                WriteMetricEstimate(w, "p90Ms", r.P90Ms);
                WriteMetricEstimate(w, "p99Ms", r.P99Ms);
                w.WriteNumber("maxMs", Math.Round(r.MaxMs, 4));
                WriteMetricEstimate(w, "fps", r.Fps);
                if (r.Batched.ItemsPerSecond is double ips) w.WriteNumber("batchedItemsPerSecond", Math.Round(ips, 2));
                else w.WriteNull("batchedItemsPerSecond");
                w.WriteNumber("batchSize", r.Batched.BatchSize);
                w.WriteNumber("memoryMB", Math.Round(r.Memory.ModelMB, 2));
                w.WriteNumber("peakRssMB", Math.Round(r.Memory.PeakRssMB, 2));
                if (r.Memory.Arena is { } arena)
                {
                    w.WriteNumber("arenaMB", Math.Round(arena.AllocatedMB, 3));
                    w.WriteNumber("arenaMaxInUseMB", Math.Round(arena.MaxInUseMB, 3));
                }
                if (r.NormalizedP50 is { } n50) WriteMetricEstimate(w, "normalizedP50", n50);
                if (r.NormalizedP99 is { } n99) WriteMetricEstimate(w, "normalizedP99", n99);
            }
            else
            {
                w.WriteBoolean("measured", false);
                w.WriteString("unavailable", a.Unavailable);
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("budgets");
        foreach (var b in m.Budgets)
        {
            w.WriteStartObject();
            w.WriteString("artifact", b.Artifact);
            w.WriteString("budget", b.Budget);
            w.WriteNumber("limit", b.Limit);
            if (b.Measured is double v) w.WriteNumber("measured", Math.Round(v, 4));
            w.WriteString("status", b.Status);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>A measured figure with its interval, in milliseconds or frames per second: four decimals (accuracy estimates keep six).</summary>
    private static void WriteMetricEstimate(Utf8JsonWriter w, string name, Estimate e)
    {
        w.WriteStartObject(name);
        w.WriteNumber("value", Math.Round(e.Value, 4));
        w.WriteNumber("low", Math.Round(e.Low, 4));
        w.WriteNumber("high", Math.Round(e.High, 4));
        w.WriteEndObject();
    }
}
