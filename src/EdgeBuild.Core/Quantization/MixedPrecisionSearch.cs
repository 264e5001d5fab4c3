using EdgeBuild.Ir;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;

namespace EdgeBuild.Quantization;

/// <summary>A layer's sensitivity: the task loss when only that layer is INT8 (the rest FP32).</summary>
public sealed record LayerSensitivity(string Node, string OpType, double LossPercent)
{
    /// <summary>The lowest output SQNR (dB) with only this layer in INT8: ranks layers the task loss cannot tell apart, as when an output floor fails.</summary>
    public double WorstOutputSqnrDb { get; init; } = double.PositiveInfinity;
}

/// <summary>The outcome of a budget search: the quantized model, its loss, and the layers returned to FP32.</summary>
public sealed record MixedPrecisionResult(Model Model, QuantizationReport Report, AccuracyReport Accuracy, IReadOnlyList<LayerSensitivity> KeptInFp32, IReadOnlyList<LayerSensitivity> Ranking, int Quantizations)
{
    /// <summary>The gate's verdict on <see cref="Accuracy"/>, when the search was given a judge.</summary>
    public AccuracyJudgement? Judgement { get; init; }

    /// <summary>Why the search stopped before the budget was met, when it gave up because the loss did not fall; null otherwise.</summary>
    public string? GaveUp { get; init; }
}

/// <summary>
/// Budget-driven mixed precision (issue: "by budget"). Each INT8 layer is measured alone: quantize only it,
/// keep everything else FP32, and take the task loss on a few held-out samples. Layers then return to FP32
/// most sensitive first, one at a time (then in growing steps), until the accuracy gate accepts the model on all
/// held-out samples (<see cref="AccuracyJudgement.AcceptableForSearch"/>: nothing missed, loss and output floors on
/// the good side). Measuring layers alone, rather than ranking them by their SQNR in the all-INT8 model, finds
/// the layers whose own error hurts: in a deep network the last layers always have the lowest SQNR, because
/// they inherit everyone's error.
/// </summary>
public static class MixedPrecisionSearch
{
    /// <summary>The search with the budget alone as the judge (no output floors, point value against the budget).</summary>
    public static MixedPrecisionResult Run(byte[] fp32, QuantizeOptions options, ICalibrationDataSource calibration, ICalibrationDataSource heldOut,
        TaskKind task, double budgetPercent, Action<string>? progress = null, int probeSamples = 8) =>
        Run(fp32, options, calibration, heldOut, task, budgetPercent, a => AccuracyGate.Judge("", "", a, budgetPercent, new OutputFloors { MinSqnrDb = double.NegativeInfinity, MinCosine = double.NegativeInfinity }, null), progress, probeSamples);

    /// <summary>The search judged by <paramref name="judge"/> (the build's <see cref="AccuracyGate"/> with its budget and floors).</summary>
    public static MixedPrecisionResult Run(byte[] fp32, QuantizeOptions options, ICalibrationDataSource calibration, ICalibrationDataSource heldOut,
        TaskKind task, double budgetPercent, Func<AccuracyReport, AccuracyJudgement> judge, Action<string>? progress = null, int probeSamples = 8) =>
        Run(fp32, options, calibration, heldOut, budgetPercent, judge, Screened(AccuracyEvaluator.CachedReference(fp32, heldOut, task), judge), progress, probeSamples);

    /// <summary>Held-out samples a candidate is screened on before the whole held-out set is spent on it.</summary>
    public const int ScreenSamples = 12;

    /// <summary>
    /// <paramref name="score"/> with a screen: a candidate is first scored on <paramref name="screenSamples"/> samples (default <see cref="ScreenSamples"/>),
    /// then on twice as many while that leaves at least as many again to the full score (12, 24 of 40), and when the gate already
    /// calls a stage a miss (the whole interval past the budget or a floor) the short score stands. Most fallback steps
    /// of a search are such misses, and a search only needs to know that they missed; a miss called on too few samples
    /// only makes the search keep more layers in FP32, never ship a worse model, and a candidate the screen lets through
    /// is judged on every sample. (<see cref="AccuracyEvaluator.CachedReference"/> runs a candidate on each sample once
    /// across the stages.)
    /// </summary>
    public static Func<byte[], int, AccuracyReport> Screened(Func<byte[], int, AccuracyReport> score, Func<AccuracyReport, AccuracyJudgement> judge, int screenSamples = ScreenSamples) =>
        (candidate, samples) =>
        {
            for (int stage = screenSamples; stage > 0 && stage + screenSamples <= samples; stage *= 2)
            {
                var quick = score(candidate, stage);
                if (judge(quick).Verdict == AccuracyVerdict.Missed) return quick;
            }
            return score(candidate, samples);
        };

    /// <summary>
    /// The search with a scorer of its own (<see cref="AccuracyEvaluator.CachedReference"/>: candidate bytes and sample
    /// count to loss). Single-layer probes stop at <paramref name="probeDeadline"/>; layers not probed by then follow the
    /// probed ones, ranked by their SQNR in the all-INT8 model (lowest first), and the growing fallback goes on while
    /// <paramref name="worthGoingOn"/> (given the next set of layers to keep in FP32) says it can still pay off.
    /// <paramref name="allInt8Accuracy"/>: the caller's score of the model these options give with no layer kept, when
    /// it has one (it is not scored again). <paramref name="probeOrder"/>: what each layer's INT8 kernel saves (µs), when
    /// the caller profiled it: the layers that matter for speed are probed first, and once the layers that miss the
    /// budget on their own leave too little to gain (<paramref name="worthGoingOn"/> given those), probing stops.
    /// <paramref name="provenOnly"/>: once the fallback has started, go on past a model the gate finds acceptable but
    /// unproven until every check is met (a build that ships it then passes without a warning); when no step gets there,
    /// the first acceptable model is the result.
    /// </summary>
    public static MixedPrecisionResult Run(byte[] fp32, QuantizeOptions options, ICalibrationDataSource calibration, ICalibrationDataSource heldOut,
        double budgetPercent, Func<AccuracyReport, AccuracyJudgement> judge, Func<byte[], int, AccuracyReport> score, Action<string>? progress = null,
        int probeSamples = 8, DateTime? probeDeadline = null, Func<IReadOnlyCollection<string>, bool>? worthGoingOn = null, AccuracyReport? allInt8Accuracy = null,
        IReadOnlyDictionary<string, double>? probeOrder = null, bool provenOnly = false)
    {
        int quantizations = 0;
        (Model Model, QuantizationReport Report) Quantize(IReadOnlyList<string> keepFp32)
        {
            quantizations++;
            var m = OnnxImporter.Parse(fp32);
            // Static INT8 calibrates from the data unless its ranges were calibrated beforehand, and measures the
            // post-training statistics on the first quantization unless they were given; otherwise (those ranges and
            // statistics, or dynamic INT8) the data would only feed the per-layer SQNR, which is measured when needed.
            bool calibrates = options.Mode != QuantizationMode.Int8Dynamic && (options.CalibratedRanges is null || (options.Statistics is null && PostTrainingStatistics.WantedBy(options)));
            var data = calibrates ? calibration : null;
            var r = ModelQuantizer.Quantize(m, options with { KeepFp32 = [.. options.KeepFp32, .. keepFp32.Select(Escape)] }, data);
            // The post-training rules' statistics, measured on the first quantization, serve every later one.
            if (options.Statistics is null && r.Statistics is not null) options = options with { Statistics = r.Statistics };
            return (m, r);
        }

        var (all, allReport) = Quantize([]);
        var accuracy = allInt8Accuracy ?? score(OnnxExporter.ToBytes(all), heldOut.Count);
        var judgement = judge(accuracy);
        if (judgement.AcceptableForSearch)
            return new MixedPrecisionResult(all, allReport, accuracy, [], [], quantizations) { Judgement = judgement };

        var layers = allReport.Layers.Where(l => l.Precision == "Int8").ToList();
        if (probeOrder is not null) layers = [.. layers.OrderByDescending(l => probeOrder.GetValueOrDefault(l.Node))];
        // The all-INT8 model missed, so at least one layer must go back to FP32; when even the one that saves least
        // leaves too little to gain, no probe can change the outcome.
        if (probeOrder is not null && worthGoingOn is not null && layers.Count > 0
            && !worthGoingOn(new HashSet<string>(StringComparer.Ordinal) { layers[^1].Node }))
        {
            string stop = FormattableString.Invariant(
                $"all {layers.Count} INT8 layers together miss the budget (loss {accuracy.LossPercent:F2} %), and returning even the one that saves least ({layers[^1].Node}) to FP32");
            progress?.Invoke(stop);
            return new MixedPrecisionResult(all, allReport, accuracy, [], [], quantizations) { Judgement = judgement, GaveUp = stop };
        }
        var ranking = new List<LayerSensitivity>();
        // Layers that miss the budget (or a floor) with only themselves in INT8: no set holding them can meet it, as
        // adding INT8 layers adds error.
        var missAlone = new HashSet<string>(StringComparer.Ordinal);
        // A probe that misses on half its samples is a miss: most probes of a model far over its budget are.
        var probeScore = Screened(score, judge, probeSamples / 2);
        foreach (var layer in layers)
        {
            if (probeDeadline is { } deadline && DateTime.UtcNow > deadline) break;
            progress?.Invoke($"sensitivity {ranking.Count + 1}/{layers.Count}: {layer.Node}");
            var (alone, _) = Quantize(layers.Where(l => l.Node != layer.Node).Select(l => l.Node).ToList());
            var probed = probeScore(OnnxExporter.ToBytes(alone), probeSamples);
            ranking.Add(new LayerSensitivity(layer.Node, layer.OpType, probed.LossPercent)
            {
                WorstOutputSqnrDb = probed.Outputs.Select(o => o.SqnrDb).Where(d => !double.IsNaN(d)).DefaultIfEmpty(double.PositiveInfinity).Min(),
            });
            if (judge(probed).Verdict == AccuracyVerdict.Missed) missAlone.Add(layer.Node);
            if (probeOrder is not null && worthGoingOn is not null && missAlone.Count > 0 && !worthGoingOn(missAlone))
            {
                string stop = $"{missAlone.Count} of the {ranking.Count} layers probed so far (the {ranking.Count} that save the most time in INT8) miss the budget with only themselves in INT8";
                progress?.Invoke(stop);
                return new MixedPrecisionResult(all, allReport, accuracy, [], ranking, quantizations) { Judgement = judgement, GaveUp = stop };
            }
        }
        ranking = ranking.OrderByDescending(r => r.LossPercent).ThenBy(r => r.WorstOutputSqnrDb).ThenBy(r => r.Node, StringComparer.Ordinal).ToList();
        if (ranking.Count < layers.Count)
        {
            // Out of time for probes: the rest by their own SQNR in the all-INT8 model, the layer's error as it lands there.
            var probedNames = ranking.Select(r => r.Node).ToHashSet(StringComparer.Ordinal);
            var sqnr = layers.Where(l => l.Sqnr is not null).ToDictionary(l => l.Node, l => l.Sqnr!.Value, StringComparer.Ordinal);
            if (sqnr.Count < layers.Count)
            {
                // Measured now, on the model the probes started from: a search whose probes finish in time never pays for it.
                quantizations++;
                progress?.Invoke($"measuring the per-layer SQNR of the {layers.Count - ranking.Count} layers not probed");
                var measured = ModelQuantizer.Quantize(OnnxImporter.Parse(fp32), options, calibration);
                foreach (var l in measured.Layers)
                    if (l.Sqnr is double db) sqnr[l.Node] = db;
            }
            var rest = layers.Where(l => !probedNames.Contains(l.Node)).OrderBy(l => sqnr.TryGetValue(l.Node, out var db) ? db : double.PositiveInfinity).ToList();
            progress?.Invoke($"probe time is up after {ranking.Count} of {layers.Count} layers: the other {rest.Count} follow by their SQNR");
            ranking.AddRange(rest.Select(l => new LayerSensitivity(l.Node, l.OpType, double.NaN) { WorstOutputSqnrDb = sqnr.TryGetValue(l.Node, out var db) ? db : double.PositiveInfinity }));
        }

        var result = (Model: all, Report: allReport);
        var kept = new List<LayerSensitivity>();
        double allInt8Loss = accuracy.LossPercent;
        string? gaveUp = null;
        // The loss after each fallback step, the all-INT8 model's first.
        var losses = new List<double> { accuracy.LossPercent };
        bool Done(AccuracyJudgement j) => provenOnly ? j.Verdict == AccuracyVerdict.Met : j.AcceptableForSearch;
        (Model Model, QuantizationReport Report, AccuracyReport Accuracy, AccuracyJudgement Judgement, List<LayerSensitivity> Kept)? firstAcceptable = null;
        int acceptableAt = 0;
        // 1, 2, 3, 4, 6, 8, 11, 16, ...: fine steps first, where most budgets are met.
        for (int count = 1; !Done(judgement) && kept.Count < ranking.Count; count = Math.Max(count + 1, (int)(count * 1.4)))
        {
            var next = ranking.Take(Math.Min(count, ranking.Count)).ToList();
            if (worthGoingOn is not null && !worthGoingOn(next.Select(k => k.Node).ToHashSet(StringComparer.Ordinal))) break;
            kept = next;
            progress?.Invoke(FormattableString.Invariant($"loss {accuracy.LossPercent:F2} % [{accuracy.Loss.Low:F2}, {accuracy.Loss.High:F2}] against {budgetPercent} %, {judgement.Verdict}: trying {kept.Count} layer(s) in FP32"));
            result = Quantize(kept.Select(k => k.Node).ToList());
            accuracy = score(OnnxExporter.ToBytes(result.Model), heldOut.Count);
            judgement = judge(accuracy);
            losses.Add(accuracy.LossPercent);
            int steps = losses.Count - 1;
            if (judgement.AcceptableForSearch && firstAcceptable is null)
            {
                firstAcceptable = (result.Model, result.Report, accuracy, judgement, kept);
                acceptableAt = steps;
            }
            // A verdict more layers in FP32 do not settle (an agreement rate at 0 flips, whose interval only more held-out
            // samples narrow) is not pursued for long.
            if (firstAcceptable is not null && !Done(judgement) && steps - acceptableAt >= NoProgressSteps) break;
            // Over the last steps the loss has not even halved (against the best before them) while staying an order
            // of magnitude over the budget: the error is not in a few layers but in a discrete step downstream of all
            // of them (a peak mask comparing a map with its own MaxPool, an argmax), which any rounding flips, or in
            // every layer a little. More layers in FP32 only repeat the evaluation; stop and say so.
            if (!judgement.AcceptableForSearch && steps >= NoProgressSteps && accuracy.Loss.Low > NoProgressFactor * budgetPercent
                && accuracy.LossPercent > losses.Take(steps - NoProgressSteps + 2).Min() / 2)
            {
                gaveUp = FormattableString.Invariant(
                    $"with the {kept.Count} most sensitive layers in FP32 the loss is still {accuracy.LossPercent:F2} % (all-INT8 {allInt8Loss:F2} %) against a {budgetPercent} % budget: no small set of layers holds the error");
                progress?.Invoke(gaveUp);
                break;
            }
        }
        if (!Done(judgement) && firstAcceptable is { } first)
            return new MixedPrecisionResult(first.Model, first.Report, first.Accuracy, first.Kept, ranking, quantizations) { Judgement = first.Judgement };
        return new MixedPrecisionResult(result.Model, result.Report, accuracy, kept, ranking, quantizations) { Judgement = judgement, GaveUp = gaveUp };
    }

    /// <summary>Fallback steps taken before the search may give up for want of progress.</summary>
    public const int NoProgressSteps = 4;

    /// <summary>How many times the budget the loss's lower bound must still be, after those steps, for the search to give up.</summary>
    public const double NoProgressFactor = 10;

    /// <summary>Node names as glob patterns: '*' and '?' in a name match themselves only through '?'.</summary>
    internal static string Escape(string name) => name.Replace('*', '?');
}
