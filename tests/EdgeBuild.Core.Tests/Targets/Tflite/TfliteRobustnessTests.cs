using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Targets.Tflite;
using EdgeBuild.Tests.Support;
using Attribute = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Tests.Tflite;

/// <summary>Failure classes the fuzzer found in the TFLite writer: values out of range become one EB error, never a crash or a hang.</summary>
public sealed class TfliteRobustnessTests
{
    /// <summary>Through the file format and the optimizer, as a compile would see the model.</summary>
    private static Model Prepared(ModelBuilder b)
    {
        var model = OnnxImporter.Parse(OnnxExporter.ToBytes(b.Model), "model.onnx");
        OptimizationPipeline.Run(model, new OptimizeOptions());
        return model;
    }

    private static EdgeBuildException Refused(Model model) =>
        Assert.Throws<EdgeBuildException>(() => TfliteConverter.Convert(model, new TfliteOptions(TflitePrecision.Fp32)));

    [Fact]
    public void ZeroDimIsRefusedByNameNotADivisionByZero()
    {
        // Resize to a zero height divided by it when choosing TFLite's rounding flags.
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 2, 4, 4);
        b.Output(b.Op("Resize", [x, null, null, b.ConstInts("sizes", 1, 2, 0, 8)], "y", Attribute.Of("mode", "nearest")));
        var e = Refused(Prepared(b));
        Assert.Equal("EB4101", e.Code);
        Assert.Contains("Resize (y_node", e.Message);
    }

    [Fact]
    public void DimsOverflowingInt32AreEb4106()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 1);
        b.Output(b.Op("Expand", [x, b.ConstInts("to", 65536, 65536)], "y"));
        var e = Refused(Prepared(b));
        Assert.Equal("EB4106", e.Code);
        Assert.Contains("more than 2147483647 elements", e.Message);
    }

    [Fact]
    public void GroupOfTwoToTheThirtyOneMinusOneIsRefusedByName()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 4, 6, 6);
        var w = b.Weight("w", [4, 1, 3, 3]);
        b.Output(b.Op("Conv", [x, w], "y", Attribute.Of("group", (long)int.MaxValue), Attribute.Of("kernel_shape", [3L, 3]), Attribute.Of("pads", [1L, 1, 1, 1])));
        var model = OnnxImporter.Parse(OnnxExporter.ToBytes(b.Model), "model.onnx");
        var e = Refused(model);
        Assert.StartsWith("EB41", e.Code);
        Assert.Contains("y_node", e.Message);
    }

    [Fact]
    public void GemmWhoseBIsAVectorIsRefusedByName()
    {
        // Fuzz class (seed 15, mutant 19711): a BiasAdd turned into a Gemm took its bias vector as B, and transposing
        // B as a matrix indexed a second dim it does not have (IndexOutOfRangeException).
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 4);
        b.Output(b.Op("Gemm", [x, b.Const("bias", [4], 1, 2, 3, 4)], "y"));
        var e = Refused(OnnxImporter.Parse(OnnxExporter.ToBytes(b.Model), "model.onnx"));
        Assert.Equal("EB4101", e.Code);
        Assert.Contains("Gemm (y_node: A, B and Y must be matrices)", e.Message);
    }

    [Fact]
    public void NodeMissingARequiredInputIsRefusedByName()
    {
        // Fuzz class (seed 15, mutant 24812): a Relu whose only input was dropped reached the converter, which looked up
        // a null value (ArgumentNullException). An Add without its second operand is the binary case.
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 4);
        var relu = b.Op("Relu", [null], "r");
        b.Output(b.Op("Add", [x], "y"), relu);
        var e = Refused(OnnxImporter.Parse(OnnxExporter.ToBytes(b.Model), "model.onnx"));
        Assert.Equal("EB4101", e.Code);
        Assert.Contains("Relu (r_node: input 0 of the 1 the ONNX spec requires is missing)", e.Message);
        Assert.Contains("Add (y_node: input 1 of the 2 the ONNX spec requires is missing)", e.Message);
    }

    [Fact]
    public void MaxPoolWithoutKernelShapeIsRefusedByName()
    {
        // Fuzz class (seed 15, mutant 54811): a bit flip renamed kernel_shape, and choosing the padding read the null window.
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 2, 4, 4);
        b.Output(b.Op("MaxPool", [x], "y", Attribute.Of("strides", [1L, 1])));
        var model = OnnxImporter.Parse(OnnxExporter.ToBytes(b.Model), "model.onnx");
        model.Graph.Outputs[0].Type = new TensorType(DataType.Float, Shape.Of(1, 2, 4, 4));
        var e = Refused(model);
        Assert.Equal("EB4101", e.Code);
        Assert.Contains("MaxPool (y_node: kernel_shape must give the 2 spatial dims)", e.Message);
    }

    [Theory]
    [InlineData(false, "starts and ends must be constant integers")]
    [InlineData(true, "starts, ends, axes and steps must be integer lists of one length")]
    public void SliceWithoutEndsOrWithListsOfDifferentLengthsIsRefusedByName(bool threeAxes, string why)
    {
        // Fuzz class (seed 15, mutant 57525): a node turned into a Slice had no ends input, and the converter read a null list.
        var b = new ModelBuilder();
        var x = b.Input("x", 4, 4);
        Value?[] inputs = threeAxes ? [x, b.ConstInts("starts", 0, 0), b.ConstInts("ends", 2, 2), b.ConstInts("axes", 0, 1, 0)] : [x, b.ConstInts("starts", 0)];
        b.Output(b.Op("Slice", inputs, "y"));
        var model = OnnxImporter.Parse(OnnxExporter.ToBytes(b.Model), "model.onnx");
        model.Graph.Outputs[0].Type = new TensorType(DataType.Float, Shape.Of(2, 2));
        var e = Refused(model);
        Assert.Equal("EB4101", e.Code);
        Assert.Contains($"Slice (y_node: {why})", e.Message);
    }

    [Fact]
    public void ElementwiseOpWhoseOutputHasAnotherShapeIsRefusedByName()
    {
        // Fuzz class (seed 15, mutant 85889): a node turned into a LeakyRelu kept its declared rank-2 output over a
        // rank-4 input, and laying the output out by the input's layout indexed past its dims.
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 2, 4, 4);
        b.Output(b.Op("LeakyRelu", [x], "y"));
        var model = OnnxImporter.Parse(OnnxExporter.ToBytes(b.Model), "model.onnx");
        model.Graph.Outputs[0].Type = new TensorType(DataType.Float, Shape.Of(1, 32));
        var e = Refused(model);
        Assert.Equal("EB4101", e.Code);
        Assert.Contains("LeakyRelu (y_node: output shape [1,32] is not the input's [1,2,4,4])", e.Message);
    }

    [Fact]
    public void ConstantOfShapeOfGigabytesIsNotStoredAsConstantData()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 8192);
        var fill = b.Op("ConstantOfShape", [b.ConstInts("dims", 8192, 8192)], "fill", Attribute.Of("value", Tensor.FromFloats([1], [1f])));
        b.Output(b.Op("MatMul", [x, fill], "y"));
        var e = Refused(Prepared(b));
        Assert.Equal("EB4101", e.Code);
        Assert.Contains("256 MiB of constant data", e.Message);
    }
}
