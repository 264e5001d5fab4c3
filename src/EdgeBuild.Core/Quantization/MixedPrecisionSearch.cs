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
        Run(fp32, options, calibration, heldOut, budgetPercent, judge, AccuracyEvaluator.CachedReference(fp32, heldOut, task), progress, probeSamples);

    /// <summary>
    /// The search with a scorer of its own (<see cref="AccuracyEvaluator.CachedReference"/>: candidate bytes and sample
    /// count to loss). Single-layer probes stop at <paramref name="probeDeadline"/>; layers not probed by then follow the
    /// probed ones, ranked by their SQNR in the all-INT8 model (lowest first), and the growing fallback goes on while
    /// <paramref name="worthGoingOn"/> (given the next set of layers to keep in FP32) says it can still pay off.
    /// </summary>
    public static MixedPrecisionResult Run(byte[] fp32, QuantizeOptions options, ICalibrationDataSource calibration, ICalibrationDataSource heldOut,
        double budgetPercent, Func<AccuracyReport, AccuracyJudgement> judge, Func<byte[], int, AccuracyReport> score, Action<string>? progress = null,
        int probeSamples = 8, DateTime? probeDeadline = null, Func<IReadOnlyCollection<string>, bool>? worthGoingOn = null)
    {
        int quantizations = 0;
        (Model Model, QuantizationReport Report) Quantize(IReadOnlyList<string> keepFp32)
        {
            quantizations++;
            var m = OnnxImporter.Parse(fp32);
            // With ranges calibrated beforehand the data only feeds the per-layer SQNR, which the first (all-INT8) model's report needs alone.
            var data = options.CalibratedRanges is null || quantizations == 1 ? calibration : null;
            var r = ModelQuantizer.Quantize(m, options with { KeepFp32 = [.. options.KeepFp32, .. keepFp32.Select(Escape)] }, data);
            // The post-training rules' statistics, measured on the first quantization, serve every later one.
            if (options.Statistics is null && r.Statistics is not null) options = options with { Statistics = r.Statistics };
            return (m, r);
        }

        var (all, allReport) = Quantize([]);
        var accuracy = score(OnnxExporter.ToBytes(all), heldOut.Count);
        var judgement = judge(accuracy);
        if (judgement.AcceptableForSearch)
            return new MixedPrecisionResult(all, allReport, accuracy, [], [], quantizations) { Judgement = judgement };

        var layers = allReport.Layers.Where(l => l.Precision == "Int8").ToList();
        var ranking = new List<LayerSensitivity>();
        foreach (var layer in layers)
        {
            if (probeDeadline is { } deadline && DateTime.UtcNow > deadline) break;
            progress?.Invoke($"sensitivity {ranking.Count + 1}/{layers.Count}: {layer.Node}");
            var (alone, _) = Quantize(layers.Where(l => l.Node != layer.Node).Select(l => l.Node).ToList());
            var probed = score(OnnxExporter.ToBytes(alone), probeSamples);
            ranking.Add(new LayerSensitivity(layer.Node, layer.OpType, probed.LossPercent)
            {
                WorstOutputSqnrDb = probed.Outputs.Select(o => o.SqnrDb).Where(d => !double.IsNaN(d)).DefaultIfEmpty(double.PositiveInfinity).Min(),
            });
        }
        ranking = ranking.OrderByDescending(r => r.LossPercent).ThenBy(r => r.WorstOutputSqnrDb).ThenBy(r => r.Node, StringComparer.Ordinal).ToList();
        if (ranking.Count < layers.Count)
        {
            // Out of time for probes: the rest by their own SQNR in the all-INT8 model, the layer's error as it lands there.
            var probedNames = ranking.Select(r => r.Node).ToHashSet(StringComparer.Ordinal);
            var rest = layers.Where(l => !probedNames.Contains(l.Node)).OrderBy(l => l.Sqnr ?? double.PositiveInfinity).ToList();
            progress?.Invoke($"probe time is up after {ranking.Count} of {layers.Count} layers: the other {rest.Count} follow by their SQNR");
            ranking.AddRange(rest.Select(l => new LayerSensitivity(l.Node, l.OpType, double.NaN) { WorstOutputSqnrDb = l.Sqnr ?? double.PositiveInfinity }));
        }

        var result = (Model: all, Report: allReport);
        var kept = new List<LayerSensitivity>();
        double allInt8Loss = accuracy.LossPercent;
        string? gaveUp = null;
        int steps = 0;
        // 1, 2, 3, 4, 6, 8, 11, 16, ...: fine steps first, where most budgets are met.
        for (int count = 1; !judgement.AcceptableForSearch && kept.Count < ranking.Count; count = Math.Max(count + 1, (int)(count * 1.4)))
        {
            var next = ranking.Take(Math.Min(count, ranking.Count)).ToList();
            if (worthGoingOn is not null && !worthGoingOn(next.Select(k => k.Node).ToHashSet(StringComparer.Ordinal))) break;
            kept = next;
            progress?.Invoke(FormattableString.Invariant($"loss {accuracy.LossPercent:F2} % [{accuracy.Loss.Low:F2}, {accuracy.Loss.High:F2}] against {budgetPercent} %, {judgement.Verdict}: trying {kept.Count} layer(s) in FP32"));
            result = Quantize(kept.Select(k => k.Node).ToList());
            accuracy = score(OnnxExporter.ToBytes(result.Model), heldOut.Count);
            judgement = judge(accuracy);
            // The most sensitive layers are back in FP32 and the loss has not even halved while staying an order of
            // magnitude over the budget: the error is not in a few layers but in a discrete step downstream of all of
            // them (a peak mask comparing a map with its own MaxPool, an argmax), which any rounding flips. More
            // layers in FP32 only repeat the evaluation; stop and say so.
            if (!judgement.AcceptableForSearch && ++steps >= NoProgressSteps && accuracy.Loss.Low > NoProgressFactor * budgetPercent && accuracy.LossPercent > allInt8Loss / 2)
            {
                gaveUp = FormattableString.Invariant(
                    $"with the {kept.Count} most sensitive layers in FP32 the loss is still {accuracy.LossPercent:F2} % (all-INT8 {allInt8Loss:F2} %) against a {budgetPercent} % budget: no small set of layers holds the error");
                progress?.Invoke(gaveUp);
                break;
            }
        }
        return new MixedPrecisionResult(result.Model, result.Report, accuracy, kept, ranking, quantizations) { Judgement = judgement, GaveUp = gaveUp };
    }

    /// <summary>Fallback steps taken before the search may give up for want of progress.</summary>
    public const int NoProgressSteps = 4;

    /// <summary>How many times the budget the loss's lower bound must still be, after those steps, for the search to give up.</summary>
    public const double NoProgressFactor = 10;

    /// <summary>Node names as glob patterns: '*' and '?' in a name match themselves only through '?'.</summary>
    internal static string Escape(string name) => name.Replace('*', '?');
}
