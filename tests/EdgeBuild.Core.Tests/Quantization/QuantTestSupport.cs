using EdgeBuild.Ir;
using EdgeBuild.Quantization;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Quantization;

/// <summary>Calibration samples held in memory.</summary>
internal sealed class ListDataSource(IReadOnlyList<IReadOnlyDictionary<string, Tensor>> samples) : ICalibrationDataSource
{
    public int Count => samples.Count;
    public IEnumerable<IReadOnlyDictionary<string, Tensor>> Samples() => samples;

    /// <summary><paramref name="count"/> random samples for one input.</summary>
    public static ListDataSource Random(string input, long[] dims, int count, int seed = 100) =>
        new(Enumerable.Range(0, count).Select(i => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { [input] = ModelBuilder.RandomInput(dims, seed + i) }).ToList());
}

/// <summary>Real photos through a pinned model's preprocessing (RealModelSpec), as calibration data.</summary>
internal static class QuantAssert
{
    public static int Count(Model model, string opType) => model.Graph.Nodes.Count(n => n.OpType == opType);

    /// <summary>The initializer feeding input <paramref name="input"/> of <paramref name="node"/> through its DequantizeLinear.</summary>
    public static (Tensor Data, Tensor Scale, Tensor? ZeroPoint, long? Axis) DequantizedInput(Node node, int input)
    {
        var dq = node.Input(input)?.Producer;
        Assert.NotNull(dq);
        Assert.Equal("DequantizeLinear", dq!.OpType);
        return (dq.Input(0)!.ConstantValue!, ScaleOf(dq.Input(1)!), dq.Input(2)?.ConstantValue, dq.GetAttribute("axis")?.Int);
    }

    /// <summary>A DequantizeLinear scale: an initializer, or a per-channel bias scale stored as the Mul of the input and weight scales.</summary>
    public static Tensor ScaleOf(Value scale)
    {
        if (scale.ConstantValue is { } t) return t;
        var mul = scale.Producer;
        Assert.True(mul is not null && IsScaleProduct(mul), $"scale '{scale.Name}' is neither an initializer nor a product of two");
        var a = mul!.Input(0)!.ConstantValue!.ToFloats();
        var b = mul.Input(1)!.ConstantValue!.ToFloats();
        var product = b.Select((v, i) => a[a.Length == 1 ? 0 : i] * v).ToArray();
        return Tensor.FromFloats([product.Length], product);
    }

    /// <summary>A Mul of two initializers: the quantizer's way of storing a bias scale as the product of its factors.</summary>
    public static bool IsScaleProduct(Node n) =>
        n.OpType == "Mul" && n.Inputs.Count == 2 && n.Input(0)?.ConstantValue is not null && n.Input(1)?.ConstantValue is not null;
}

/// <summary>Small models built in code for the quantization tests, each with the data to calibrate it.</summary>
internal static class QuantModels
{
    public static readonly long[] ImageDims = [1, 3, 8, 8];

    /// <summary>Declares the inferred output types, as an exported file has them (onnx.checker wants graph outputs typed).</summary>
    public static ModelBuilder Typed(ModelBuilder b)
    {
        ShapeInference.Infer(b.Model);
        foreach (var o in b.Graph.Outputs) o.TypeInferred = false;
        return b;
    }

    public static ListDataSource Data(int count = 8, long[]? dims = null, string input = "x") => ListDataSource.Random(input, dims ?? ImageDims, count);

    /// <summary>x -> Conv(8) -> Relu -> Conv(4) -> y.</summary>
    public static ModelBuilder ConvReluConv()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", ImageDims);
        var c1 = b.Conv(x, "conv1", 8, 3);
        var r = b.Op("Relu", [c1], "relu1");
        var c2 = b.Conv(r, "conv2", 4, 8);
        b.Output(c2);
        return Typed(b);
    }

    /// <summary>One node of every family the registry knows, in a chain that keeps every tensor float.</summary>
    public static ModelBuilder EveryOpFamily()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", ImageDims);
        var c1 = b.Conv(x, "conv", 8, 3);
        var relu = b.Op("Relu", [c1], "relu");
        var max = b.Op("MaxPool", [relu], "maxpool", Ir.Attribute.Of("kernel_shape", [2L, 2L]), Ir.Attribute.Of("strides", [2L, 2L]));
        var avg = b.Op("AveragePool", [max], "avgpool", Ir.Attribute.Of("kernel_shape", [1L, 1L]));
        var sig = b.Op("Sigmoid", [avg], "sigmoid");
        var leaky = b.Op("LeakyRelu", [sig], "leaky", Ir.Attribute.Of("alpha", 0.1f));
        var hard = b.Op("HardSigmoid", [leaky], "hardsigmoid");
        var slope = b.Weight("prelu_slope", [8, 1, 1], 0.1f, 0.3f);
        var prelu = b.Op("PRelu", [hard, slope], "prelu");
        var clip = b.Op("Clip", [prelu, b.Const("clip_min", [], 0.2f), b.Const("clip_max", [], 5f)], "clip");
        var add = b.Op("Add", [clip, avg], "add");
        var mul = b.Op("Mul", [add, b.Const("mul_c", [1, 8, 1, 1], 0.5f, 1, 2, 1, 0.5f, 1, 2, 1)], "mul");
        var cat = b.Op("Concat", [mul, add], "concat", Ir.Attribute.Of("axis", 1L));
        var up = b.Op("Resize", [cat, null, b.Const("scales", [4], 1, 1, 2, 2)], "resize", Ir.Attribute.Of("mode", "nearest"));
        var c2 = b.Conv(up, "conv2", 4, 16);
        var trans = b.Op("Transpose", [c2], "transpose", Ir.Attribute.Of("perm", [0L, 2L, 3L, 1L]));
        var flat = b.Op("Reshape", [trans, b.ConstInts("shape", 16, 16)], "reshape");
        var mm = b.Op("MatMul", [flat, b.Weight("mm_B", [16, 12])], "matmul");
        var gemm = b.Op("Gemm", [mm, b.Weight("gemm_B", [10, 12]), b.Weight("gemm_C", [10])], "gemm", Ir.Attribute.Of("transB", 1L));
        var soft = b.Op("Softmax", [gemm], "softmax", Ir.Attribute.Of("axis", 1L));
        var mm2 = b.Op("MatMul", [soft, b.Weight("mm2_B", [10, 6])], "matmul2");
        var gap = b.Op("GlobalAveragePool", [relu], "gap");
        var gapFlat = b.Op("Flatten", [gap], "gap_flat");
        var exp = b.Op("Exp", [gapFlat], "exp");
        b.Output(mm2, exp);
        return Typed(b);
    }

    /// <summary>x -> Conv -> y and x -> MatMul (via Reshape) / Gemm: the ops INT8 dynamic rewrites.</summary>
    public static ModelBuilder ConvMatMulGemm()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", ImageDims);
        var c = b.Conv(x, "conv", 6, 3);
        var flat = b.Op("Reshape", [c, b.ConstInts("shape", 6, 64)], "flat");
        var mm = b.Op("MatMul", [flat, b.Weight("mm_B", [64, 16])], "matmul");
        var g = b.Op("Gemm", [mm, b.Weight("gemm_B", [5, 16]), b.Weight("gemm_C", [5])], "gemm", Ir.Attribute.Of("transB", 1L), Ir.Attribute.Of("alpha", 0.5f));
        b.Output(g);
        return Typed(b);
    }

    /// <summary>Runs both models on the same inputs; the SQNR (dB) of all outputs together.</summary>
    public static double OutputSqnr(byte[] reference, byte[] candidate, IEnumerable<IReadOnlyDictionary<string, Tensor>> inputs)
    {
        double signal = 0, noise = 0;
        foreach (var input in inputs)
        {
            var a = Ort.Run(reference, input);
            var c = Ort.Run(candidate, input);
            foreach (var (name, t) in a)
            {
                var x = t.ToFloats();
                var y = c[name].ToFloats();
                Assert.Equal(t.Dims, c[name].Dims);
                for (int i = 0; i < x.Length; i++)
                {
                    signal += (double)x[i] * x[i];
                    noise += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
                }
            }
        }
        return noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(signal / noise);
    }

    /// <summary>Op counts of the graph ONNX Runtime runs after its own optimizations (its saved optimized model).</summary>
    public static Dictionary<string, int> OrtOptimizedOps(byte[] model)
    {
        string path = Path.Combine(Path.GetTempPath(), $"edgebuild-qtest-{Guid.NewGuid():N}.onnx");
        try
        {
            using (var o = Ort.Options(optimize: true))
            {
                o.OptimizedModelFilePath = path;
                using var s = new Microsoft.ML.OnnxRuntime.InferenceSession(model, o);
            }
            var proto = EdgeBuild.Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            return proto.Graph.Node.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
