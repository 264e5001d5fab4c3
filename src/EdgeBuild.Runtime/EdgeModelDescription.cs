using System.Collections.ObjectModel;
using System.Globalization;

namespace EdgeBuild.Runtime;

/// <summary>
/// What a generated class knows about its model, taken from the manifest at build time: the tensors,
/// the symbolic dimensions its <c>Run</c> takes as arguments, the artifacts and the default provider.
/// </summary>
public sealed class EdgeModelDescription
{
    /// <summary>Describes a model; the generated class builds one from its manifest.</summary>
    /// <param name="name">The model's (and the generated class's) name.</param>
    /// <param name="inputs">The graph inputs, in graph order.</param>
    /// <param name="outputs">The graph outputs, in graph order.</param>
    /// <param name="symbols">The names of the symbolic dimensions, in the order <c>Run</c> takes them.</param>
    /// <param name="artifacts">The compiled files, paths relative to the manifest's folder.</param>
    /// <param name="defaultProvider">The execution provider the model was compiled for.</param>
    public EdgeModelDescription(string name, EdgeTensorSpec[] inputs, EdgeTensorSpec[] outputs, string[] symbols,
        EdgeArtifact[] artifacts, ExecutionProvider defaultProvider)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(symbols);
        ArgumentNullException.ThrowIfNull(artifacts);
        Name = name;
        Inputs = Array.AsReadOnly((EdgeTensorSpec[])inputs.Clone());
        Outputs = Array.AsReadOnly((EdgeTensorSpec[])outputs.Clone());
        Symbols = Array.AsReadOnly((string[])symbols.Clone());
        Artifacts = Array.AsReadOnly((EdgeArtifact[])artifacts.Clone());
        DefaultProvider = defaultProvider;
        foreach (var t in Inputs.Concat(Outputs))
            foreach (var s in t.Symbols)
                if (s is not null && !Symbols.Contains(s))
                    throw new ArgumentException($"tensor '{t.Name}' uses symbol '{s}', which is not among the model's symbols", nameof(symbols));
    }

    /// <summary>The model's (and the generated class's) name.</summary>
    public string Name { get; }

    /// <summary>The graph inputs, in graph order (the order of <c>Run</c>'s parameters).</summary>
    public ReadOnlyCollection<EdgeTensorSpec> Inputs { get; }

    /// <summary>The graph outputs, in graph order.</summary>
    public ReadOnlyCollection<EdgeTensorSpec> Outputs { get; }

    /// <summary>The symbolic dimensions' parameter names, in the order <c>Run</c> takes them.</summary>
    public ReadOnlyCollection<string> Symbols { get; }

    /// <summary>The compiled files.</summary>
    public ReadOnlyCollection<EdgeArtifact> Artifacts { get; }

    /// <summary>The execution provider the model was compiled for (used when the options name none).</summary>
    public ExecutionProvider DefaultProvider { get; }
}

/// <summary>One graph input or output.</summary>
public sealed class EdgeTensorSpec
{
    /// <summary>Describes a tensor.</summary>
    /// <param name="name">The ONNX tensor name, exactly.</param>
    /// <param name="parameterName">The name of the generated <c>Run</c> parameter (used in messages).</param>
    /// <param name="elementType">The element type.</param>
    /// <param name="shape">One entry per dimension; -1 for a symbolic one.</param>
    /// <param name="symbols">Per dimension, the symbol (a <c>Run</c> parameter name) of a symbolic one, null for a fixed one; null when all are fixed.</param>
    public EdgeTensorSpec(string name, string parameterName, EdgeElementType elementType, long[] shape, string?[]? symbols)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(parameterName);
        ArgumentNullException.ThrowIfNull(shape);
        symbols ??= new string?[shape.Length];
        if (symbols.Length != shape.Length)
            throw new ArgumentException($"tensor '{name}': {symbols.Length} symbols for {shape.Length} dimensions", nameof(symbols));
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == -1 ? symbols[i] is null : shape[i] < 0 || symbols[i] is not null)
                throw new ArgumentException($"tensor '{name}': dimension {i} must be a size >= 0 with no symbol, or -1 with one", nameof(shape));
        }
        Name = name;
        ParameterName = parameterName;
        ElementType = elementType;
        Shape = Array.AsReadOnly((long[])shape.Clone());
        Symbols = Array.AsReadOnly((string?[])symbols.Clone());
        IsStatic = !shape.Contains(-1);
    }

    /// <summary>The ONNX tensor name, exactly.</summary>
    public string Name { get; }

    /// <summary>The generated <c>Run</c> parameter that carries this tensor.</summary>
    public string ParameterName { get; }

    /// <summary>The element type.</summary>
    public EdgeElementType ElementType { get; }

    /// <summary>The dimensions; -1 for a symbolic one.</summary>
    public ReadOnlyCollection<long> Shape { get; }

    /// <summary>Per dimension, the symbol of a symbolic dimension, null for a fixed one.</summary>
    public ReadOnlyCollection<string?> Symbols { get; }

    /// <summary>True when no dimension is symbolic.</summary>
    public bool IsStatic { get; }

    /// <summary>The declared shape as text, symbols by name: <c>[batch,3,240,320]</c>.</summary>
    public override string ToString() =>
        "[" + string.Join(",", Shape.Select((d, i) => Symbols[i] ?? d.ToString(CultureInfo.InvariantCulture))) + "]";
}

/// <summary>One compiled file of a model.</summary>
/// <param name="Path">The path relative to the manifest's folder (forward slashes).</param>
/// <param name="Target">What it is for: <c>Onnx</c> (ONNX Runtime) or <c>TensorRT</c> (the engine kit; its network is the <c>.trt.onnx</c> file).</param>
/// <param name="Precision">The numeric precision it was compiled to (<c>Fp32</c>, ...).</param>
public sealed record EdgeArtifact(string Path, string Target, string Precision)
{
    /// <summary>Describes a compiled file and the sha256 the manifest records for it, which every load checks.</summary>
    /// <param name="path">The path relative to the manifest's folder (forward slashes).</param>
    /// <param name="target">What it is for (<c>Onnx</c>, <c>TensorRT</c>, <c>TFLite</c>).</param>
    /// <param name="precision">The numeric precision it was compiled to.</param>
    /// <param name="sha256">The file's sha256, 64 lower-case hex digits.</param>
    public EdgeArtifact(string path, string target, string precision, string sha256) : this(path, target, precision)
    {
        ArgumentNullException.ThrowIfNull(sha256);
        if (sha256.Length != 64 || !sha256.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f')))
            throw new ArgumentException($"artifact '{path}': sha256 must be 64 lower-case hex digits, got '{sha256}'", nameof(sha256));
        Sha256 = sha256;
    }

    /// <summary>
    /// The sha256 the manifest records (64 lower-case hex digits); every load hashes the file and refuses one that differs.
    /// <see langword="null"/> for a description written by hand without one: then nothing is checked.
    /// </summary>
    public string? Sha256 { get; }
}
