using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Targets.Tflite;
using EdgeBuild.Tests.Support;
using Xunit.Abstractions;
using Attr = EdgeBuild.Ir.Attribute;
using Tensor = EdgeBuild.Ir.Tensor;
using EdgeBuild.Session;

namespace EdgeBuild.Tests.Tflite;

/// <summary>
/// Every op mapping on small models built in code (shapes and attributes the real models do not have), each run in
/// LiteRT against ONNX Runtime on a random input: float32 within 1e-4 of the largest output value, and the
/// layout pass adding no TRANSPOSE where the graph does not need one.
/// </summary>
public class TfliteOpTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases => new(Builders.Keys.Order(StringComparer.Ordinal));

    private static readonly Dictionary<string, Func<ModelBuilder, int>> Builders = new()
    {
        // Each builds a graph on input x [1,8,10,12] unless it says otherwise; returns the TRANSPOSE count allowed.
        ["conv-same-relu"] = b => { b.Output(b.Op("Relu", [b.Conv(b.Input("x", 1, 8, 10, 12), "c", 16, 8)], "y")); return 0; },
        ["conv-stride-asymmetric-pads"] = b =>
        {
            var x = b.Input("x", 1, 8, 10, 12);
            var w = b.Weight("w", [6, 8, 3, 3]);
            b.Output(b.Op("Conv", [x, w], "y", Attr.Of("kernel_shape", [3L, 3]), Attr.Of("strides", [2L, 2]), Attr.Of("pads", [0L, 1, 1, 0])));
            return 0;
        },
        ["conv-dilated"] = b =>
        {
            var x = b.Input("x", 1, 8, 10, 12);
            var w = b.Weight("w", [4, 8, 3, 3]);
            b.Output(b.Op("Conv", [x, w], "y", Attr.Of("kernel_shape", [3L, 3]), Attr.Of("dilations", [2L, 2]), Attr.Of("pads", [2L, 2, 2, 2])));
            return 0;
        },
        ["depthwise-multiplier"] = b => { b.Output(b.Conv(b.Input("x", 1, 8, 10, 12), "c", 16, 8, group: 8)); return 0; },
        ["grouped-conv"] = b => { b.Output(b.Conv(b.Input("x", 1, 8, 10, 12), "c", 12, 8, group: 4)); return 0; },
        ["conv-transpose-pads"] = b =>
        {
            var x = b.Input("x", 1, 8, 10, 12);
            var w = b.Weight("w", [8, 5, 3, 3]);
            var bias = b.Weight("bias", [5]);
            b.Output(b.Op("ConvTranspose", [x, w, bias], "y", Attr.Of("kernel_shape", [3L, 3]), Attr.Of("strides", [2L, 2]), Attr.Of("pads", [1L, 1, 1, 1]),
                Attr.Of("output_padding", [1L, 1])));
            return 0;
        },
        ["gemm-transb-alpha"] = b =>
        {
            var x = b.Input("x", 3, 20);
            var w = b.Weight("w", [7, 20]);
            var c = b.Weight("c", [7]);
            b.Output(b.Op("Gemm", [x, w, c], "y", Attr.Of("transB", 1L), Attr.Of("alpha", 0.5f), Attr.Of("beta", 2f)));
            return 0;
        },
        ["matmul-3d-constant"] = b => { b.Output(b.Op("MatMul", [b.Input("x", 2, 5, 6), b.Weight("w", [6, 4])], "y")); return 0; },
        ["batch-matmul"] = b => { b.Output(b.Op("MatMul", [b.Input("x", 2, 5, 6), b.Input("z", 2, 6, 3)], "y")); return 0; },
        ["broadcast-arithmetic-nchw"] = b =>
        {
            var x = b.Conv(b.Input("x", 1, 8, 10, 12), "c", 8, 8);
            var s = b.Weight("s", [8, 1, 1], 0.5f, 2f);
            var t = b.Weight("t", [1, 1, 12]);
            var y = b.Op("Mul", [x, s], "m");
            y = b.Op("Add", [y, t], "a");
            y = b.Op("Sub", [b.Const("one", [], 1f), y], "s2");
            y = b.Op("Div", [y, b.Const("three", [], 3f)], "d");
            y = b.Op("Max", [y, b.Const("lo", [], -0.5f)], "mx");
            b.Output(b.Op("Min", [y, x], "y"));
            return 0;
        },
        ["div-by-activation"] = b =>
        {
            var x = b.Input("x", 1, 8, 10, 12);
            var e = b.Op("Exp", [x], "e");
            b.Output(b.Op("Div", [x, e], "y"));
            return 0;
        },
        ["activations"] = b =>
        {
            var x = b.Input("x", 1, 8, 10, 12);
            var y = b.Op("LeakyRelu", [x], "l", Attr.Of("alpha", 0.1f));
            y = b.Op("PRelu", [y, b.Weight("slope", [8, 1, 1], 0f, 0.5f)], "p");
            var h = b.Op("HardSigmoid", [y], "h", Attr.Of("alpha", 0.2f), Attr.Of("beta", 0.5f));
            var hs = b.Op("HardSwish", [y], "hs");
            var t = b.Op("Tanh", [hs], "t");
            var s = b.Op("Sigmoid", [t], "s");
            var c = b.Op("Clip", [s, b.Const("cmin", [], 0.1f), b.Const("cmax", [], 0.7f)], "c");
            var r6 = b.Op("Clip", [b.Op("Neg", [h], "n"), b.Const("z", [], 0f), b.Const("six", [], 6f)], "r6");
            b.Output(b.Op("Add", [c, b.Op("Abs", [r6], "ab")], "y"));
            return 0;
        },
        ["pools"] = b =>
        {
            var x = b.Input("x", 1, 8, 10, 12);
            var m = b.Op("MaxPool", [x], "m", Attr.Of("kernel_shape", [3L, 3]), Attr.Of("strides", [2L, 2]), Attr.Of("pads", [1L, 1, 1, 1]));
            var a = b.Op("AveragePool", [x], "a", Attr.Of("kernel_shape", [3L, 3]), Attr.Of("strides", [2L, 2]), Attr.Of("pads", [1L, 1, 1, 1]), Attr.Of("count_include_pad", 1L));
            // count_include_pad=0 with TFLite's SAME pads (0 before, 1 after here).
            var a2 = b.Op("AveragePool", [x], "a2", Attr.Of("kernel_shape", [3L, 3]), Attr.Of("strides", [2L, 2]), Attr.Of("pads", [0L, 0, 1, 1]));
            var c = b.Op("MaxPool", [x], "c", Attr.Of("kernel_shape", [2L, 2]), Attr.Of("strides", [2L, 2]), Attr.Of("ceil_mode", 1L));
            var g = b.Op("GlobalAveragePool", [b.Op("Add", [b.Op("Add", [m, a], "ma"), a2], "maa")], "g");
            var gm = b.Op("GlobalMaxPool", [c], "gm");
            b.Output(b.Op("Add", [g, gm], "y"));
            return 0;
        },
        ["reduce-axes"] = b =>
        {
            var x = b.Conv(b.Input("x", 1, 8, 10, 12), "c", 8, 8);
            var m = b.Op("ReduceMean", [x], "m", Attr.Of("axes", [1L]), Attr.Of("keepdims", 0L));
            b.Output(b.Op("ReduceMax", [m], "y", Attr.Of("axes", [2L]), Attr.Of("keepdims", 1L)));
            return 0;
        },
        ["softmax-channel-axis"] = b => { b.Output(b.Op("Softmax", [b.Conv(b.Input("x", 1, 8, 10, 12), "c", 8, 8)], "y", Attr.Of("axis", 1L))); return 0; },
        ["log-softmax-last"] = b => { b.Output(b.Op("LogSoftmax", [b.Input("x", 2, 5, 7)], "y", Attr.Of("axis", -1L))); return 0; },
        ["resize-bilinear-half-pixel"] = b => { b.Output(Resize(b, "linear", "half_pixel", "round_prefer_floor")); return 0; },
        ["resize-bilinear-align-corners"] = b => { b.Output(Resize(b, "linear", "align_corners", "round_prefer_floor")); return 0; },
        ["resize-bilinear-asymmetric"] = b => { b.Output(Resize(b, "linear", "asymmetric", "round_prefer_floor")); return 0; },
        ["resize-nearest-asymmetric"] = b => { b.Output(Resize(b, "nearest", "asymmetric", "floor")); return 0; },
        ["resize-nearest-half-pixel"] = b => { b.Output(Resize(b, "nearest", "half_pixel", "round_prefer_ceil")); return 0; },
        ["pad-concat-split-slice"] = b =>
        {
            var x = b.Conv(b.Input("x", 1, 8, 10, 12), "c", 8, 8);
            var p = b.Op("Pad", [x, b.ConstInts("pads", 0, 0, 1, 2, 0, 0, 2, 1), b.Const("pv", [], 0.25f)], "p");
            var r = b.Op("Pad", [x, b.ConstInts("rpads", 0, 0, 2, 1, 0, 0, 1, 2)], "r", Attr.Of("mode", "reflect"));
            var cat = b.Op("Concat", [p, r], "cat", Attr.Of("axis", 1L));
            var parts = b.Node("Split", [cat, b.ConstInts("split", 5, 11)], ["s0", "s1"], Attr.Of("axis", 1L));
            var sl = b.Op("Slice", [parts.Outputs[1]!, b.ConstInts("starts", 1, -2), b.ConstInts("ends", 10, 0), b.ConstInts("axes", 1, 3), b.ConstInts("steps", 2, -3)], "sl");
            b.Output(parts.Outputs[0]!, sl);
            return 0;
        },
        ["reshape-flatten-squeeze"] = b =>
        {
            var x = b.Conv(b.Input("x", 1, 8, 10, 12), "c", 8, 8);
            var f = b.Op("Flatten", [x], "f", Attr.Of("axis", 2L));
            var u = b.Op("Unsqueeze", [f, b.ConstInts("uaxes", 0)], "u");
            var s = b.Op("Squeeze", [u, b.ConstInts("saxes", 0)], "s");
            b.Output(b.Op("Reshape", [s, b.ConstInts("shape", 4, -1)], "y"));
            return 1; // Flatten of an NHWC conv output reads it in ONNX order: one TRANSPOSE
        },
        ["transpose-absorbed"] = b =>
        {
            var x = b.Input("x", 1, 10, 12, 8);
            var t = b.Op("Transpose", [x], "t", Attr.Of("perm", [0L, 3, 1, 2]));
            var c = b.Conv(t, "c", 8, 8);
            b.Output(b.Op("Transpose", [c], "y", Attr.Of("perm", [0L, 2, 3, 1])));
            return 0;
        },
        ["depth-to-space"] = b =>
        {
            var x = b.Input("x", 1, 8, 10, 12);
            var d = b.Op("DepthToSpace", [x], "d", Attr.Of("blocksize", 2L), Attr.Of("mode", "DCR"));
            b.Output(b.Op("SpaceToDepth", [d], "y", Attr.Of("blocksize", 2L)));
            return 0;
        },
        ["compare-where-argmax"] = b =>
        {
            var x = b.Conv(b.Input("x", 1, 8, 10, 12), "c", 8, 8);
            var z = b.Input("z", 1, 8, 10, 12);
            var gt = b.Op("Greater", [x, z], "gt");
            var le = b.Op("LessOrEqual", [x, b.Const("half", [], 0.5f)], "le");
            var w = b.Op("Where", [gt, x, b.Op("Where", [le, z, b.Const("zero", [], 0f)], "w0")], "w");
            var am = b.Op("ArgMax", [w], "am", Attr.Of("axis", 1L), Attr.Of("keepdims", 1L));
            var an = b.Op("ArgMin", [w], "an", Attr.Of("axis", 3L), Attr.Of("keepdims", 0L));
            b.Output(w, b.Op("Cast", [am], "amf", Attr.Of("to", 1L)), b.Op("Cast", [an], "anf", Attr.Of("to", 1L)));
            return 1; // keepdims on the NHWC channel axis: the indices go back to ONNX order once
        },
        ["expand-tile-rounding"] = b =>
        {
            var x = b.Input("x", 1, 8, 1, 12);
            var e = b.Op("Expand", [x, b.ConstInts("eshape", 2, 8, 5, 12)], "e");
            var t = b.Op("Tile", [e, b.ConstInts("repeats", 1, 1, 2, 1)], "t");
            var f = b.Op("Floor", [b.Op("Mul", [t, b.Const("k", [], 3.3f)], "m")], "f");
            var g = b.Op("Ceil", [b.Op("Elu", [t], "el")], "g");
            b.Output(b.Op("Add", [f, g], "y"));
            return 0;
        },
        ["batchnorm-gather"] = b =>
        {
            var x = b.Input("x", 1, 8, 10, 12);
            var n = b.BatchNorm(b.Op("Relu", [x], "r"), "bn", 8);
            b.Output(b.Op("Gather", [n, b.ConstInts("idx", 3, 0, 7)], "y", Attr.Of("axis", 1L)));
            return 0;
        },
        // Issue 19's families: recurrent, 1-D, transformer and control-flow ops.
        ["lstm-bidirectional-with-state"] = b =>
        {
            var x = b.Input("x", 5, 2, 6);
            var h = b.Input("h", 2, 2, 4);
            var c = b.Input("c", 2, 2, 4);
            var node = b.Node("LSTM", [x, b.Weight("W", [2, 16, 6]), b.Weight("R", [2, 16, 4]), b.Weight("B", [2, 32], -0.3f, 0.3f), null, h, c], ["y", "y_h", "y_c"],
                Attr.Of("hidden_size", 4L), Attr.Of("direction", "bidirectional"));
            b.Output(node.Outputs[0]!, node.Outputs[1]!, node.Outputs[2]!);
            return 0;
        },
        ["lstm-forward-zero-state"] = b =>
        {
            var x = b.Input("x", 3, 1, 6);
            var node = b.Node("LSTM", [x, b.Weight("W", [1, 20, 6]), b.Weight("R", [1, 20, 5])], ["y", "y_h", "y_c"], Attr.Of("hidden_size", 5L));
            b.Output(node.Outputs[0]!, node.Outputs[2]!);
            return 0;
        },
        ["conv1d-chain-computed-clip"] = b =>
        {
            var x = b.Input("x", 1, 8, 20);
            var y = b.Op("Conv", [x, b.Weight("w1", [12, 8, 3], -0.5f, 0.5f), b.Weight("b1", [12], -0.1f, 0.1f)], "c1", Attr.Of("kernel_shape", [3L]), Attr.Of("pads", [1L, 1]));
            y = b.Op("Relu", [y], "r1");
            y = b.Op("Conv", [y, b.Weight("w2", [12, 1, 5], -0.5f, 0.5f)], "c2", Attr.Of("kernel_shape", [5L]), Attr.Of("pads", [2L, 2]), Attr.Of("strides", [2L]), Attr.Of("group", 12L));
            var floor = b.Op("Sub", [b.Op("ReduceMax", [y], "peak", Attr.Of("keepdims", 0L)), b.Const("range", [], 0.3f)], "floor");
            b.Output(b.Op("Clip", [y, floor], "y"));
            return 2; // the rank-3 input and output move between ONNX order and channels-last once each
        },
        ["gather-computed-indices-gelu"] = b =>
        {
            var x = b.Input("x", 3, 5);
            var ids = b.Op("ArgMax", [x], "ids", Attr.Of("axis", 1L), Attr.Of("keepdims", 0L));
            var g = b.Op("Gather", [b.Weight("table", [5, 7], -3f, 3f), ids], "g");
            var scaled = b.Op("Div", [g, b.Const("sqrt2", [], MathF.Sqrt(2f))], "scaled");
            var one = b.Op("Add", [b.Op("Erf", [scaled], "erf"), b.Const("one", [], 1f)], "one_plus");
            b.Output(b.Op("Mul", [b.Op("Mul", [g, one], "times"), b.Const("half", [], 0.5f)], "y"));
            return 0;
        },
        ["if-computed-then"] = b => { b.Output(ComputedIf(b, -10f)); return 0; },
        ["if-computed-else"] = b => { b.Output(ComputedIf(b, 10f)); return 0; },
    };

    /// <summary>If (mean(x) > threshold) then Relu(x) * 2 else Sigmoid(x): the condition computed from the input.</summary>
    private static Value ComputedIf(ModelBuilder b, float threshold)
    {
        var x = b.Input("x", 1, 8, 10, 12);
        var cond = b.Op("Greater", [b.Op("ReduceMean", [x], "mean", Attr.Of("keepdims", 0L)), b.Const("threshold", [], threshold)], "cond");
        var then = new Graph("then", b.Graph);
        then.AddOutput(then.AddNode("Mul", [then.AddNode("Relu", [x], ["t_relu"]).Output0, b.Const("two", [], 2f)], ["t_out"]).Output0);
        var otherwise = new Graph("else", b.Graph);
        otherwise.AddOutput(otherwise.AddNode("Sigmoid", [x], ["e_out"]).Output0);
        return b.Graph.AddNode("If", [cond], ["y"], "", "if",
            [new Attr("then_branch", AttributeKind.Graph) { Graph = then }, new Attr("else_branch", AttributeKind.Graph) { Graph = otherwise }]).Output0;
    }

    private static Value Resize(ModelBuilder b, string mode, string coordinate, string nearest)
    {
        var x = b.Input("x", 1, 8, 10, 12);
        var sizes = b.ConstInts("sizes", 1, 8, 20, 17);
        return b.Op("Resize", [x, null, null, sizes], "y", Attr.Of("mode", mode), Attr.Of("coordinate_transformation_mode", coordinate), Attr.Of("nearest_mode", nearest));
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void OpMatchesOnnxRuntime(string name)
    {
        string tool = TfliteTool.Require();
        var builder = new ModelBuilder(opset: 14);
        int allowedTransposes = Builders[name](builder);
        byte[] onnx = OnnxExporter.ToBytes(builder.Model);
        var inputs = builder.Graph.Inputs.Where(v => v.Initializer is null)
            .Select((v, i) => (v.Name, T: ModelBuilder.RandomInput(v.TensorType!.Shape!.ToArray(), 7 + i)))
            .ToDictionary(p => p.Name, p => p.T);
        var expected = Ort.Run(onnx, inputs, optimize: false);

        foreach (var layout in new[] { TfliteIoLayout.Nhwc, TfliteIoLayout.Nchw })
        {
            var result = TfliteConverter.Convert(OnnxImporter.Parse(onnx), new TfliteOptions(TflitePrecision.Fp32, layout));
            byte[] bytes = EdgeBuild.Targets.Tflite.Schema.TflWriter.Write(result.Model);
            string work = Directory.CreateTempSubdirectory("edgebuild-tflite-op-").FullName;
            File.WriteAllBytes(Path.Combine(work, "m.tflite"), bytes);
            var actual = TfliteHarness.FromTflite(TfliteRef.Run(tool, Path.Combine(work, "m.tflite"), TfliteHarness.ToTflite(inputs, result), work), result);
            Directory.Delete(work, recursive: true);
            foreach (var (k, e) in expected)
            {
                Assert.Equal(e.Dims, actual[k].Dims);
                double max = Ort.MaxAbs(e), diff = Ort.MaxAbsDiff(e, actual[k]);
                output.WriteLine($"{name} {layout} {k}: max |diff| {diff:E2} of max {max:E2}; {result.Model.Operators.Count} ops, {result.Transposes} TRANSPOSE");
                Assert.True(diff <= 1e-4 * Math.Max(max, 1e-3), $"{name} ({layout}) output '{k}': max |diff| {diff:E3} > 1e-4 x {max:E3}");
            }
            // NCHW I/O: one TRANSPOSE at most per rank-4 input and output, at the boundary.
            int boundary = layout == TfliteIoLayout.Nchw ? result.Io.Count(io => io.Shape.Length == 4) : 0;
            Assert.True(result.Transposes <= allowedTransposes + boundary, $"{name} ({layout}): {result.Transposes} TRANSPOSE ops, expected at most {allowedTransposes + boundary}");
        }
    }
}
