using System.Diagnostics;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Quantization;
using EdgeBuild.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.Quantization;

/// <summary>
/// INT8 static (Percentile) on three pinned real models, calibrated on 10 photos and judged on 5 others by
/// what each model is for: the class for eye-state, the feature direction for resnet18-features, the best face
/// score for the detector.
/// </summary>
public class RealModelQuantizationTests(ITestOutputHelper output)
{
    /// <summary>
    /// Largest size against the optimized FP32 model. Weights alone are 0.25; per-channel scales (weight and bias, 4
    /// bytes each per output channel), int32 biases and the Q/DQ nodes come on top. In resnet18's large 3x3
    /// convolutions they are noise; in the small depthwise models (9 weights per channel, 12 bytes of per-channel
    /// data) they are not, so those get the bound their format allows.
    /// </summary>
    [SkippableTheory]
    [InlineData("eye-state", 0.40)]
    [InlineData("face-detect-rfb320", 0.34)]
    [InlineData("resnet18-features", 0.30)]
    public void Int8StaticKeepsWhatTheModelIsFor(string id, double maxSizeRatio)
    {
        string data = TestData.Require();
        var spec = RealModelSpec.Get(id);
        using var sessionOptions = Ort.Options();

        var model = OnnxImporter.Load(TestData.Model(id));
        OptimizationPipeline.Run(model, new OptimizeOptions { VerifyAfterEachPass = false });
        byte[] fp32 = OnnxExporter.ToBytes(model);
        var photos = spec.Photos(data, 15);
        var calibration = new RealModelSamples(spec, photos.Take(10), data);
        var heldOut = new RealModelSamples(spec, photos.Skip(10), data);

        var clock = Stopwatch.StartNew();
        var report = ModelQuantizer.Quantize(model, new QuantizeOptions { Calibrator = CalibratorKind.Percentile }, calibration);
        byte[] int8 = OnnxExporter.ToBytes(model);
        double ratio = int8.Length / (double)fp32.Length;
        output.WriteLine($"{id}: {fp32.Length} -> {int8.Length} bytes ({ratio:F3}), {report.QuantizedNodes} nodes quantized, {report.KeptNodes} kept, " +
            $"calibration {report.CalibrationTime.TotalMilliseconds:F0} ms, total {clock.ElapsedMilliseconds} ms");
        foreach (var l in report.Layers.Where(l => l.Sqnr is not null).OrderBy(l => l.Sqnr).Take(3)) output.WriteLine($"  worst: {l.Node} {l.Sqnr:F1} dB");
        Assert.True(ratio <= maxSizeRatio, $"size ratio {ratio:F3} > {maxSizeRatio}");
        Assert.All(report.Layers, l => Assert.Equal("Int8", l.Precision));

        using var a = new InferenceSession(fp32, sessionOptions);
        using var b = new InferenceSession(int8, sessionOptions);
        foreach (var (photo, sample) in photos.Skip(10).Zip(heldOut.Samples()))
        {
            var input = sample;
            var expected = Ort.Run(a, input);
            var actual = Ort.Run(b, input);
            string name = Path.GetFileName(photo);
            switch (id)
            {
                case "eye-state":
                {
                    var e = expected.Values.Single().ToFloats();
                    var q = actual.Values.Single().ToFloats();
                    output.WriteLine($"  {name}: [{string.Join(", ", e.Select(v => v.ToString("F3")))}] vs [{string.Join(", ", q.Select(v => v.ToString("F3")))}]");
                    Assert.Equal(Array.IndexOf(e, e.Max()), Array.IndexOf(q, q.Max()));
                    break;
                }
                case "resnet18-features":
                {
                    double cos = Cosine(expected.Values.Single().ToFloats(), actual.Values.Single().ToFloats());
                    output.WriteLine($"  {name}: cosine {cos:F4}");
                    Assert.True(cos >= 0.99, $"{name}: cosine {cos:F4}");
                    break;
                }
                default:
                {
                    float e = MaxFaceScore(expected["scores"]), q = MaxFaceScore(actual["scores"]);
                    output.WriteLine($"  {name}: max face score {e:F4} vs {q:F4}");
                    Assert.True(Math.Abs(e - q) < 0.05, $"{name}: max face score {e:F4} vs {q:F4}");
                    break;
                }
            }
        }
    }

    private static double Cosine(float[] x, float[] y)
    {
        double dot = 0, nx = 0, ny = 0;
        for (int i = 0; i < x.Length; i++)
        {
            dot += (double)x[i] * y[i];
            nx += (double)x[i] * x[i];
            ny += (double)y[i] * y[i];
        }
        return dot / Math.Sqrt(nx * ny);
    }

    /// <summary>scores is [1, anchors, 2] (background, face): the best face probability over all anchors.</summary>
    private static float MaxFaceScore(Tensor scores)
    {
        var f = scores.ToFloats();
        float best = 0;
        for (int i = 1; i < f.Length; i += 2) best = Math.Max(best, f[i]);
        return best;
    }
}
