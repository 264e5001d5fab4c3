using System;

namespace EdgeBuild.Generator;

// The equatable model between the parser and the emitter: strings, numbers and equatable arrays only
// (no ISymbol, no Location, no Compilation), so the incremental pipeline can compare runs by value.

/// <summary>One generated class.</summary>
/// <param name="ClassName">The class name (a valid C# identifier).</param>
/// <param name="Namespace">The namespace; empty for the global one.</param>
/// <param name="ManifestFileName">The manifest's file name (no folder: generated code names no build paths).</param>
/// <param name="SourceFile">The original model's file name, when the manifest gives it.</param>
/// <param name="Inputs">Graph inputs in graph order.</param>
/// <param name="Outputs">Graph outputs in graph order.</param>
/// <param name="Symbols">The symbolic dimensions, in the order <c>Run</c> takes them.</param>
/// <param name="Artifacts">The compiled files.</param>
/// <param name="DefaultProvider">The execution provider the model was compiled for (an ExecutionProvider member name).</param>
/// <param name="Image">How images become the model's one input, when it takes images and the manifest records preprocessing; else null.</param>
/// <param name="Batch">The batch symbol, when every input's first dimension is the model's only symbol; else null.</param>
internal sealed record ModelSpec(
    string ClassName,
    string Namespace,
    string ManifestFileName,
    string? SourceFile,
    EquatableArray<TensorSpec> Inputs,
    EquatableArray<TensorSpec> Outputs,
    EquatableArray<SymbolSpec> Symbols,
    EquatableArray<ArtifactSpec> Artifacts,
    string DefaultProvider,
    ImageSpec? Image,
    BatchSpec? Batch)
{
    public string FullName => Namespace.Length == 0 ? ClassName : Namespace + "." + ClassName;
}

/// <summary>One input or output.</summary>
/// <param name="Name">The ONNX tensor name, exactly.</param>
/// <param name="ParameterName">The <c>Run</c> parameter as written in code (a keyword gets '@').</param>
/// <param name="MemberPrefix">The PascalCase prefix of the tensor's constants (<c>InputName</c>, <c>InputShape</c>, ...).</param>
/// <param name="ElementType">The manifest's element type name (<c>float32</c>, ...).</param>
/// <param name="Dims">The dimensions.</param>
internal sealed record TensorSpec(string Name, string ParameterName, string MemberPrefix, string ElementType, EquatableArray<DimSpec> Dims)
{
    public bool IsStatic
    {
        get
        {
            foreach (var d in Dims)
                if (d.Symbol is not null) return false;
            return true;
        }
    }
}

/// <summary>A dimension: a size, or a symbol (the <c>Run</c> parameter that carries its value).</summary>
internal sealed record DimSpec(long Size, string? Symbol);

/// <summary>A symbolic dimension: the <c>Run</c> parameter, what the manifest calls it (null for an unnamed, unknown dimension),
/// its field in the generated dims struct, and its default value there (from the item's Shapes, else 1).</summary>
internal sealed record SymbolSpec(string ParameterName, string? ManifestName, string FieldName, long Default);

/// <summary>
/// The image input: where its channels are (<c>Nchw</c> or <c>Nhwc</c>), its fixed size, and the manifest's
/// preprocessing with numbers as C# float literals (text keeps the record equatable and the output exact).
/// </summary>
internal sealed record ImageSpec(string Layout, int Channels, int Height, int Width, string Scale, EquatableArray<string> Mean,
    EquatableArray<string> Std, string ChannelOrder, string Resize, bool BatchIsSymbol);

/// <summary>The batch dimension: its symbol's <c>Run</c> parameter, and per input the values one sample takes.</summary>
internal sealed record BatchSpec(string SymbolParameter, EquatableArray<long> SampleLengths);

/// <summary>One compiled file.</summary>
/// <param name="Path">The path relative to the manifest's folder.</param>
/// <param name="Target">What it is for (<c>Onnx</c>, <c>TensorRT</c>, <c>TFLite</c>).</param>
/// <param name="Precision">The precision it was compiled to.</param>
/// <param name="Sha256">The sha256 the manifest records (lower-case hex), or null when it records none.</param>
internal sealed record ArtifactSpec(string Path, string Target, string Precision, string? Sha256);

/// <summary>A diagnostic, kept as plain data until it is reported (a Location is not equatable across runs).</summary>
internal sealed record DiagnosticInfo(string Id, string FilePath, int Start, int End, int StartLine, int StartColumn, int EndLine, int EndColumn,
    EquatableArray<string> Arguments)
{
    public static DiagnosticInfo AtFile(string id, string filePath, params string[] arguments) =>
        new(id, filePath, 0, 0, 0, 0, 0, 0, new EquatableArray<string>(arguments));
}

/// <summary>What the parser makes of one manifest: a model, or the reasons there is none.</summary>
internal sealed record ParseResult(string FilePath, ModelSpec? Model, EquatableArray<DiagnosticInfo> Diagnostics);

/// <summary>A class a manifest defines, for the check that no two manifests define the same one.</summary>
internal sealed record ClassKey(string FullName, string FilePath) : IComparable<ClassKey>
{
    public int CompareTo(ClassKey? other) => other is null ? 1 : string.CompareOrdinal(FilePath, other.FilePath);
}

/// <summary>What one manifest contributes to the compilation: a source file, diagnostics, or both.</summary>
internal sealed record GeneratorOutput(ModelSpec? Model, EquatableArray<DiagnosticInfo> Diagnostics);
