using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Onnx.Proto;
using EdgeBuild.Passes;
using EdgeBuild.Tests.Support;
using Google.Protobuf;
using A = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Tests.Onnx;

public class RoundTripTests
{
    /// <summary>A model with an If whose branches read an outer value, a custom-domain node, metadata and doc strings.</summary>
    private static ModelProto RichModel()
    {
        var g = new GraphProto { Name = "main", DocString = "graph doc" };
        g.Input.Add(Vi("x", 1, 4));
        g.Input.Add(new ValueInfoProto { Name = "cond", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 9, Shape = new TensorShapeProto() } } });
        g.Initializer.Add(new TensorProto { Name = "k", DataType = 1, Dims = { 4 }, FloatData = { 1, 2, 3, 4 } });
        g.Node.Add(new NodeProto { OpType = "Mul", Name = "scale", Input = { "x", "k" }, Output = { "scaled" }, DocString = "node doc" });
        var then = new GraphProto { Name = "then" };
        then.Node.Add(new NodeProto { OpType = "Relu", Name = "then_relu", Input = { "scaled" }, Output = { "t_out" } });
        then.Output.Add(Vi("t_out", 1, 4));
        var @else = new GraphProto { Name = "else" };
        @else.Node.Add(new NodeProto { OpType = "Neg", Name = "else_neg", Input = { "scaled" }, Output = { "e_out" } });
        @else.Output.Add(Vi("e_out", 1, 4));
        g.Node.Add(new NodeProto
        {
            OpType = "If", Name = "branch", Input = { "cond" }, Output = { "y" },
            Attribute =
            {
                new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = then },
                new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = @else },
            },
        });
        g.Output.Add(Vi("y", 1, 4));
        var m = new ModelProto { IrVersion = 8, ProducerName = "hand", ProducerVersion = "1", DocString = "model doc", Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        m.MetadataProps.Add(new StringStringEntryProto { Key = "author", Value = "tests" });
        return m;
    }

    private static ValueInfoProto Vi(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } };
    }

    [Fact]
    public void WritingIsDeterministicAndStable()
    {
        var bytes = RichModel().ToByteArray();
        var first = OnnxExporter.ToBytes(OnnxImporter.Parse(bytes));
        var second = OnnxExporter.ToBytes(OnnxImporter.Parse(first));
        Assert.Equal(first, second);
        Assert.Equal(first, OnnxExporter.ToBytes(OnnxImporter.Parse(bytes)));
        Assert.Equal(GraphPrinter.Print(OnnxImporter.Parse(bytes)), GraphPrinter.Print(OnnxImporter.Parse(first)));
    }

    [Fact]
    public void MetadataDocStringsAndSubgraphsSurvive()
    {
        var model = OnnxImporter.Parse(OnnxExporter.ToBytes(OnnxImporter.Parse(RichModel().ToByteArray())));
        Assert.Equal("model doc", model.DocString);
        Assert.Equal("graph doc", model.Graph.DocString);
        Assert.Equal(new KeyValuePair<string, string>("author", "tests"), model.MetadataProps.Single());
        var branch = model.Graph.Nodes.Single(n => n.OpType == "If");
        Assert.Equal(2, branch.Subgraphs.Count());
        Assert.Equal("node doc", model.Graph.Nodes.Single(n => n.OpType == "Mul").DocString);
        // The branches read 'scaled' from the outer scope: it is an implicit input of the If.
        Assert.Equal(["scaled"], branch.ImplicitInputs().Select(v => v.Name));
        Assert.Empty(GraphVerifier.Verify(model.Graph));
    }

    [Fact]
    public void ValuesCapturedBySubgraphsAreNotDeadAndRunTheSame()
    {
        var model = OnnxImporter.Parse(RichModel().ToByteArray());
        var inputs = new Dictionary<string, Tensor>
        {
            ["x"] = Tensor.FromFloats([1, 4], [-1f, 2f, -3f, 4f]),
            ["cond"] = Tensor.FromRaw(DataType.Bool, [], [1]),
        };
        var before = Ort.Run(model, inputs);
        OptimizationPipeline.Run(model, new OptimizeOptions());
        Assert.Contains(model.Graph.Nodes, n => n.OpType == "Mul");
        Ort.AssertClose(before, Ort.Run(model, inputs));
    }

    [Fact]
    public void Ir3InitializersNotListedAsInputsAreWrittenAsIr4()
    {
        var m = RichModel();
        m.IrVersion = 3;
        var model = OnnxImporter.Parse(m.ToByteArray());
        Assert.Equal(3, model.IrVersion);
        Assert.Equal(4, ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(model)).IrVersion);
    }

    [Fact]
    public void Ir3InitializersListedAsInputsStayOverridable()
    {
        var m = RichModel();
        m.IrVersion = 3;
        m.Graph.Input.Add(Vi("k", 4));
        var model = OnnxImporter.Parse(m.ToByteArray());
        var k = model.Graph.LookupLocal("k")!;
        Assert.True(k.IsGraphInput);
        Assert.NotNull(k.Initializer);
        Assert.Null(k.ConstantValue);
        var written = ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(model));
        Assert.Equal(3, written.IrVersion);
        Assert.Contains(written.Graph.Input, i => i.Name == "k");
        Assert.Contains(written.Graph.Initializer, i => i.Name == "k");
    }

    [Fact]
    public void TypedFieldsBecomeRawDataWithTheSameValues()
    {
        var m = RichModel();
        m.Graph.Initializer.Add(new TensorProto { Name = "i8", DataType = 3, Dims = { 3 }, Int32Data = { -1, 0, 127 } });
        m.Graph.Initializer.Add(new TensorProto { Name = "f16", DataType = 10, Dims = { 2 }, Int32Data = { 0x3C00, 0xC000 } });
        m.Graph.Initializer.Add(new TensorProto { Name = "u64", DataType = 13, Dims = { 1 }, Uint64Data = { ulong.MaxValue } });
        m.Graph.Initializer.Add(new TensorProto { Name = "s", DataType = 8, Dims = { 2 }, StringData = { ByteString.CopyFromUtf8("a"), ByteString.CopyFromUtf8("bc") } });
        var model = OnnxImporter.Parse(OnnxExporter.ToBytes(OnnxImporter.Parse(m.ToByteArray())));
        Assert.Equal(new long[] { -1, 0, 127 }, model.Graph.LookupLocal("i8")!.Initializer!.ToInt64s());
        Assert.Equal(new float[] { 1f, -2f }, model.Graph.LookupLocal("f16")!.Initializer!.ToFloats());
        Assert.Equal(ulong.MaxValue, model.Graph.LookupLocal("u64")!.Initializer!.AsSpan<ulong>()[0]);
        Assert.Equal("bc", System.Text.Encoding.UTF8.GetString(model.Graph.LookupLocal("s")!.Initializer!.Strings![1]));
    }

    [Fact]
    public void SparseInitializersAndCustomDomainsAreKept()
    {
        var m = RichModel();
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.example", Version = 1 });
        m.Graph.SparseInitializer.Add(new SparseTensorProto
        {
            Dims = { 4 },
            Values = new TensorProto { Name = "sp", DataType = 1, Dims = { 2 }, FloatData = { 5, 6 } },
            Indices = new TensorProto { DataType = 7, Dims = { 2 }, Int64Data = { 1, 3 } },
        });
        m.Graph.Node.Add(new NodeProto { OpType = "Custom", Domain = "com.example", Name = "c", Input = { "y", "sp" }, Output = { "z" } });
        m.Graph.Output.Add(Vi("z", 1, 4));
        var model = OnnxImporter.Parse(OnnxExporter.ToBytes(OnnxImporter.Parse(m.ToByteArray())));
        var sp = model.Graph.LookupLocal("sp")!.SparseInitializer!;
        Assert.Equal(new float[] { 0, 5, 0, 6 }, sp.ToDense().ToFloats());
        Assert.Equal("com.example", model.Graph.Nodes.Single(n => n.OpType == "Custom").Domain);
        OptimizationPipeline.Run(model, new OptimizeOptions());
        Assert.Contains(model.Graph.Nodes, n => n.OpType == "Custom");
    }

    [Fact]
    public void NodesOutOfOrderAreSorted()
    {
        var m = RichModel();
        var nodes = m.Graph.Node.Reverse().ToList();
        m.Graph.Node.Clear();
        m.Graph.Node.Add(nodes);
        var model = OnnxImporter.Parse(m.ToByteArray());
        Assert.Equal(["Mul", "If"], model.Graph.Nodes.Select(n => n.OpType));
    }

    [Fact]
    public void PrinterSnapshotBeforeAndAfterBatchNormFolding()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 2, 4, 4);
        var w = b.Const("w", [2, 2, 1, 1], 1f, 0f, 0f, 1f);
        var conv = b.Op("Conv", [x, w], "conv");
        var bn = b.Op("BatchNormalization", [conv, b.Const("g", [2], 2f, 1f), b.Const("beta", [2], 0f, 1f), b.Const("mu", [2], 0f, 0f), b.Const("var", [2], 1f, 1f)], "y",
            A.Of("epsilon", 0f));
        b.Output(bn);
        Assert.Equal("""
            model ir=8 opsets=ai.onnx:13 producer=edgebuild-tests
            graph test {
              input x: float32[1,2,4,4]
              init w = float32[2,2,1,1] [1,0,0,1]
              init g = float32[2] [2,1]
              init beta = float32[2] [0,1]
              init mu = float32[2] [0,0]
              init var = float32[2] [1,1]
              %conv: ? = Conv(x, w)  # conv_node
              %y: ? = BatchNormalization(conv, g, beta, mu, var) {epsilon=0}  # y_node
              output y: ?
            }

            """.Replace("\r", ""), GraphPrinter.Print(b.Model));
        OptimizationPipeline.Run(b.Model, new OptimizeOptions());
        Assert.Equal("""
            model ir=8 opsets=ai.onnx:13 producer=edgebuild-tests
            graph test {
              input x: float32[1,2,4,4]
              init conv_node_W_bn = float32[2,2,1,1] [2,0,0,1]
              init conv_node_B_bn = float32[2] [0,1]
              %y: float32[1,2,4,4] = Conv(x, conv_node_W_bn, conv_node_B_bn)  # conv_node
              output y: float32[1,2,4,4]
            }

            """.Replace("\r", ""), GraphPrinter.Print(b.Model));
    }

    [Fact]
    public void VerifierCatchesABrokenGraph()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2);
        var r = b.Op("Relu", [x], "r");
        var s = b.Op("Sigmoid", [r], "s");
        b.Output(s);
        Assert.Empty(GraphVerifier.Verify(b.Graph));
        // Put the consumer before its producer: the verifier must notice.
        var relu = b.Graph.Nodes[0];
        var sigmoid = b.Graph.Nodes[1];
        sigmoid.SetInput(0, x);
        relu.SetInput(0, s);
        Assert.NotEmpty(GraphVerifier.Verify(b.Graph));
    }
}
