using EdgeBuild.Diagnostics;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Cli;

public class DiagnosticsTableTests
{
    /// <summary>docs/diagnostics.md lists exactly the codes in DiagnosticCodes, with the same titles and help.</summary>
    [Fact]
    public void DocsTableMatchesTheCode()
    {
        string doc = File.ReadAllText(Path.Combine(TestData.RepoRoot, "docs", "diagnostics.md"));
        var rows = doc.Split('\n').Where(l => l.StartsWith("| EB", StringComparison.Ordinal)).ToList();
        var expected = DiagnosticCodes.All.Select(d => $"| {d.Code} | {d.Title} | {d.Help} |").ToList();
        Assert.Equal(expected, rows);
    }

    [Fact]
    public void CodesAreUniqueAndInTheirRanges()
    {
        var codes = DiagnosticCodes.All.Select(d => d.Code).ToList();
        Assert.Equal(codes.Count, codes.Distinct().Count());
        Assert.All(codes, c => Assert.Matches("^EB[1-9][0-9]{3}$", c));
    }
}
