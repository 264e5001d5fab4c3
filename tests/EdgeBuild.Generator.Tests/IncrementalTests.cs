using EdgeBuild.Generator.Tests.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace EdgeBuild.Generator.Tests;

/// <summary>
/// The pipeline caches: a second run over the same manifest, an edit elsewhere in the compilation, or
/// a manifest re-read with the same content leave the parser and the emitter untouched.
/// </summary>
public class IncrementalTests
{
    private static readonly string[] ModelSteps = [ModelGenerator.TrackingNames.Manifests, ModelGenerator.TrackingNames.Parse, ModelGenerator.TrackingNames.Classes, ModelGenerator.TrackingNames.Output];

    private static InMemoryAdditionalText Manifest(string className, string? json = null) =>
        new(GeneratorHarness.ManifestPath(className + ".edgemodel.json"), json ?? GeneratorHarness.ReadManifest(className));

    private static IEnumerable<IncrementalStepRunReason> Reasons(GeneratorRunResult result, string step) =>
        result.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason);

    private static void AssertAll(GeneratorRunResult result, IncrementalStepRunReason expected, params string[] steps)
    {
        foreach (var step in steps)
        {
            var reasons = Reasons(result, step).ToList();
            Assert.NotEmpty(reasons);
            Assert.True(reasons.All(r => r == expected), $"step {step}: expected all {expected}, got {string.Join(", ", reasons)}");
        }
    }

    private static void AssertSourceOutputCached(GeneratorRunResult result)
    {
        var reasons = result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
        Assert.NotEmpty(reasons);
        Assert.All(reasons, r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }

    [Fact]
    public void SecondRunWithTheSameManifestIsCached()
    {
        var compilation = GeneratorHarness.Compilation();
        var driver = GeneratorHarness.Driver([Manifest("TinyDetector"), Manifest("SymbolicNet")]).RunGenerators(compilation);
        AssertAll(driver.GetRunResult().Results.Single(), IncrementalStepRunReason.New, ModelSteps);

        driver = driver.RunGenerators(compilation);
        var result = driver.GetRunResult().Results.Single();
        AssertAll(result, IncrementalStepRunReason.Cached, ModelSteps);
        AssertAll(result, IncrementalStepRunReason.Cached, ModelGenerator.TrackingNames.RuntimeReferenced);
        AssertSourceOutputCached(result);
    }

    [Fact]
    public void UnrelatedCodeChangeLeavesTheModelStepsCached()
    {
        var compilation = GeneratorHarness.Compilation();
        var driver = GeneratorHarness.Driver([Manifest("TinyDetector")]).RunGenerators(compilation);

        var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace Consumer { internal sealed class Unrelated { } }", GeneratorHarness.ParseOptions()));
        driver = driver.RunGenerators(edited);
        var result = driver.GetRunResult().Results.Single();
        // The compilation changed, so the reference check ran again; its answer did not.
        AssertAll(result, IncrementalStepRunReason.Unchanged, ModelGenerator.TrackingNames.RuntimeReferenced);
        AssertAll(result, IncrementalStepRunReason.Cached, ModelSteps);
        AssertSourceOutputCached(result);
    }

    [Fact]
    public void SameContentReReadIsUnchanged()
    {
        var compilation = GeneratorHarness.Compilation();
        var original = Manifest("TinyDetector");
        var driver = GeneratorHarness.Driver([original, Manifest("SymbolicNet")]).RunGenerators(compilation);

        // The build rewrote the file with the same bytes: a new AdditionalText, equal content.
        driver = driver.ReplaceAdditionalText(original, Manifest("TinyDetector")).RunGenerators(compilation);
        var result = driver.GetRunResult().Results.Single();
        var parse = Reasons(result, ModelGenerator.TrackingNames.Parse).ToList();
        Assert.Contains(IncrementalStepRunReason.Unchanged, parse);
        Assert.DoesNotContain(IncrementalStepRunReason.Modified, parse);
        AssertAll(result, IncrementalStepRunReason.Cached, ModelGenerator.TrackingNames.Output);
        AssertSourceOutputCached(result);
    }

    [Fact]
    public void ChangedManifestRegeneratesOnlyItsClass()
    {
        var compilation = GeneratorHarness.Compilation();
        var tiny = Manifest("TinyDetector");
        var driver = GeneratorHarness.Driver([tiny, Manifest("SymbolicNet")]).RunGenerators(compilation);

        string changed = GeneratorHarness.ReadManifest("TinyDetector").Replace("[1, 3, 4, 4] },\n    { \"name\": \"image\"", "[1, 3, 8, 8] },\n    { \"name\": \"image\"");
        Assert.NotEqual(GeneratorHarness.ReadManifest("TinyDetector"), changed);
        driver = driver.ReplaceAdditionalText(tiny, Manifest("TinyDetector", changed)).RunGenerators(compilation);
        var result = driver.GetRunResult().Results.Single();
        var output = Reasons(result, ModelGenerator.TrackingNames.Output).ToList();
        Assert.Equal(1, output.Count(r => r == IncrementalStepRunReason.Modified));
        Assert.Equal(1, output.Count(r => r == IncrementalStepRunReason.Cached));
        Assert.Contains("Input0Length = 192;", result.GeneratedSources.Single(s => s.HintName.EndsWith("TinyDetector.g.cs", StringComparison.Ordinal)).SourceText.ToString());
    }
}
