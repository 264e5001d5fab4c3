using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace EdgeBuild.Generator;

/// <summary>
/// The pipeline, and only the pipeline: each <c>*.edgemodel.json</c> additional file is parsed into an
/// equatable <see cref="ModelSpec"/> (<see cref="ManifestParser"/>), checked against the other
/// manifests and the compilation's references, and written out by <see cref="ModelEmitter"/>. The
/// generator reads nothing but manifests: no syntax, no symbols, so typing in the editor never re-runs
/// the parser or the emitter.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class ModelGenerator : IIncrementalGenerator
{
    /// <summary>Tracking names of the pipeline's steps (tests assert these are cached when nothing changed).</summary>
    public static class TrackingNames
    {
        /// <summary>The manifests among the additional files, one per path.</summary>
        public const string Manifests = "Manifests";

        /// <summary>Manifest text to <see cref="ParseResult"/>.</summary>
        public const string Parse = "Parse";

        /// <summary>Every manifest's class, sorted, for the duplicate check.</summary>
        public const string Classes = "Classes";

        /// <summary>Whether the compilation references EdgeBuild.Runtime.</summary>
        public const string RuntimeReferenced = "RuntimeReferenced";

        /// <summary>What one manifest contributes: a model to emit and diagnostics.</summary>
        public const string Output = "Output";
    }

    private const string RuntimeType = "EdgeBuild.Runtime.EdgeSession";

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        // One entry per path: an AdditionalFiles item included twice must not generate its class twice
        // (duplicate hint names fail the whole generator). Unchanged texts come out of SelectMany
        // Unchanged, so the parser still runs only for the manifests that changed.
        var manifests = context.AdditionalTextsProvider
            .Where(static text => text.Path.EndsWith(ManifestParser.FileSuffix, StringComparison.OrdinalIgnoreCase))
            .Collect()
            .SelectMany(static (texts, _) => DistinctByPath(texts))
            .WithTrackingName(TrackingNames.Manifests);

        var parsed = manifests
            .Select(static (text, cancellationToken) =>
                ManifestParser.Parse(text.Path, text.GetText(cancellationToken)?.ToString(), cancellationToken))
            .WithTrackingName(TrackingNames.Parse);

        var classes = parsed
            .Where(static r => r.Model is not null)
            .Select(static (r, _) => new ClassKey(r.Model!.FullName, r.FilePath))
            .Collect()
            .Select(static (keys, _) => new EquatableArray<ClassKey>(keys.OrderBy(k => k).ToArray()))
            .WithTrackingName(TrackingNames.Classes);

        // A bool: a new compilation (every keystroke) re-runs only this lookup, and an unchanged answer
        // leaves everything downstream cached.
        var runtimeReferenced = context.CompilationProvider
            .Select(static (compilation, _) => compilation.GetTypeByMetadataName(RuntimeType) is not null)
            .WithTrackingName(TrackingNames.RuntimeReferenced);

        var outputs = parsed
            .Combine(classes)
            .Combine(runtimeReferenced)
            .Select(static (input, _) => Resolve(input.Left.Left, input.Left.Right, input.Right))
            .WithTrackingName(TrackingNames.Output);

        context.RegisterSourceOutput(outputs, static (spc, output) => Produce(spc, output));
    }

    private static GeneratorOutput Resolve(ParseResult result, EquatableArray<ClassKey> classes, bool runtimeReferenced)
    {
        if (result.Model is not { } model) return new GeneratorOutput(null, result.Diagnostics);
        string fileName = ManifestParser.FileName(result.FilePath);
        // The first manifest (by path) keeps the class; the others report EBG006 and generate nothing.
        var first = classes.FirstOrDefault(k => k.FullName == model.FullName);
        if (first is not null && first.FilePath != result.FilePath)
        {
            var duplicate = DiagnosticInfo.AtFile(DiagnosticDescriptors.DuplicateClass.Id, result.FilePath, fileName, model.FullName, first.FilePath);
            return new GeneratorOutput(null, new EquatableArray<DiagnosticInfo>(new[] { duplicate }));
        }
        if (!runtimeReferenced)
        {
            var missing = DiagnosticInfo.AtFile(DiagnosticDescriptors.RuntimeNotReferenced.Id, result.FilePath, fileName, model.FullName);
            return new GeneratorOutput(null, new EquatableArray<DiagnosticInfo>(new[] { missing }));
        }
        return new GeneratorOutput(model, result.Diagnostics);
    }

    private static void Produce(SourceProductionContext context, GeneratorOutput output)
    {
        foreach (var d in output.Diagnostics) context.ReportDiagnostic(ToDiagnostic(d));
        if (output.Model is not { } model) return;
        string source;
        try
        {
            source = ModelEmitter.Emit(model);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.InternalError, Location.None, model.ManifestFileName, e.GetType().Name + ": " + e.Message));
            return;
        }
        context.AddSource(ModelEmitter.HintName(model), SourceText.From(source, Encoding.UTF8));
    }

    private static ImmutableArray<AdditionalText> DistinctByPath(ImmutableArray<AdditionalText> texts)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = ImmutableArray.CreateBuilder<AdditionalText>(texts.Length);
        foreach (var text in texts)
            if (seen.Add(text.Path)) result.Add(text);
        return result.ToImmutable();
    }

    internal static Diagnostic ToDiagnostic(DiagnosticInfo d)
    {
        var span = new TextSpan(d.Start, Math.Max(0, d.End - d.Start));
        var lines = new LinePositionSpan(new LinePosition(d.StartLine, d.StartColumn), new LinePosition(d.EndLine, d.EndColumn));
        var location = Location.Create(d.FilePath, span, lines);
        return Diagnostic.Create(DiagnosticDescriptors.Get(d.Id), location, d.Arguments.Cast<object>().ToArray());
    }
}
