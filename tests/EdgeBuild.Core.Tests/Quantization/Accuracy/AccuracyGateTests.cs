using EdgeBuild.Diagnostics;
using EdgeBuild.Measure;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Quantization;

namespace EdgeBuild.Tests.Measure;

/// <summary>The accuracy gate's rules on reports built by hand: intervals, verdicts, the counts it names, the floors, the reference check.</summary>
public class AccuracyGateTests
{
    private static readonly OutputFloors Floors = new();

    private static OutputAgreement Output(double sqnr, double cosine, string name = "y") =>
        new(name, new Estimate(sqnr, sqnr - 1, sqnr + 1), new Estimate(cosine, cosine - 0.0001, Math.Min(1, cosine + 0.0001)), 0.1);

    /// <summary>A top-1 report of <paramref name="flips"/> changed answers in <paramref name="samples"/>, as the evaluator builds it.</summary>
    private static AccuracyReport TopOne(int flips, int samples, params OutputAgreement[] outputs)
    {
        var (low, high) = AccuracyEvaluator.Wilson(flips, samples);
        double loss = 100.0 * flips / samples;
        return new AccuracyReport(TaskKind.Classification, samples, "top-1 agreement %", 100 - loss, new Estimate(loss, 100 * low, 100 * high),
            AccuracyEvaluator.WilsonMethod, outputs.Length > 0 ? outputs : [Output(35, 0.9995)]);
    }

    [Fact]
    public void WilsonIntervalMatchesTheClosedForm()
    {
        // 0 of 30: the upper bound is z^2 / (n + z^2) = 11.35 %; 5 of 100: [2.15 %, 11.18 %] (Wilson 1927, Newcombe 1998 table I).
        var (low0, high0) = AccuracyEvaluator.Wilson(0, 30);
        Assert.Equal(0, low0, 12);
        Assert.Equal(3.8414588 / 33.8414588, high0, 6);
        var (low5, high5) = AccuracyEvaluator.Wilson(5, 100);
        Assert.Equal(0.0215, low5, 4);
        Assert.Equal(0.1118, high5, 4);
    }

    [Fact]
    public void BootstrapIsSeededAndContainsTheValue()
    {
        var random = new Random(3);
        var samples = Enumerable.Range(0, 40).Select(_ => new[] { random.NextDouble() }).ToList();
        var a = AccuracyEvaluator.Bootstrap(samples, s => s[0] / 40);
        var b = AccuracyEvaluator.Bootstrap(samples, s => s[0] / 40);
        Assert.Equal(a, b);
        Assert.InRange(a.Value, a.Low, a.High);
        Assert.True(a.High - a.Low is > 0.05 and < 0.4, $"{a}");
        Assert.Equal(samples.Average(s => s[0]), a.Value, 12);
    }

    [Fact]
    public void NoHeldOutSamplesWithABudgetIsAnError()
    {
        var e = Assert.Throws<EdgeBuildException>(() => AccuracyGate.RequireHeldOut(0.0001, 0, 5));
        Assert.Equal("EB3010", e.Code);
        Assert.Contains("no held-out samples", e.Message, StringComparison.Ordinal);
        Assert.Contains("at least 30", e.Message, StringComparison.Ordinal);
        AccuracyGate.RequireHeldOut(null, 0, 5); // no budget: nothing to judge, no error
    }

    [Fact]
    public void TooFewHeldOutSamplesIsAnErrorNamingTheCountNeeded()
    {
        // The 3-photo split that once reported "100 % agreement, 0.000 % loss".
        var e = Assert.Throws<EdgeBuildException>(() => AccuracyGate.RequireHeldOut(1, 3, 9));
        Assert.Equal("EB3010", e.Code);
        Assert.Contains("3 held-out sample(s): at least 30 are needed (27 more)", e.Message, StringComparison.Ordinal);
        AccuracyGate.RequireHeldOut(1, AccuracyGate.MinHeldOutSamples, 90);
    }

    [Fact]
    public void LossIsMetUnprovenOrMissedByItsInterval()
    {
        // 0 flips of 400: upper bound 0.95 % < 1 %: met.
        var met = AccuracyGate.Judge("m", "the Int8 model", TopOne(0, 400), 1, Floors, null);
        Assert.Equal(AccuracyVerdict.Met, met.Loss!.Verdict);
        Assert.Empty(met.Findings);
        Assert.True(met.AcceptableForSearch);

        // 0 flips of 30: the interval [0, 11.35 %] contains 1 %: unproven, a warning, no error.
        var unproven = AccuracyGate.Judge("m", "the Int8 model", TopOne(0, 30), 1, Floors, null);
        Assert.Equal(AccuracyVerdict.Unproven, unproven.Loss!.Verdict);
        var warning = Assert.Single(unproven.Findings);
        Assert.Equal(FindingSeverity.Warning, warning.Severity);
        Assert.Equal("EB3011", warning.Descriptor.Code);
        Assert.True(unproven.AcceptableForSearch);

        // 12 flips of 40: [17 %, 46 %] is wholly over 5 %: missed, an error.
        var missed = AccuracyGate.Judge("m", "the Int8 model", TopOne(12, 40), 5, Floors, null);
        Assert.Equal(AccuracyVerdict.Missed, missed.Verdict);
        Assert.Equal("EB3009", Assert.Single(missed.Errors).Descriptor.Code);
        Assert.False(missed.AcceptableForSearch);

        // The point over the budget but the interval reaching under it: unproven for the build, not good enough for a search.
        var over = AccuracyGate.Judge("m", "the Int8 model", TopOne(2, 40), 3, Floors, null);
        Assert.Equal(AccuracyVerdict.Unproven, over.Verdict);
        Assert.False(over.AcceptableForSearch);
    }

    [Fact]
    public void UnprovenNamesTheSampleCountThatSettlesIt()
    {
        // 0 flips: z^2 (1 - B) / B samples bring the upper bound under B. At 1 %: 380.3, so 381 in all, 351 more than 30.
        var judgement = AccuracyGate.Judge("m", "the Int8 model", TopOne(0, 30), 1, Floors, null);
        Assert.Equal(381, judgement.Loss!.SamplesToSettle);
        Assert.Contains("about 351 more held-out samples (381 in all)", judgement.Findings[0].Message, StringComparison.Ordinal);

        // The count is the first that settles it at the same flip rate: one fewer does not.
        var report = TopOne(1, 40);
        int n = AccuracyGate.SamplesToSettleLoss(report, 10)!.Value;
        Assert.True(AccuracyEvaluator.Wilson(n / 40.0, n).High < 0.10);
        Assert.False(AccuracyEvaluator.Wilson((n - 1) / 40.0, n - 1).High < 0.10);

        // A continuous metric: the bootstrap interval narrows as 1/sqrt(n).
        var generic = new AccuracyReport(TaskKind.Generic, 30, "relative error norm %", 0.8, new Estimate(0.8, 0.6, 1.1), AccuracyEvaluator.BootstrapMethod, [Output(35, 0.9995)]);
        var settle = AccuracyGate.Judge("m", "the Int8 model", generic, 1, Floors, null).Loss!.SamplesToSettle;
        Assert.Equal(68, settle); // 30 x (0.3 / 0.2)^2 = 67.5
    }

    [Fact]
    public void ACollapseThatTopOneHidesFailsTheSqnrFloor()
    {
        // Every answer the same as FP32, but the outputs 6 dB from it (every logit halved, say).
        var report = TopOne(0, 400, Output(6, 0.9999));
        var judgement = AccuracyGate.Judge("m", "the Int8 model", report, 1, Floors, null);
        Assert.Equal(AccuracyVerdict.Met, judgement.Loss!.Verdict);
        Assert.Equal(AccuracyVerdict.Missed, judgement.Verdict);
        var error = Assert.Single(judgement.Errors);
        Assert.Equal("EB3012", error.Descriptor.Code);
        Assert.Contains("SQNR dB of 'y' 6", error.Message, StringComparison.Ordinal);
        Assert.False(judgement.AcceptableForSearch);

        // The same with no budget at all: the floor still holds. A floor set lower lets it pass.
        Assert.Equal("EB3012", Assert.Single(AccuracyGate.Judge("m", "x", report, null, Floors, null).Errors).Descriptor.Code);
        Assert.Empty(AccuracyGate.Judge("m", "x", report, null, new OutputFloors { MinSqnrDb = 3 }, null).Findings);
        // And the cosine floor on its own.
        var turned = AccuracyGate.Judge("m", "x", TopOne(0, 400, Output(30, 0.95)), null, Floors, null);
        Assert.Contains("cosine of 'y' 0.95", Assert.Single(turned.Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DegenerateReferenceIsAWarningNamingTheLikelyCause()
    {
        var report = TopOne(0, 400) with { ReferenceProblems = ["output 'y' is identical for all 400 held-out samples"] };
        var raw = AccuracyGate.Judge("m", "x", report, 1, Floors, new ImagePreprocessing());
        var warning = Assert.Single(raw.Findings);
        Assert.Equal(FindingSeverity.Warning, warning.Severity);
        Assert.Equal("EB3013", warning.Descriptor.Code);
        Assert.Contains("identical for all 400", warning.Message, StringComparison.Ordinal);
        Assert.Contains("pixels reach the model as 0..255", warning.Message, StringComparison.Ordinal);
        Assert.Contains("Mean and Std (or Scale) are probably missing", warning.Message, StringComparison.Ordinal);

        // Normalized pixels: what is left to check is the channel order and the layout.
        var normalized = AccuracyGate.Judge("m", "x", report, 1, Floors, new ImagePreprocessing { Mean = [127.5f], Std = [127.5f] });
        Assert.Contains("check ChannelOrder (now Rgb", Assert.Single(normalized.Findings).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidFloorsAreOptionErrors()
    {
        Assert.Equal("EB6001", Assert.Throws<EdgeBuildException>(() => new OutputFloors { MinCosine = 1.5 }.Validate()).Code);
        Assert.Equal("EB6001", Assert.Throws<EdgeBuildException>(() => new OutputFloors { MinSqnrDb = double.NaN }.Validate()).Code);
        Assert.Equal("EB6001", Assert.Throws<EdgeBuildException>(() => new OutputFloors { MinSqnrDb = double.NegativeInfinity }.Validate()).Code);
    }
}
