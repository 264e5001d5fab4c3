using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Quantization;

/// <summary>The calibration every target shares: a range for each float activation, equal to what the data shows.</summary>
public class CalibrationTableTests
{
    [Fact]
    public void MinMaxTableCoversInputsAndEveryNodeOutputWithTheirTrueExtremes()
    {
        var b = QuantModels.ConvReluConv();
        var data = QuantModels.Data(5);
        var table = CalibrationTable.Compute(b.Model, data, new QuantizeOptions { Calibrator = CalibratorKind.MinMax });

        Assert.Equal(5, table.Samples);
        Assert.False(table.Symmetric);
        var expected = b.Graph.Nodes.SelectMany(n => n.Outputs).Select(v => v!.Name).Append("x").ToHashSet();
        Assert.Equal(expected.OrderBy(n => n), table.Ranges.Keys.OrderBy(n => n));

        // The model output's range is the extremes of ONNX Runtime's outputs; the input's, of the samples.
        byte[] bytes = OnnxExporter.ToBytes(b.Model);
        string output = b.Graph.Outputs[0].Name;
        var outs = data.Samples().SelectMany(s => Ort.Run(bytes, s)[output].ToFloats()).ToArray();
        var ins = data.Samples().SelectMany(s => s["x"].ToFloats()).ToArray();
        // (ORT's fused kernels and the capture's unfused ones differ in the last bits.)
        Assert.Equal(outs.Min(), table.Ranges[output].Min, 1e-5);
        Assert.Equal(outs.Max(), table.Ranges[output].Max, 1e-5);
        Assert.Equal(ins.Min(), table.Ranges["x"].Min);
        Assert.Equal(ins.Max(), table.Ranges["x"].Max);
        Assert.Equal(Math.Max(-table.Ranges[output].Min, table.Ranges[output].Max), table.AbsMax(output));
        // The Relu's output is never negative.
        Assert.True(table.Ranges["relu1"].Min >= 0);
    }

    [Fact]
    public void TooFewSamplesIsEB3003()
    {
        var b = QuantModels.ConvReluConv();
        var e = Assert.Throws<Diagnostics.EdgeBuildException>(() =>
            CalibrationTable.Compute(b.Model, QuantModels.Data(2), new QuantizeOptions { MinCalibrationSamples = 4 }));
        Assert.Equal("EB3003", e.Descriptor.Code);
    }

    /// <summary>
    /// The shared table reads each tensor's extremes once for both the calibrator and the FP16 rule's extremes; the
    /// engine's own calibration (its pass over the tensors it marked) lets the calibrator read them itself. Either way a
    /// quantized model is the same byte for byte, with every calibrator, and the extremes are those of a pass of their own.
    /// </summary>
    [Theory]
    [InlineData(CalibratorKind.Percentile)]
    [InlineData(CalibratorKind.MinMax)]
    [InlineData(CalibratorKind.Entropy)]
    public void TheTablesPassQuantizesAModelBuiltHereByteForByteAsTheEnginesOwnCalibration(CalibratorKind calibrator) =>
        AssertTheTableQuantizesAsTheEngine(() => QuantModels.EveryOpFamily().Model, QuantModels.Data(12), calibrator);

    [SkippableTheory]
    [InlineData("eye-state", CalibratorKind.Percentile)]
    [InlineData("face-detect-rfb320", CalibratorKind.MinMax)]
    public void TheTablesPassQuantizesARealModelByteForByteAsTheEnginesOwnCalibration(string id, CalibratorKind calibrator)
    {
        string testData = TestData.Require();
        var spec = RealModelSpec.Get(id);
        var model = OnnxImporter.Load(TestData.Model(id));
        EdgeBuild.Passes.OptimizationPipeline.Run(model, new EdgeBuild.Passes.OptimizeOptions { VerifyAfterEachPass = false });
        byte[] optimized = OnnxExporter.ToBytes(model);
        AssertTheTableQuantizesAsTheEngine(() => OnnxImporter.Parse(optimized), new RealModelSamples(spec, spec.Photos(testData, 8), testData), calibrator);
    }

    private static void AssertTheTableQuantizesAsTheEngine(Func<EdgeBuild.Ir.Model> make, ICalibrationDataSource data, CalibratorKind calibrator)
    {
        var options = new QuantizeOptions { Calibrator = calibrator };
        var table = CalibrationTable.Compute(make(), data, options);
        var own = make();
        ModelQuantizer.Quantize(own, options, data);
        var given = make();
        ModelQuantizer.Quantize(given, options with { CalibratedRanges = table.Ranges, ValueExtremes = table.Extremes }, data);
        Assert.Equal(OnnxExporter.ToBytes(own), OnnxExporter.ToBytes(given));
        Assert.Contains(own.Graph.Nodes, n => n.OpType == "QuantizeLinear");

        var extremes = ValueExtremesCollector.Measure(make(), data);
        Assert.Equal(extremes.OrderBy(e => e.Key, StringComparer.Ordinal), table.Extremes.Where(e => extremes.ContainsKey(e.Key)).OrderBy(e => e.Key, StringComparer.Ordinal));
    }
}
