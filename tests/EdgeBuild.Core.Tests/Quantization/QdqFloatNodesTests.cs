using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Quantization;

/// <summary>Which nodes of the ONNX INT8 (QDQ) artifact compute in float: what TFLite at Precision=Mixed mirrors.</summary>
public class QdqFloatNodesTests
{
    /// <summary>x -> conv1 -> Relu -> conv2 -> Softmax (the output) and conv2 -> Exp -> Mul (the other output).</summary>
    private static ModelBuilder Head()
    {
        var b = new ModelBuilder(seed: 8);
        var x = b.Input("x", 1, 4, 6, 6);
        var c2 = b.Conv(b.Op("Relu", [b.Conv(x, "conv1", 8, 4)], "act1"), "conv2", 8, 8);
        b.Output(b.Op("Softmax", [c2], "scores", Ir.Attribute.Of("axis", 1L)));
        b.Output(b.Op("Mul", [b.Op("Exp", [c2], "e"), b.Const("half", [], 0.5f)], "sizes"));
        return b;
    }

    /// <summary>The model as ModelBuilder made it, read back and quantized (QDQ) on random x [1,4,6,6] samples.</summary>
    private static Model Quantized(ModelBuilder b, QuantizeOptions? options = null)
    {
        var model = OnnxImporter.Parse(OnnxExporter.ToBytes(b.Model));
        ModelQuantizer.Quantize(model, options ?? new QuantizeOptions(), ListDataSource.Random("x", [1, 4, 6, 6], 8));
        return model;
    }

    [Fact]
    public void OpsOnDequantizedDataThatGiveFloatResultsAreFloat()
    {
        var nodes = QdqFloatNodes.Of(Quantized(Head()));
        // The convolutions run quantized (conv2's output feeds float ops, but it reads int8 data and weights); the
        // softmax, exp and mul on the dequantized conv2 output give float results.
        Assert.DoesNotContain("conv1_node", nodes);
        Assert.DoesNotContain("conv2_node", nodes);
        Assert.Contains("scores_node", nodes);
        Assert.Contains("e_node", nodes);
        Assert.Contains("sizes_node", nodes);
    }

    [Fact]
    public void KeptLayersAreFloat()
    {
        var nodes = QdqFloatNodes.Of(Quantized(Head(), new QuantizeOptions { KeepFp32 = ["conv1_node"] }));
        Assert.Contains("conv1_node", nodes);
        Assert.DoesNotContain("conv2_node", nodes);
    }

    /// <summary>ONNX Runtime has no integer PRelu: between its Q/DQ pair it computes in float with the float slopes.</summary>
    [Fact]
    public void PReluBetweenQdqPairsIsFloat()
    {
        var b = new ModelBuilder(seed: 8);
        var x = b.Input("x", 1, 4, 6, 6);
        var p = b.Op("PRelu", [b.Conv(x, "conv1", 4, 4), b.Weight("slope", [4, 1, 1], 0f, 0.5f)], "p");
        b.Output(b.Conv(p, "conv2", 4, 4));
        var model = Quantized(b);
        Assert.Contains(model.Graph.Nodes, n => n.OpType == "QuantizeLinear" && n.Input(0)!.Producer?.OpType == "PRelu");
        var nodes = QdqFloatNodes.Of(model);
        Assert.Contains("p_node", nodes);
        Assert.DoesNotContain("conv2_node", nodes);
    }

    [Fact]
    public void UnnamedNodesGoByTheirFirstOutput()
    {
        var b = new ModelBuilder(seed: 8);
        var x = b.Input("x", 1, 4, 6, 6);
        b.Output(b.Graph.AddNode("Sigmoid", [b.Conv(x, "conv1", 4, 4)], ["s"], "", "", []).Output0);
        Assert.Contains("s", QdqFloatNodes.Of(Quantized(b)));
    }

    [Fact]
    public void AFloatModelIsFloatThroughout()
    {
        var model = OnnxImporter.Parse(OnnxExporter.ToBytes(Head().Model));
        ShapeInference.Infer(model);
        Assert.Equal(model.Graph.Nodes.Select(n => n.Name).Order(StringComparer.Ordinal), QdqFloatNodes.Of(model).Order(StringComparer.Ordinal));
    }
}
