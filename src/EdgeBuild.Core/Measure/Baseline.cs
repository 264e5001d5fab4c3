using System.Globalization;
using System.Text.Json;
using EdgeBuild.Diagnostics;
using EdgeBuild.Onnx;

namespace EdgeBuild.Measure;

/// <summary>The model a baseline was recorded for: its file, hash and interface (<c>name:type[shape]</c> per input and output).</summary>
public sealed record BaselineModel(string File, string Sha256, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs);

/// <summary>One artifact's committed metrics; <see cref="Key"/> is <c>target/precision/execution provider</c>.</summary>
public sealed record BaselineArtifact(string Key, string Path, string Sha256, long Bytes, Estimate P50Ms, Estimate P99Ms, Estimate? NormalizedP99,
    double Fps, double MemoryMB, double? AccuracyLossPercent);

/// <summary>One earlier <c>baseline update</c>, kept for the report's P99-across-builds plot.</summary>
public sealed record BaselineHistoryEntry(string RecordedUtc, string ModelSha256, string MachineId, IReadOnlyList<BaselineHistoryPoint> Artifacts);

/// <summary>An artifact's P99 at one point of the history.</summary>
public sealed record BaselineHistoryPoint(string Key, double P99Ms, double? NormalizedP99);

/// <summary>
/// <c>&lt;model&gt;.edgebaseline.json</c>, beside the model and committed by the user (docs/measurement.md): metrics per
/// artifact, the machine they were measured on, the tolerances, and the history of updates.
/// </summary>
public sealed record BaselineFile
{
    public const int CurrentSchemaVersion = 1;
    public const string Suffix = ".edgebaseline.json";

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;
    public required BaselineModel Model { get; init; }
    public RegressionTolerances Tolerances { get; init; } = new();
    public required MachineFingerprint Machine { get; init; }
    public required IReadOnlyList<BaselineArtifact> Artifacts { get; init; }
    public IReadOnlyList<BaselineHistoryEntry> History { get; init; } = [];

    /// <summary><c>models/face.onnx</c> -> <c>models/face.edgebaseline.json</c>.</summary>
    public static string PathFor(string modelPath) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(modelPath)) ?? ".", System.IO.Path.GetFileNameWithoutExtension(modelPath) + Suffix);

    /// <summary>Reads and checks a baseline; anything unreadable is EB5010 naming the file.</summary>
    public static BaselineFile Read(string path)
    {
        BaselineFile? file;
        try
        {
            file = JsonSerializer.Deserialize<BaselineFile>(File.ReadAllText(path), MeasureJson.Options);
        }
        catch (JsonException e)
        {
            throw new EdgeBuildException(DiagnosticCodes.BaselineCorrupt, path, $"not valid baseline JSON ({e.Message.Split('\n')[0].TrimEnd('.')})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EdgeBuildException(DiagnosticCodes.BaselineCorrupt, path, $"cannot be read ({e.Message.TrimEnd('.')})");
        }
        if (file is null)
            throw new EdgeBuildException(DiagnosticCodes.BaselineCorrupt, path, "the file holds JSON null, not a baseline");
        if (file.SchemaVersion != CurrentSchemaVersion)
            throw new EdgeBuildException(DiagnosticCodes.BaselineCorrupt, path, $"schemaVersion {file.SchemaVersion} is not one this EdgeBuild reads ({CurrentSchemaVersion})");
        if (file.Model?.Sha256 is not { Length: 64 } || file.Model.Inputs is null || file.Model.Outputs is null || file.Artifacts is null || file.Machine is null
            || file.Artifacts.Any(a => a?.Key is null || a.P99Ms is null) || file.Tolerances is null)
            throw new EdgeBuildException(DiagnosticCodes.BaselineCorrupt, path, "required fields are missing (model.sha256, model.inputs, model.outputs, machine, artifacts[].key, artifacts[].p99Ms)");
        var t = file.Tolerances;
        if (!(t.LatencyPercent >= 0) || !(t.AccuracyPoints >= 0) || !(t.SizePercent >= 0) || !(t.LatencyFloorUnits >= 0))
            throw new EdgeBuildException(DiagnosticCodes.BaselineCorrupt, path, "tolerances must be numbers >= 0");
        return file;
    }

    public void Write(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, MeasureJson.Options) + "\n");
}

/// <summary>One metric of one artifact against the baseline, for reports.</summary>
public sealed record BaselineComparison(string Key, string Metric, double Baseline, double Current, double? CurrentLow, double LimitValue, string Status);

/// <summary>The regression rules (docs/measurement.md).</summary>
public static class BaselineCheck
{
    /// <summary>The artifact's baseline key.</summary>
    public static string Key(string target, string precision, string executionProvider) => $"{target}/{precision}/{executionProvider}";

    /// <summary>
    /// Compares the measured artifacts with the baseline. The latency gate uses the normalized P99 (reference units),
    /// on the same machine too, because load moves milliseconds far more than it moves the ratio; it fails only when
    /// the interval's low end is past the tolerance, and warns (EB5016) when only the value is.
    /// </summary>
    public static (List<Finding> Findings, List<BaselineComparison> Rows) Compare(BaselineFile baseline, string baselinePath, BaselineModel current,
        IReadOnlyList<(string Key, BenchResult Result, double? AccuracyLossPercent)> measured, RegressionTolerances tolerances)
    {
        var findings = new List<Finding>();
        var rows = new List<BaselineComparison>();
        string file = Path.GetFileName(baselinePath);
        if (!baseline.Model.Inputs.SequenceEqual(current.Inputs) || !baseline.Model.Outputs.SequenceEqual(current.Outputs))
            throw new EdgeBuildException(DiagnosticCodes.BaselineOtherModel, baselinePath,
                $"recorded for {baseline.Model.File} (sha256 {baseline.Model.Sha256[..12]}…, inputs {string.Join(", ", baseline.Model.Inputs)}; outputs {string.Join(", ", baseline.Model.Outputs)}), " +
                $"but {current.File} (sha256 {current.Sha256[..12]}…) has inputs {string.Join(", ", current.Inputs)}; outputs {string.Join(", ", current.Outputs)}");
        if (baseline.Model.Sha256 != current.Sha256)
            findings.Add(new Finding(FindingSeverity.Warning, DiagnosticCodes.BaselineModelChanged, baselinePath,
                $"recorded for sha256 {baseline.Model.Sha256[..12]}…, {current.File} is now {current.Sha256[..12]}…"));
        bool otherMachine = measured.Count > 0 && measured[0].Result.Machine.Id != baseline.Machine.Id;
        if (otherMachine)
            findings.Add(new Finding(FindingSeverity.Warning, DiagnosticCodes.BaselineOtherMachine, baselinePath,
                $"measured on {baseline.Machine.CpuModel} ({baseline.Machine.Id}), this is {measured[0].Result.Machine.CpuModel} ({measured[0].Result.Machine.Id})"));

        foreach (var (key, r, accuracy) in measured)
        {
            var b = baseline.Artifacts.FirstOrDefault(a => a.Key == key);
            if (b is null)
            {
                findings.Add(new Finding(FindingSeverity.Warning, DiagnosticCodes.BaselineMissingArtifact, baselinePath,
                    $"no entry for {key} (it has {string.Join(", ", baseline.Artifacts.Select(a => a.Key))})"));
                continue;
            }
            string subject = $"{r.Artifact} against {file}";
            if (r.NormalizedP99 is { } n && b.NormalizedP99 is { } bn)
            {
                double limit = Math.Max(bn.Value * (1 + tolerances.LatencyPercent / 100), bn.Value + tolerances.LatencyFloorUnits);
                string text = Inv($"normalized P99 {n.Value:F3} [95 % CI {n.Low:F3}, {n.High:F3}] reference units vs baseline {bn.Value:F3} ({Change(n.Value, bn.Value)}, LatencyTolerancePercent +{tolerances.LatencyPercent:G} %, at least {tolerances.LatencyFloorUnits:G} unit); P99 {r.P99Ms.Value:F3} ms vs {b.P99Ms.Value:F3} ms{(otherMachine ? " on another machine" : "")}");
                string status = "pass";
                if (n.Low > limit) { findings.Add(new Finding(FindingSeverity.Error, DiagnosticCodes.Regression, subject, "slower: " + text)); status = "fail"; }
                else if (n.Value > limit) { findings.Add(new Finding(FindingSeverity.Warning, DiagnosticCodes.PossibleRegression, subject, "maybe slower: " + text)); status = "near"; }
                rows.Add(new BaselineComparison(key, "normalizedP99", bn.Value, n.Value, n.Low, limit, status));
            }
            {
                double limit = b.Bytes * (1 + tolerances.SizePercent / 100);
                string status = r.Bytes > limit ? "fail" : "pass";
                if (r.Bytes > limit)
                    findings.Add(new Finding(FindingSeverity.Error, DiagnosticCodes.Regression, subject,
                        Inv($"larger: {r.Bytes} bytes vs baseline {b.Bytes} ({Change(r.Bytes, b.Bytes)}, SizeTolerancePercent +{tolerances.SizePercent:G} %)")));
                rows.Add(new BaselineComparison(key, "bytes", b.Bytes, r.Bytes, null, limit, status));
            }
            if (accuracy is double loss && b.AccuracyLossPercent is double baseLoss)
            {
                double limit = baseLoss + tolerances.AccuracyPoints;
                string status = loss > limit ? "fail" : "pass";
                if (loss > limit)
                    findings.Add(new Finding(FindingSeverity.Error, DiagnosticCodes.Regression, subject,
                        Inv($"less accurate: loss against FP32 {loss:F3} % vs baseline {baseLoss:F3} % (+{loss - baseLoss:F3} points, AccuracyTolerancePoints +{tolerances.AccuracyPoints:G} points)")));
                rows.Add(new BaselineComparison(key, "accuracyLossPercent", baseLoss, loss, null, limit, status));
            }
        }
        return (findings, rows);
    }

    private static string Change(double current, double baseline) =>
        baseline == 0 ? "n/a" : ((current / baseline - 1) * 100).ToString("+0.0;-0.0", CultureInfo.InvariantCulture) + " %";

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
