using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using Google.Protobuf;
using P = EdgeBuild.Onnx.Proto;

namespace EdgeBuild.Onnx;

/// <summary>
/// Writes the IR as an ONNX ModelProto. Strict and deterministic: nodes in topological order, numeric
/// tensors always as raw_data, value_info for every typed intermediate value in node order, so the same
/// IR always gives the same bytes and the result passes onnx.checker.
/// </summary>
public static class OnnxExporter
{
    public static byte[] ToBytes(Model model) => ToProto(model).ToByteArray();

    /// <summary>Writes atomically: a temp file in the same folder, then a rename. A failure leaves no partial file.</summary>
    public static void Save(Model model, string path)
    {
        // Streamed to the temp file: no second in-memory copy of the weights.
        var proto = ToProto(model);
        AtomicFile.Write(path, stream => proto.WriteTo(stream));
    }

    public static P.ModelProto ToProto(Model model)
    {
        var graph = model.Graph;
        var proto = new P.ModelProto
        {
            IrVersion = EffectiveIrVersion(model),
            Graph = WriteGraph(graph, isModelGraph: true),
        };
        if (model.ProducerName is not null) proto.ProducerName = model.ProducerName;
        if (model.ProducerVersion is not null) proto.ProducerVersion = model.ProducerVersion;
        if (model.Domain is not null) proto.Domain = model.Domain;
        if (model.ModelVersion is long mv) proto.ModelVersion = mv;
        if (model.DocString is not null) proto.DocString = model.DocString;
        foreach (var o in model.Opsets) proto.OpsetImport.Add(new P.OperatorSetIdProto { Domain = o.Domain, Version = o.Version });
        proto.MetadataProps.AddRange(Props(model.MetadataProps));
        foreach (var t in model.TrainingInfo) proto.TrainingInfo.Add(P.TrainingInfoProto.Parser.ParseFrom(t));
        foreach (var f in model.Functions) proto.Functions.Add(P.FunctionProto.Parser.ParseFrom(f.Proto));
        return proto;
    }

    /// <summary>
    /// IR 3 requires every initializer to be a graph input; lenient readers accept files that break the
    /// rule (CNTK exports do). Rather than turn constants into overridable inputs, such a model is written
    /// as IR 4, where initializers need not be inputs; nothing else in IR 4 changes meaning.
    /// </summary>
    public static long EffectiveIrVersion(Model model)
    {
        if (model.IrVersion < 4 && model.Graph.SelfAndSubgraphs().Any(g => g.Initializers.Any(v => !v.IsGraphInput)))
            return 4;
        return model.IrVersion;
    }

    private static P.GraphProto WriteGraph(Graph graph) => WriteGraph(graph, isModelGraph: false);

    private static P.GraphProto WriteGraph(Graph graph, bool isModelGraph)
    {
        graph.SortTopologically();
        var g = new P.GraphProto { Name = graph.Name };
        if (graph.DocString is not null) g.DocString = graph.DocString;
        foreach (var n in graph.Nodes) g.Node.Add(WriteNode(n));
        foreach (var v in graph.Initializers)
        {
            if (v.Initializer is { } t) g.Initializer.Add(WriteTensor(t, v.Name));
            else if (v.SparseInitializer is { } s) g.SparseInitializer.Add(WriteSparse(s, v.Name));
        }
        foreach (var v in graph.Inputs) g.Input.Add(WriteValueInfo(v, isInterface: isModelGraph));
        foreach (var v in graph.Outputs) g.Output.Add(WriteValueInfo(v, isInterface: isModelGraph));
        foreach (var n in graph.Nodes)
            foreach (var v in n.Outputs)
                if (v is not null && v.Type is not null && !v.TypeInferred && !v.IsGraphOutput) g.ValueInfo.Add(WriteValueInfo(v));
        foreach (var a in graph.QuantizationAnnotations)
        {
            var ta = new P.TensorAnnotation { TensorName = a.TensorName };
            ta.QuantParameterTensorNames.AddRange(Props(a.QuantParameterTensorNames));
            g.QuantizationAnnotation.Add(ta);
        }
        g.MetadataProps.AddRange(Props(graph.MetadataProps));
        return g;
    }

    private static P.NodeProto WriteNode(Node n)
    {
        var p = new P.NodeProto { OpType = n.OpType };
        if (n.Name.Length > 0) p.Name = n.Name;
        if (n.Domain.Length > 0) p.Domain = n.Domain;
        if (n.Overload is not null) p.Overload = n.Overload;
        if (n.DocString is not null) p.DocString = n.DocString;
        foreach (var i in n.Inputs) p.Input.Add(i?.Name ?? "");
        // Trailing omitted outputs are dropped: "" at the end means the same as nothing.
        int lastOutput = n.Outputs.Count - 1;
        while (lastOutput >= 0 && n.Outputs[lastOutput] is null) lastOutput--;
        for (int i = 0; i <= lastOutput; i++) p.Output.Add(n.Outputs[i]?.Name ?? "");
        foreach (var a in n.Attributes) p.Attribute.Add(WriteAttribute(a));
        p.MetadataProps.AddRange(Props(n.MetadataProps));
        return p;
    }

    private static P.AttributeProto WriteAttribute(Ir.Attribute a)
    {
        var p = new P.AttributeProto { Name = a.Name };
        if (a.Kind != AttributeKind.Undefined) p.Type = (P.AttributeProto.Types.AttributeType)(int)a.Kind;
        if (a.RefAttrName is not null) p.RefAttrName = a.RefAttrName;
        if (a.DocString is not null) p.DocString = a.DocString;
        switch (a.Kind)
        {
            case AttributeKind.Float: p.F = a.Float; break;
            case AttributeKind.Int: p.I = a.Int; break;
            case AttributeKind.String: p.S = ByteString.CopyFrom(a.String); break;
            case AttributeKind.Tensor when a.Tensor is not null: p.T = WriteTensor(a.Tensor, a.Tensor.Name); break;
            case AttributeKind.Graph when a.Graph is not null: p.G = WriteGraph(a.Graph); break;
            case AttributeKind.SparseTensor when a.SparseTensor is not null: p.SparseTensor = WriteSparse(a.SparseTensor, a.SparseTensor.Values.Name); break;
            case AttributeKind.TypeProto when a.TypeProto is not null: p.Tp = WriteType(a.TypeProto); break;
            case AttributeKind.Floats: p.Floats.AddRange(a.Floats); break;
            case AttributeKind.Ints: p.Ints.AddRange(a.Ints); break;
            case AttributeKind.Strings: p.Strings.AddRange(a.Strings.Select(ByteString.CopyFrom)); break;
            case AttributeKind.Tensors: p.Tensors.AddRange(a.Tensors.Select(t => WriteTensor(t, t.Name))); break;
            case AttributeKind.Graphs: p.Graphs.AddRange(a.Graphs.Select(WriteGraph)); break;
            case AttributeKind.SparseTensors: p.SparseTensors.AddRange(a.SparseTensors.Select(s => WriteSparse(s, s.Values.Name))); break;
            case AttributeKind.TypeProtos: p.TypeProtos.AddRange(a.TypeProtos.Select(t => t is null ? new P.TypeProto() : WriteType(t))); break;
        }
        return p;
    }

    internal static P.TensorProto WriteTensor(Ir.Tensor t, string? name)
    {
        var p = new P.TensorProto { DataType = (int)t.ElementType };
        p.Dims.AddRange(t.Dims);
        if (name is not null) p.Name = name;
        if (t.DocString is not null) p.DocString = t.DocString;
        if (t.Strings is not null) p.StringData.AddRange(t.Strings.Select(ByteString.CopyFrom));
        else p.RawData = UnsafeByteOperations.UnsafeWrap(t.Raw);
        p.MetadataProps.AddRange(Props(t.MetadataProps));
        return p;
    }

    private static P.SparseTensorProto WriteSparse(SparseTensor s, string? name)
    {
        var p = new P.SparseTensorProto { Values = WriteTensor(s.Values, name), Indices = WriteTensor(s.Indices, s.Indices.Name) };
        p.Dims.AddRange(s.Dims);
        return p;
    }

    private static P.ValueInfoProto WriteValueInfo(Value v, bool isInterface = false)
    {
        var p = new P.ValueInfoProto { Name = v.Name };
        // Types the shape inference guessed stay out of value_info: only declared facts are written there. A graph
        // input or output of the model must have a type (onnx.checker), so one the file did not declare gets the inferred one.
        if (v.Type is not null && (!v.TypeInferred || isInterface)) p.Type = WriteType(v.Type);
        if (v.DocString is not null) p.DocString = v.DocString;
        p.MetadataProps.AddRange(Props(v.MetadataProps));
        return p;
    }

    internal static P.TypeProto WriteType(Ir.ValueType type)
    {
        var p = new P.TypeProto();
        switch (type)
        {
            case TensorType t:
                p.TensorType = new P.TypeProto.Types.Tensor { ElemType = (int)t.ElementType };
                if (t.Shape is not null) p.TensorType.Shape = WriteShape(t.Shape);
                break;
            case SparseTensorType s:
                p.SparseTensorType = new P.TypeProto.Types.SparseTensor { ElemType = (int)s.ElementType };
                if (s.Shape is not null) p.SparseTensorType.Shape = WriteShape(s.Shape);
                break;
            case SequenceType q:
                p.SequenceType = new P.TypeProto.Types.Sequence();
                if (q.ElementType is not null) p.SequenceType.ElemType = WriteType(q.ElementType);
                break;
            case MapType m:
                p.MapType = new P.TypeProto.Types.Map { KeyType = (int)m.KeyType };
                if (m.ValueType is not null) p.MapType.ValueType = WriteType(m.ValueType);
                break;
            case OptionalType o:
                p.OptionalType = new P.TypeProto.Types.Optional();
                if (o.ElementType is not null) p.OptionalType.ElemType = WriteType(o.ElementType);
                break;
        }
        if (type.Denotation is not null) p.Denotation = type.Denotation;
        return p;
    }

    private static P.TensorShapeProto WriteShape(Shape shape)
    {
        var p = new P.TensorShapeProto();
        foreach (var d in shape.Dims)
        {
            var pd = new P.TensorShapeProto.Types.Dimension();
            if (d.Value is long v) pd.DimValue = v;
            else if (d.Param is not null) pd.DimParam = d.Param;
            if (d.Denotation is not null) pd.Denotation = d.Denotation;
            p.Dim.Add(pd);
        }
        return p;
    }

    private static IEnumerable<P.StringStringEntryProto> Props(IEnumerable<KeyValuePair<string, string>> props) =>
        props.Select(kv => new P.StringStringEntryProto { Key = kv.Key, Value = kv.Value });
}

/// <summary>Writes files through a temp file and a rename, so readers never see a half-written artifact.</summary>
public static class AtomicFile
{
    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, stream => stream.Write(bytes));

    /// <summary>Lets <paramref name="write"/> fill a temp file next to <paramref name="path"/>, then renames it into place.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? ".";
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new EdgeBuildException(DiagnosticCodes.WriteFailed, path, $"cannot write the file ({e.Message})", e);
        }
    }

    public static void WriteAllText(string path, string text) => WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(text));

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
