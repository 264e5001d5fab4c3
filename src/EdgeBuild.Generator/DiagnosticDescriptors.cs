using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace EdgeBuild.Generator;

/// <summary>
/// Every diagnostic the generator reports: one table (documented in docs/generated-code.md, which a test
/// keeps in step with it). Codes are never reused or renumbered. The description is the help text.
/// </summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "EdgeBuild.Generator";

    public static readonly DiagnosticDescriptor InvalidJson = new(
        "EBG001", "Manifest is not valid JSON", "'{0}' is not valid JSON: {1}", Category, DiagnosticSeverity.Error, true,
        "The manifest is written by 'edgebuild compile'; rebuild to rewrite it, and do not edit it by hand.");

    public static readonly DiagnosticDescriptor UnknownSchemaVersion = new(
        "EBG002", "Unknown manifest schema version", "'{0}' has schemaVersion {1}; this generator reads version 1", Category, DiagnosticSeverity.Error, true,
        "The compiler and the generator come from different EdgeBuild versions; use the same version of the EdgeBuild packages.");

    public static readonly DiagnosticDescriptor InvalidField = new(
        "EBG003", "Missing or invalid manifest field", "'{0}': '{1}' {2}", Category, DiagnosticSeverity.Error, true,
        "The manifest does not follow docs/manifest.md; rebuild to rewrite it with 'edgebuild compile'.");

    public static readonly DiagnosticDescriptor UnsupportedElementType = new(
        "EBG004", "Unsupported element type", "'{0}': {1} '{2}' has element type '{3}', which a generated Run cannot pass; no class is generated for this model", Category, DiagnosticSeverity.Error, true,
        "Generated classes pass numeric and bool tensors as spans; string tensors are not supported. Remove the tensor from the model's inputs and outputs, or run the model with ONNX Runtime directly.");

    public static readonly DiagnosticDescriptor InvalidName = new(
        "EBG005", "Invalid class name or namespace", "'{0}': '{1}' is not a valid C# {2}", Category, DiagnosticSeverity.Error, true,
        "Set the model item's ClassName (an identifier that is not a keyword and not all lower-case) or Namespace (identifiers joined by dots).");

    public static readonly DiagnosticDescriptor DuplicateClass = new(
        "EBG006", "Two manifests define the same class", "'{0}' defines class '{1}', which '{2}' already defines", Category, DiagnosticSeverity.Error, true,
        "Give one of the models another ClassName or Namespace.");

    public static readonly DiagnosticDescriptor RuntimeNotReferenced = new(
        "EBG007", "EdgeBuild.Runtime is not referenced", "'{0}': the generated class '{1}' needs EdgeBuild.Runtime; add a reference to it", Category, DiagnosticSeverity.Error, true,
        "Reference the EdgeBuild.Runtime package (or project) in the project that compiles the model.");

    public static readonly DiagnosticDescriptor InternalError = new(
        "EBG008", "Internal generator error", "'{0}': internal error in EdgeBuild.Generator: {1}", Category, DiagnosticSeverity.Error, true,
        "This is a bug in EdgeBuild; please report it with the manifest.");

    /// <summary>Every descriptor, in code order.</summary>
    public static IReadOnlyList<DiagnosticDescriptor> All { get; } = new[]
    {
        InvalidJson, UnknownSchemaVersion, InvalidField, UnsupportedElementType, InvalidName, DuplicateClass, RuntimeNotReferenced, InternalError,
    };

    private static readonly Dictionary<string, DiagnosticDescriptor> ById = All.ToDictionary(d => d.Id);

    public static DiagnosticDescriptor Get(string id) => ById[id];
}
