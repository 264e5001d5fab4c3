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

    private static readonly string[] Providers = { "Cpu", "Cuda", "TensorRT" };

    // Members every generated class has; a tensor's constants must not collide with them.
    private static readonly string[] FixedMembers = { "ModelName", "ModelDescription", "ExecutionProvider", "Create", "Run", "Dispose" };

    // Members and nested types the richer API adds (result type, dims struct, pool, batched and image runs): the class
    // must not be named like them (CS0542). Tensor constants cannot collide with them (no suffix makes these names).
    private static readonly string[] AddedMembers = { "Result", "Dims", "CreatePool", "RunBatch", "ImagePreprocessing", "ImageInput", "imageInput" };

    private static readonly string[] ChannelOrders = { "Rgb", "Bgr", "Gray" };
    private static readonly string[] ResizePolicies = { "Stretch", "Letterbox", "CenterCrop" };
    private static readonly string[] Layouts = { "Auto", "Nchw", "Nhwc" };

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
        RawPreprocessing? preprocessing = null;
        Dictionary<string, List<long>>? shapes = null;
        if (root["options"] is { Kind: JsonKind.Object } options)
        {
            if (options["executionProvider"] is { } ep)
            {
                if (ep.Kind == JsonKind.String && Providers.Contains(ep.Text, StringComparer.Ordinal)) provider = ep.Text!;
                else context.Field(ep, "options.executionProvider", "must be one of " + string.Join(", ", Providers));
            }
            if (options["preprocessing"] is { } pre) preprocessing = ParsePreprocessing(context, pre);
            if (options["shapes"] is { } sh) shapes = ParseShapes(context, sh);
        }

        var inputs = ParseTensors(context, root, "inputs", "input");
        var outputs = ParseTensors(context, root, "outputs", "output");
        var artifacts = ParseArtifacts(context, root);
        cancellationToken.ThrowIfCancellationRequested();

        if (context.HasErrors || inputs is null || outputs is null || artifacts is null || className is null || ns is null)
            return context.Result(null);

        // A member named like its class is an error (CS0542): the class name must differ from every member.
        var members = FixedMembers.Concat(AddedMembers).Concat(new[] { "session" })
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

        var model = BuildModel(className, ns, context.FileName, sourceFile, inputs, outputs, artifacts, provider, preprocessing, shapes);
        return context.Result(model);
    }

    private static ModelSpec BuildModel(string className, string ns, string fileName, string? sourceFile,
        List<RawTensor> inputs, List<RawTensor> outputs, List<ArtifactSpec> artifacts, string provider,
        RawPreprocessing? preprocessing, Dictionary<string, List<long>>? shapes)
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
                    symbols.Add(new SymbolSpec(parameter, symbol, "", DefaultOf(symbol, t, i, shapes)));
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
        // The dims struct's fields: the manifest's names where they read as names, Dim0, Dim1, ... where the exporter's are unusable.
        var usedFields = new HashSet<string>(StringComparer.Ordinal) { "Dims", "Default" };
        int unnamed = 0;
        var escapedSymbols = symbols.Select(s =>
        {
            string field = s.ManifestName is { } name && IsUsableSymbolName(name)
                ? Identifiers.Pascal(Identifiers.CamelCase(name))
                : "Dim" + (unnamed++).ToString(CultureInfo.InvariantCulture);
            field = Identifiers.Unique(field, f => !Identifiers.IsKeyword(f) && usedFields.Add(f));
            return new SymbolSpec(Identifiers.Escape(s.ParameterName), s.ManifestName, field, s.Default);
        }).ToArray();
        return new ModelSpec(className, ns, fileName, sourceFile,
            new EquatableArray<TensorSpec>(inputSpecs), new EquatableArray<TensorSpec>(outputSpecs),
            new EquatableArray<SymbolSpec>(escapedSymbols), EquatableArray.From(artifacts), provider,
            ImageOf(inputSpecs, preprocessing, escapedSymbols), BatchOf(inputSpecs, escapedSymbols));
    }

    /// <summary>
    /// A symbol name reads as a name unless an exporter made it up: <c>p2o.DynamicDimension.0</c>, <c>unk__42</c>,
    /// <c>Reshape_dim_1</c> (a "dim" with digits), or nothing an identifier can be made of.
    /// </summary>
    internal static bool IsUsableSymbolName(string name)
    {
        string lower = name.ToLowerInvariant();
        if (lower.Contains("dynamic") || lower.StartsWith("unk", StringComparison.Ordinal)) return false;
        if (lower.Contains("dim") && lower.Any(char.IsDigit)) return false;
        return Identifiers.CamelCase(name) != "dim";
    }

    /// <summary>The item's Shapes value for the symbol's first use (when the manifest records Shapes for that input), else 1.</summary>
    private static long DefaultOf(string? symbol, RawTensor tensor, int dim, Dictionary<string, List<long>>? shapes) =>
        shapes is not null && shapes.TryGetValue(tensor.Name, out var dims) && dims.Count == tensor.Dims.Count ? dims[dim] : 1;

    /// <summary>
    /// The image input, when the model has exactly one input, a float32 [N,C,H,W] or [N,H,W,C] with C 1 or 3 and H, W fixed,
    /// N 1 or a symbol, and the manifest records preprocessing. Anything else gets no image Run (it is an addition, not a requirement).
    /// </summary>
    private static ImageSpec? ImageOf(TensorSpec[] inputs, RawPreprocessing? pre, SymbolSpec[] symbols)
    {
        if (pre is null || inputs.Length != 1) return null;
        var t = inputs[0];
        if (t.ElementType != "float32" || t.Dims.Count != 4) return null;
        var d = t.Dims;
        string layout = pre.Layout;
        if (layout == "Auto")
            layout = d[1].Symbol is null && d[1].Size is 1 or 3 ? "Nchw" : d[3].Symbol is null && d[3].Size is 1 or 3 ? "Nhwc" : "";
        if (layout.Length == 0) return null;
        var (c, h, w) = layout == "Nchw" ? (d[1], d[2], d[3]) : (d[3], d[1], d[2]);
        if (c.Symbol is not null || c.Size is not (1 or 3) || h.Symbol is not null || w.Symbol is not null || h.Size <= 0 || w.Size <= 0) return null;
        bool batchIsSymbol = d[0].Symbol is not null;
        if (!batchIsSymbol && d[0].Size != 1) return null;
        // A symbolic batch is run with 1; any other symbol would need a value the image cannot give.
        if (batchIsSymbol && symbols.Length != 1) return null;
        return new ImageSpec(layout, (int)c.Size, (int)h.Size, (int)w.Size, pre.Scale, pre.Mean, pre.Std, pre.ChannelOrder, pre.Resize, batchIsSymbol);
    }

    /// <summary>A batch dimension: the model's only symbol, the first dimension of every input and no other dimension of an input.</summary>
    private static BatchSpec? BatchOf(TensorSpec[] inputs, SymbolSpec[] symbols)
    {
        if (symbols.Length != 1 || inputs.Length == 0) return null;
        string symbol = Unescape(symbols[0].ParameterName);
        var lengths = new List<long>();
        foreach (var t in inputs)
        {
            if (t.Dims.Count == 0 || t.Dims[0].Symbol != symbol) return null;
            long n = 1;
            for (int i = 1; i < t.Dims.Count; i++)
            {
                if (t.Dims[i].Symbol is not null) return null;
                n *= t.Dims[i].Size;
            }
            if (n == 0) return null;
            lengths.Add(n);
        }
        return new BatchSpec(symbols[0].ParameterName, EquatableArray.From(lengths));
    }

    private static string Unescape(string identifier) => identifier.StartsWith("@", StringComparison.Ordinal) ? identifier.Substring(1) : identifier;

    /// <summary>options.preprocessing (docs/manifest.md); a malformed one is EBG003, a missing field takes the compiler's default.</summary>
    private static RawPreprocessing? ParsePreprocessing(Context context, JsonNode node)
    {
        const string Path = "options.preprocessing";
        if (node.Kind != JsonKind.Object)
        {
            context.Field(node, Path, "must be an object");
            return null;
        }
        string scale = "1f";
        if (node["scale"] is { } sc && FloatLiteral(context, sc, Path + ".scale") is { } s) scale = s;
        var mean = FloatList(context, node["mean"], Path + ".mean", "0f", allowZero: true);
        var std = FloatList(context, node["std"], Path + ".std", "1f", allowZero: false);
        string? order = Choice(context, node, "channelOrder", Path, ChannelOrders, "Rgb");
        string? resize = Choice(context, node, "resize", Path, ResizePolicies, "Stretch");
        string? layout = Choice(context, node, "layout", Path, Layouts, "Auto");
        if (mean is null || std is null || order is null || resize is null || layout is null) return null;
        return new RawPreprocessing(scale, mean.Value, std.Value, order, resize, layout);
    }

    private static string? Choice(Context context, JsonNode parent, string key, string path, string[] allowed, string fallback)
    {
        if (parent[key] is not { } node) return fallback;
        if (node.Kind == JsonKind.String && allowed.Contains(node.Text, StringComparer.Ordinal)) return node.Text;
        context.Field(node, path + "." + key, "must be one of " + string.Join(", ", allowed));
        return null;
    }

    private static EquatableArray<string>? FloatList(Context context, JsonNode? node, string path, string fallback, bool allowZero)
    {
        if (node is null) return new EquatableArray<string>(new[] { fallback });
        if (node.Kind != JsonKind.Array || node.Items!.Count is not (1 or 3))
        {
            context.Field(node, path, "must be an array of 1 number (every channel) or 3 (one per channel)");
            return null;
        }
        var values = new List<string>();
        foreach (var item in node.Items)
        {
            if (FloatLiteral(context, item, path) is not { } literal) return null;
            if (!allowZero && literal is "0f" or "-0f")
            {
                context.Field(item, path, "must not be 0 (it divides)");
                return null;
            }
            values.Add(literal);
        }
        return new EquatableArray<string>(values.ToArray());
    }

    /// <summary>A finite JSON number as a C# float literal that round-trips (<c>127f</c>, <c>0.007843138f</c>).</summary>
    private static string? FloatLiteral(Context context, JsonNode node, string path)
    {
        if (node.Kind == JsonKind.Number && float.TryParse(node.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) && !float.IsInfinity(value) && !float.IsNaN(value))
            return value.ToString("R", CultureInfo.InvariantCulture) + "f";
        context.Field(node, path, "must be a finite number");
        return null;
    }

    /// <summary>options.shapes: the item's Shapes, input name to fixed dims (the defaults of the dims struct).</summary>
    private static Dictionary<string, List<long>>? ParseShapes(Context context, JsonNode node)
    {
        if (node.Kind == JsonKind.Null) return null;
        if (node.Kind != JsonKind.Object)
        {
            context.Field(node, "options.shapes", "must be an object (input name to an array of positive sizes)");
            return null;
        }
        var result = new Dictionary<string, List<long>>(StringComparer.Ordinal);
        foreach (var entry in node.Properties!)
        {
            List<long>? dims = new List<long>();
            if (entry.Value.Kind == JsonKind.Array)
                foreach (var d in entry.Value.Items!)
                    if (d.TryGetInt64(out long size) && size > 0) dims.Add(size);
                    else { dims = null; break; }
            if (entry.Value.Kind != JsonKind.Array || dims is null)
            {
                context.Field(entry.Value, "options.shapes." + entry.Key, "must be an array of positive sizes");
                return null;
            }
            result[entry.Key] = dims;
        }
        return result;
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
            if (elementType is not null && !ElementTypes.IsKnown(elementType))
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

    private sealed record RawPreprocessing(string Scale, EquatableArray<string> Mean, EquatableArray<string> Std, string ChannelOrder, string Resize, string Layout);

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
