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
}
