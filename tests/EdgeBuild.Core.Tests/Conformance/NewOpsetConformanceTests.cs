using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Targets.Tflite;
using EdgeBuild.Tests.Support;
using EdgeBuild.Tests.Tflite;
using Xunit.Abstractions;
using A = EdgeBuild.Ir.Attribute;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.Conformance;

/// <summary>
/// Conformance cases for opsets 18 to 21 of the ops the zoo models (MODELS-zoo.md) use, built in code because the
/// pinned ONNX backend cases (ONNX 1.12) stop at opset 17: the new inputs and attributes of each version (axes as an
/// input, Pad axes and wrap, Resize antialias / keep_aspect_ratio_policy / half_pixel_symmetric, Split num_outputs,
/// Gelu, LayerNormalization, Shape start/end, Reshape allowzero, Cast, ScatterND max, Col2Im). ONNX Runtime on the
/// case as built is the reference; each case must come out the same after our shape inference (no inferred type that
/// contradicts ONNX Runtime's outputs, and one for every output), our default passes, the opset conversion up to 21
/// (and from the op's older form where one exists), and, where the TFLite writer claims the graph, Google's interpreter.
/// </summary>
public class NewOpsetConformanceTests(ITestOutputHelper output)
{
    /// <summary>A case: its opset, its graph, and optionally the same computation in the op's form before the change.</summary>
    private sealed record Case(long Opset, Action<ModelBuilder> Build, (long Opset, Action<ModelBuilder> Build)? Older = null);

    private static Value X(ModelBuilder b, params long[] dims) => b.Input("x", dims);

    private static Value Scalar(ModelBuilder b, string name, float v) => b.Const(name, [], v);

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["ReduceMean-18 axes input keepdims"] = new(18,
            b => b.Output(b.Op("ReduceMean", [X(b, 2, 3, 4), b.ConstInts("axes", -1)], "y")),
            (13, b => b.Output(b.Op("ReduceMean", [X(b, 2, 3, 4)], "y", A.Of("axes", [-1L]))))),
        ["ReduceMean-18 two axes no keepdims"] = new(18,
            b => b.Output(b.Op("ReduceMean", [X(b, 2, 3, 4), b.ConstInts("axes", 0, 2)], "y", A.Of("keepdims", 0L))),
            (17, b => b.Output(b.Op("ReduceMean", [X(b, 2, 3, 4)], "y", A.Of("axes", [0L, 2]), A.Of("keepdims", 0L))))),
        ["ReduceMax-20 axes input"] = new(20,
            b => b.Output(b.Op("ReduceMax", [X(b, 2, 3, 4), b.ConstInts("axes", 1)], "y")),
            (11, b => b.Output(b.Op("ReduceMax", [X(b, 2, 3, 4)], "y", A.Of("axes", [1L]))))),
        ["ReduceSum-18 axes input"] = new(18,
            b => b.Output(b.Op("ReduceSum", [X(b, 2, 3, 4), b.ConstInts("axes", 1)], "y")),
            (11, b => b.Output(b.Op("ReduceSum", [X(b, 2, 3, 4)], "y", A.Of("axes", [1L]))))),
        ["ReduceSum-18 empty axes noop"] = new(18,
            b => b.Output(b.Op("ReduceSum", [X(b, 2, 3, 4)], "y", A.Of("noop_with_empty_axes", 1L)))),
        ["ReduceL2-18 axes input"] = new(18,
            b => b.Output(b.Op("ReduceL2", [X(b, 2, 3, 4), b.ConstInts("axes", 2)], "y"))),
        ["Pad-18 axes"] = new(18,
            b => b.Output(b.Op("Pad", [X(b, 1, 3, 5, 6), b.ConstInts("pads", 1, 2, 0, 1), Scalar(b, "v", 0.5f), b.ConstInts("axes", 2, 3)], "y")),
            (13, b => b.Output(b.Op("Pad", [X(b, 1, 3, 5, 6), b.ConstInts("pads", 0, 0, 1, 2, 0, 0, 0, 1), Scalar(b, "v", 0.5f)], "y")))),
        ["Pad-18 reflect negative axes"] = new(18,
            b => b.Output(b.Op("Pad", [X(b, 1, 3, 5, 6), b.ConstInts("pads", 2, 1, 1, 2), null, b.ConstInts("axes", -1, -2)], "y", A.Of("mode", "reflect")))),
        ["Pad-19 wrap"] = new(19,
            b => b.Output(b.Op("Pad", [X(b, 1, 2, 4, 5), b.ConstInts("pads", 0, 0, 1, 2, 0, 0, 2, 1)], "y", A.Of("mode", "wrap")))),
        ["Pad-21 edge into Conv"] = new(21,
            b => b.Output(b.Conv(b.Op("Pad", [X(b, 1, 3, 6, 6), b.ConstInts("pads", 0, 0, 1, 1, 0, 0, 1, 1)], "padded", A.Of("mode", "edge")), "conv", 4, 3, pad: 0))),
        ["Pad-18 zero into Conv"] = new(18,
            b => b.Output(b.Conv(b.Op("Pad", [X(b, 1, 3, 6, 6), b.ConstInts("pads", 1, 2, 1, 0), Scalar(b, "zero", 0f), b.ConstInts("axes", 2, 3)], "padded"), "conv", 4, 3, pad: 0))),
        ["Resize-18 linear antialias"] = new(18,
            b => b.Output(b.Op("Resize", [X(b, 1, 2, 12, 12), null, null, b.ConstInts("sizes", 1, 2, 5, 7)], "y", A.Of("mode", "linear"), A.Of("antialias", 1L)))),
        ["Resize-18 cubic antialias"] = new(18,
            b => b.Output(b.Op("Resize", [X(b, 1, 2, 12, 12), null, b.Const("scales", [4], 1, 1, 0.5f, 0.5f)], "y", A.Of("mode", "cubic"), A.Of("antialias", 1L)))),
        ["Resize-18 keep_aspect_ratio not_larger axes"] = new(18,
            b => b.Output(b.Op("Resize", [X(b, 1, 2, 6, 8), null, null, b.ConstInts("sizes", 9, 9)], "y", A.Of("mode", "linear"), A.Of("axes", [2L, 3]),
                A.Of("keep_aspect_ratio_policy", "not_larger")))),
        ["Resize-18 keep_aspect_ratio not_smaller"] = new(18,
            b => b.Output(b.Op("Resize", [X(b, 1, 2, 6, 8), null, null, b.ConstInts("sizes", 1, 2, 9, 9)], "y", A.Of("mode", "nearest"),
                A.Of("keep_aspect_ratio_policy", "not_smaller")))),
        ["Resize-19 half_pixel_symmetric"] = new(19,
            b => b.Output(b.Op("Resize", [X(b, 1, 2, 5, 6), null, b.Const("scales", [4], 1, 1, 1.7f, 2.3f)], "y", A.Of("mode", "linear"),
                A.Of("coordinate_transformation_mode", "half_pixel_symmetric")))),
        ["Split-18 num_outputs uneven"] = new(18,
            b =>
            {
                var n = b.Node("Split", [X(b, 2, 7, 3)], ["a", "c", "d"], A.Of("axis", 1L), A.Of("num_outputs", 3L));
                b.Output(n.Outputs[0]!, n.Outputs[1]!, n.Outputs[2]!);
            },
            (13, b =>
            {
                var n = b.Node("Split", [X(b, 2, 7, 3), b.ConstInts("split", 3, 3, 1)], ["a", "c", "d"], A.Of("axis", 1L));
                b.Output(n.Outputs[0]!, n.Outputs[1]!, n.Outputs[2]!);
            })),
        ["Split-18 split input"] = new(18,
            b =>
            {
                var n = b.Node("Split", [X(b, 2, 6, 3), b.ConstInts("split", 1, 5)], ["a", "c"], A.Of("axis", -2L));
                b.Output(n.Outputs[0]!, n.Outputs[1]!);
            }),
        ["Gelu-20 exact"] = new(20, b => b.Output(b.Op("Gelu", [X(b, 3, 40)], "y"))),
        ["Gelu-20 tanh"] = new(20, b => b.Output(b.Op("Gelu", [X(b, 3, 40)], "y", A.Of("approximate", "tanh")))),
        ["LayerNormalization-17 last axis with bias"] = new(17,
            b => b.Output(b.Op("LayerNormalization", [X(b, 2, 5, 16), b.Weight("scale", [16], 0.5f, 1.5f), b.Weight("bias", [16])], "y", A.Of("epsilon", 1e-5f)))),
        ["LayerNormalization-17 axis 1 no bias"] = new(17,
            b => b.Output(b.Op("LayerNormalization", [X(b, 2, 3, 4), b.Weight("scale", [3, 4], 0.5f, 1.5f)], "y", A.Of("axis", 1L)))),
        ["Cast-19 float to int32 and back"] = new(19,
            b => b.Output(b.Op("Cast", [b.Op("Cast", [b.Op("Mul", [X(b, 4, 6), Scalar(b, "ten", 10f)], "scaled")], "i", A.Of("to", (long)DataType.Int32))], "y",
                A.Of("to", (long)DataType.Float)))),
        ["Cast-21 float16 round trip"] = new(21,
            b => b.Output(b.Op("Cast", [b.Op("Cast", [X(b, 4, 6)], "h", A.Of("to", (long)DataType.Float16))], "y", A.Of("to", (long)DataType.Float)))),
        ["Constant-19 value_floats"] = new(19,
            b => b.Output(b.Op("Add", [X(b, 2, 3), b.Op("Constant", [], "c", A.Of("value_floats", new[] { 1f, -2f, 3f }))], "y"))),
        ["Constant-21 tensor"] = new(21,
            b => b.Output(b.Op("Mul", [X(b, 2, 3), b.Op("Constant", [], "c", A.Of("value", Tensor.FromFloats([2, 1], [0.5f, 2f])))], "y"))),
        ["Reshape-19 allowzero with zero dims kept"] = new(19,
            b => b.Output(b.Op("Reshape", [X(b, 2, 3, 4), b.ConstInts("shape", 0, 12)], "y"))),
        ["Reshape-21 minus one"] = new(21,
            b => b.Output(b.Op("Reshape", [X(b, 2, 3, 4), b.ConstInts("shape", -1, 4)], "y"))),
        ["Shape-19 start end into Reshape"] = new(19,
            b =>
            {
                var x = X(b, 2, 3, 4);
                var tail = b.Op("Shape", [x], "tail", A.Of("start", 1L));
                var head = b.Op("Shape", [x], "head", A.Of("end", 1L));
                var target = b.Op("Concat", [b.Op("ReduceProd", [tail, b.ConstInts("axes", 0)], "prod", A.Of("keepdims", 1L)), head], "target", A.Of("axis", 0L));
                b.Output(b.Op("Reshape", [x, target], "y"));
            }),
        ["Shape-21 negative start"] = new(21,
            b =>
            {
                var x = X(b, 2, 3, 4);
                b.Output(b.Op("Reshape", [x, b.Op("Concat", [b.ConstInts("minus", -1), b.Op("Shape", [x], "last", A.Of("start", -1L))], "target", A.Of("axis", 0L))], "y"));
            }),
        ["ScatterND-18 reduction max"] = new(18,
            b =>
            {
                var idx = b.Graph.AddInitializer("idx", Tensor.FromInt64s([2, 1], [1, 3]));
                b.Output(b.Op("ScatterND", [X(b, 4, 5), idx, b.Weight("updates", [2, 5])], "y", A.Of("reduction", "max")));
            }),
        ["ScatterND-18 reduction min"] = new(18,
            b =>
            {
                var idx = b.Graph.AddInitializer("idx", Tensor.FromInt64s([2, 2], [0, 1, 2, 4]));
                b.Output(b.Op("ScatterND", [X(b, 3, 5), idx, b.Weight("updates", [2])], "y", A.Of("reduction", "min")));
            }),
        ["Col2Im-18"] = new(18,
            b => b.Output(b.Op("Col2Im", [X(b, 1, 8, 12), b.ConstInts("image_shape", 5, 4), b.ConstInts("block_shape", 2, 2)], "y"))),
    };

    public static TheoryData<string> Names => new(Cases.Keys.Order(StringComparer.Ordinal));

    private static (byte[] Bytes, Dictionary<string, Tensor> Inputs) Make(long opset, Action<ModelBuilder> build)
    {
        var b = new ModelBuilder(opset);
        build(b);
        var inputs = b.Graph.Inputs.Where(v => v.Initializer is null)
            .Select((v, i) => (v.Name, T: ModelBuilder.RandomInput(v.TensorType!.Shape!.ToArray(), 11 + i)))
            .ToDictionary(p => p.Name, p => p.T);
        return (OnnxExporter.ToBytes(b.Model), inputs);
    }

    private static Model Optimized(byte[] bytes, long? targetOpset)
    {
        var model = OnnxImporter.Parse(bytes);
        OptimizationPipeline.Run(model, new OptimizeOptions { TargetOpset = targetOpset, VerifyAfterEachPass = true });
        Assert.Empty(GraphVerifier.Verify(model.Graph));
        return model;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void ShapeInferenceAgreesWithOnnxRuntime(string name)
    {
        var c = Cases[name];
        var (bytes, inputs) = Make(c.Opset, c.Build);
        var expected = Ort.Run(bytes, inputs, optimize: false);
        var model = OnnxImporter.Parse(bytes);
        ShapeInference.Infer(model);
        foreach (var o in model.Graph.Outputs)
        {
            var e = expected[o.Name];
            Assert.True(o.TensorType is { Shape: not null }, $"{name}: no type inferred for output '{o.Name}'");
            Assert.Equal(e.ElementType, o.TensorType!.ElementType);
            var shape = o.TensorType.Shape!;
            Assert.Equal(e.Dims.Length, shape.Rank);
            for (int i = 0; i < shape.Rank; i++)
                if (shape.Dims[i].Value is long d) Assert.True(d == e.Dims[i], $"{name} output '{o.Name}' axis {i}: inferred {d}, ONNX Runtime {e.Dims[i]}");
            output.WriteLine($"{o.Name}: inferred {o.TensorType}, ONNX Runtime [{string.Join(",", e.Dims)}]");
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void DefaultPassesKeepTheResult(string name)
    {
        var c = Cases[name];
        var (bytes, inputs) = Make(c.Opset, c.Build);
        var expected = Ort.Run(bytes, inputs, optimize: false);
        var model = Optimized(bytes, null);
        output.WriteLine(GraphPrinter.Print(model));
        Ort.AssertClose(expected, Ort.Run(model, inputs, optimize: false), 1e-5);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void ConversionUpTo21KeepsTheResult(string name)
    {
        var c = Cases[name];
        var (bytes, inputs) = Make(c.Opset, c.Build);
        var expected = Ort.Run(bytes, inputs, optimize: false);
        var converted = Optimized(bytes, 21);
        Assert.Equal(21, converted.DefaultOpset);
        Ort.AssertClose(expected, Ort.Run(converted, inputs, optimize: false), 1e-5);
        if (c.Older is not { } older) return;
        // The op's older form converted up to the case's opset and to 21 computes what the new form does.
        var (oldBytes, oldInputs) = Make(older.Opset, older.Build);
        foreach (long target in new[] { c.Opset, 21L })
        {
            var up = Optimized(oldBytes, target);
            Assert.Equal(target, up.DefaultOpset);
            Ort.AssertClose(expected, Ort.Run(up, oldInputs, optimize: false), 1e-5);
            output.WriteLine($"opset {older.Opset} -> {target}: {string.Join(", ", up.Graph.Nodes.Select(n => n.OpType))}");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Names))]
    public void TfliteAgreesWhereItClaimsTheOp(string name)
    {
        var c = Cases[name];
        var (bytes, inputs) = Make(c.Opset, c.Build);
        var expected = Ort.Run(bytes, inputs, optimize: false);
        TfliteResult result;
        byte[] tflite;
        try
        {
            (tflite, result) = TfliteHarness.Convert(Optimized(bytes, null), TflitePrecision.Fp32);
        }
        catch (EdgeBuildException e)
        {
            // Refused with one EB line naming the node: TFLite does not claim the op. Only a refusal is acceptable here.
            output.WriteLine($"not claimed by the TFLite writer: {e.Message}");
            Assert.StartsWith("EB4", e.Code);
            return;
        }
        string tool = TfliteTool.Require();
        string work = Directory.CreateTempSubdirectory("edgebuild-conformance-tflite-").FullName;
        try
        {
            File.WriteAllBytes(Path.Combine(work, "m.tflite"), tflite);
            var actual = TfliteHarness.FromTflite(TfliteRef.Run(tool, Path.Combine(work, "m.tflite"), TfliteHarness.ToTflite(inputs, result), work), result);
            foreach (var (k, e) in expected)
            {
                Assert.Equal(e.Dims, actual[k].Dims);
                double max = Ort.MaxAbs(e), diff = Ort.MaxAbsDiff(e, actual[k]);
                output.WriteLine($"{k}: max |diff| {diff:E2} of max {max:E2}");
                Assert.True(diff <= 1e-4 * Math.Max(max, 1e-3), $"{name} output '{k}': LiteRT differs from ONNX Runtime by {diff:E3} > 1e-4 x {max:E3}");
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
