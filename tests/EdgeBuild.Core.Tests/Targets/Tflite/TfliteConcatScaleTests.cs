using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using EdgeBuild.Targets.Tflite;
using EdgeBuild.Targets.Tflite.Schema;
using EdgeBuild.Tests.Quantization;
using EdgeBuild.Tests.Support;
using static EdgeBuild.Tests.Support.TfliteHarness;
using Xunit.Abstractions;
using Tensor = EdgeBuild.Ir.Tensor;
using TensorType = EdgeBuild.Targets.Tflite.Schema.TensorType;

namespace EdgeBuild.Tests.Tflite;

/// <summary>
/// Int8 CONCATENATION inputs at the concat's own scale (ConcatScaleSharing): a producer that only the concat reads
/// writes its output at the concat's scale directly; one that something else reads too keeps its own scale and is
/// requantized (QUANTIZE int8 -> int8) for the concat. The file still matches ONNX Runtime in LiteRT.
/// </summary>
public class TfliteConcatScaleTests(ITestOutputHelper output)
{
    /// <summary>
    /// Three branches into one concat: conv1 -> Relu (only the concat reads it), conv2 -> MaxPool (a same-scale op; only
    /// the concat reads it), and conv3, which the output Add reads as well.
    /// </summary>
    private static Model Branches()
    {
        var b = new ModelBuilder(seed: 11);
        var x = b.Input("x", 1, 4, 8, 8);
        var a1 = b.Op("Relu", [b.Conv(x, "conv1", 6, 4)], "act1");
        var p2 = b.Op("MaxPool", [b.Conv(x, "conv2", 5, 4)], "pool2",
            Ir.Attribute.Of("kernel_shape", [3L, 3]), Ir.Attribute.Of("pads", [1L, 1, 1, 1]));
        var c3 = b.Conv(x, "conv3", 6, 4);
        var cat = b.Op("Concat", [a1, p2, c3], "cat", Ir.Attribute.Of("axis", 1L));
        var head = b.Conv(cat, "head", 6, 17);
        b.Output(b.Op("Add", [head, c3], "y"));
        var model = OnnxImporter.Parse(OnnxExporter.ToBytes(b.Model));
        ShapeInference.Infer(model);
        return model;
    }

    [SkippableFact]
    public void ConcatOnlyProducersWriteAtTheConcatScale()
    {
        string tool = TfliteTool.Require();
        var model = Branches();
        long[] dims = [1, 4, 8, 8];
        var ranges = TfliteHarness.Ranges(model, ListDataSource.Random("x", dims, 16, seed: 200));
        var (_, result) = TfliteHarness.Convert(model, TflitePrecision.Int8, ranges);
        var tfl = result.Model;

        var concat = Operators(tfl, BuiltinOperator.CONCATENATION).Single();
        var outQ = tfl.Tensors[concat.Outputs[0]].Quantization!;
        foreach (int operand in concat.Inputs)
        {
            var q = tfl.Tensors[operand].Quantization!;
            Assert.Equal(outQ.Scale, q.Scale);
            Assert.Equal(outQ.ZeroPoint, q.ZeroPoint);
        }
        // int8 -> int8 QUANTIZE: only for conv3, which the Add reads at its own scale.
        var requantized = Operators(tfl, BuiltinOperator.QUANTIZE).Where(o => tfl.Tensors[o.Inputs[0]].Type == TensorType.INT8).ToList();
        var single = Assert.Single(requantized);
        Assert.StartsWith("conv3", tfl.Tensors[single.Inputs[0]].Name);
        // conv1's fused output and the max pool (same scale as conv2's output) carry the concat's parameters themselves.
        var conv2 = Operators(tfl, BuiltinOperator.CONV_2D).Single(o => tfl.Tensors[o.Inputs[1]].Name.StartsWith("conv2", StringComparison.Ordinal));
        Assert.Equal(outQ.Scale, tfl.Tensors[conv2.Outputs[0]].Quantization!.Scale);

        var input = ModelBuilder.RandomInput(dims, seed: 5);
        var expected = Ort.Run(OnnxExporter.ToBytes(model), new Dictionary<string, Tensor> { ["x"] = input }, optimize: false)["y"];
        double error = TfliteHarness.RelativeErrorNorm(expected, TfliteHarness.RunOnce(tool, result, new Dictionary<string, Tensor> { ["x"] = input })["y"]);
        output.WriteLine($"relative error norm vs ONNX Runtime: {error:E2}");
        Assert.True(error < 0.05, $"int8 file with shared concat scales is off by {error:E2}");
    }
}
