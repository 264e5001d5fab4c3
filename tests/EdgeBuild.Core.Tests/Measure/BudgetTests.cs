using EdgeBuild.Diagnostics;
using EdgeBuild.Measure;

namespace EdgeBuild.Tests.Measure;

public sealed class BudgetTests
{
    private static (List<Finding> Findings, List<BudgetOutcome> Outcomes) Latency(double budget, double p99, double low, double high) =>
        Budgets.Check("Face", MeasureFixtures.Result(p99, low, high), budget, null, null, null, "try Precision=\"Int8Dynamic\"");

    [Fact]
    public void WholeIntervalAboveTheBudgetIsAnErrorNamingBudgetValueIntervalAndWhatToTry()
    {
        var (findings, outcomes) = Latency(8, 10, 9.5, 10.5);
        var error = Assert.Single(findings);
        Assert.Equal(FindingSeverity.Error, error.Severity);
        Assert.Equal(DiagnosticCodes.LatencyBudgetExceeded, error.Descriptor);
        string line = error.Format();
        Assert.StartsWith("error EB5002: Face: ", line);
        Assert.Contains("LatencyBudgetMs=8", line);
        Assert.Contains("P99 10.000 ms [95 % CI 9.500, 10.500]", line);
        Assert.Contains("Int8Dynamic", line);
        Assert.Equal("fail", Assert.Single(outcomes).Status);
    }

    [Fact]
    public void IntervalContainingTheBudgetWarnsInsteadOfFailing()
    {
        var (findings, outcomes) = Latency(10.2, 10.4, 10.0, 10.8);
        var warning = Assert.Single(findings);
        Assert.Equal(FindingSeverity.Warning, warning.Severity);
        Assert.Equal(DiagnosticCodes.NearBudget, warning.Descriptor);
        Assert.StartsWith("warning EB5006: ", warning.Format());
        Assert.Equal("near", outcomes[0].Status);
    }

    [Fact]
    public void WithinTenPercentOfTheBudgetWarns()
    {
        var (findings, _) = Latency(10.5, 10, 9.9, 10.1);
        Assert.Equal(DiagnosticCodes.NearBudget, Assert.Single(findings).Descriptor);
        Assert.Contains("within 10 %", findings[0].Message);
    }

    [Fact]
    public void ComfortablyUnderTheBudgetPasses()
    {
        var (findings, outcomes) = Latency(30, 10, 9.5, 10.5);
        Assert.Empty(findings);
        Assert.Equal("pass", outcomes[0].Status);
    }

    [Fact]
    public void FpsMemoryAndSizeBudgets()
    {
        var r = MeasureFixtures.Result(fps: 100, memoryMB: 50, bytes: 3 * 1048576);
        var (findings, outcomes) = Budgets.Check("Face", r, null, 200, 40, 2, null);
        Assert.Equal([DiagnosticCodes.FpsBudgetNotMet, DiagnosticCodes.MemoryBudgetExceeded, DiagnosticCodes.SizeBudgetExceeded], findings.Select(f => f.Descriptor));
        Assert.All(findings, f => Assert.Equal(FindingSeverity.Error, f.Severity));
        Assert.Contains("MinFps=200", findings[0].Message);
        Assert.Contains("MaxMemoryMB=40", findings[1].Message);
        Assert.Contains("3.000 MB", findings[2].Message);
        Assert.Equal(3, outcomes.Count);

        var (ok, _) = Budgets.Check("Face", r, null, 30, 500, 20, null);
        Assert.Empty(ok);
    }
}
