using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using Microsoft.ML.OnnxRuntime;
using IrAttribute = EdgeBuild.Ir.Attribute;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.Passes;

/// <summary>
/// Opset conversion: structure of the rewritten nodes, and numerics (the model before conversion, run by
/// ONNX Runtime at its old opset, is the reference for the converted one).
/// </summary>
public sealed class OpsetConversionTests
{
    // ---------------------------------------------------------------------------------------------
    // Helpers.
    // ---------------------------------------------------------------------------------------------

    private static (Model Model, Graph Graph) NewModel(long opset, long irVersion = 4)
    {
        var g = new Graph("main");
        var m = new Model(g) { IrVersion = irVersion, ProducerName = "opset-conversion-test" };
        m.Opsets.Add(new OpsetId("", opset));
        return (m, g);
    }

    private static Value Input(Graph g, string name, params long[] dims) => g.AddInput(name, new TensorType(DataType.Float, Shape.Of(dims)));

    private static Value Output(Graph g, Node node, int index = 0, DataType type = DataType.Float)
    {
        var v = node.Outputs[index]!;
        v.Type ??= new TensorType(type, null);
        g.AddOutput(v);
        return v;
    }

    private static Value Ints(Graph g, string name, params long[] values) => g.AddInitializer(name, Tensor.FromInt64s([values.Length], values));
    private static Value Floats(Graph g, string name, params float[] values) => g.AddInitializer(name, Tensor.FromFloats([values.Length], values));

    private static Tensor RandomTensor(int seed, params long[] dims)
    {
        var rng = new Random(seed);
        var data = new float[Tensor.CountElements(dims)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 4 - 2);
        return Tensor.FromFloats(dims, data);
    }

    private static PassResult Convert(Model model, long target, List<string>? warnings = null)
    {
        var context = new PassContext(new OptimizeOptions { TargetOpset = target }) { Warn = w => warnings?.Add(w) };
        var result = new OpsetConversion().Run(model, context);
        Assert.Empty(GraphVerifier.Verify(model.Graph));
        return result;
    }

    private static EdgeBuildException ConvertFails(Model model, long target)
    {
        var e = Assert.Throws<EdgeBuildException>(() => new OpsetConversion().Run(model, new PassContext(new OptimizeOptions { TargetOpset = target })));
        Assert.Equal("EB2002", e.Code);
        Assert.Same(DiagnosticCodes.OpsetConversionUnsupported, e.Descriptor);
        return e;
    }

    private static Tensor[] RunOrt(Model model, params (string Name, Tensor Value)[] inputs)
    {
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = 1 };
        using var session = new InferenceSession(OnnxExporter.ToBytes(model), options);
        var values = inputs.Select(i => OrtTensors.ToOrtValue(i.Value)).ToArray();
        try
        {
            using var runOptions = new RunOptions();
            var names = model.Graph.Outputs.Select(o => o.Name).ToArray();
            using var outputs = session.Run(runOptions, inputs.Select(i => i.Name).ToArray(), values, names);
            return outputs.Select(o => OrtTensors.ToTensor(o)!).ToArray();
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    private static void AssertClose(Tensor[] expected, Tensor[] actual, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].ElementType, actual[i].ElementType);
            Assert.Equal(expected[i].Dims, actual[i].Dims);
            var e = expected[i].ToFloats();
            var a = actual[i].ToFloats();
            for (int j = 0; j < e.Length; j++)
                Assert.True(Math.Abs(e[j] - a[j]) <= tolerance, $"output {i} element {j}: expected {e[j]}, got {a[j]}");
        }
    }

    /// <summary>Runs the model, converts it, runs it again and compares; returns the conversion result.</summary>
    private static PassResult ConvertAndCompare(Model model, long target, params (string Name, Tensor Value)[] inputs)
    {
        var before = RunOrt(model, inputs);
        var result = Convert(model, target);
        AssertExportedOpset(model, target);
        AssertClose(before, RunOrt(model, inputs));
        return result;
    }

    private static void AssertExportedOpset(Model model, long opset)
    {
        var proto = OnnxExporter.ToProto(model);
        Assert.Equal(opset, proto.OpsetImport.Single(o => o.Domain is "" or "ai.onnx").Version);
        Assert.True(proto.IrVersion >= OpsetConversion.MinIrVersion(opset), $"IR {proto.IrVersion} is too old for opset {opset}");
    }

    private static long[] ConstInts(Value? v) => Assert.IsType<Tensor>(v?.ConstantValue).ToInt64s();

    // ---------------------------------------------------------------------------------------------
    // Driver: when the pass runs at all, bookkeeping, pipeline position.
    // ---------------------------------------------------------------------------------------------

    [Fact]
    public void WithoutTargetOrAtTheSameOpset_NothingChanges()
    {
        var (m, g) = NewModel(11);
        var x = Input(g, "x", 2, 3);
        var n = g.AddNode("Unsqueeze", [x], ["y"], attributes: [IrAttribute.Of("axes", new long[] { 0 })]);
        Output(g, n);

        var none = new OpsetConversion().Run(m, new PassContext(new OptimizeOptions()));
        Assert.False(none.Changed);
        var same = new OpsetConversion().Run(m, new PassContext(new OptimizeOptions { TargetOpset = 11 }));
        Assert.False(same.Changed);
        Assert.Equal(11, m.DefaultOpset);
        Assert.NotNull(n.GetInts("axes"));
        Assert.Single(n.Inputs);
    }

    [Theory]
    [InlineData(22)]
    [InlineData(10)]
    public void TargetAboveSupportedOrBelowModel_Throws(long target)
    {
        var (m, g) = NewModel(11);
        var n = g.AddNode("Relu", [Input(g, "x", 2)], ["y"]);
        Output(g, n);
        ConvertFails(m, target);
        Assert.Equal(11, m.DefaultOpset);
    }

    [Fact]
    public void RaisesOpsetAndIrVersion_AndCountsNodes()
    {
        var (m, g) = NewModel(9, irVersion: 4);
        var x = Input(g, "x", 2, 3);
        var relu = g.AddNode("Relu", [x], ["r"]);
        var sq = g.AddNode("Unsqueeze", [relu.Output0], ["y"], attributes: [IrAttribute.Of("axes", new long[] { 0 })]);
        Output(g, sq);
        var result = Convert(m, 13);
        Assert.Equal(13, m.DefaultOpset);
        Assert.Equal(7, m.IrVersion);
        Assert.Equal(1, result["opset_raised"]);
        Assert.Equal(1, result["ops_bumped"]);
        Assert.Equal(1, result["nodes_rewritten"]);
        Assert.Equal(1, result["initializers_added"]);
        Assert.Equal(1, result["ir_version_raised"]);
    }

    [Fact]
    public void IrVersionIsNeverLowered()
    {
        var (m, g) = NewModel(9, irVersion: 9);
        Output(g, g.AddNode("Relu", [Input(g, "x", 2)], ["y"]));
        Convert(m, 11);
        Assert.Equal(9, m.IrVersion);
        Assert.Equal(11, m.DefaultOpset);
    }

    [Theory]
    [InlineData(7, 3)]
    [InlineData(9, 4)]
    [InlineData(10, 5)]
    [InlineData(11, 6)]
    [InlineData(12, 7)]
    [InlineData(14, 7)]
    [InlineData(15, 8)]
    [InlineData(18, 8)]
    [InlineData(19, 9)]
    [InlineData(20, 9)]
    [InlineData(21, 10)]
    public void MinIrVersionTable(long opset, long ir) => Assert.Equal(ir, OpsetConversion.MinIrVersion(opset));

    [Fact]
    public void AiOnnxDomainSpelling_IsConvertedAndImportUpdated()
    {
        var g = new Graph("main");
        var m = new Model(g) { IrVersion = 6 };
        m.Opsets.Add(new OpsetId("ai.onnx", 11));
        var x = Input(g, "x", 3);
        var n = g.AddNode("Unsqueeze", [x], ["y"], domain: "ai.onnx", attributes: [IrAttribute.Of("axes", new long[] { 1 })]);
        Output(g, n);
        Convert(m, 13);
        Assert.Single(m.Opsets);
        Assert.Equal(13, m.DefaultOpset);
        Assert.Equal([1L], ConstInts(n.Input(1)));
    }

    [Fact]
    public void IsFirstInThePipeline()
    {
        Assert.IsType<OpsetConversion>(OptimizationPipeline.DefaultPasses[0]);
        Assert.Contains("opset-conversion", OptimizationPipeline.PassNames);
    }

    [Fact]
    public void PipelineWithTargetOpset_ConvertsAndStaysValid()
    {
        var (m, g) = NewModel(11, irVersion: 6);
        var x = Input(g, "x", 2, 3);
        var un = g.AddNode("Unsqueeze", [x], ["u"], attributes: [IrAttribute.Of("axes", new long[] { 0 })]);
        var sm = g.AddNode("Softmax", [un.Output0], ["y"], attributes: [IrAttribute.Of("axis", 1L)]);
        Output(g, sm);
        var input = RandomTensor(1, 2, 3);
        var before = RunOrt(m, ("x", input));
        var report = OptimizationPipeline.Run(m, new OptimizeOptions { TargetOpset = 13 });
        Assert.Equal(13, m.DefaultOpset);
        Assert.Equal("opset-conversion", report.Passes[0].Name);
        Assert.Empty(GraphVerifier.Verify(m.Graph));
        AssertClose(before, RunOrt(m, ("x", input)));
    }

    // ---------------------------------------------------------------------------------------------
    // Unknown and unsupported operators.
    // ---------------------------------------------------------------------------------------------

    [Fact]
    public void UnknownDefaultDomainOp_ThrowsEB2002_AndLeavesModelUntouched()
    {
        var (m, g) = NewModel(9);
        var x = Input(g, "x", 2, 3);
        var un = g.AddNode("Unsqueeze", [x], ["u"], attributes: [IrAttribute.Of("axes", new long[] { 0 })]);
        var odd = g.AddNode("FancyNewOp", [un.Output0], ["y"]);
        Output(g, odd);
        var e = ConvertFails(m, 13);
        Assert.Equal("FancyNewOp", e.Subject);
        Assert.Contains("no rule to convert FancyNewOp from opset 9 to 13", e.Message);
        // Checked before anything was rewritten.
        Assert.Equal(9, m.DefaultOpset);
        Assert.NotNull(un.GetInts("axes"));
        Assert.Single(un.Inputs);
        Assert.Empty(g.Initializers);
    }

    [Fact]
    public void EmptyOpTypeIsEB2002WithASubject()
    {
        // Fuzz class (seed 15, mutant 68995): a bit flip left a node's op_type empty, and the error's subject with it.
        var (m, g) = NewModel(9);
        var odd = g.AddNode("", [Input(g, "x", 2, 3)], ["y"]);
        Output(g, odd);
        var e = ConvertFails(m, 13);
        Assert.Equal("(empty op type)", e.Subject);
        Assert.Contains("no rule to convert (empty op type) from opset 9 to 13", e.Message);
    }

    [Fact]
    public void UnknownOpInsideASubgraph_Throws()
    {
        var (m, g) = NewModel(11, irVersion: 6);
        var cond = g.AddInput("cond", new TensorType(DataType.Bool, Shape.Of()));
        var x = Input(g, "x", 3);
        var thenG = new Graph("then", g);
        var t = thenG.AddNode("ImageScaler", [x], ["t"]);
        thenG.AddOutput(t.Output0);
        var elseG = new Graph("else", g);
        var e = elseG.AddNode("Identity", [x], ["e"]);
        elseG.AddOutput(e.Output0);
        var iff = g.AddNode("If", [cond], ["y"], attributes:
        [
            new IrAttribute("then_branch", AttributeKind.Graph) { Graph = thenG },
            new IrAttribute("else_branch", AttributeKind.Graph) { Graph = elseG },
        ]);
        Output(g, iff);
        Assert.Equal("ImageScaler", ConvertFails(m, 13).Subject);
    }

    [Fact]
    public void CustomDomainOps_AreLeftAlone()
    {
        var (m, g) = NewModel(11, irVersion: 6);
        m.Opsets.Add(new OpsetId("com.example", 1));
        var x = Input(g, "x", 3);
        var custom = g.AddNode("Unsqueeze", [x], ["y"], domain: "com.example", attributes: [IrAttribute.Of("axes", new long[] { 0 })]);
        Output(g, custom);
        Convert(m, 13);
        Assert.NotNull(custom.GetInts("axes"));
        Assert.Single(custom.Inputs);
        Assert.Equal(1, m.OpsetVersion("com.example"));
    }

    [Theory]
    [InlineData("Tile", 1, "Tile-1")]
    [InlineData("Scan", 8, "Scan-8")]
    public void OpsWithoutExactRewrite_Throw(string op, long opset, string mention)
    {
        var (m, g) = NewModel(opset, irVersion: 3);
        var x = Input(g, "x", 3);
        Output(g, g.AddNode(op, [x], ["y"]));
        var e = ConvertFails(m, 13);
        Assert.Contains(mention, e.Message);
        Assert.Equal(opset, m.DefaultOpset);
    }

    // ---------------------------------------------------------------------------------------------
    // Upsample and Resize.
    // ---------------------------------------------------------------------------------------------

    [Fact]
    public void Upsample9Nearest_BecomesResize13_AndMatches()
    {
        var (m, g) = NewModel(9);
        var x = Input(g, "x", 1, 2, 3, 4);
        var scales = Floats(g, "scales", 1f, 1f, 2f, 1.5f);
        var up = g.AddNode("Upsample", [x, scales], ["y"], attributes: [IrAttribute.Of("mode", "nearest")]);
        Output(g, up);

        var result = ConvertAndCompare(m, 13, ("x", RandomTensor(2, 1, 2, 3, 4)));

        Assert.Equal("Resize", up.OpType);
        Assert.Same(x, up.Input(0));
        Assert.Null(up.Input(1)); // roi omitted
        Assert.Same(scales, up.Input(2));
        Assert.Equal(3, up.Inputs.Count);
        Assert.Equal("asymmetric", up.GetString("coordinate_transformation_mode"));
        Assert.Equal("nearest", up.GetString("mode"));
        Assert.Equal("floor", up.GetString("nearest_mode"));
        Assert.Equal(1, result["nodes_rewritten"]);
        // The temporary Resize-11 roi initializer does not linger.
        Assert.Single(g.Initializers);
    }

    [Fact]
    public void Upsample7LinearAttribute_BecomesResize13_AndMatches()
    {
        var (m, g) = NewModel(7, irVersion: 3);
        var x = Input(g, "x", 1, 1, 3, 4);
        var up = g.AddNode("Upsample", [x], ["y"], attributes: [IrAttribute.Of("mode", "linear"), IrAttribute.Of("scales", new[] { 1f, 1f, 2f, 2f })]);
        Output(g, up);

        ConvertAndCompare(m, 13, ("x", RandomTensor(3, 1, 1, 3, 4)));

        Assert.Equal("Resize", up.OpType);
        Assert.Null(up.GetAttribute("scales"));
        Assert.Equal([1f, 1f, 2f, 2f], Assert.IsType<Tensor>(up.Input(2)?.ConstantValue).ToFloats());
        Assert.Equal("linear", up.GetString("mode"));
        Assert.Null(up.GetAttribute("nearest_mode"));
    }

    [Fact]
    public void Upsample9WithRuntimeScales_BecomesResizeWithFloor_AndMatches()
    {
        var (m, g) = NewModel(9);
        var x = Input(g, "x", 1, 1, 2, 3);
        var scales = Input(g, "scales", 4);
        var up = g.AddNode("Upsample", [x, scales], ["y"]);
        Output(g, up);

        ConvertAndCompare(m, 13, ("x", RandomTensor(4, 1, 1, 2, 3)), ("scales", Tensor.FromFloats([4], [1f, 1f, 2.5f, 1.5f])));

        Assert.Equal("Resize", up.OpType);
        Assert.Same(scales, up.Input(2));
        Assert.Equal("floor", up.GetString("nearest_mode"));
    }

    [Theory]
    [InlineData(new[] { 1f, 1f, 0.6f, 0.6f }, "ceil")]
    [InlineData(new[] { 1f, 1f, 1.5f, 2f }, "floor")]
    public void Resize10Nearest_RoundsLikeOpset10_AndMatches(float[] scaleValues, string expectedMode)
    {
        var (m, g) = NewModel(10, irVersion: 5);
        var x = Input(g, "x", 1, 1, 2, 4);
        var scales = Floats(g, "scales", scaleValues);
        var rs = g.AddNode("Resize", [x, scales], ["y"], attributes: [IrAttribute.Of("mode", "nearest")]);
        Output(g, rs);

        ConvertAndCompare(m, 13, ("x", Tensor.FromFloats([1, 1, 2, 4], [1, 2, 3, 4, 5, 6, 7, 8])));

        Assert.Equal(expectedMode, rs.GetString("nearest_mode"));
        Assert.Equal("asymmetric", rs.GetString("coordinate_transformation_mode"));
    }

    [Fact]
    public void Resize10ToOpset11_KeepsAnEmptyRoi()
    {
        var (m, g) = NewModel(10, irVersion: 5);
        var x = Input(g, "x", 1, 1, 2, 2);
        var rs = g.AddNode("Resize", [x, Floats(g, "scales", 1f, 1f, 2f, 2f)], ["y"], attributes: [IrAttribute.Of("mode", "linear")]);
        Output(g, rs);
        ConvertAndCompare(m, 11, ("x", RandomTensor(5, 1, 1, 2, 2)));
        Assert.Equal(0, Assert.IsType<Tensor>(rs.Input(1)?.ConstantValue).ElementCount);
    }

    [Fact]
    public void Resize10NearestWithMixedOrRuntimeScales_Throws()
    {
        var (m, g) = NewModel(10, irVersion: 5);
        var x = Input(g, "x", 1, 1, 2, 4);
        Output(g, g.AddNode("Resize", [x, Floats(g, "s", 1f, 1f, 2f, 0.5f)], ["y"]));
        Assert.Contains("shrinks", ConvertFails(m, 13).Message);

        var (m2, g2) = NewModel(10, irVersion: 5);
        var x2 = Input(g2, "x", 1, 1, 2, 4);
        Output(g2, g2.AddNode("Resize", [x2, Input(g2, "s", 4)], ["y"]));
        Assert.Contains("run time", ConvertFails(m2, 13).Message);
    }

    [Fact]
    public void DeprecatedUpsampleInAnOpset10Model_BecomesResize13_AndMatches()
    {
        var (m, g) = NewModel(10, irVersion: 5);
        var x = Input(g, "x", 1, 1, 2, 3);
        var up = g.AddNode("Upsample", [x, Floats(g, "scales", 1f, 1f, 2f, 2f)], ["y"]);
        Output(g, up);
        Convert(m, 13);
        Assert.Equal("Resize", up.OpType);
        Assert.Equal("floor", up.GetString("nearest_mode"));
        Assert.Equal("asymmetric", up.GetString("coordinate_transformation_mode"));

        // Upsample x2 nearest (floor) repeats each element twice along the last two axes.
        var input = RandomTensor(28, 1, 1, 2, 3);
        var y = RunOrt(m, ("x", input))[0];
        Assert.Equal([1L, 1, 4, 6], y.Dims);
        var xs = input.ToFloats();
        var ys = y.ToFloats();
        for (int r = 0; r < 4; r++)
            for (int col = 0; col < 6; col++)
                Assert.Equal(xs[r / 2 * 3 + col / 2], ys[r * 6 + col]);
    }

    [Fact]
    public void DeprecatedScatterInAnOpset11Model_BecomesScatterElements()
    {
        var (m, g) = NewModel(11, irVersion: 6);
        var data = Input(g, "data", 2, 2);
        var sc = g.AddNode("Scatter", [data, g.AddInitializer("i", Tensor.FromInt64s([1, 2], [1, 0])), Floats(g, "u", 5, 6)], ["y"]);
        Output(g, sc);
        Convert(m, 13);
        Assert.Equal("ScatterElements", sc.OpType);
    }

    [Theory]
    [InlineData("floor", "round_prefer_ceil")]
    [InlineData(null, "ceil")]
    public void Resize11TfHalfPixelForNn_BecomesHalfPixel_AndMatches(string? nearestMode, string expected)
    {
        foreach (var scaleValues in new[] { new[] { 1f, 1f, 1.5f, 2.5f }, new[] { 1f, 1f, 0.6f, 0.75f } })
        {
            var (m, g) = NewModel(11, irVersion: 6);
            var x = Input(g, "x", 1, 1, 4, 4);
            var attributes = new List<IrAttribute> { IrAttribute.Of("mode", "nearest"), IrAttribute.Of("coordinate_transformation_mode", "tf_half_pixel_for_nn") };
            if (nearestMode is not null) attributes.Add(IrAttribute.Of("nearest_mode", nearestMode));
            var rs = g.AddNode("Resize", [x, g.AddInitializer("roi", Tensor.FromFloats([0], [])), Floats(g, "scales", scaleValues)], ["y"], attributes: attributes);
            Output(g, rs);

            ConvertAndCompare(m, 13, ("x", RandomTensor(29, 1, 1, 4, 4)));

            Assert.Equal("half_pixel", rs.GetString("coordinate_transformation_mode"));
            Assert.Equal(expected, rs.GetString("nearest_mode"));
            Assert.Null(rs.Input(1));
        }
    }

    [Fact]
    public void Resize11TfHalfPixelForNnWithOtherRounding_Throws()
    {
        var (m, g) = NewModel(11, irVersion: 6);
        var x = Input(g, "x", 1, 1, 4, 4);
        var rs = g.AddNode("Resize", [x, g.AddInitializer("roi", Tensor.FromFloats([0], [])), Floats(g, "scales", 1f, 1f, 2f, 2f)], ["y"], attributes:
            [IrAttribute.Of("coordinate_transformation_mode", "tf_half_pixel_for_nn"), IrAttribute.Of("nearest_mode", "round_prefer_ceil")]);
        Output(g, rs);
        Assert.Contains("tf_half_pixel_for_nn", ConvertFails(m, 13).Message);
    }

    [Fact]
    public void LocalFunctionAtTheOldOpset_OrTrainingInfo_Throws()
    {
        var (m, g) = NewModel(11, irVersion: 7);
        Output(g, g.AddNode("Relu", [Input(g, "x", 2)], ["y"]));
        var function = new EdgeBuild.Onnx.Proto.FunctionProto { Name = "F", Domain = "custom" };
        function.OpsetImport.Add(new EdgeBuild.Onnx.Proto.OperatorSetIdProto { Domain = "", Version = 11 });
        function.Input.Add("a");
        function.Output.Add("b");
        function.Node.Add(new EdgeBuild.Onnx.Proto.NodeProto { OpType = "Relu", Input = { "a" }, Output = { "b" } });
        m.Functions.Add(new OpaqueFunction("custom", "F", null, Google.Protobuf.MessageExtensions.ToByteArray(function)));
        Assert.Contains("function", ConvertFails(m, 13).Message);
        Assert.Equal(11, m.DefaultOpset);

        var (m2, g2) = NewModel(11, irVersion: 7);
        Output(g2, g2.AddNode("Relu", [Input(g2, "x", 2)], ["y"]));
        m2.TrainingInfo.Add([]);
        Assert.Contains("training info", ConvertFails(m2, 13).Message);
    }

    // ---------------------------------------------------------------------------------------------
    // Attributes that became inputs.
    // ---------------------------------------------------------------------------------------------

    [Fact]
    public void Slice9Attributes_BecomeInputs_AndMatch()
    {
        var (m, g) = NewModel(9);
        var x = Input(g, "x", 3, 4, 5);
        var sl = g.AddNode("Slice", [x], ["y"], attributes:
        [
            IrAttribute.Of("starts", new long[] { 1, 0 }),
            IrAttribute.Of("ends", new long[] { 3, -1 }),
            IrAttribute.Of("axes", new long[] { 0, 2 }),
        ]);
        Output(g, sl);
        var noAxes = g.AddNode("Slice", [x], ["z"], attributes: [IrAttribute.Of("starts", new long[] { 1 }), IrAttribute.Of("ends", new long[] { long.MaxValue })]);
        Output(g, noAxes);

        ConvertAndCompare(m, 13, ("x", RandomTensor(6, 3, 4, 5)));

        Assert.Empty(sl.Attributes);
        Assert.Equal([1L, 0], ConstInts(sl.Input(1)));
        Assert.Equal([3L, -1], ConstInts(sl.Input(2)));
        Assert.Equal([0L, 2], ConstInts(sl.Input(3)));
        Assert.Equal(DataType.Int64, sl.Input(1)!.ConstantValue!.ElementType);
        Assert.Equal(3, noAxes.Inputs.Count);
    }

    [Fact]
    public void SqueezeUnsqueeze11_AxesBecomeInputs_AndMatch()
    {
        var (m, g) = NewModel(11, irVersion: 6);
        var x = Input(g, "x", 3, 1, 4);
        var sq = g.AddNode("Squeeze", [x], ["s"], attributes: [IrAttribute.Of("axes", new long[] { 1 })]);
        var un = g.AddNode("Unsqueeze", [sq.Output0], ["u"], attributes: [IrAttribute.Of("axes", new long[] { 0, -1 })]);
        var all = g.AddNode("Squeeze", [un.Output0], ["y"]);
        Output(g, un);
        Output(g, all);

        ConvertAndCompare(m, 13, ("x", RandomTensor(7, 3, 1, 4)));

        Assert.Null(sq.GetAttribute("axes"));
        Assert.Equal([1L], ConstInts(sq.Input(1)));
        Assert.Null(un.GetAttribute("axes"));
        Assert.Equal([0L, -1], ConstInts(un.Input(1)));
        Assert.Single(all.Inputs); // no axes: still "all size-1 axes"
    }

    [Fact]
    public void ReduceSumTo13_AndReduceMeanTo18_AxesBecomeInputs_AndMatch()
    {
        var (m, g) = NewModel(11, irVersion: 6);
        var x = Input(g, "x", 2, 3, 4);
        var sum = g.AddNode("ReduceSum", [x], ["s"], attributes: [IrAttribute.Of("axes", new long[] { 1 }), IrAttribute.Of("keepdims", 0L)]);
        var mean = g.AddNode("ReduceMean", [x], ["mn"], attributes: [IrAttribute.Of("axes", new long[] { -1, 0 })]);
        var max = g.AddNode("ReduceMax", [x], ["mx"]);
        Output(g, sum);
        Output(g, mean);
        Output(g, max);

        ConvertAndCompare(m, 18, ("x", RandomTensor(8, 2, 3, 4)));

        Assert.Equal([1L], ConstInts(sum.Input(1)));
        Assert.Equal(0, sum.GetInt("keepdims", 1));
        Assert.Equal([-1L, 0], ConstInts(mean.Input(1)));
        Assert.Single(max.Inputs);
        Assert.Equal(8, m.IrVersion);
    }

    [Fact]
    public void ReduceMeanStaysAnAttributeUpTo17()
    {
        var (m, g) = NewModel(11, irVersion: 6);
        var x = Input(g, "x", 2, 3);
        var mean = g.AddNode("ReduceMean", [x], ["y"], attributes: [IrAttribute.Of("axes", new long[] { 1 })]);
        Output(g, mean);
        ConvertAndCompare(m, 17, ("x", RandomTensor(9, 2, 3)));
        Assert.Equal([1L], mean.GetInts("axes")!);
        Assert.Single(mean.Inputs);
    }

    [Fact]
    public void Split11_To13AndTo18_AndMatch()
    {
        foreach (long target in new long[] { 13, 18 })
        {
            var (m, g) = NewModel(11, irVersion: 6);
            var x = Input(g, "x", 6, 4);
            var sized = g.AddNode("Split", [x], ["a", "b"], attributes: [IrAttribute.Of("axis", 0L), IrAttribute.Of("split", new long[] { 2, 4 })]);
            var even = g.AddNode("Split", [x], ["c", "d", "e"], attributes: [IrAttribute.Of("axis", 0L)]);
            foreach (var i in new[] { 0, 1 }) Output(g, sized, i);
            foreach (var i in new[] { 0, 1, 2 }) Output(g, even, i);

            ConvertAndCompare(m, target, ("x", RandomTensor(10, 6, 4)));

            Assert.Equal([2L, 4], ConstInts(sized.Input(1)));
            Assert.Null(sized.GetAttribute("split"));
            Assert.Null(sized.GetAttribute("num_outputs"));
            Assert.Single(even.Inputs);
            if (target >= 18) Assert.Equal(3, even.GetInt("num_outputs", 0));
            else Assert.Null(even.GetAttribute("num_outputs"));
        }
    }

    [Fact]
    public void TopK1_KBecomesInput_AndMatches()
    {
        var (m, g) = NewModel(9);
        var x = Input(g, "x", 3, 5);
        var top = g.AddNode("TopK", [x], ["values", "indices"], attributes: [IrAttribute.Of("k", 2L)]);
        Output(g, top, 0);
        Output(g, top, 1, DataType.Int64);

        ConvertAndCompare(m, 13, ("x", RandomTensor(11, 3, 5)));

        Assert.Null(top.GetAttribute("k"));
        Assert.Equal([2L], ConstInts(top.Input(1)));
    }

    [Fact]
    public void Clip6_BoundsBecomeInputs_AndMatch()
    {
        var (m, g) = NewModel(9);
        var x = Input(g, "x", 4, 5);
        var both = g.AddNode("Clip", [x], ["both"], attributes: [IrAttribute.Of("min", -0.5f), IrAttribute.Of("max", 0.7f)]);
        var minOnly = g.AddNode("Clip", [x], ["lo"], attributes: [IrAttribute.Of("min", -0.25f)]);
        var maxOnly = g.AddNode("Clip", [x], ["hi"], attributes: [IrAttribute.Of("max", 0.3f)]);
        var neither = g.AddNode("Clip", [x], ["none"]);
        foreach (var n in new[] { both, minOnly, maxOnly, neither }) Output(g, n);

        ConvertAndCompare(m, 13, ("x", RandomTensor(12, 4, 5)));

        Assert.Equal([-0.5f], both.Input(1)!.ConstantValue!.ToFloats());
        Assert.Equal([0.7f], both.Input(2)!.ConstantValue!.ToFloats());
        Assert.Equal(DataType.Float, both.Input(1)!.ConstantValue!.ElementType);
        Assert.Empty(both.Input(1)!.ConstantValue!.Dims);
        Assert.Equal(2, minOnly.Inputs.Count);
        Assert.Null(maxOnly.Input(1));
        Assert.Equal([0.3f], maxOnly.Input(2)!.ConstantValue!.ToFloats());
        Assert.Single(neither.Inputs);
        Assert.All(new[] { both, minOnly, maxOnly, neither }, n => Assert.Empty(n.Attributes));
    }

    [Fact]
    public void Pad2_AttributesBecomeInputs_AndMatch()
    {
        var (m, g) = NewModel(9);
        var x = Input(g, "x", 1, 2, 3, 3);
        var pads = new long[] { 0, 0, 1, 2, 0, 0, 2, 1 };
        var constant = g.AddNode("Pad", [x], ["c"], attributes: [IrAttribute.Of("pads", pads), IrAttribute.Of("value", 1.5f)]);
        var zero = g.AddNode("Pad", [x], ["z"], attributes: [IrAttribute.Of("pads", pads), IrAttribute.Of("mode", "constant")]);
        var reflect = g.AddNode("Pad", [x], ["r"], attributes: [IrAttribute.Of("pads", pads), IrAttribute.Of("mode", "reflect")]);
        var edge = g.AddNode("Pad", [x], ["e"], attributes: [IrAttribute.Of("pads", pads), IrAttribute.Of("mode", "edge"), IrAttribute.Of("value", 3f)]);
        foreach (var n in new[] { constant, zero, reflect, edge }) Output(g, n);

        ConvertAndCompare(m, 13, ("x", RandomTensor(13, 1, 2, 3, 3)));

        Assert.Equal(pads, ConstInts(constant.Input(1)));
        Assert.Equal([1.5f], constant.Input(2)!.ConstantValue!.ToFloats());
        Assert.Equal(DataType.Float, constant.Input(2)!.ConstantValue!.ElementType);
        Assert.Equal(2, zero.Inputs.Count);
        Assert.Equal("reflect", reflect.GetString("mode"));
        Assert.Equal(2, edge.Inputs.Count);
        Assert.All(new[] { constant, zero, reflect }, n => Assert.Null(n.GetAttribute("pads")));
    }

    [Fact]
    public void Pad2_NonZeroValueWithUnknownElementType_Throws()
    {
        var (m, g) = NewModel(9);
        var x = g.AddInput("x", null);
        Output(g, g.AddNode("Pad", [x], ["y"], attributes: [IrAttribute.Of("pads", new long[] { 1, 1 }), IrAttribute.Of("value", 2f)]));
        Assert.Contains("unknown", ConvertFails(m, 13).Message);
    }

    [Fact]
    public void Pad2_ZeroValueWithUnknownElementType_NeedsNoValueInput()
    {
        var (m, g) = NewModel(9);
        var x = g.AddInput("x", null);
        var pad = g.AddNode("Pad", [x], ["y"], attributes: [IrAttribute.Of("pads", new long[] { 1, 1 })]);
        Output(g, pad);
        Convert(m, 13);
        Assert.Equal(2, pad.Inputs.Count);
    }

    [Fact]
    public void Pad1_PaddingsAttribute_IsRenamedThenMoved()
    {
        var (m, g) = NewModel(1, irVersion: 3);
        var x = Input(g, "x", 2, 2);
        var pad = g.AddNode("Pad", [x], ["y"], attributes: [IrAttribute.Of("paddings", new long[] { 1, 0, 0, 1 })]);
        Output(g, pad);
        Convert(m, 13);
        Assert.Equal([1L, 0, 0, 1], ConstInts(pad.Input(1)));
        Assert.Empty(pad.Attributes);
    }

    // ---------------------------------------------------------------------------------------------
    // Softmax family.
    // ---------------------------------------------------------------------------------------------

    [Fact]
    public void Softmax11Axis1_IsRewrittenWithFlatten_AndMatches()
    {
        var (m, g) = NewModel(11, irVersion: 6);
        var x = Input(g, "x", 2, 3, 4);
        var sm = g.AddNode("Softmax", [x], ["y"], attributes: [IrAttribute.Of("axis", 1L)]);
        Output(g, sm);
        var input = RandomTensor(14, 2, 3, 4);

        var result = ConvertAndCompare(m, 13, ("x", input));

        // The old node now reshapes the 2-D softmax back; its output (a graph output) keeps its name.
        Assert.Equal("Reshape", sm.OpType);
        Assert.Equal("y", sm.Output0.Name);
        Assert.Same(sm.Output0, g.Outputs[0]);
        var inner = Assert.IsType<Node>(sm.Input(0)?.Producer);
        Assert.Equal("Softmax", inner.OpType);
        Assert.Equal(-1, inner.GetInt("axis", 0));
        var flatten = Assert.IsType<Node>(inner.Input(0)?.Producer);
        Assert.Equal("Flatten", flatten.OpType);
        Assert.Equal(1, flatten.GetInt("axis", 0));
        Assert.Same(x, flatten.Input(0));
        var shape = Assert.IsType<Node>(sm.Input(1)?.Producer);
        Assert.Equal("Shape", shape.OpType);
        Assert.Same(x, shape.Input(0));
        Assert.Equal(3, result["nodes_added"]);

        // Independent check of the old semantics: each of the 2 rows of 12 sums to 1.
        var y = RunOrt(m, ("x", input))[0].ToFloats();
        var xs = input.ToFloats();
        for (int row = 0; row < 2; row++)
        {
            var slice = xs.Skip(row * 12).Take(12).ToArray();
            double max = slice.Max();
            double denom = slice.Sum(v => Math.Exp(v - max));
            for (int k = 0; k < 12; k++) Assert.Equal(Math.Exp(slice[k] - max) / denom, y[row * 12 + k], 5);
        }
        // ...which is not what a per-axis softmax at axis 1 gives (so a lazy conversion would fail above).
        double perAxis = Math.Exp(xs[0]) / (Math.Exp(xs[0]) + Math.Exp(xs[4]) + Math.Exp(xs[8]));
        Assert.True(Math.Abs(perAxis - y[0]) > 1e-3);
    }

    [Theory]
    [InlineData("LogSoftmax")]
    [InlineData("Hardmax")]
    public void SoftmaxFamilyAxis0_IsRewritten_AndMatches(string op)
    {
        var (m, g) = NewModel(11, irVersion: 6);
        var x = Input(g, "x", 2, 3, 4);
        var node = g.AddNode(op, [x], ["y"], attributes: [IrAttribute.Of("axis", 0L)]);
        var relu = g.AddNode("Abs", [node.Output0], ["z"]);
        Output(g, relu);

        ConvertAndCompare(m, 13, ("x", RandomTensor(15, 2, 3, 4)));

        Assert.Equal("Reshape", node.OpType);
        var inner = Assert.IsType<Node>(node.Input(0)?.Producer);
        Assert.Equal(op, inner.OpType);
        Assert.Equal(-1, inner.GetInt("axis", 0));
        Assert.Equal(0, Assert.IsType<Node>(inner.Input(0)?.Producer).GetInt("axis", -5));
    }

    [Fact]
    public void SoftmaxOnLastAxis_OnlySetsAxis()
    {
        var (m, g) = NewModel(11, irVersion: 6);
        var x = Input(g, "x", 2, 3, 4);
        var last = g.AddNode("Softmax", [x], ["a"], attributes: [IrAttribute.Of("axis", 2L)]);
        var minusOne = g.AddNode("LogSoftmax", [x], ["b"], attributes: [IrAttribute.Of("axis", -1L)]);
        var trailingOnes = Input(g, "t", 2, 3, 1, 1);
        var channel = g.AddNode("Softmax", [trailingOnes], ["c"]);
        foreach (var n in new[] { last, minusOne, channel }) Output(g, n);

        var result = ConvertAndCompare(m, 13, ("x", RandomTensor(16, 2, 3, 4)), ("t", RandomTensor(17, 2, 3, 1, 1)));

        Assert.Equal(3, g.Nodes.Count);
        Assert.Equal(0, result["nodes_added"]);
        Assert.Equal(-1, last.GetInt("axis", 0));
        Assert.Equal(-1, minusOne.GetInt("axis", 0));
        Assert.Equal(1, channel.GetInt("axis", 0)); // flattening [2,3,1,1] at 1 is softmax over axis 1
        Assert.Equal("Softmax", channel.OpType);
    }

    [Fact]
    public void SoftmaxRankKnownOnlyByShapeInference_IsRewritten_AndMatches()
    {
        var (m, g) = NewModel(11, irVersion: 6);
        var x = Input(g, "x", 2, 3, 4);
        var relu = g.AddNode("Relu", [x], ["r"]);
        var un = g.AddNode("Unsqueeze", [relu.Output0], ["u"], attributes: [IrAttribute.Of("axes", new long[] { 0 })]);
        var sm = g.AddNode("Softmax", [un.Output0], ["y"], attributes: [IrAttribute.Of("axis", 2L)]);
        Output(g, sm);
        Assert.Null(un.Output0.Type);

        ConvertAndCompare(m, 13, ("x", RandomTensor(27, 2, 3, 4)));

        Assert.Equal("Reshape", sm.OpType);
        Assert.Equal(2, Assert.IsType<Node>(Assert.IsType<Node>(sm.Input(0)?.Producer).Input(0)?.Producer).GetInt("axis", 0));
    }

    [Fact]
    public void SoftmaxOnLastAxisOfUnknownRank_IsFine_OtherAxisThrows()
    {
        var (m, g) = NewModel(11, irVersion: 6);
        var x = g.AddInput("x", new TensorType(DataType.Float, null));
        var sm = g.AddNode("Softmax", [x], ["y"], attributes: [IrAttribute.Of("axis", -1L)]);
        Output(g, sm);
        Convert(m, 13);
        Assert.Equal(-1, sm.GetInt("axis", 0));

        var (m2, g2) = NewModel(11, irVersion: 6);
        var x2 = g2.AddInput("x", new TensorType(DataType.Float, null));
        Output(g2, g2.AddNode("Softmax", [x2], ["y"])); // default axis 1
        Assert.Contains("rank", ConvertFails(m2, 13).Message);
    }

    // ---------------------------------------------------------------------------------------------
    // Subgraphs.
    // ---------------------------------------------------------------------------------------------

    [Fact]
    public void LoopBody_IsConvertedToo_AndMatches()
    {
        var (m, g) = NewModel(11, irVersion: 6);
        var x = Input(g, "x", 3);
        var one = Floats(g, "one", 1f, 1f, 1f);
        var trips = g.AddInitializer("trips", Tensor.FromInt64s([], [4]));
        var keepGoing = g.AddInitializer("keep_going", Tensor.FromRaw(DataType.Bool, [], [1]));

        var body = new Graph("body", g);
        body.AddInput("i", new TensorType(DataType.Int64, Shape.Of()));
        var condIn = body.AddInput("cond_in", new TensorType(DataType.Bool, Shape.Of()));
        var vIn = body.AddInput("v_in", new TensorType(DataType.Float, Shape.Of(3)));
        var un = body.AddNode("Unsqueeze", [vIn], ["u"], attributes: [IrAttribute.Of("axes", new long[] { 0 })]);
        var sum = body.AddNode("ReduceSum", [un.Output0], ["r"], attributes: [IrAttribute.Of("axes", new long[] { 0 }), IrAttribute.Of("keepdims", 0L)]);
        var add = body.AddNode("Add", [sum.Output0, one], ["v_out"]);
        var condOut = body.AddNode("Identity", [condIn], ["cond_out"]);
        condOut.Output0.Type = new TensorType(DataType.Bool, Shape.Of());
        add.Output0.Type = new TensorType(DataType.Float, Shape.Of(3));
        body.AddOutput(condOut.Output0);
        body.AddOutput(add.Output0);

        var loop = g.AddNode("Loop", [trips, keepGoing, x], ["v_final"], attributes: [new IrAttribute("body", AttributeKind.Graph) { Graph = body }]);
        Output(g, loop);

        var result = ConvertAndCompare(m, 13, ("x", RandomTensor(18, 3)));

        Assert.Null(un.GetAttribute("axes"));
        var axes = Assert.IsType<Value>(un.Input(1));
        Assert.Same(body, axes.Graph);
        Assert.Equal([0L], ConstInts(axes));
        Assert.Equal([0L], ConstInts(sum.Input(1)));
        Assert.Equal(2, result["nodes_rewritten"]);
        Assert.Equal(13, m.DefaultOpset);
    }

    [Fact]
    public void IfBranches_AreConvertedToo_AndMatch()
    {
        var (m, g) = NewModel(11, irVersion: 6);
        var cond = g.AddInput("cond", new TensorType(DataType.Bool, Shape.Of()));
        var x = Input(g, "x", 3);

        var thenG = new Graph("then", g);
        var tu = thenG.AddNode("Unsqueeze", [x], ["t"], attributes: [IrAttribute.Of("axes", new long[] { 0 })]);
        tu.Output0.Type = new TensorType(DataType.Float, Shape.Of(1, 3));
        thenG.AddOutput(tu.Output0);

        var elseG = new Graph("else", g);
        var neg = elseG.AddNode("Neg", [x], ["n"]);
        var eu = elseG.AddNode("Unsqueeze", [neg.Output0], ["e"], attributes: [IrAttribute.Of("axes", new long[] { -2 })]);
        eu.Output0.Type = new TensorType(DataType.Float, Shape.Of(1, 3));
        elseG.AddOutput(eu.Output0);

        var iff = g.AddNode("If", [cond], ["y"], attributes:
        [
            new IrAttribute("then_branch", AttributeKind.Graph) { Graph = thenG },
            new IrAttribute("else_branch", AttributeKind.Graph) { Graph = elseG },
        ]);
        Output(g, iff);

        var input = RandomTensor(19, 3);
        var yes = Tensor.FromRaw(DataType.Bool, [], [1]);
        var no = Tensor.FromRaw(DataType.Bool, [], [0]);
        var thenBefore = RunOrt(m, ("cond", yes), ("x", input));
        var elseBefore = RunOrt(m, ("cond", no), ("x", input));
        Convert(m, 13);
        AssertExportedOpset(m, 13);
        AssertClose(thenBefore, RunOrt(m, ("cond", yes), ("x", input)));
        AssertClose(elseBefore, RunOrt(m, ("cond", no), ("x", input)));

        Assert.Equal([0L], ConstInts(tu.Input(1)));
        Assert.Same(thenG, tu.Input(1)!.Graph);
        Assert.Equal([-2L], ConstInts(eu.Input(1)));
        Assert.Same(elseG, eu.Input(1)!.Graph);
    }

    // ---------------------------------------------------------------------------------------------
    // BatchNormalization, Dropout, legacy attributes.
    // ---------------------------------------------------------------------------------------------

    private static (Model, Graph, Node) BatchNormModel(long opset, int outputs, params IrAttribute[] attributes)
    {
        var (m, g) = NewModel(opset, irVersion: 3);
        var x = Input(g, "x", 2, 3, 2, 2);
        var scale = Floats(g, "scale", 1f, 0.5f, 2f);
        var bias = Floats(g, "bias", 0f, 0.1f, -0.2f);
        var mean = Floats(g, "mean", 0.1f, -0.3f, 0.2f);
        var variance = Floats(g, "var", 1f, 0.25f, 4f);
        var names = Enumerable.Range(0, outputs).Select(i => i == 0 ? "y" : $"stat{i}").ToArray();
        var bn = g.AddNode("BatchNormalization", [x, scale, bias, mean, variance], names, attributes: attributes);
        Output(g, bn);
        return (m, g, bn);
    }

    [Fact]
    public void BatchNorm7Spatial_IsDropped_AndMatches()
    {
        var (m, _, bn) = BatchNormModel(7, 1, IrAttribute.Of("spatial", 1L), IrAttribute.Of("epsilon", 1e-3f));
        ConvertAndCompare(m, 13, ("x", RandomTensor(20, 2, 3, 2, 2)));
        Assert.Null(bn.GetAttribute("spatial"));
        Assert.Equal(1e-3f, bn.GetFloat("epsilon", 0));
    }

    [Fact]
    public void BatchNorm6WithUnusedTrainingOutputs_LosesThem()
    {
        var (m, g, bn) = BatchNormModel(6, 5, IrAttribute.Of("is_test", 1L), IrAttribute.Of("consumed_inputs", new long[] { 0, 0, 0, 1, 1 }));
        var warnings = new List<string>();
        Convert(m, 15, warnings);
        var now = Assert.Single(g.Nodes);
        Assert.Equal("BatchNormalization", now.OpType);
        Assert.Single(now.Outputs);
        Assert.Equal("y", now.Output0.Name);
        Assert.Same(now.Output0, g.Outputs[0]);
        Assert.Empty(now.Attributes);
        Assert.Null(g.LookupLocal("stat1"));
        Assert.Empty(warnings); // is_test=1: it was inference all along
        Assert.Null(bn.Graph);
    }

    [Fact]
    public void BatchNorm9WithDeclaredTrainingOutputs_WarnsAndConvertsForInference()
    {
        var (m, g, _) = BatchNormModel(9, 5);
        var consumer = g.AddNode("Relu", [g.LookupLocal("y")], ["r"]);
        g.ReplaceOutput(g.Outputs[0], consumer.Output0);
        var warnings = new List<string>();
        Convert(m, 14, warnings);
        var bn = g.Nodes.Single(n => n.OpType == "BatchNormalization");
        Assert.Single(bn.Outputs);
        Assert.Same(bn.Output0, consumer.Input(0));
        Assert.Equal("y", bn.Output0.Name);
        Assert.Contains(warnings, w => w.Contains("training outputs"));
    }

    [Fact]
    public void BatchNormWithUsedTrainingOutputOrSpatial0_Throws()
    {
        var (m, g, bn) = BatchNormModel(7, 3);
        Output(g, bn, 1);
        Assert.Contains("training output", ConvertFails(m, 13).Message);

        var (m2, _, _) = BatchNormModel(7, 1, IrAttribute.Of("spatial", 0L));
        Assert.Contains("spatial", ConvertFails(m2, 13).Message);
    }

    [Fact]
    public void Dropout7_BecomesIdentity_AndMatches()
    {
        var (m, g) = NewModel(7, irVersion: 3);
        var x = Input(g, "x", 2, 3);
        var drop = g.AddNode("Dropout", [x], ["y", "mask"], attributes: [IrAttribute.Of("ratio", 0.3f)]);
        Output(g, drop);

        ConvertAndCompare(m, 13, ("x", RandomTensor(21, 2, 3)));

        var id = Assert.Single(g.Nodes);
        Assert.Equal("Identity", id.OpType);
        Assert.Empty(id.Attributes);
        Assert.Single(id.Outputs);
        Assert.Equal("y", id.Output0.Name);
    }

    [Fact]
    public void DropoutWithUsedMask_Throws()
    {
        var (m, g) = NewModel(7, irVersion: 3);
        var drop = g.AddNode("Dropout", [Input(g, "x", 2)], ["y", "mask"]);
        Output(g, drop);
        Output(g, drop, 1, DataType.Bool);
        Assert.Contains("mask", ConvertFails(m, 13).Message);
    }

    [Fact]
    public void LegacyBroadcast_IsDroppedWhenNumpyAgrees_AndMatches()
    {
        var (m, g) = NewModel(6, irVersion: 3);
        var a = Input(g, "a", 2, 3, 4);
        var b = Input(g, "b", 3, 4);
        var c = Input(g, "c", 4);
        var add = g.AddNode("Add", [a, b], ["s"], attributes: [IrAttribute.Of("broadcast", 1L), IrAttribute.Of("axis", 1L)]);
        var mul = g.AddNode("Mul", [add.Output0, c], ["y"], attributes: [IrAttribute.Of("broadcast", 1L), IrAttribute.Of("consumed_inputs", new long[] { 0, 0 })]);
        Output(g, mul);
        Convert(m, 13);
        Assert.Empty(add.Attributes);
        Assert.Empty(mul.Attributes);

        // ORT cannot run opset 6; check the numpy semantics of the result directly.
        var ta = RandomTensor(22, 2, 3, 4);
        var tb = RandomTensor(23, 3, 4);
        var tc = RandomTensor(24, 4);
        var y = RunOrt(m, ("a", ta), ("b", tb), ("c", tc))[0].ToFloats();
        var fa = ta.ToFloats();
        var fb = tb.ToFloats();
        var fc = tc.ToFloats();
        for (int i = 0; i < 24; i++) Assert.Equal((fa[i] + fb[i % 12]) * fc[i % 4], y[i], 5);
    }

    [Fact]
    public void LegacyBroadcastAlongAMiddleAxis_Throws()
    {
        var (m, g) = NewModel(6, irVersion: 3);
        var add = g.AddNode("Add", [Input(g, "a", 2, 3, 4), Input(g, "b", 3)], ["y"], attributes: [IrAttribute.Of("broadcast", 1L), IrAttribute.Of("axis", 1L)]);
        Output(g, add);
        Assert.Contains("numpy", ConvertFails(m, 13).Message);

        var (m2, g2) = NewModel(6, irVersion: 3);
        var sub = g2.AddNode("Sub", [g2.AddInput("a", null), g2.AddInput("b", null)], ["y"], attributes: [IrAttribute.Of("broadcast", 1L), IrAttribute.Of("axis", 0L)]);
        Output(g2, sub);
        Assert.Contains("ranks", ConvertFails(m2, 13).Message);
    }

    [Fact]
    public void OldAttributes_GemmConcatCastReshapeRelu_AreModernized()
    {
        var (m, g) = NewModel(1, irVersion: 3);
        var a = Input(g, "a", 2, 3);
        var w = g.AddInitializer("w", Tensor.FromFloats([3, 4], new float[12]));
        var bias = Floats(g, "bias", 1, 2, 3, 4);
        var gemm = g.AddNode("Gemm", [a, w, bias], ["g"], attributes: [IrAttribute.Of("broadcast", 1L)]);
        var relu = g.AddNode("Relu", [gemm.Output0], ["r"], attributes: [IrAttribute.Of("consumed_inputs", new long[] { 0 })]);
        var concat = g.AddNode("Concat", [relu.Output0, relu.Output0], ["c"]);
        var cast = g.AddNode("Cast", [concat.Output0], ["k"], attributes: [IrAttribute.Of("to", "DOUBLE")]);
        var reshape = g.AddNode("Reshape", [cast.Output0], ["y"], attributes: [IrAttribute.Of("shape", new long[] { 4, -1 })]);
        Output(g, reshape, 0, DataType.Double);

        var result = Convert(m, 13);

        Assert.Empty(gemm.Attributes);
        Assert.Empty(relu.Attributes);
        Assert.Equal(1, concat.GetInt("axis", -1));
        Assert.Equal((long)DataType.Double, cast.GetInt("to", 0));
        Assert.Equal([4L, -1], ConstInts(reshape.Input(1)));
        Assert.Null(reshape.GetAttribute("shape"));
        Assert.Equal(5, result["nodes_rewritten"]);

        var y = RunOrt(m, ("a", RandomTensor(25, 2, 3)))[0];
        Assert.Equal(DataType.Double, y.ElementType);
        Assert.Equal([4L, 4], y.Dims);
        Assert.Equal(new double[] { 1, 2, 3, 4 }, y.AsSpan<double>()[..4].ToArray());
    }

    [Fact]
    public void Scatter9_BecomesScatterElements_AndMatches()
    {
        var (m, g) = NewModel(9);
        var data = Input(g, "data", 3, 3);
        var indices = g.AddInitializer("indices", Tensor.FromInt64s([2, 3], [1, 0, 2, 0, 2, 1]));
        var updates = g.AddInitializer("updates", Tensor.FromFloats([2, 3], [1, 2, 3, 4, 5, 6]));
        var sc = g.AddNode("Scatter", [data, indices, updates], ["y"], attributes: [IrAttribute.Of("axis", 0L)]);
        Output(g, sc);
        ConvertAndCompare(m, 13, ("data", RandomTensor(26, 3, 3)));
        Assert.Equal("ScatterElements", sc.OpType);
        Assert.Equal(0, sc.GetInt("axis", -1));
    }
}
