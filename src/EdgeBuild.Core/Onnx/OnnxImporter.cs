using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using Google.Protobuf;
using P = EdgeBuild.Onnx.Proto;

namespace EdgeBuild.Onnx;

/// <summary>
/// Reads an ONNX file into the IR. Lenient where real exporters differ (IR 3 initializers that are not
/// graph inputs, unused initializers, value_info for values that do not exist, nodes out of order),
/// strict where the model would be wrong (undefined values, cycles, broken tensors, undeclared domains).
/// Every failure is an <see cref="EdgeBuildException"/> naming the file.
/// </summary>
public sealed class OnnxImporter
{
    public const long MinIrVersion = 3;
    public const long MaxIrVersion = 10;

    private readonly string subject;
    private readonly string? modelDirectory;
    private HashSet<string> declaredDomains = [];

    private OnnxImporter(string subject, string? modelDirectory)
    {
        this.subject = subject;
        this.modelDirectory = modelDirectory;
    }

    /// <summary>Reads a model file; external data is resolved relative to its folder.</summary>
    public static Model Load(string path)
    {
        if (!File.Exists(path)) throw new EdgeBuildException(DiagnosticCodes.FileNotFound, path, "file does not exist");
        P.ModelProto proto;
        try
        {
            // Parsed from the stream: the file's bytes are never held in memory a second time.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            if (stream.Length == 0) throw new EdgeBuildException(DiagnosticCodes.EmptyFile, path, "the file is empty (0 bytes)");
            proto = ParseProto(stream, path);
        }
        catch (IOException e) { throw new EdgeBuildException(DiagnosticCodes.FileNotFound, path, $"cannot read the file ({e.Message})", e); }
        catch (UnauthorizedAccessException e) { throw new EdgeBuildException(DiagnosticCodes.FileNotFound, path, $"cannot read the file ({e.Message})", e); }
        return new OnnxImporter(path, Path.GetDirectoryName(Path.GetFullPath(path))).Import(proto);
    }

    private static P.ModelProto ParseProto(Stream stream, string subject)
    {
        try
        {
            return P.ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new EdgeBuildException(DiagnosticCodes.NotOnnx, subject, $"cannot be decoded as ONNX ({e.Message.TrimEnd('.')})", e);
        }
    }

    /// <summary>Reads a model from bytes. Without <paramref name="modelDirectory"/>, external data is an error.</summary>
    public static Model Parse(ReadOnlySpan<byte> bytes, string subject = "<memory>", string? modelDirectory = null)
    {
        if (bytes.Length == 0) throw new EdgeBuildException(DiagnosticCodes.EmptyFile, subject, "the file is empty (0 bytes)");
        P.ModelProto proto;
        try
        {
            proto = P.ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new EdgeBuildException(DiagnosticCodes.NotOnnx, subject, $"cannot be decoded as ONNX ({e.Message.TrimEnd('.')})", e);
        }
        return new OnnxImporter(subject, modelDirectory).Import(proto);
    }

    internal static Ir.Tensor ReadStandaloneTensor(P.TensorProto proto, string subject, string? directory) =>
        new OnnxImporter(subject, directory).ReadTensor(proto, proto.HasName ? $"tensor '{proto.Name}'" : "tensor");

    private Model Import(P.ModelProto proto)
    {
        // Protobuf parses almost any bytes into *something*; a model needs at least a graph and a version.
        if (!proto.HasIrVersion && proto.Graph is null)
            throw new EdgeBuildException(DiagnosticCodes.NotOnnx, subject, "no ir_version and no graph: this is not an ONNX model");
        if (proto.Graph is null) throw new EdgeBuildException(DiagnosticCodes.NoGraph, subject, "the model has no graph");
        if (proto.IrVersion < MinIrVersion || proto.IrVersion > MaxIrVersion)
            throw new EdgeBuildException(DiagnosticCodes.UnsupportedIrVersion, subject, $"IR version {proto.IrVersion} is not supported (3 to 10 are)");

        var graph = new Graph(proto.Graph.HasName ? proto.Graph.Name : "main");
        var model = new Model(graph)
        {
            IrVersion = proto.IrVersion,
            ProducerName = proto.HasProducerName ? proto.ProducerName : null,
            ProducerVersion = proto.HasProducerVersion ? proto.ProducerVersion : null,
            Domain = proto.HasDomain ? proto.Domain : null,
            ModelVersion = proto.HasModelVersion ? proto.ModelVersion : null,
            DocString = proto.HasDocString ? proto.DocString : null,
        };
        foreach (var o in proto.OpsetImport) model.Opsets.Add(new OpsetId(o.Domain ?? "", o.Version));
        model.MetadataProps.AddRange(Props(proto.MetadataProps));
        foreach (var f in proto.Functions)
            model.Functions.Add(new OpaqueFunction(f.Domain ?? "", f.Name ?? "", f.HasOverload ? f.Overload : null, f.ToByteArray()));
        foreach (var t in proto.TrainingInfo) model.TrainingInfo.Add(t.ToByteArray());

        declaredDomains = new HashSet<string>(model.Opsets.Select(o => o.Domain is "ai.onnx" ? "" : o.Domain), StringComparer.Ordinal);
        foreach (var f in model.Functions) declaredDomains.Add(f.Domain);
        // Models before opset imports were required may omit the default domain.
        declaredDomains.Add("");

        FillGraph(graph, proto.Graph);
        return model;
    }

    private void FillGraph(Graph graph, P.GraphProto proto)
    {
        graph.DocString = proto.HasDocString ? proto.DocString : null;
        graph.MetadataProps.AddRange(Props(proto.MetadataProps));
        foreach (var a in proto.QuantizationAnnotation)
            graph.QuantizationAnnotations.Add(new TensorAnnotation(a.TensorName ?? "", Props(a.QuantParameterTensorNames).ToList()));

        foreach (var vi in proto.Input)
        {
            if (graph.LookupLocal(vi.Name) is not null)
                throw new EdgeBuildException(DiagnosticCodes.DuplicateValue, subject, $"graph '{graph.Name}' lists input '{vi.Name}' twice");
            var v = graph.AddInput(vi.Name, ReadType(vi.Type));
            ApplyValueInfo(v, vi);
        }

        foreach (var t in proto.Initializer)
        {
            var tensor = ReadTensor(t, $"initializer '{t.Name}'");
            if (graph.LookupLocal(t.Name) is { } existing)
            {
                if (!existing.IsGraphInput || existing.Initializer is not null)
                    throw new EdgeBuildException(DiagnosticCodes.DuplicateValue, subject, $"initializer '{t.Name}' is defined twice");
                // IR < 4: an initializer listed as an input is that input's default value.
                var declared = existing.Type;
                graph.SetInitializer(existing, tensor);
                if (declared is TensorType { Shape: not null } dt && dt.ElementType == tensor.ElementType) existing.Type = declared;
            }
            else
            {
                graph.AddInitializer(t.Name, tensor);
            }
        }

        foreach (var s in proto.SparseInitializer)
        {
            var name = s.Values?.Name ?? "";
            var sparse = ReadSparse(s, $"sparse initializer '{name}'");
            if (graph.LookupLocal(name) is not null)
                throw new EdgeBuildException(DiagnosticCodes.DuplicateValue, subject, $"sparse initializer '{name}' is defined twice");
            graph.AddSparseInitializer(name, sparse);
        }

        // Nodes first with their outputs, so inputs can refer to nodes listed later (lenient: some
        // exporters do not write nodes in order) and subgraphs can see every outer value.
        var created = new List<(Node Node, P.NodeProto Proto)>(proto.Node.Count);
        foreach (var np in proto.Node)
        {
            var domain = np.Domain ?? "";
            if (!declaredDomains.Contains(domain is "ai.onnx" ? "" : domain))
                throw new EdgeBuildException(DiagnosticCodes.UnknownDomain, subject,
                    $"node '{np.Name}' ({np.OpType}) uses domain '{domain}', which the model does not import");
            var ownOutputs = new HashSet<string>(StringComparer.Ordinal);
            foreach (var o in np.Output)
                if (o.Length > 0 && (graph.LookupLocal(o) is not null || !ownOutputs.Add(o)))
                    throw new EdgeBuildException(DiagnosticCodes.DuplicateValue, subject, $"value '{o}' is produced twice (second time by node '{np.Name}' {np.OpType})");
            var node = graph.AddNode(np.OpType ?? "", [], np.Output, domain, np.HasName ? np.Name : "");
            node.Overload = np.HasOverload ? np.Overload : null;
            node.DocString = np.HasDocString ? np.DocString : null;
            node.MetadataProps.AddRange(Props(np.MetadataProps));
            created.Add((node, np));
        }

        foreach (var (node, np) in created)
        {
            foreach (var a in np.Attribute) node.Attributes.Add(ReadAttribute(a, graph, node));
            foreach (var name in np.Input)
            {
                if (name.Length == 0) { node.AddInput(null); continue; }
                var v = graph.Lookup(name) ?? throw new EdgeBuildException(DiagnosticCodes.UndefinedValue, subject,
                    $"node '{np.Name}' ({np.OpType}) reads '{name}', which nothing produces");
                node.AddInput(v);
            }
        }

        var outputNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var vi in proto.Output)
        {
            if (!outputNames.Add(vi.Name))
                throw new EdgeBuildException(DiagnosticCodes.DuplicateValue, subject, $"graph '{graph.Name}' lists output '{vi.Name}' twice");
            var v = graph.Lookup(vi.Name) ?? throw new EdgeBuildException(DiagnosticCodes.UndefinedValue, subject,
                $"graph output '{vi.Name}' is not produced by any node, input or initializer");
            if (v.Graph == graph)
            {
                if (vi.Type is not null && ReadType(vi.Type) is { } t) v.Type = t;
                ApplyValueInfo(v, vi);
            }
            graph.AddOutput(v);
        }

        foreach (var vi in proto.ValueInfo)
        {
            // value_info for a value that does not exist is dropped: some exporters leave stale entries.
            if (graph.LookupLocal(vi.Name) is not { } v || v.IsGraphInput || v.IsGraphOutput) continue;
            if (ReadType(vi.Type) is { } t && v.Initializer is null) v.Type = t;
            ApplyValueInfo(v, vi);
        }

        foreach (var (node, _) in created) CheckIntegerInputs(node);

        try
        {
            graph.SortTopologically();
        }
        catch (GraphCycleException e)
        {
            throw new EdgeBuildException(DiagnosticCodes.GraphCycle, subject,
                $"graph '{graph.Name}' has a cycle through {string.Join(", ", e.NodesOnCycle.Take(4).Select(n => $"'{n.Name}' ({n.OpType})"))}", e);
        }
    }

    /// <summary>
    /// Inputs the ONNX spec types tensor(int64) (or int32/int64): shapes, axes, pads, repeats, indices. Passes and writers
    /// read them as integers, so a string or float tensor there is refused here, once, instead of failing deep inside.
    /// </summary>
    private static readonly Dictionary<string, int[]> IntegerInputs = new(StringComparer.Ordinal)
    {
        ["Reshape"] = [1], ["Expand"] = [1], ["Tile"] = [1], ["ConstantOfShape"] = [0], ["Slice"] = [1, 2, 3, 4],
        ["Squeeze"] = [1], ["Unsqueeze"] = [1], ["Pad"] = [1], ["Resize"] = [3], ["TopK"] = [1], ["Split"] = [1],
        ["ReduceMean"] = [1], ["ReduceSum"] = [1], ["ReduceMax"] = [1], ["ReduceMin"] = [1], ["ReduceProd"] = [1],
        ["ReduceL1"] = [1], ["ReduceL2"] = [1], ["ReduceLogSum"] = [1], ["ReduceLogSumExp"] = [1], ["ReduceSumSquare"] = [1],
        ["Gather"] = [1], ["GatherElements"] = [1], ["GatherND"] = [1], ["ScatterND"] = [1], ["ScatterElements"] = [1],
        ["CumSum"] = [1], ["Trilu"] = [1], ["NonMaxSuppression"] = [2], ["OneHot"] = [1],
    };

    private void CheckIntegerInputs(Node node)
    {
        if (!node.IsStandardDomain || !IntegerInputs.TryGetValue(node.OpType, out var slots)) return;
        foreach (int i in slots)
        {
            if (node.Input(i) is not { } v) continue;
            var type = v.Initializer?.ElementType ?? v.TensorType?.ElementType ?? DataType.Undefined;
            if (type == DataType.Undefined || DataTypes.IsInteger(type)) continue;
            // OneHot's depth may be any numeric type.
            if (node.OpType == "OneHot" && type != DataType.String && type != DataType.Bool) continue;
            throw new EdgeBuildException(DiagnosticCodes.InvalidTensor, subject,
                $"node '{node.Name}' ({node.OpType}) reads '{v.Name}' as input {i}, which must be an integer tensor, but it holds {DataTypes.Name(type)}");
        }
    }

    private static void ApplyValueInfo(Value v, P.ValueInfoProto vi)
    {
        if (vi.HasDocString) v.DocString = vi.DocString;
        v.MetadataProps.AddRange(Props(vi.MetadataProps));
    }

    private static IEnumerable<KeyValuePair<string, string>> Props(IEnumerable<P.StringStringEntryProto> entries) =>
        entries.Select(e => new KeyValuePair<string, string>(e.Key ?? "", e.Value ?? ""));

    private Ir.Attribute ReadAttribute(P.AttributeProto a, Graph scope, Node owner)
    {
        var kind = a.HasType ? (AttributeKind)(int)a.Type : InferKind(a);
        string where = $"attribute '{a.Name}' of node '{owner.Name}' ({owner.OpType})";
        var attr = new Ir.Attribute(a.Name ?? "", kind)
        {
            Float = a.F,
            Int = a.I,
            String = a.S.ToByteArray(),
            Tensor = a.T is null ? null : ReadTensor(a.T, where),
            SparseTensor = a.SparseTensor is null ? null : ReadSparse(a.SparseTensor, where),
            TypeProto = a.Tp is null ? null : ReadType(a.Tp),
            Floats = a.Floats.ToArray(),
            Ints = a.Ints.ToArray(),
            Strings = a.Strings.Select(s => s.ToByteArray()).ToArray(),
            Tensors = a.Tensors.Select(t => ReadTensor(t, where)).ToArray(),
            SparseTensors = a.SparseTensors.Select(s => ReadSparse(s, where)).ToArray(),
            TypeProtos = a.TypeProtos.Select(ReadType).ToArray(),
            RefAttrName = a.HasRefAttrName ? a.RefAttrName : null,
            DocString = a.HasDocString ? a.DocString : null,
        };
        if (a.G is not null) attr.Graph = ReadSubgraph(a.G, scope, owner);
        if (a.Graphs.Count > 0) attr.Graphs = a.Graphs.Select(g => ReadSubgraph(g, scope, owner)).ToArray();
        return attr;
    }

    private Graph ReadSubgraph(P.GraphProto proto, Graph parent, Node owner)
    {
        var g = new Graph(proto.HasName ? proto.Name : $"{owner.Name}_body", parent);
        FillGraph(g, proto);
        return g;
    }

    /// <summary>IR 1/2 files may omit the attribute type; infer it from the one field that is set.</summary>
    private static AttributeKind InferKind(P.AttributeProto a)
    {
        if (a.HasF) return AttributeKind.Float;
        if (a.HasI) return AttributeKind.Int;
        if (a.HasS) return AttributeKind.String;
        if (a.T is not null) return AttributeKind.Tensor;
        if (a.G is not null) return AttributeKind.Graph;
        if (a.Floats.Count > 0) return AttributeKind.Floats;
        if (a.Ints.Count > 0) return AttributeKind.Ints;
        if (a.Strings.Count > 0) return AttributeKind.Strings;
        if (a.Tensors.Count > 0) return AttributeKind.Tensors;
        if (a.Graphs.Count > 0) return AttributeKind.Graphs;
        return AttributeKind.Undefined;
    }

    internal static Ir.ValueType? ReadType(P.TypeProto? tp)
    {
        if (tp is null) return null;
        string? den = tp.HasDenotation ? tp.Denotation : null;
        return tp.ValueCase switch
        {
            P.TypeProto.ValueOneofCase.TensorType => new TensorType((DataType)tp.TensorType.ElemType, ReadShape(tp.TensorType.Shape), den),
            P.TypeProto.ValueOneofCase.SparseTensorType => new SparseTensorType((DataType)tp.SparseTensorType.ElemType, ReadShape(tp.SparseTensorType.Shape), den),
            P.TypeProto.ValueOneofCase.SequenceType => new SequenceType(ReadType(tp.SequenceType.ElemType), den),
            P.TypeProto.ValueOneofCase.MapType => new MapType((DataType)tp.MapType.KeyType, ReadType(tp.MapType.ValueType), den),
            P.TypeProto.ValueOneofCase.OptionalType => new OptionalType(ReadType(tp.OptionalType.ElemType), den),
            _ => null,
        };
    }

    private static Shape? ReadShape(P.TensorShapeProto? shape) =>
        shape is null
            ? null
            : new Shape(shape.Dim.Select(d => new Dim(
                d.ValueCase == P.TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : null,
                d.ValueCase == P.TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam ? d.DimParam : null,
                d.HasDenotation ? d.Denotation : null)));

    private SparseTensor ReadSparse(P.SparseTensorProto s, string where)
    {
        if (s.Values is null || s.Indices is null)
            throw new EdgeBuildException(DiagnosticCodes.InvalidTensor, subject, $"{where}: sparse tensor without values or indices");
        var values = ReadTensor(s.Values, where);
        var indices = ReadTensor(s.Indices, where);
        CheckElementCount(s.Dims, where);
        return new SparseTensor(values, indices, s.Dims.ToArray());
    }

    private long CheckElementCount(IReadOnlyList<long> dims, string where)
    {
        long n = 1;
        foreach (var d in dims)
        {
            if (d < 0) throw new EdgeBuildException(DiagnosticCodes.TensorTooLarge, subject, $"{where} has a negative dimension ({d})");
            if (d != 0 && n > Ir.Tensor.MaxElements / d)
                throw new EdgeBuildException(DiagnosticCodes.TensorTooLarge, subject,
                    $"{where} declares dims [{string.Join(",", dims)}], more than {Ir.Tensor.MaxElements} elements");
            n *= d;
        }
        return n;
    }

    internal Ir.Tensor ReadTensor(P.TensorProto t, string where)
    {
        var type = (DataType)t.DataType;
        var dims = t.Dims.ToArray();
        long count = CheckElementCount(dims, where);

        Ir.Tensor tensor;
        if (t.DataLocation == P.TensorProto.Types.DataLocation.External)
        {
            if (type == DataType.String) throw Invalid(where, "string tensors cannot use external data");
            tensor = MakeRaw(type, dims, ReadExternal(t, type, count, where), where);
        }
        else if (type == DataType.String)
        {
            if (t.StringData.Count != count) throw Invalid(where, $"has {t.StringData.Count} strings for {count} elements");
            tensor = Ir.Tensor.FromStrings(dims, t.StringData.Select(s => s.ToByteArray()).ToArray());
        }
        else if (!DataTypes.IsKnown(type))
        {
            throw Invalid(where, $"has unknown element type {(int)type}");
        }
        else if (t.HasRawData)
        {
            tensor = MakeRaw(type, dims, t.RawData.ToByteArray(), where);
        }
        else
        {
            tensor = MakeRaw(type, dims, FromTypedFields(t, type, count, where), where);
        }
        tensor.Name = t.HasName ? t.Name : null;
        tensor.DocString = t.HasDocString ? t.DocString : null;
        tensor.MetadataProps.AddRange(Props(t.MetadataProps));
        return tensor;
    }

    private Ir.Tensor MakeRaw(DataType type, long[] dims, byte[] raw, string where)
    {
        long expected = DataTypes.ByteCount(type, Ir.Tensor.CountElements(dims));
        if (raw.LongLength != expected)
            throw new EdgeBuildException(DiagnosticCodes.TensorTooLarge, subject,
                $"{where} declares {DataTypes.Name(type)}[{string.Join(",", dims)}] ({expected} bytes) but holds {raw.LongLength} bytes");
        return Ir.Tensor.FromRaw(type, dims, raw);
    }

    private EdgeBuildException Invalid(string where, string what) => new(DiagnosticCodes.InvalidTensor, subject, $"{where} {what}");

    /// <summary>Typed repeated fields to raw bytes, following the storage rules of TensorProto per element type.</summary>
    private byte[] FromTypedFields(P.TensorProto t, DataType type, long count, string where)
    {
        switch (type)
        {
            case DataType.Float:
                return Bytes<float>(t.FloatData.ToArray());
            case DataType.Complex64:
                return Bytes<float>(t.FloatData.ToArray());
            case DataType.Double:
            case DataType.Complex128:
                return Bytes<double>(t.DoubleData.ToArray());
            case DataType.Int64:
                return Bytes<long>(t.Int64Data.ToArray());
            case DataType.UInt32:
                return Bytes<uint>(t.Uint64Data.Select(v => (uint)v).ToArray());
            case DataType.UInt64:
                return Bytes<ulong>(t.Uint64Data.ToArray());
            case DataType.Int32:
                return Bytes<int>(t.Int32Data.ToArray());
            case DataType.Int16:
                return Bytes<short>(t.Int32Data.Select(v => (short)v).ToArray());
            case DataType.UInt16:
            case DataType.Float16:
            case DataType.BFloat16:
                return Bytes<ushort>(t.Int32Data.Select(v => (ushort)v).ToArray());
            case DataType.Int8:
            case DataType.UInt8:
            case DataType.Bool:
            case DataType.Float8E4M3FN:
            case DataType.Float8E4M3FNUZ:
            case DataType.Float8E5M2:
            case DataType.Float8E5M2FNUZ:
                return t.Int32Data.Select(v => (byte)v).ToArray();
            case DataType.Int4:
            case DataType.UInt4:
            case DataType.Float4E2M1:
                // Already packed two per int32 entry's low byte.
                return t.Int32Data.Select(v => (byte)v).ToArray();
            default:
                throw Invalid(where, $"has unsupported element type {DataTypes.Name(type)}");
        }
    }

    private static byte[] Bytes<T>(T[] values) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    private byte[] ReadExternal(P.TensorProto t, DataType type, long count, string where)
    {
        string? location = null;
        long offset = 0;
        long? length = null;
        foreach (var e in t.ExternalData)
        {
            switch (e.Key)
            {
                case "location": location = e.Value; break;
                case "offset": offset = ParseExternalNumber(e.Value, "offset", where); break;
                case "length": length = ParseExternalNumber(e.Value, "length", where); break;
            }
        }
        if (string.IsNullOrEmpty(location)) throw Invalid(where, "uses external data but names no location");
        string shown = Names.Escape(location);
        if (location.Any(c => char.IsControl(c) || c == '\\'))
            throw new EdgeBuildException(DiagnosticCodes.ExternalDataOutsideModel, subject,
                $"{where} points to '{shown}', a location with a control character or a backslash (a relative path with '/' is expected)");
        if (Path.IsPathRooted(location) || (location.Length >= 2 && location[1] == ':' && char.IsAsciiLetter(location[0])))
            throw new EdgeBuildException(DiagnosticCodes.ExternalDataOutsideModel, subject, $"{where} points to '{shown}', an absolute path");
        if (modelDirectory is null)
            throw new EdgeBuildException(DiagnosticCodes.ExternalDataMissing, subject, $"{where} uses external data '{shown}', but the model was not read from a file");

        // Checked on real paths, every symbolic link followed (the folder's own included): a lexical check
        // passes 'link_dir/hostname' where link_dir leads to /etc.
        string root = RealPath.Resolve(Path.GetFullPath(modelDirectory))
            ?? throw new EdgeBuildException(DiagnosticCodes.ExternalDataMissing, subject, $"{where}: the model's folder cannot be resolved (a loop of symbolic links)");
        string? real = RealPath.Resolve(root, location);
        if (real is null)
            throw new EdgeBuildException(DiagnosticCodes.ExternalDataOutsideModel, subject, $"{where} points to '{shown}', which goes through a loop of symbolic links");
        string rootWithSep = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        if (!real.StartsWith(rootWithSep, StringComparison.Ordinal))
            throw new EdgeBuildException(DiagnosticCodes.ExternalDataOutsideModel, subject,
                $"{where} points to '{shown}', which resolves to {Names.Escape(real)}, outside the model's folder {Names.Escape(root)}");
        var info = new FileInfo(real);
        if (!info.Exists)
            throw new EdgeBuildException(DiagnosticCodes.ExternalDataMissing, subject,
                $"{where} needs external data file '{shown}', which does not exist{(Directory.Exists(real) ? " (it is a folder)" : "")}");
        long size = info.Length;
        long needed = DataTypes.ByteCount(type, count);
        if (offset > size)
            throw new EdgeBuildException(DiagnosticCodes.ExternalDataMissing, subject, $"{where}: '{shown}' has {size} bytes, the tensor starts at byte {offset}");
        long take = length ?? (size - offset);
        if (take != needed)
            throw new EdgeBuildException(DiagnosticCodes.TensorTooLarge, subject, $"{where} declares {needed} bytes but its external data holds {take}");
        // offset <= size here, so size - offset cannot overflow where offset + take could.
        if (take > size - offset)
            throw new EdgeBuildException(DiagnosticCodes.ExternalDataMissing, subject, $"{where}: '{shown}' has {size} bytes, the tensor needs {take} bytes from byte {offset}");
        var buffer = new byte[take];
        try
        {
            using var fs = new FileStream(real, FileMode.Open, FileAccess.Read, FileShare.Read);
            fs.Seek(offset, SeekOrigin.Begin);
            fs.ReadExactly(buffer);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EdgeBuildException(DiagnosticCodes.ExternalDataMissing, subject, $"{where}: cannot read '{shown}' ({Names.Escape(e.Message)})", e);
        }
        return buffer;
    }

    /// <summary>An offset or length: decimal digits only, within a long (ONNX writes them as decimal text).</summary>
    private long ParseExternalNumber(string text, string key, string where)
    {
        if (text.Length == 0 || !text.All(char.IsAsciiDigit)
            || !long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long value))
            throw new EdgeBuildException(DiagnosticCodes.InvalidTensor, subject,
                $"{where} has external data {key} '{Names.Escape(text)}', which is not a non-negative whole number below 2^63");
        return value;
    }
}
