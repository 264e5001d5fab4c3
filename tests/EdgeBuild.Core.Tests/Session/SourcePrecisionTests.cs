using EdgeBuild.Cli;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using EdgeBuild.Session;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Session;

/// <summary>
/// A model that is float16 or quantized already is refused by every precision that would label its artifact by a
/// precision EdgeBuild did not make (a float16 model shipped as "Fp32", an INT8 model quantized "again" against itself);
/// an Fp16 build of a float16 model ships it as it is. Wave 1 called both "Fp32"/"Int8 (0/57 layers INT8)" and passed.
/// </summary>
public sealed class SourcePrecisionTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-source-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static Model ConvNet()
    {
        var b = new ModelBuilder(seed: 4);
        var x = b.Input("x", 1, 3, 8, 8);
        var c = b.Op("Conv", [x, b.Weight("w", [8, 3, 3, 3]), b.Weight("bias", [8])], "c", Ir.Attribute.Of("pads", [1L, 1L, 1L, 1L]));
        b.Output(b.Op("Relu", [c], "y"));
        return b.Model;
    }

    private static Model Converted(QuantizationMode mode)
    {
        var model = ConvNet();
        ModelQuantizer.Quantize(model, new QuantizeOptions { Mode = mode }, data: null);
        return OnnxImporter.Parse(OnnxExporter.ToBytes(model));
    }

    [Fact]
    public void AFloat32ModelIsAcceptedByEveryPrecision()
    {
        var source = SourcePrecision.Of(ConvNet());
        Assert.False(source.IsFloat16);
        Assert.False(source.IsQuantized);
        foreach (var precision in Enum.GetValues<Precision>()) SourcePrecision.Require(ConvNet(), precision, "m.onnx");
    }

    [Fact]
    public void AFloat16ModelShipsAsFp16AndNothingElse()
    {
        var model = Converted(QuantizationMode.Fp16);
        Assert.True(SourcePrecision.Of(model).IsFloat16);
        SourcePrecision.Require(model, Precision.Fp16, "m.onnx");
        foreach (var precision in new[] { Precision.Fp32, Precision.Int8, Precision.Int8Dynamic, Precision.Mixed, Precision.Auto })
        {
            var e = Assert.Throws<EdgeBuildException>(() => SourcePrecision.Require(model, precision, "m.onnx"));
            Assert.Equal("EB3017", e.Descriptor.Code);
            Assert.Contains("100.0 % of its weights are float16", e.Message);
            Assert.Contains($"Precision={precision} needs a float32 one", e.Message);
        }
    }

    [Fact]
    public void AFloat16InputMakesAModelFloat16WhateverItsWeights()
    {
        var b = new ModelBuilder(seed: 4);
        var x = b.Graph.AddInput("half", new TensorType(DataType.Float16, Shape.Of(1, 4)));
        b.Output(b.Op("Cast", [x], "y", Ir.Attribute.Of("to", (long)DataType.Float)));
        var e = Assert.Throws<EdgeBuildException>(() => SourcePrecision.Require(b.Model, Precision.Fp32, "m.onnx"));
        Assert.Contains("its input(s) 'half' are float16", e.Message);
    }

    [Theory]
    [InlineData(QuantizationMode.Int8Dynamic)]
    public void AQuantizedModelIsRefusedByEveryPrecision(QuantizationMode mode)
    {
        var model = Converted(mode);
        var source = SourcePrecision.Of(model);
        Assert.True(source.IsQuantized);
        foreach (var precision in Enum.GetValues<Precision>())
        {
            var e = Assert.Throws<EdgeBuildException>(() => SourcePrecision.Require(model, precision, "m.onnx"));
            Assert.Equal("EB3016", e.Descriptor.Code);
            Assert.Contains($"{source.QuantizationNodes} quantization node(s)", e.Message);
        }
    }

    /// <summary>Through the CLI: one error line, exit 1, no artifact, no stack trace.</summary>
    [Theory]
    [InlineData("Fp32", QuantizationMode.Fp16, "EB3017")]
    [InlineData("Auto", QuantizationMode.Fp16, "EB3017")]
    [InlineData("Fp32", QuantizationMode.Int8Dynamic, "EB3016")]
    public void CompileSaysItInOneErrorAndWritesNothing(string precision, QuantizationMode source, string code)
    {
        string path = Path.Combine(dir, "model.onnx");
        OnnxExporter.Save(Converted(source), path);
        string output = Path.Combine(dir, "out");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = Commands.Run(["compile", path, "--out", output, "--precision", precision, "--no-measure", "-q"], stdout, stderr);
        Assert.Equal(1, exit);
        var errors = stderr.ToString().Split('\n').Where(l => l.StartsWith("error EB", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 1, stderr.ToString());
        Assert.StartsWith($"error {code}: {path}: ", errors[0]);
        Assert.DoesNotContain("   at ", stderr.ToString());
        Assert.False(Directory.Exists(output) && Directory.EnumerateFiles(output, "*.onnx").Any(), "no artifact may be written");
    }
}
