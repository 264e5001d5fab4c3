using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using EdgeBuild.Generator.Json;

namespace EdgeBuild.Generator;

/// <summary>
/// Turns a manifest's text into the equatable <see cref="ModelSpec"/>, or into diagnostics that say
/// which field is wrong and where (docs/manifest.md, schema version 1). Never throws on bad input.
/// </summary>
internal static class ManifestParser
{
    /// <summary>The file name suffix of a manifest.</summary>
    public const string FileSuffix = ".edgemodel.json";

    /// <summary>The manifest element types a generated Run can pass, and the C# type of each.</summary>
    public static readonly IReadOnlyDictionary<string, string> ElementTypes = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["float32"] = "float",
        ["float16"] = "global::System.Half",
        ["float64"] = "double",
        ["int8"] = "sbyte",
        ["uint8"] = "byte",
        ["int16"] = "short",
        ["uint16"] = "ushort",
        ["int32"] = "int",
        ["uint32"] = "uint",
        ["int64"] = "long",
        ["uint64"] = "ulong",
        ["bool"] = "bool",
    };

    private static readonly string[] Providers = { "Cpu", "Cuda", "TensorRT" };

    // Members every generated class has; a tensor's constants must not collide with them.
    private static readonly string[] FixedMembers = { "ModelName", "ModelDescription", "ExecutionProvider", "Create", "Run", "Dispose" };

    // The suffixes of a tensor's constants. None is a suffix of another, so two tensors' constants can
    // only collide when their prefixes are equal.
    public static readonly string[] MemberSuffixes = { "Name", "ElementType", "Shape", "Length" };

    public static ParseResult Parse(string filePath, string? text, CancellationToken cancellationToken)
    {
        try
        {
            return ParseCore(filePath, text, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception e)
        {
            // A bug must not take the compiler down (CS8785) nor hide which manifest triggered it.
            var info = DiagnosticInfo.AtFile(DiagnosticDescriptors.InternalError.Id, filePath, FileName(filePath), e.GetType().Name + ": " + e.Message);
            return new ParseResult(filePath, null, new EquatableArray<DiagnosticInfo>(new[] { info }));
        }
    }

    public static string FileName(string path)
    {
        int slash = Math.Max(path.LastIndexOf('/'), path.LastIndexOf('\\'));
        return slash < 0 ? path : path.Substring(slash + 1);
    }

    private static ParseResult ParseCore(string filePath, string? text, CancellationToken cancellationToken)
    {
        var context = new Context(filePath);
        if (text is null)
        {
            context.Report(DiagnosticDescriptors.InvalidJson.Id, null, context.FileName, "the file cannot be read");
            return context.Result(null);
        }

        JsonNode root;
        try
        {
            root = JsonReader.Parse(text);
        }
        catch (JsonSyntaxException e)
        {
            context.Report(DiagnosticDescriptors.InvalidJson.Id, e.Span, context.FileName,
                $"{e.Message} (line {e.Span.StartLine + 1}, column {e.Span.StartColumn + 1})");
            return context.Result(null);
        }
        cancellationToken.ThrowIfCancellationRequested();

        if (root.Kind != JsonKind.Object)
        {
            context.Field(root, "(root)", "must be a JSON object");
            return context.Result(null);
        }

        var version = root["schemaVersion"];
        if (version is null)
        {
            context.Field(root, "schemaVersion", "is missing");
            return context.Result(null);
        }
        if (!version.TryGetInt64(out long schemaVersion))
        {
            context.Field(version, "schemaVersion", "must be an integer");
            return context.Result(null);
        }
        // A newer schema may mean anything: read nothing else of it.
        if (schemaVersion != 1)
        {
            context.Report(DiagnosticDescriptors.UnknownSchemaVersion.Id, version.Span, context.FileName, schemaVersion.ToString(CultureInfo.InvariantCulture));
            return context.Result(null);
        }

        string? className = context.RequireString(root, "name", "name");
        if (className is not null && !Identifiers.IsTypeName(className))
            context.Report(DiagnosticDescriptors.InvalidName.Id, root["name"]!.Span, context.FileName, className, "class name");

        string? ns = context.RequireString(root, "namespace", "namespace");
        if (ns is not null && !Identifiers.IsNamespace(ns))
            context.Report(DiagnosticDescriptors.InvalidName.Id, root["namespace"]!.Span, context.FileName, ns, "namespace");

        string? sourceFile = null;
        if (root["source"] is { Kind: JsonKind.Object } source && source["file"] is { } file)
        {
            if (file.Kind == JsonKind.String) sourceFile = file.Text;
            else context.Field(file, "source.file", "must be a string");
        }

        string provider = "Cpu";
        if (root["options"] is { Kind: JsonKind.Object } options && options["executionProvider"] is { } ep)
        {
            if (ep.Kind == JsonKind.String && Providers.Contains(ep.Text, StringComparer.Ordinal)) provider = ep.Text!;
            else context.Field(ep, "options.executionProvider", "must be one of " + string.Join(", ", Providers));
        }

        var inputs = ParseTensors(context, root, "inputs", "input");
        var outputs = ParseTensors(context, root, "outputs", "output");
        var artifacts = ParseArtifacts(context, root);
        cancellationToken.ThrowIfCancellationRequested();

        if (context.HasErrors || inputs is null || outputs is null || artifacts is null || className is null || ns is null)
            return context.Result(null);

        // A member named like its class is an error (CS0542): the class name must differ from every member.
        var members = FixedMembers.Concat(new[] { "session" })
            .Concat(inputs.Select((_, i) => ModelEmitter.DimsField("input", i)))
            .Concat(outputs.Select((_, i) => ModelEmitter.DimsField("output", i)));
        if (members.Contains(className, StringComparer.Ordinal))
        {
            context.Report(DiagnosticDescriptors.InvalidName.Id, root["name"]!.Span, context.FileName, className,
                "class name here: the generated class has a member of that name");
            return context.Result(null);
        }

        var all = inputs.Concat(outputs).ToList();
        var firstUse = new Dictionary<string, RawTensor>(StringComparer.Ordinal);
        foreach (var t in all)
        {
            if (firstUse.TryGetValue(t.CSharpName, out var first))
                context.Field(t.CSharpNameNode, t.Path + ".csharpName", $"repeats '{t.CSharpName}' (also {first.Path}.csharpName); parameter names must be unique");
            else firstUse.Add(t.CSharpName, t);
        }
        if (context.HasErrors) return context.Result(null);

        var model = BuildModel(className, ns, context.FileName, sourceFile, inputs, outputs, artifacts, provider);
        return context.Result(model);
    }

    private static ModelSpec BuildModel(string className, string ns, string fileName, string? sourceFile,
        List<RawTensor> inputs, List<RawTensor> outputs, List<ArtifactSpec> artifacts, string provider)
    {
        var all = inputs.Concat(outputs).ToList();

        // Symbolic dimensions become Run parameters in order of first appearance; one named symbol is
        // one parameter wherever it appears, an unnamed (unknown) dimension is a parameter of its own.
        var usedParameters = new HashSet<string>(all.Select(t => t.CSharpName), StringComparer.Ordinal);
        var symbols = new List<SymbolSpec>();
        var byName = new Dictionary<string, string>(StringComparer.Ordinal);
        var tensorDims = new Dictionary<RawTensor, DimSpec[]>();
        foreach (var t in all)
        {
            var dims = new DimSpec[t.Dims.Count];
            for (int i = 0; i < dims.Length; i++)
            {
                var (size, symbol) = t.Dims[i];
                if (size >= 0) { dims[i] = new DimSpec(size, null); continue; }
                string parameter;
                if (symbol is not null && byName.TryGetValue(symbol, out var known)) parameter = known;
                else
                {
                    string wanted = symbol is null ? t.CSharpName + "Dim" + i.ToString(CultureInfo.InvariantCulture) : Identifiers.CamelCase(symbol);
                    parameter = Identifiers.Unique(wanted, usedParameters.Add);
                    symbols.Add(new SymbolSpec(parameter, symbol));
                    if (symbol is not null) byName.Add(symbol, parameter);
                }
                dims[i] = new DimSpec(-1, parameter);
            }
            tensorDims[t] = dims;
        }

        // Constant prefixes: PascalCase of the parameter name; one that would collide with the class's
        // own members, its name, or another tensor's prefix gets "Tensor" (then a number) appended.
        var reserved = new HashSet<string>(FixedMembers, StringComparer.Ordinal) { className };
        var usedPrefixes = new HashSet<string>(StringComparer.Ordinal);
        bool IsFreePrefix(string p) => !usedPrefixes.Contains(p) && MemberSuffixes.All(s => !reserved.Contains(p + s));
        TensorSpec Build(RawTensor t)
        {
            string pascal = Identifiers.Pascal(t.CSharpName);
            string prefix = IsFreePrefix(pascal) ? pascal : Identifiers.Unique(pascal + "Tensor", IsFreePrefix);
            usedPrefixes.Add(prefix);
            return new TensorSpec(t.Name, Identifiers.Escape(t.CSharpName), prefix, t.ElementType, new EquatableArray<DimSpec>(tensorDims[t]));
        }

        var inputSpecs = inputs.Select(Build).ToArray();
        var outputSpecs = outputs.Select(Build).ToArray();
        var escapedSymbols = symbols.Select(s => new SymbolSpec(Identifiers.Escape(s.ParameterName), s.ManifestName)).ToArray();
        return new ModelSpec(className, ns, fileName, sourceFile,
            new EquatableArray<TensorSpec>(inputSpecs), new EquatableArray<TensorSpec>(outputSpecs),
            new EquatableArray<SymbolSpec>(escapedSymbols), EquatableArray.From(artifacts), provider);
    }

    private static List<RawTensor>? ParseTensors(Context context, JsonNode root, string field, string kind)
    {
        var array = context.RequireArray(root, field, field);
        if (array is null) return null;
        var result = new List<RawTensor>();
        for (int i = 0; i < array.Items!.Count; i++)
        {
            var node = array.Items[i];
            string path = field + "[" + i.ToString(CultureInfo.InvariantCulture) + "]";
            if (node.Kind != JsonKind.Object)
            {
                context.Field(node, path, "must be an object");
                continue;
            }
            string? name = context.RequireString(node, "name", path + ".name");
            if (name is not null && name.Length == 0) context.Field(node["name"]!, path + ".name", "must not be empty");
            string? csharpName = context.RequireString(node, "csharpName", path + ".csharpName");
            if (csharpName is not null && !Identifiers.IsIdentifier(csharpName))
                context.Field(node["csharpName"]!, path + ".csharpName", $"is '{csharpName}', which is not a C# identifier");
            string? elementType = context.RequireString(node, "elementType", path + ".elementType");
            if (elementType is not null && !ElementTypes.ContainsKey(elementType))
                context.Report(DiagnosticDescriptors.UnsupportedElementType.Id, node["elementType"]!.Span, context.FileName, kind, name ?? path, elementType);
            var dims = ParseShape(context, node, path);
            if (name is null || csharpName is null || elementType is null || dims is null) continue;
            result.Add(new RawTensor(name, csharpName, node["csharpName"]!, elementType, dims, path));
        }
        return result;
    }

    private static List<(long Size, string? Symbol)>? ParseShape(Context context, JsonNode tensor, string path)
    {
        var shape = tensor["shape"];
        if (shape is null)
        {
            context.Field(tensor, path + ".shape", "is missing");
            return null;
        }
        if (shape.Kind == JsonKind.Null)
        {
            context.Field(shape, path + ".shape", "is null (rank unknown); a generated Run needs every tensor's rank: give the model's inputs and outputs a shape");
            return null;
        }
        if (shape.Kind != JsonKind.Array)
        {
            context.Field(shape, path + ".shape", "must be an array or null");
            return null;
        }
        var dims = new List<(long, string?)>();
        long elements = 1;
        bool ok = true;
        for (int i = 0; i < shape.Items!.Count; i++)
        {
            var d = shape.Items[i];
            string dimPath = path + ".shape[" + i.ToString(CultureInfo.InvariantCulture) + "]";
            if (d.Kind == JsonKind.Null) dims.Add((-1, null));
            else if (d.Kind == JsonKind.String && d.Text!.Length > 0) dims.Add((-1, d.Text));
            else if (d.TryGetInt64(out long size) && size >= 0)
            {
                dims.Add((size, null));
                // Saturate: only "more than a span holds" matters.
                elements = size == 0 ? 0 : elements > int.MaxValue ? elements : elements * size;
            }
            else
            {
                context.Field(d, dimPath, "must be a size (an integer, 0 or more), a symbol name (a non-empty string) or null");
                ok = false;
            }
        }
        if (ok && elements > int.MaxValue)
        {
            context.Field(shape, path + ".shape", $"has more than {int.MaxValue} elements, more than a span can hold");
            return null;
        }
        return ok ? dims : null;
    }

    private static bool IsSha256(string text) => text.Length == 64 && text.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'));

    private static List<ArtifactSpec>? ParseArtifacts(Context context, JsonNode root)
    {
        var array = context.RequireArray(root, "artifacts", "artifacts");
        if (array is null) return null;
        var result = new List<ArtifactSpec>();
        for (int i = 0; i < array.Items!.Count; i++)
        {
            var node = array.Items[i];
            string path = "artifacts[" + i.ToString(CultureInfo.InvariantCulture) + "]";
            if (node.Kind != JsonKind.Object)
            {
                context.Field(node, path, "must be an object");
                continue;
            }
            string? file = context.RequireString(node, "path", path + ".path");
            if (file is not null && !IsRelativePath(file))
            {
                context.Field(node["path"]!, path + ".path", $"is '{file}'; it must be a relative path inside the manifest's folder (no '..', no root)");
                file = null;
            }
            string? target = context.RequireString(node, "target", path + ".target");
            string precision = "";
            if (node["precision"] is { } p)
            {
                if (p.Kind == JsonKind.String) precision = p.Text!;
                else context.Field(p, path + ".precision", "must be a string");
            }
            // The runtime hashes the file at every load against this; a malformed one is caught here, at build time.
            string? sha256 = null;
            if (node["sha256"] is { } h)
            {
                if (h.Kind == JsonKind.String && IsSha256(h.Text!)) sha256 = h.Text;
                else context.Field(h, path + ".sha256", "must be 64 lower-case hex digits (the file's sha256)");
            }
            if (file is not null && target is not null) result.Add(new ArtifactSpec(file, target, precision, sha256));
        }
        if (!context.HasErrors && !result.Any(a => string.Equals(a.Target, "Onnx", StringComparison.OrdinalIgnoreCase)))
        {
            context.Field(array, "artifacts", "has no artifact with target 'Onnx', which the runtime loads");
            return null;
        }
        return result;
    }

    private static bool IsRelativePath(string path) =>
        path.Length > 0 && path[0] != '/' && path[0] != '\\' && path.IndexOf(':') < 0
        && path.Split('/', '\\').All(segment => segment.Length > 0 && segment != "." && segment != "..");

    private sealed class RawTensor
    {
        public RawTensor(string name, string csharpName, JsonNode csharpNameNode, string elementType, List<(long Size, string? Symbol)> dims, string path)
        {
            Name = name;
            CSharpName = csharpName;
            CSharpNameNode = csharpNameNode;
            ElementType = elementType;
            Dims = dims;
            Path = path;
        }

        public string Name { get; }
        public string CSharpName { get; }
        public JsonNode CSharpNameNode { get; }
        public string ElementType { get; }
        public List<(long Size, string? Symbol)> Dims { get; }
        public string Path { get; }
    }

    private sealed class Context
    {
        private readonly List<DiagnosticInfo> diagnostics = new();

        public Context(string filePath)
        {
            FilePath = filePath;
            FileName = ManifestParser.FileName(filePath);
        }

        public string FilePath { get; }
        public string FileName { get; }
        public bool HasErrors => diagnostics.Count > 0;

        public ParseResult Result(ModelSpec? model) => new(FilePath, model, new EquatableArray<DiagnosticInfo>(diagnostics.ToArray()));

        public void Report(string id, JsonSpan? span, params string[] arguments)
        {
            var s = span ?? default;
            diagnostics.Add(new DiagnosticInfo(id, FilePath, s.Start, s.End, s.StartLine, s.StartColumn, s.EndLine, s.EndColumn,
                new EquatableArray<string>(arguments)));
        }

        public void Field(JsonNode at, string field, string problem) =>
            Report(DiagnosticDescriptors.InvalidField.Id, at.Span, FileName, field, problem);

        public string? RequireString(JsonNode parent, string key, string field)
        {
            var node = parent[key];
            if (node is null) { Field(parent, field, "is missing"); return null; }
            if (node.Kind != JsonKind.String) { Field(node, field, "must be a string"); return null; }
            return node.Text;
        }

        public JsonNode? RequireArray(JsonNode parent, string key, string field)
        {
            var node = parent[key];
            if (node is null) { Field(parent, field, "is missing"); return null; }
            if (node.Kind != JsonKind.Array) { Field(node, field, "must be an array"); return null; }
            return node;
        }
    }
}
