using System.Globalization;
using EdgeBuild.Diagnostics;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Measure;

namespace EdgeBuild.Quantization;

/// <summary>How a measured interval stands against its limit: Met (the whole interval on the good side), Unproven (the interval contains it), Missed (the whole interval on the bad side).</summary>
public enum AccuracyVerdict { Met, Unproven, Missed }

/// <summary>
/// The floors every quantized artifact's outputs are held to against FP32, whatever MaxAccuracyLoss says: a collapse that
/// too few argmax flips would hide still shows as a low SQNR or cosine.
/// </summary>
public sealed record OutputFloors
{
    /// <summary>Lowest output SQNR against FP32, in dB (MinSqnrDb metadata, --min-sqnr-db).</summary>
    public double MinSqnrDb { get; init; } = 20;

    /// <summary>Lowest mean per-sample cosine against FP32 (MinCosine metadata, --min-cosine).</summary>
    public double MinCosine { get; init; } = 0.99;

    /// <summary>EB6001 for a floor that is not a finite number of dB, or a cosine outside [-1, 1].</summary>
    public void Validate()
    {
        if (!double.IsFinite(MinSqnrDb))
            throw new EdgeBuildException(DiagnosticCodes.InvalidCompileOption, "MinSqnrDb", $"{MinSqnrDb.ToString(CultureInfo.InvariantCulture)} is not a finite number of dB");
        if (!(MinCosine >= -1 && MinCosine <= 1))
            throw new EdgeBuildException(DiagnosticCodes.InvalidCompileOption, "MinCosine", $"{MinCosine.ToString(CultureInfo.InvariantCulture)} is not a cosine between -1 and 1");
    }
}

/// <summary>One judged figure: the measurement with its interval, the limit, and the verdict.</summary>
/// <param name="What">"loss %", "SQNR dB of 'out'", "cosine of 'out'".</param>
/// <param name="Limit">MaxAccuracyLoss (an upper limit) or a floor (a lower one).</param>
/// <param name="Measured">The figure with its 95 % interval.</param>
/// <param name="Verdict">Met, unproven or missed.</param>
/// <param name="SamplesToSettle">Held-out samples (in all) at which the interval would leave the limit, when unproven; null when met, missed, or no count would.</param>
public sealed record GateCheck(string What, double Limit, Estimate Measured, AccuracyVerdict Verdict, int? SamplesToSettle);

/// <summary>
/// The accuracy verdict of one quantized model: the loss against MaxAccuracyLoss and every output against the floors, with
/// the findings to print (degenerate reference warnings first). <see cref="Verdict"/> is the worst of the checks.
/// </summary>
public sealed record AccuracyJudgement(AccuracyReport Accuracy, double? Budget, OutputFloors Floors, GateCheck? Loss, IReadOnlyList<GateCheck> Outputs, IReadOnlyList<Finding> Findings)
{
    public AccuracyVerdict Verdict =>
        new[] { Loss }.Concat(Outputs).Where(c => c is not null).Select(c => c!.Verdict).DefaultIfEmpty(AccuracyVerdict.Met).Max();

    /// <summary>
    /// What a search returning layers to FP32 may stop at: nothing missed and every point value on the good side of its
    /// limit (an interval that merely reaches the limit with its point past it would most likely ship a miss).
    /// </summary>
    public bool AcceptableForSearch =>
        Verdict != AccuracyVerdict.Missed &&
        (Loss is null || Loss.Measured.Value <= Loss.Limit) &&
        Outputs.All(o => !(o.Measured.Value < o.Limit));

    public IEnumerable<Finding> Errors => Findings.Where(f => f.Severity == FindingSeverity.Error);
    public IEnumerable<Finding> Warnings => Findings.Where(f => f.Severity == FindingSeverity.Warning);
}

/// <summary>
/// The one place that decides whether a quantized model is accurate enough (docs/quantization.md, "The accuracy gate"),
/// judged the way latency budgets are: MaxAccuracyLoss is met when the upper bound of the loss's 95 % interval is under
/// it, unproven when the interval contains it (a warning naming how many held-out samples would settle it), missed when
/// the lower bound is over it (an error; the Mixed search goes on instead). Every output's SQNR and cosine against FP32
/// are judged against <see cref="OutputFloors"/> the same way. A reference whose own outputs look degenerate is a warning
/// before any verdict, since agreement with garbage proves nothing.
/// </summary>
public static class AccuracyGate
{
    /// <summary>
    /// Fewest held-out samples MaxAccuracyLoss is judged on. Below about 30 the percentile bootstrap covers well under its
    /// nominal 95 % and a handful of samples cannot show a 1 % effect at all; a 3-sample split reporting "0 % loss" is the
    /// failure this stops.
    /// </summary>
    public const int MinHeldOutSamples = 30;

    /// <summary>Calibration files needed for the default split (every 4th held out) to give <see cref="MinHeldOutSamples"/>.</summary>
    public const int MinCalibrationFilesForDefaultSplit = 4 * MinHeldOutSamples;

    /// <summary>
    /// EB3010 when MaxAccuracyLoss cannot be judged: no held-out samples at all, or fewer than <see cref="MinHeldOutSamples"/>.
    /// Called before quantizing, so a build that cannot be judged fails at once.
    /// </summary>
    public static void RequireHeldOut(double? budget, int heldOut, int calibrationFiles)
    {
        if (budget is not double b || heldOut >= MinHeldOutSamples) return;
        string how = Inv($"give Evaluation files (--eval) with at least {MinHeldOutSamples}, or at least {MinCalibrationFilesForDefaultSplit} Calibration files so that every 4th is held out");
        if (heldOut == 0)
            throw new EdgeBuildException(DiagnosticCodes.NotEnoughHeldOutSamples, "MaxAccuracyLoss",
                Inv($"MaxAccuracyLoss={b:G} cannot be checked: there are no held-out samples to measure the quantized model against FP32 ({calibrationFiles} calibration file(s), no Evaluation files); {how}"));
        throw new EdgeBuildException(DiagnosticCodes.NotEnoughHeldOutSamples, "MaxAccuracyLoss",
            Inv($"MaxAccuracyLoss={b:G} cannot be judged on {heldOut} held-out sample(s): at least {MinHeldOutSamples} are needed ({MinHeldOutSamples - heldOut} more) for a 95 % interval; {how}"));
    }

    /// <summary>Judges <paramref name="accuracy"/>; <paramref name="preprocessing"/> (null for .npy data) names the likely cause of a degenerate reference.</summary>
    public static AccuracyJudgement Judge(string subject, string artifact, AccuracyReport accuracy, double? budget, OutputFloors floors, ImagePreprocessing? preprocessing)
    {
        var findings = new List<Finding>();
        if (accuracy.ReferenceProblems.Count > 0)
            findings.Add(new Finding(FindingSeverity.Warning, DiagnosticCodes.DegenerateReference, subject,
                $"the FP32 reference looks degenerate on the held-out samples, so agreement with it proves little: {string.Join("; ", accuracy.ReferenceProblems)}; likely cause: {LikelyCause(preprocessing)}"));

        GateCheck? loss = null;
        if (budget is double b)
        {
            var verdict = Upper(accuracy.Loss, b);
            loss = new GateCheck("loss %", b, accuracy.Loss, verdict, verdict == AccuracyVerdict.Unproven ? SamplesToSettleLoss(accuracy, b) : null);
            string measured = Inv($"{artifact} loses {accuracy.LossPercent:F3} % against FP32 [95 % CI {accuracy.Loss.Low:F3}, {accuracy.Loss.High:F3}] ({accuracy.IntervalMethod}; {accuracy.Metric} {accuracy.Value:G4} on {accuracy.Samples} held-out samples, {accuracy.Task})");
            if (verdict == AccuracyVerdict.Missed)
                findings.Add(new Finding(FindingSeverity.Error, DiagnosticCodes.AccuracyBudgetExceeded, subject, Inv($"{measured}: the whole interval is over MaxAccuracyLoss={b:G}")));
            else if (verdict == AccuracyVerdict.Unproven)
                findings.Add(new Finding(FindingSeverity.Warning, DiagnosticCodes.AccuracyUnproven, subject, Inv($"{measured}: the interval contains MaxAccuracyLoss={b:G}; {Settle(loss.SamplesToSettle, accuracy.Samples)}")));
        }

        var outputs = new List<GateCheck>();
        foreach (var o in accuracy.Outputs)
        {
            // An all-zero reference has no SQNR; the degenerate-reference warning already names it.
            if (!double.IsNaN(o.Sqnr.Value)) outputs.Add(Floor(Inv($"SQNR dB of '{o.Name}'"), o.Sqnr, floors.MinSqnrDb, accuracy.Samples));
            outputs.Add(Floor(Inv($"cosine of '{o.Name}'"), o.Cosine, floors.MinCosine, accuracy.Samples));
        }
        var missed = outputs.Where(c => c.Verdict == AccuracyVerdict.Missed).ToList();
        if (missed.Count > 0)
            findings.Add(new Finding(FindingSeverity.Error, DiagnosticCodes.OutputCollapsed, subject,
                Inv($"{artifact}'s outputs are far from FP32 on {accuracy.Samples} held-out samples: {string.Join("; ", missed.Select(Describe))} (floors: MinSqnrDb={floors.MinSqnrDb:G}, MinCosine={floors.MinCosine:G})")));
        var unproven = outputs.Where(c => c.Verdict == AccuracyVerdict.Unproven).ToList();
        if (unproven.Count > 0)
            findings.Add(new Finding(FindingSeverity.Warning, DiagnosticCodes.AccuracyUnproven, subject,
                Inv($"{artifact}: the interval of {string.Join("; ", unproven.Select(Describe))} contains its floor; {Settle(unproven.Select(u => u.SamplesToSettle).Max(), accuracy.Samples)}")));
        return new AccuracyJudgement(accuracy, budget, floors, loss, outputs, findings);
    }

    /// <summary>A lower-is-better figure against its limit.</summary>
    private static AccuracyVerdict Upper(Estimate e, double limit) =>
        e.High < limit || (e.Low == e.High && e.High <= limit) ? AccuracyVerdict.Met : e.Low > limit ? AccuracyVerdict.Missed : AccuracyVerdict.Unproven;

    /// <summary>A higher-is-better figure against its floor.</summary>
    private static GateCheck Floor(string what, Estimate e, double floor, int samples)
    {
        var verdict = e.Low >= floor ? AccuracyVerdict.Met : e.High < floor ? AccuracyVerdict.Missed : AccuracyVerdict.Unproven;
        return new GateCheck(what, floor, e, verdict, verdict == AccuracyVerdict.Unproven ? BootstrapSamplesToSettle(e, floor, samples) : null);
    }

    private static string Describe(GateCheck c) =>
        Inv($"{c.What} {Format(c.Measured.Value)} [95 % CI {Format(c.Measured.Low)}, {Format(c.Measured.High)}] against {c.Limit:G}");

    private static string Format(double v) => double.IsInfinity(v) || double.IsNaN(v) ? AccuracyEvaluator.FormatDb(v) : v.ToString("G5", CultureInfo.InvariantCulture);

    private static string Settle(int? total, int samples) => total is int n
        ? Inv($"about {n - samples} more held-out samples ({n} in all) would settle it, if the figure stays where it is")
        : "no number of held-out samples would settle it: the figure sits on the limit";

    /// <summary>
    /// Held-out samples at which the loss interval, with the loss where it is, would no longer contain the budget. Wilson:
    /// computed exactly for the same flip rate. Bootstrap: the interval narrows as 1/sqrt(n), so the side facing the budget
    /// is scaled until it no longer reaches it.
    /// </summary>
    public static int? SamplesToSettleLoss(AccuracyReport accuracy, double budget)
    {
        if (accuracy.IntervalMethod != AccuracyEvaluator.WilsonMethod) return BootstrapSamplesToSettle(accuracy.Loss, budget, accuracy.Samples);
        double rate = accuracy.LossPercent / 100, limit = budget / 100;
        if (rate == limit) return null;
        bool Settled(double n)
        {
            var (low, high) = AccuracyEvaluator.Wilson(rate * n, n);
            return rate < limit ? high < limit : low > limit;
        }
        long hi = Math.Max(accuracy.Samples, 1);
        while (!Settled(hi))
        {
            hi *= 2;
            if (hi > 1_000_000_000) return null;
        }
        long lo = accuracy.Samples;
        while (hi - lo > 1)
        {
            long mid = lo + (hi - lo) / 2;
            if (Settled(mid)) hi = mid;
            else lo = mid;
        }
        return (int)hi;
    }

    /// <summary>Samples at which a bootstrap interval around the same value, narrowing as 1/sqrt(n), stops containing <paramref name="limit"/>.</summary>
    private static int? BootstrapSamplesToSettle(Estimate e, double limit, int samples)
    {
        double gap = Math.Abs(e.Value - limit);
        double reach = e.Value < limit ? e.High - e.Value : e.Value - e.Low;
        if (gap == 0 || !double.IsFinite(gap) || !double.IsFinite(reach)) return null;
        double n = Math.Max(samples, 1) * Math.Pow(reach / gap, 2);
        return n > 1e9 ? null : Math.Max(samples + 1, (int)Math.Floor(n) + 1);
    }

    /// <summary>
    /// Which preprocessing setting most likely fed the model inputs unlike its training data: the range the settings map
    /// pixels to says whether Mean/Std/Scale are missing; otherwise channel order and layout are what is left to check.
    /// </summary>
    public static string LikelyCause(ImagePreprocessing? p)
    {
        if (p is null) return "the held-out tensors (.npy) are not scaled or laid out as the model was trained; check how they were made";
        var channels = Enumerable.Range(0, Math.Max(p.Mean.Length, p.Std.Length)).Select(c =>
        {
            float mean = p.Mean[Math.Min(c, p.Mean.Length - 1)], std = p.Std[Math.Min(c, p.Std.Length - 1)];
            return ((0 * p.Scale - mean) / std, (255 * p.Scale - mean) / std);
        }).ToList();
        double low = channels.Min(c => c.Item1), high = channels.Max(c => c.Item2);
        string range = Inv($"pixels reach the model as {low:G4}..{high:G4} (Scale={p.Scale:G}, Mean={string.Join(",", p.Mean)}, Std={string.Join(",", p.Std)})");
        if (high - low > 20 || Math.Max(Math.Abs(low), Math.Abs(high)) > 20)
            return range + ": Mean and Std (or Scale) are probably missing; set them as the model's training did, e.g. Mean=\"127.5\" Std=\"128\" or Mean=\"123.7,116.3,103.5\" Std=\"58.4,57.1,57.4\"";
        return range + Inv($", which looks normalized: check ChannelOrder (now {p.ChannelOrder}; Bgr for OpenCV/Caffe-trained models) and Layout (now {p.Layout}), then Mean and Std against the model's training");
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
