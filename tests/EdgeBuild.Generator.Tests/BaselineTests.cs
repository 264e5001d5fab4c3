using EdgeBuild.Generator.Tests.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace EdgeBuild.Generator.Tests;

/// <summary>
/// The generated source for each manifest in Manifests/ equals Baselines/&lt;Class&gt;.g.cs byte for byte.
/// The baselines are also compiled into this test assembly, so the runtime tests run exactly this code.
/// Set EDGEBUILD_UPDATE_BASELINES=1 to rewrite them after an intended change, then review the diff.
/// </summary>
public class BaselineTests
{
    public static TheoryData<string> Manifests => new(GeneratorHarness.ManifestFiles.Select(f => Path.GetFileName(f)!.Replace(".edgemodel.json", "")));

    [Theory]
    [MemberData(nameof(Manifests))]
    public void GeneratedSourceMatchesBaseline(string className)
    {
        var (result, output) = GeneratorHarness.Run((className + ".edgemodel.json", GeneratorHarness.ReadManifest(className)));
        Assert.Empty(result.Diagnostics);
        var generated = Assert.Single(result.GeneratedSources);
        Assert.EndsWith("." + className + ".g.cs", "." + generated.HintName);
        string actual = generated.SourceText.ToString();

        string baselineName = className + ".g.cs";
        if (Repo.UpdateBaselines)
        {
            File.WriteAllText(Path.Combine(Repo.TestProjectDir, "Baselines", baselineName), actual);
            return;
        }
        string expected = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Baselines", baselineName));
        Assert.Equal(expected, actual);
    }

    /// <summary>
    /// The generated code compiles in a strict consumer: nullable on, every warning wave, documentation
    /// diagnostics on (no CS1591), both the oldest language version it targets (C# 8) and the latest.
    /// </summary>
    [Theory]
    [InlineData(LanguageVersion.CSharp8)]
    [InlineData(LanguageVersion.Latest)]
    public void GeneratedSourceCompilesWithoutWarnings(LanguageVersion version)
    {
        var texts = GeneratorHarness.ManifestFiles.Select(f => (AdditionalText)new Support.InMemoryAdditionalText(f, File.ReadAllText(f))).ToList();
        var (result, output) = GeneratorHarness.Run(texts, version: version);
        Assert.Empty(result.Diagnostics);
        Assert.Equal(texts.Count, result.GeneratedSources.Length);
        var problems = output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}
