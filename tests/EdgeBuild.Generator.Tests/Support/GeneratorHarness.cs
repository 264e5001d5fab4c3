using System.Collections.Immutable;
using EdgeBuild.Generator;
using EdgeBuild.Runtime;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace EdgeBuild.Generator.Tests.Support;

/// <summary>An additional file held in memory, as the compiler hands manifests to the generator.</summary>
public sealed class InMemoryAdditionalText(string path, string text) : AdditionalText
{
    private readonly SourceText source = SourceText.From(text);

    public override string Path { get; } = path;

    public override SourceText GetText(CancellationToken cancellationToken = default) => source;
}

/// <summary>Runs the generator the way the compiler does, over in-memory manifests and a small consumer compilation.</summary>
public static class GeneratorHarness
{
    /// <summary>Where test manifests claim to live: a path like a build's obj folder.</summary>
    public static string ManifestPath(string fileName) => Path.Combine(Path.GetTempPath(), "edgebuild-tests", "obj", fileName);

    public static CSharpParseOptions ParseOptions(LanguageVersion version = LanguageVersion.Latest) =>
        new(version, DocumentationMode.Diagnose);

    /// <summary>References of a consumer app: the framework, EdgeBuild.Runtime and ONNX Runtime's managed API.</summary>
    public static ImmutableArray<MetadataReference> References(bool withRuntime = true)
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p) is var f && (f.StartsWith("System.", StringComparison.Ordinal) || f is "netstandard.dll" or "mscorlib.dll"))
            .ToList();
        if (withRuntime)
        {
            paths.Add(typeof(EdgeSession).Assembly.Location);
            paths.Add(typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly.Location);
        }
        return [.. paths.Distinct().Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))];
    }

    public static CSharpCompilation Compilation(IEnumerable<SyntaxTree>? trees = null, bool withRuntime = true, LanguageVersion version = LanguageVersion.Latest) =>
        CSharpCompilation.Create("Consumer",
            trees ?? [CSharpSyntaxTree.ParseText("namespace Consumer { internal static class Program { } }", ParseOptions(version))],
            References(withRuntime),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary,
                nullableContextOptions: NullableContextOptions.Enable,
                // Every warning wave on, as the strictest consumer would have it.
                warningLevel: 9999));

    public static GeneratorDriver Driver(IEnumerable<AdditionalText> texts, LanguageVersion version = LanguageVersion.Latest) =>
        CSharpGeneratorDriver.Create(
            [new ModelGenerator().AsSourceGenerator()],
            texts,
            ParseOptions(version),
            optionsProvider: null,
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator once; returns its result and the compilation with the generated sources.</summary>
    public static (GeneratorRunResult Result, Compilation Output) Run(IEnumerable<AdditionalText> texts, bool withRuntime = true,
        LanguageVersion version = LanguageVersion.Latest)
    {
        var driver = Driver(texts, version).RunGeneratorsAndUpdateCompilation(Compilation(withRuntime: withRuntime, version: version), out var output, out var driverDiagnostics);
        Assert.Empty(driverDiagnostics.Where(d => d.Id is "CS8784" or "CS8785"));
        return (driver.GetRunResult().Results.Single(), output);
    }

    public static (GeneratorRunResult Result, Compilation Output) Run(params (string FileName, string Json)[] manifests) =>
        Run(manifests.Select(m => (AdditionalText)new InMemoryAdditionalText(ManifestPath(m.FileName), m.Json)));

    /// <summary>The test manifests shipped in Manifests/ (copied to the output folder).</summary>
    public static IReadOnlyList<string> ManifestFiles =>
        Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Manifests"), "*.edgemodel.json").Order(StringComparer.Ordinal).ToList();

    public static string ReadManifest(string className) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Manifests", className + ".edgemodel.json"));
}
