using System.Globalization;
using EdgeBuild.Analysis;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using EdgeBuild.Targets;
using EdgeBuild.Measure;
using EdgeBuild.Session;

namespace EdgeBuild.Compile;

/// <summary>
/// The measurement step of a compile (after the target writers, before the manifest): measure each artifact (or take
/// the cached measurement), check the budgets and the baseline, and fail the compile on the first error after
/// reporting every finding. Artifacts that cannot run here are a warning (EB5007), never a silent pass.
/// </summary>
public static class MeasureStep
{
    /// <summary>Measures and checks; returns null when measurement is switched off. <see cref="Enforce"/> then reports the findings.</summary>
    public static MeasurementReport? Run(CompileSession context, string modelPath, string modelSha256, IReadOnlyList<ManifestTensor> inputs,
        IReadOnlyList<ManifestTensor> outputs, Action<string>? progress)
    {
        var options = context.Options;
        var settings = options.Measurement;
        if (!settings.Enabled) return null;
        string subject = context.Name;
        var cache = new MeasurementCache(settings.CacheDirectory ?? MeasurementCache.DefaultDirectory);
        string ep = options.ExecutionProvider.ToString();
        // On a device, its fingerprint keys the cache and names the machine; its runner measures; budgets are judged on it.
        // Several devices are measured at the same time (each has its own CPU); the first names the baseline's machine.
        IMeasuringDevice?[] places = settings.Devices.Count == 0 ? [null] : [.. settings.Devices];
        var machines = OnEach(places, d => d?.Fingerprint(ep) ?? MachineFingerprint.Current(ModelBenchmark.OrtProviderName(ep)));
        var machine = machines[0];
        var findings = new List<Finding>();
        var outcomes = new List<BudgetOutcome>();
        double? accuracy = context.Quantization?.Accuracy?.LossPercent;

        // A free input dim is fed at 1: a budget judged there says nothing about the size the model runs at (PP-OCR det
        // passed at P99 1.5 ms at 1x1 and takes 129 ms at 640x640). With a budget that is an error; without, a warning.
        // A free leading dim of a rank >= 2 input is the batch: fed at 1 it is the single-stream latency the budgets mean.
        var free = inputs.Where(t => t.Shape is null || t.Shape.Where((d, i) => d is not long && !ModelBenchmark.IsBatchDim(i, t.Shape.Count)).Any()).ToList();
        bool shapeBudget = options.LatencyBudgetMs is not null || settings.MinFps is not null || settings.MaxMemoryMB is not null;
        string? freeDims = free.Count == 0 ? null
            : string.Join(", ", free.Select(t => $"{t.Name} [{(t.Shape is null ? "rank unknown" : string.Join(",", t.Shape.Select(d => d?.ToString() ?? "?")))}]"));
        bool sizeUnknown = freeDims is not null && shapeBudget;
        if (sizeUnknown)
            findings.Add(new Finding(FindingSeverity.Error, DiagnosticCodes.MeasurementShapeUnknown, subject,
                $"{freeDims}: free dims; the latency, fps and memory budgets need the size the model runs at (e.g. Shapes=\"{free[0].Name}={ExampleShape(free[0])}\")"));
        else if (freeDims is not null)
            findings.Add(new Finding(FindingSeverity.Warning, DiagnosticCodes.MeasuredAtSizeOne, subject,
                $"{freeDims}: free dims measured at 1 (e.g. Shapes=\"{free[0].Name}={ExampleShape(free[0])}\" measures the real size)"));

        // Model files only: a kit's recipe, script or calibration cache has no latency, so it gets no line and no EB5007.
        // Nothing is measured at a size nobody runs: the EB5008 error above is the verdict.
        var measurable = sizeUnknown ? [] : context.Artifacts.Where(a => a.Runtime != ArtifactRuntime.None).ToList();
        if (measurable.Count > 0)
        {
            // Every timed run executes the whole model: one that asks for gigabytes or minutes per inference is refused
            // here as it is before calibration, instead of taking the machine for the length of the measurement.
            var floatModel = context.CloneFloatModel();
            MemoryCeiling.Check(floatModel, subject);
            ComputeCeiling.Check(floatModel, subject);
        }
        var perPlace = OnEach(places, (device, i) => MeasureArtifacts(context, measurable, device, machines[i], cache, accuracy, progress));
        var measured = perPlace.SelectMany(m => m.Measured).ToList();
        // An artifact no place can run (a .tflite file) gets the same warning from each: said once.
        findings.AddRange(perPlace.SelectMany(m => m.Findings).DistinctBy(f => (f.Descriptor.Code, f.Message)));
        // Raced here, on this machine's CPU: a device's build is judged by its own figures.
        if (places is [null] && !sizeUnknown && AgainstFp32(context, machine, settings.Remeasure ? null : cache, cache, progress) is { } slower) findings.Add(slower);

        for (int i = 0; i < places.Length; i++)
        {
            var device = places[i];
            string where = device is null ? "" : $" on device {device.Description}";
            foreach (var m in perPlace[i].Measured.Where(m => m.Result is not null))
            {
                var r = m.Result!;
                var (budgetFindings, budgetOutcomes) = Budgets.Check($"{subject} ({m.Path}{where})", r, options.LatencyBudgetMs, settings.MinFps, settings.MaxMemoryMB, settings.MaxSizeMB, null);
                if (budgetFindings.Any(f => f.Severity == FindingSeverity.Error && (f.Descriptor == DiagnosticCodes.LatencyBudgetExceeded || f.Descriptor == DiagnosticCodes.FpsBudgetNotMet)))
                {
                    string? hint = SpeedHint(context, r, device, progress);
                    if (hint is not null)
                        (budgetFindings, budgetOutcomes) = Budgets.Check($"{subject} ({m.Path}{where})", r, options.LatencyBudgetMs, settings.MinFps, settings.MaxMemoryMB, settings.MaxSizeMB, hint);
                }
                findings.AddRange(budgetFindings);
                outcomes.AddRange(places.Length == 1 ? budgetOutcomes : budgetOutcomes.Select(o => o with { Artifact = $"{o.Artifact} on {device!.Description}" }));
            }
        }
        // The baseline records one machine: the first device (or this machine).
        var primary = perPlace[0].Measured;

        BaselineSummary? baselineSummary = null;
        string baselinePath = settings.BaselinePath ?? BaselineFile.PathFor(modelPath);
        string? baselineWritten = null;
        if (settings.UpdateBaseline)
        {
            if (!primary.Any(m => m.Result is not null))
                throw new EdgeBuildException(DiagnosticCodes.MeasurementFailed, subject, "no artifact could be measured on this machine, so there is nothing to record in a baseline");
            WriteBaseline(baselinePath, Describe(modelPath, modelSha256, inputs, outputs), machine, primary);
            baselineWritten = baselinePath;
        }
        else if ((settings.BaselinePath is not null || File.Exists(baselinePath)) && !primary.Any(m => m.Result is not null))
            findings.Add(new Finding(FindingSeverity.Warning, DiagnosticCodes.CannotMeasureHere, subject,
                $"{Path.GetFileName(baselinePath)} was not compared: no artifact could be measured on this machine"));
        else if (settings.BaselinePath is not null || File.Exists(baselinePath))
        {
            var baseline = BaselineFile.Read(baselinePath);
            var tolerances = new RegressionTolerances
            {
                LatencyPercent = settings.LatencyTolerancePercent ?? baseline.Tolerances.LatencyPercent,
                AccuracyPoints = settings.AccuracyTolerancePoints ?? baseline.Tolerances.AccuracyPoints,
                SizePercent = settings.SizeTolerancePercent ?? baseline.Tolerances.SizePercent,
                LatencyFloorUnits = baseline.Tolerances.LatencyFloorUnits,
            };
            var current = Describe(modelPath, modelSha256, inputs, outputs);
            var (baselineFindings, rows) = BaselineCheck.Compare(baseline, baselinePath, current,
                primary.Where(m => m.Result is not null).Select(m => (m.Key, m.Result!, m.AccuracyLossPercent)).ToList(), tolerances);
            findings.AddRange(baselineFindings);
            // The loss is compared only where this build and the baseline both judged one (a quantized artifact with held-out samples).
            if (settings.AccuracyTolerancePoints is double points && !rows.Any(r => r.Metric == "accuracyLossPercent"))
                findings.Add(new Finding(FindingSeverity.Warning, DiagnosticCodes.AccuracyToleranceNotChecked, subject,
                    FormattableString.Invariant($"AccuracyTolerancePoints={points:G} not checked: this build or {Path.GetFileName(baselinePath)} has no accuracy loss against FP32 to compare")));
            baselineSummary = new BaselineSummary(Path.GetFileName(baselinePath), baseline.Machine.Id, baseline.Machine.Id == machine.Id,
                baseline.Model.Sha256 == modelSha256, tolerances, rows, baseline.History);
        }

        else if (Tolerances(settings) is { Count: > 0 } tolerancesSet)
            findings.Add(new Finding(FindingSeverity.Warning, DiagnosticCodes.TolerancesWithoutBaseline, subject,
                $"{string.Join(", ", tolerancesSet)} not checked: there is no baseline {Path.GetFileName(baselinePath)} to compare with"));

        return new MeasurementReport(machine, settings.Bench, measured, outcomes, baselineSummary, findings) { BaselineWritten = baselineWritten };
    }

    /// <summary>Each artifact of one place (this machine or one device): the cached measurement or a new one, or why none.</summary>
    private static (List<ArtifactMeasurement> Measured, List<Finding> Findings) MeasureArtifacts(CompileSession context, IReadOnlyList<ManifestArtifact> measurable,
        IMeasuringDevice? device, MachineFingerprint machine, MeasurementCache cache, double? accuracy, Action<string>? progress)
    {
        var options = context.Options;
        var settings = options.Measurement;
        string ep = options.ExecutionProvider.ToString();
        var measured = new List<ArtifactMeasurement>();
        var findings = new List<Finding>();
        foreach (var artifact in measurable)
        {
            string key = BaselineCheck.Key(artifact.Target, artifact.Precision, machine.ExecutionProvider);
            string path = context.PathOf(artifact.Path);
            string? unavailable = NotMeasurableHere(artifact.Runtime) ?? (device is null ? ModelBenchmark.UnavailableReason(ep) : null);
            BenchResult? result = null;
            if (unavailable is null)
            {
                string cacheKey = MeasurementCache.Key(artifact.Sha256, machine, settings.Bench, EdgeBuildVersion.Current);
                result = settings.Remeasure ? null : cache.Get(cacheKey);
                string on = device is null ? "" : $" on {device.Description}";
                if (result is not null) progress?.Invoke($"{artifact.Path}: measurement cached ({result.Machine.Id}), not measured again{on}");
                else
                {
                    try
                    {
                        result = device?.Run(path, settings.Bench, ep, progress) ?? ModelBenchmark.Run(path, settings.Bench, ep, progress);
                        cache.Put(cacheKey, result);
                    }
                    catch (MeasurementUnavailableException e)
                    {
                        unavailable = e.Message;
                    }
                }
            }
            if (unavailable is not null && HasPerformanceBudget(options))
                findings.Add(new Finding(FindingSeverity.Warning, DiagnosticCodes.CannotMeasureHere, context.Name,
                    $"{artifact.Path} ({artifact.Target}{(artifact.Target == nameof(TargetKind.Onnx) ? $", {ep}" : "")}): its budgets were not checked: {unavailable}"));
            measured.Add(new ArtifactMeasurement(artifact.Path, artifact.Target, artifact.Precision, key, result, unavailable,
                artifact.Target == nameof(TargetKind.Onnx) ? accuracy : null) { Device = device?.Description });
        }
        return (measured, findings);
    }

    /// <summary>
    /// <paramref name="work"/> for each place, all at once when there are several (each device has its own CPU and its
    /// own ssh connection); the first EdgeBuild error of any place is thrown as it is, not wrapped.
    /// </summary>
    private static T[] OnEach<T>(IMeasuringDevice?[] places, Func<IMeasuringDevice?, int, T> work)
    {
        var results = new T[places.Length];
        if (places.Length == 1)
        {
            results[0] = work(places[0], 0);
            return results;
        }
        var errors = new Exception?[places.Length];
        Parallel.For(0, places.Length, new ParallelOptions { MaxDegreeOfParallelism = places.Length }, i =>
        {
            try { results[i] = work(places[i], i); }
            catch (Exception e) { errors[i] = e; }
        });
        if (errors.FirstOrDefault(e => e is not null) is { } first) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
        return results;
    }

    private static T[] OnEach<T>(IMeasuringDevice?[] places, Func<IMeasuringDevice?, T> work) => OnEach(places, (d, _) => work(d));

    /// <summary>
    /// Writes the baseline: this measurement's metrics, the machine, the tolerances of the file it replaces (or the
    /// defaults), and its history with this update appended. An unreadable old file is replaced, not merged.
    /// </summary>
    private static void WriteBaseline(string path, BaselineModel model, MachineFingerprint machine, IReadOnlyList<ArtifactMeasurement> measured)
    {
        BaselineFile? old = null;
        if (File.Exists(path))
        {
            try { old = BaselineFile.Read(path); }
            catch (EdgeBuildException) { old = null; }
        }
        var artifacts = measured.Where(m => m.Result is not null).Select(m =>
        {
            var r = m.Result!;
            return new BaselineArtifact(m.Key, m.Path, r.Sha256, r.Bytes, r.P50Ms, r.P99Ms, r.NormalizedP99, r.Fps.Value, r.Memory.ModelMB, m.AccuracyLossPercent);
        }).ToList();
        var entry = new BaselineHistoryEntry(DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture), model.Sha256, machine.Id,
            artifacts.Select(a => new BaselineHistoryPoint(a.Key, a.P99Ms.Value, a.NormalizedP99?.Value)).ToList());
        new BaselineFile
        {
            Model = model,
            Tolerances = old?.Tolerances ?? new RegressionTolerances(),
            Machine = machine,
            Artifacts = artifacts,
            History = [.. (old?.History ?? []).TakeLast(49), entry],
        }.Write(path);
    }

    /// <summary>Prints the warnings and throws the first error (the others named in it), after the caller wrote its reports.</summary>
    public static void Enforce(MeasurementReport report, Action<string>? warn)
    {
        foreach (var f in report.Findings.Where(f => f.Severity == FindingSeverity.Warning)) warn?.Invoke(f.Format());
        var errors = report.Findings.Where(f => f.Severity == FindingSeverity.Error).ToList();
        if (errors.Count == 0) return;
        var first = errors[0];
        // A finding about another artifact or device names it, so each place's verdict is in the one line.
        string more = errors.Count > 1 ? $" (also: {string.Join("; ", errors.Skip(1).Select(e => $"{e.Descriptor.Code} {(e.Subject == first.Subject ? "" : e.Subject + ": ")}{e.Message}"))})" : "";
        throw new EdgeBuildException(first.Descriptor, first.Subject, first.Message + more);
    }

    /// <summary>The model's identity for baselines.</summary>
    public static BaselineModel Describe(string modelPath, string sha256, IReadOnlyList<ManifestTensor> inputs, IReadOnlyList<ManifestTensor> outputs) =>
        new(Path.GetFileName(modelPath), sha256, inputs.Select(Signature).ToList(), outputs.Select(Signature).ToList());

    private static string Signature(ManifestTensor t) =>
        $"{t.Name}:{t.ElementType}[{(t.Shape is null ? "*" : string.Join(",", t.Shape.Select(d => d switch { long v => v.ToString(CultureInfo.InvariantCulture), string s => s, _ => "?" })))}]";

    /// <summary>The input's shape with each free dim written as a placeholder number the user replaces (1 for a leading batch, 640 elsewhere).</summary>
    private static string ExampleShape(ManifestTensor t) =>
        t.Shape is null ? "1,3,640,640" : string.Join(",", t.Shape.Select((d, i) => d is long v ? v.ToString(CultureInfo.InvariantCulture) : i == 0 ? "1" : "640"));

    /// <summary>
    /// With measurement switched off, the budgets that needed it as one warning (EB5018), so none is skipped silently;
    /// null when none is set.
    /// </summary>
    public static Finding? NotMeasured(CompileOptions o, string subject)
    {
        var set = new (string Name, double? Value)[]
        {
            ("LatencyBudgetMs", o.LatencyBudgetMs), ("MinFps", o.Measurement.MinFps), ("MaxMemoryMB", o.Measurement.MaxMemoryMB), ("MaxSizeMB", o.Measurement.MaxSizeMB),
        }.Where(b => b.Value is not null).Select(b => FormattableString.Invariant($"{b.Name}={b.Value:G}")).Concat(Tolerances(o.Measurement)).ToList();
        return set.Count == 0 ? null
            : new Finding(FindingSeverity.Warning, DiagnosticCodes.BudgetsNotMeasured, subject, $"{string.Join(", ", set)} not checked: measurement is switched off");
    }

    /// <summary>Why EdgeBuild, which measures with ONNX Runtime, cannot measure a model file that <paramref name="runtime"/> loads; null when it can.</summary>
    public static string? NotMeasurableHere(ArtifactRuntime runtime) => runtime switch
    {
        ArtifactRuntime.OnnxRuntime => null,
        ArtifactRuntime.TfliteInterpreter => "a .tflite file runs in the TensorFlow Lite runtime, which EdgeBuild does not host (it measures with ONNX Runtime); measure it on the device",
        ArtifactRuntime.TensorRt => "the kit becomes a TensorRT engine only when built on the device (build-engine.sh), and EdgeBuild measures with ONNX Runtime; measure the engine there (trtexec prints its latency)",
        _ => "it is not a model file",
    };

    /// <summary>The regression tolerances set on the item, as "Name=value"; they are checked only against a baseline.</summary>
    private static List<string> Tolerances(MeasureSettings s) =>
        new (string Name, double? Value)[]
        {
            ("LatencyTolerancePercent", s.LatencyTolerancePercent), ("AccuracyTolerancePoints", s.AccuracyTolerancePoints), ("SizeTolerancePercent", s.SizeTolerancePercent),
        }.Where(t => t.Value is not null).Select(t => FormattableString.Invariant($"{t.Name}={t.Value:G}")).ToList();

    /// <summary>
    /// An explicit Int8, Mixed, Int8Dynamic or Fp16 build's ONNX artifact raced against the optimized FP32 model on this
    /// machine (interleaved, one thread, beside the A/A band of two FP32 sessions; <see cref="LatencyRace"/>): the figure
    /// goes to progress, and an artifact slower beyond the band is EB5024. Wave 1 shipped INT8 models 1.3x to 2x slower
    /// than FP32 under a passing build. Auto raced its own choice already; Fp32 has nothing to race.
    /// </summary>
    private static Finding? AgainstFp32(CompileSession context, MachineFingerprint machine, MeasurementCache? read, MeasurementCache write, Action<string>? progress)
    {
        var precision = context.Requested.Precision;
        if (precision is Precision.Fp32 or Precision.Auto || context.Options.ExecutionProvider != ExecutionProviderKind.Cpu) return null;
        var onnx = context.Artifacts.FirstOrDefault(a => a.Runtime == ArtifactRuntime.OnnxRuntime && a.Target == nameof(TargetKind.Onnx));
        if (onnx is null) return null;
        var floatModel = context.CloneFloatModel();
        if (Feed(context, floatModel) is not { } feed)
        {
            // Said, not skipped silently: the comparison needs one input it can make.
            progress?.Invoke("not raced against the optimized FP32 model: no held-out or calibration sample, and an input of this model cannot be generated (not float32 or int64, or a free dim past the batch)");
            return null;
        }
        byte[] reference = OnnxExporter.ToBytes(floatModel);
        string key = MeasurementCache.RaceKey(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(reference)), onnx.Sha256, machine, EdgeBuildVersion.Current);
        var race = read?.GetRace(key);
        if (race is null)
        {
            progress?.Invoke($"racing the {precision} artifact against the optimized FP32 model");
            race = LatencyRace.Run([("FP32", reference), (precision.ToString(), File.ReadAllBytes(context.PathOf(onnx.Path)))], feed, seconds: 2);
            write.PutRace(key, race);
        }
        var r = race.Results[1];
        string figure = string.Create(CultureInfo.InvariantCulture,
            $"{onnx.Path} ({precision}) runs {r.Ratio:F3}x the optimized FP32 model's P50 [95 % CI {r.RatioLow:F3}, {r.RatioHigh:F3}] ({race.Conditions})");
        progress?.Invoke(figure);
        return r.RatioLow > race.SlowerAbove
            ? new Finding(FindingSeverity.Warning, DiagnosticCodes.QuantizedSlowerThanFp32, context.Name,
                string.Create(CultureInfo.InvariantCulture, $"{figure}: slower than FP32 beyond the noise (its whole interval is over {race.SlowerAbove:F3}x)"))
            : null;
    }

    /// <summary>One input for the race: the first held-out or calibration sample, else zeros at the model's fixed shape (a free leading dim at 1); null when that is not possible.</summary>
    private static IReadOnlyDictionary<string, Tensor>? Feed(CompileSession context, Model floatModel)
    {
        try
        {
            if (context.Evaluation?.Samples().FirstOrDefault() is { } heldOut) return heldOut;
            if (context.Split.Calibration.Count > 0) return context.CalibrationData.Samples().First();
        }
        catch (EdgeBuildException)
        {
            // Files that do not fit the model were reported by the quantization; zeros below still race.
        }
        var feed = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var input in floatModel.Graph.Inputs.Where(i => i.Initializer is null))
        {
            if (input.TensorType is not { Shape: { } shape } type) return null;
            var dims = new long[shape.Rank];
            for (int i = 0; i < shape.Rank; i++)
            {
                if (shape[i].Value is long v) dims[i] = v;
                else if (ModelBenchmark.IsBatchDim(i, shape.Rank)) dims[i] = 1;
                else return null;
            }
            long count = Tensor.CountElements(dims);
            Tensor? zeros = type.ElementType switch
            {
                DataType.Float => Tensor.FromFloats(dims, new float[count]),
                DataType.Int64 => Tensor.FromInt64s(dims, new long[count]),
                _ => null,
            };
            if (zeros is null) return null;
            feed[input.Name] = zeros;
        }
        return feed;
    }

    private static bool HasPerformanceBudget(CompileOptions o) =>
        o.LatencyBudgetMs is not null || o.Measurement.MinFps is not null || o.Measurement.MaxMemoryMB is not null || o.Measurement.MaxSizeMB is not null;

    /// <summary>
    /// What to try when a speed budget fails, measured rather than guessed: the float model quantized to INT8 dynamic
    /// (no calibration data needed) is timed here for a short while against the same reference.
    /// </summary>
    private static string? SpeedHint(CompileSession context, BenchResult failed, IMeasuringDevice? device, Action<string>? progress)
    {
        if (context.Options.Precision is not (Precision.Fp32 or Precision.Fp16)) return null;
        string dir = Directory.CreateTempSubdirectory("edgebuild-hint-").FullName;
        try
        {
            progress?.Invoke("latency budget failed: timing Precision=Int8Dynamic for the error's suggestion");
            var model = context.CloneFloatModel();
            ModelQuantizer.Quantize(model, new QuantizeOptions { Mode = QuantizationMode.Int8Dynamic }, null);
            string path = Path.Combine(dir, "int8dynamic.onnx");
            OnnxExporter.Save(model, path);
            var quick = context.Options.Measurement.Bench with { TimeCapSeconds = 2, MinRuns = 200, BatchSize = 0 };
            string ep = context.Options.ExecutionProvider.ToString();
            var r = device?.Run(path, quick, ep, null) ?? ModelBenchmark.Run(path, quick, ep);
            string at = device is null ? "here" : "on the device";
            double speedup = failed.NormalizedP99 is { } a && r.NormalizedP99 is { } b ? a.Value / b.Value : failed.P99Ms.Value / r.P99Ms.Value;
            return speedup >= 1.05
                ? string.Create(CultureInfo.InvariantCulture, $"try Precision=\"Int8Dynamic\": measured {speedup:F1}x faster {at} (P99 {r.P99Ms.Value:F3} ms; check its accuracy with MaxAccuracyLoss and calibration photos), or Precision=\"Int8\" with calibration")
                : string.Create(CultureInfo.InvariantCulture, $"Precision=\"Int8Dynamic\" was not faster {at} ({speedup:F2}x), so try a smaller input or a lighter model, or run on a faster device");
        }
        catch (Exception e) when (e is EdgeBuildException or MeasurementUnavailableException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException or InvalidOperationException)
        {
            return null;
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); }
            catch (IOException) { }
        }
    }
}
