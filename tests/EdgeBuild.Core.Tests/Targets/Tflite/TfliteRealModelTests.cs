using System.Text.Json;
using EdgeBuild.Measure;
using EdgeBuild.Targets.Tflite;
using EdgeBuild.Tests.Support;
using Xunit.Abstractions;
using Tensor = EdgeBuild.Ir.Tensor;
using EdgeBuild.Quantization;

namespace EdgeBuild.Tests.Tflite;

/// <summary>
/// The ten pinned real models converted to .tflite and run in Google's interpreter (LiteRT, build/tflite-runner) on 20 real
/// photos each, against ONNX Runtime on the original FP32 ONNX model. Error per output: max |a - b| over the photos /
/// max |reference| over the photos (as the optimizer's real-model tests measure it). Float32 <= 1e-4, float16
/// <= 1e-2; Int8 is judged by the task metric, as the ONNX INT8 artifact is.
/// </summary>
public class TfliteRealModelTests(ITestOutputHelper output)
{
    public const int Photos = 20;
    public const int CalibrationPhotos = 8;

    public static TheoryData<string> ModelIds => new(RealModelSpec.All.Select(s => s.Id));

    private sealed record Run(RealModelSpec Spec, string ModelPath, RealModelSamples Eval, List<IReadOnlyDictionary<string, Tensor>> Reference, Ir.Model Float);

    private static Run Prepare(string id, int skip = 0)
    {
        string data = TestData.Require();
        var spec = RealModelSpec.Get(id);
        string path = TestData.Model(id);
        var photos = spec.Photos(data, skip + Photos).Skip(skip).ToList();
        Assert.Equal(Photos, photos.Count);
        var eval = new RealModelSamples(spec, photos, data);
        var reference = TfliteHarness.RunOnnx(path, eval.Samples());
        return new Run(spec, path, eval, reference, TfliteHarness.OptimizedFloat(path, spec));
    }

    private (Dictionary<string, double> Errors, TfliteResult Result, byte[] Bytes, List<IReadOnlyDictionary<string, Tensor>> Outputs) Compare(
        string tool, Run run, TflitePrecision precision, IReadOnlyDictionary<string, EdgeBuild.Quantization.Calibration.TensorRange>? ranges = null)
    {
        var (bytes, result) = TfliteHarness.Convert(run.Float, precision, ranges);
        string work = Directory.CreateTempSubdirectory($"edgebuild-tflite-{run.Spec.Id}-").FullName;
        try
        {
            var outputs = TfliteHarness.RunAll(tool, bytes, result, run.Eval.Samples().ToList(), work);
            var errors = TfliteHarness.MaxRelativeError(run.Reference, outputs);
            output.WriteLine($"{run.Spec.Id} {precision}: {bytes.Length} bytes (ONNX file {new FileInfo(run.ModelPath).Length}), {result.Model.Operators.Count} ops, " +
                $"{result.Transposes} TRANSPOSE; max rel error {string.Join(", ", errors.Select(e => $"{e.Key} {e.Value:E2}"))}");
            return (errors, result, bytes, outputs);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [SkippableTheory]
    [MemberData(nameof(ModelIds))]
    public void Float32MatchesOnnxRuntime(string id)
    {
        string tool = TfliteTool.Require();
        var run = Prepare(id);
        var (errors, result, bytes, outputs) = Compare(tool, run, TflitePrecision.Fp32);
        foreach (var (name, error) in errors) Assert.True(error <= 1e-4, $"{id} output '{name}': max relative error {error:E2} > 1e-4");
        // The weights are the file: within 5 % of the ONNX model (the optimizer may fold some away).
        Assert.True(bytes.Length <= 1.05 * new FileInfo(run.ModelPath).Length, $"{bytes.Length} bytes > 1.05 x the ONNX file");
        // The layout pass leaves no TRANSPOSE in any of them (NHWC models stay NHWC, NCHW ones move to NHWC).
        Assert.Equal(0, result.Transposes);
        if (run.Spec.IsClassifier)
            for (int i = 0; i < outputs.Count; i++)
                foreach (var (name, t) in run.Reference[i])
                    Assert.Equal(ArgMax(t.ToFloats()), ArgMax(outputs[i][name].ToFloats()));
        if (run.Spec.Nhwc) Assert.All(result.Io.Where(io => io.IsInput), io => Assert.Equal("ONNX", io.Layout));
        else Assert.All(result.Io.Where(io => io.IsInput && io.Shape.Length == 4), io => Assert.Equal("NHWC", io.Layout));
    }

    /// <summary>
    /// Float16 weights behind DEQUANTIZE: <= 1e-2, except ocr-det-ppocrv4, whose probability map moves by up to ~1e-1
    /// at its steepest pixels with weights rounded to float16; there the bound is what the ONNX FP16 artifact does on
    /// the same photos (more: 2.6e-1 in the acceptance table), and the mean error stays under 1e-3. At most 0.65 of
    /// the ONNX file (weight tensors under 1024 values stay float32).
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(ModelIds))]
    public void Float16StaysWithinOnePercent(string id)
    {
        string tool = TfliteTool.Require();
        var run = Prepare(id);
        var (errors, result, bytes, outputs) = Compare(tool, run, TflitePrecision.Fp16);
        double bound = 1e-2;
        if (id == "ocr-det-ppocrv4")
        {
            var fp16 = EdgeBuild.Onnx.OnnxImporter.Parse(EdgeBuild.Onnx.OnnxExporter.ToBytes(run.Float));
            EdgeBuild.Quantization.ModelQuantizer.Quantize(fp16, new EdgeBuild.Quantization.QuantizeOptions { Mode = EdgeBuild.Quantization.QuantizationMode.Fp16 }, null);
            string path = Path.Combine(Directory.CreateTempSubdirectory("edgebuild-tflite-fp16-").FullName, "fp16.onnx");
            EdgeBuild.Onnx.OnnxExporter.Save(fp16, path);
            double onnxError = TfliteHarness.MaxRelativeError(run.Reference, TfliteHarness.RunOnnx(path, run.Eval.Samples())).Values.Max();
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
            output.WriteLine($"ONNX FP16 artifact: max relative error {onnxError:E2}");
            bound = Math.Max(bound, onnxError);
            double sum = 0, max = 0;
            long count = 0;
            for (int i = 0; i < outputs.Count; i++)
                foreach (var (name, t) in run.Reference[i])
                {
                    var a = t.ToFloats();
                    var b = outputs[i][name].ToFloats();
                    for (int k = 0; k < a.Length; k++) { sum += Math.Abs(a[k] - b[k]); max = Math.Max(max, Math.Abs(a[k])); count++; }
                }
            output.WriteLine($"mean |diff| / max |reference| {sum / count / max:E2}");
            Assert.True(sum / count <= 1e-3 * max, $"mean error {sum / count / max:E2} > 1e-3");
        }
        foreach (var (name, error) in errors) Assert.True(error <= bound, $"{id} output '{name}': max relative error {error:E2} > {bound}");
        Assert.True(bytes.Length <= 0.65 * new FileInfo(run.ModelPath).Length, $"{bytes.Length} bytes > 0.65 x the ONNX file");
        Assert.Contains(result.Model.Tensors, t => t.Type == EdgeBuild.Targets.Tflite.Schema.TensorType.FLOAT16);
    }

    /// <summary>The number of reference boxes a Detection report counted (0 when it judged raw outputs instead).</summary>
    private static int ReferenceBoxes(AccuracyReport report) =>
        System.Text.RegularExpressions.Regex.Match(report.Metric, @"\((\d+) reference boxes") is { Success: true } m ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;

    /// <summary>
    /// Full-integer INT8 calibrated on 8 photos, judged on 20 others by the task metric against the FP32 model
    /// (AccuracyEvaluator, as the ONNX INT8 artifact is measured): a loss under 1 %, or no more than the ONNX INT8
    /// (QDQ) model calibrated on the same photos loses (plus one photo's worth for classifiers, 5 % of 20, and one box's
    /// worth for detectors).
    /// </summary>
    [SkippableTheory]
    [InlineData("eye-state", TaskKind.Classification)]
    [InlineData("face-detect-rfb320", TaskKind.Detection)]
    [InlineData("face-landmark68", TaskKind.Regression)]
    [InlineData("resnet18-features", TaskKind.Embedding)]
    [InlineData("ocr-angle-cls", TaskKind.Classification)]
    [InlineData("face-embedding", TaskKind.Embedding)]
    public void Int8KeepsTheTaskMetric(string id, TaskKind task)
    {
        string tool = TfliteTool.Require();
        string data = TestData.Require();
        var run = Prepare(id, skip: CalibrationPhotos);
        var calibration = new RealModelSamples(run.Spec, run.Spec.Photos(data, CalibrationPhotos), data);
        var ranges = TfliteHarness.Ranges(run.Float, calibration);
        var (_, result, bytes, outputs) = Compare(tool, run, TflitePrecision.Int8, ranges);
        byte[] original = File.ReadAllBytes(run.ModelPath);
        var report = AccuracyEvaluator.Compare(original, run.Eval, outputs, task);
        var onnxInt8 = EdgeBuild.Onnx.OnnxImporter.Parse(EdgeBuild.Onnx.OnnxExporter.ToBytes(run.Float));
        EdgeBuild.Quantization.ModelQuantizer.Quantize(onnxInt8, new EdgeBuild.Quantization.QuantizeOptions(), calibration);
        var onnxReport = AccuracyEvaluator.Compare(original, EdgeBuild.Onnx.OnnxExporter.ToBytes(onnxInt8), run.Eval, task);
        output.WriteLine($"TFLite INT8: {report.Summary}");
        output.WriteLine($"ONNX INT8:   {onnxReport.Summary}");
        double bound = Math.Max(1.0, onnxReport.LossPercent + task switch
        {
            TaskKind.Classification => 100.0 / Photos,
            // One box more or fewer among N reference boxes moves F1 by up to 1 / (2N - 1): with ~20 faces the metric
            // cannot resolve less, and which anchor ends up a hair above or below the 0.5 score threshold (the int8
            // SOFTMAX output has 0.5 exactly on its 1/256 grid) is not a difference between two quantizations.
            TaskKind.Detection when ReferenceBoxes(report) is int boxes and > 0 => 100.0 / (2 * boxes - 1),
            _ => 0.5,
        });
        Assert.True(report.LossPercent <= bound, $"{id}: TFLite {report.Summary}; ONNX INT8 {onnxReport.LossPercent:F2} %");

        // Full integer: float tensors only at the model's inputs and outputs (a QUANTIZE after each input, a DEQUANTIZE before each output).
        var m = result.Model;
        foreach (var op in m.Operators)
        {
            var code = m.OperatorCodes[op.OpcodeIndex].Code;
            foreach (var o in op.Outputs)
                if (m.Tensors[o].Type == EdgeBuild.Targets.Tflite.Schema.TensorType.FLOAT32)
                    Assert.True(code == EdgeBuild.Targets.Tflite.Schema.BuiltinOperator.DEQUANTIZE && m.Outputs.Contains(o), $"{code} makes float tensor '{m.Tensors[o].Name}'");
            if (code == EdgeBuild.Targets.Tflite.Schema.BuiltinOperator.QUANTIZE && m.Tensors[op.Inputs[0]].Type == EdgeBuild.Targets.Tflite.Schema.TensorType.FLOAT32)
                Assert.Contains(op.Inputs[0], m.Inputs);
        }
        Assert.True(bytes.Length <= 0.5 * new FileInfo(run.ModelPath).Length);
    }

    /// <summary>What the reference runner's own FlatBuffer reader sees in an INT8 file: per-channel int8 weights on the axis TFLite expects, int32 biases at s_in x s_w.</summary>
    [SkippableFact]
    public void Int8WeightsArePerChannelOnTfliteAxes()
    {
        string tool = TfliteTool.Require();
        string data = TestData.Require();
        var spec = RealModelSpec.Get("blazeface-front128");
        var model = TfliteHarness.OptimizedFloat(TestData.Model(spec.Id), spec);
        var ranges = TfliteHarness.Ranges(model, new RealModelSamples(spec, spec.Photos(data, CalibrationPhotos), data));
        var (bytes, _) = TfliteHarness.Convert(model, TflitePrecision.Int8, ranges);
        string file = Path.Combine(Directory.CreateTempSubdirectory("edgebuild-tflite-axes-").FullName, "model.tflite");
        File.WriteAllBytes(file, bytes);
        using var info = TfliteRef.Info(tool, file);
        var root = info.RootElement;
        Assert.True(root.GetProperty("runtime").GetProperty("model_ok").GetBoolean());
        var tensors = root.GetProperty("tensors").EnumerateArray().ToDictionary(t => t.GetProperty("index").GetInt32());
        int conv = 0, depthwise = 0;
        foreach (var t in tensors.Values)
        {
            string name = t.GetProperty("name").GetString()!;
            if (!name.EndsWith("/weights", StringComparison.Ordinal)) continue;
            Assert.Equal("int8", t.GetProperty("dtype").GetString());
            var q = t.GetProperty("quantization");
            int channels = q.GetProperty("scale").GetArrayLength();
            int axis = q.GetProperty("quantized_dimension").GetInt32();
            var shape = t.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray();
            Assert.Equal(shape[axis], channels);
            Assert.All(q.GetProperty("zero_point").EnumerateArray(), z => Assert.Equal(0, z.GetInt64()));
            if (shape[0] == 1 && axis == 3) depthwise++;
            else
            {
                Assert.Equal(0, axis);
                conv++;
            }
        }
        output.WriteLine($"{conv} CONV_2D and {depthwise} DEPTHWISE_CONV_2D weight tensors, per channel");
        Assert.True(conv > 10 && depthwise > 10);
        var counts = root.GetProperty("operators").GetProperty("counts");
        Assert.Equal(1, counts.GetProperty("QUANTIZE").GetInt32());
        Assert.Equal(4, counts.GetProperty("DEQUANTIZE").GetInt32());
        Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
    }

    /// <summary>
    /// The compile step with Targets Onnx;TFLite at Int8 on photos: one calibration for both artifacts, the ONNX one
    /// measured against FP32 as before, the .tflite file full-integer with float I/O in NHWC, listed in the manifest,
    /// and running in LiteRT close to the ONNX INT8 artifact. With --tflite-int8-io the file takes and gives int8.
    /// </summary>
    [SkippableFact]
    public void CompileStepWritesBothTargetsFromOneCalibration()
    {
        string tool = TfliteTool.Require();
        string data = TestData.Require();
        var spec = RealModelSpec.Get("eye-state");
        string dir = Directory.CreateTempSubdirectory("edgebuild-tflite-compile-").FullName;
        try
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            string[] common = ["--precision", "Int8", "--calibration", Path.Combine(data, "photos", "faces", "*.jpg"), "--channel-order", "Gray", "--scale", "0.0039215686", "-q"];
            int exit = EdgeBuild.Cli.Commands.Run(["compile", TestData.Model(spec.Id), "--out", dir, "--targets", "Onnx;TFLite", .. common], stdout, stderr);
            Assert.True(exit == 0, stderr.ToString());
            using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "EyeState.edgemodel.json")));
            var artifacts = manifest.RootElement.GetProperty("artifacts");
            Assert.Equal(["Onnx", "TFLite"], artifacts.EnumerateArray().Select(a => a.GetProperty("target").GetString()));
            var io = artifacts[1].GetProperty("io");
            Assert.Equal("NHWC", io[0].GetProperty("layout").GetString());
            Assert.Equal("float32", io[0].GetProperty("elementType").GetString());
            Assert.True(manifest.RootElement.GetProperty("metrics").TryGetProperty("accuracy", out _));

            using var info = TfliteRef.Info(tool, Path.Combine(dir, "EyeState.tflite"));
            Assert.True(info.RootElement.GetProperty("runtime").GetProperty("model_ok").GetBoolean());
            var counts = info.RootElement.GetProperty("operators").GetProperty("counts");
            Assert.Equal(1, counts.GetProperty("QUANTIZE").GetInt32());
            Assert.Equal(1, counts.GetProperty("DEQUANTIZE").GetInt32());
            // The shared calibration reached the file (names of the float model's activations): the held-out photos keep their class.
            var photos = spec.Photos(data, 24).Skip(16).ToList();
            var samples = new RealModelSamples(spec, photos, data);
            var reference = TfliteHarness.RunOnnx(TestData.Model(spec.Id), samples.Samples());
            int agree = 0;
            for (int i = 0; i < photos.Count; i++)
            {
                var nhwc = EdgeBuild.Targets.Tflite.Layout.Transpose(samples.Inputs[i], EdgeBuild.Targets.Tflite.Layout.Nhwc);
                var y = TfliteRef.Run(tool, Path.Combine(dir, "EyeState.tflite"), new Dictionary<string, Ir.Tensor> { ["input"] = nhwc }, Path.Combine(dir, $"run{i}"))["output"].ToFloats();
                var e = reference[i]["output"].ToFloats();
                if (ArgMax(y) == ArgMax(e)) agree++;
            }
            Assert.True(agree >= photos.Count - 1, $"{agree} of {photos.Count} held-out photos keep their class");

            string int8Dir = Path.Combine(dir, "int8io");
            exit = EdgeBuild.Cli.Commands.Run(["convert", TestData.Model(spec.Id), "-o", int8Dir, "--target", "TFLite", "--tflite-int8-io", .. common], stdout, stderr);
            Assert.True(exit == 0, stderr.ToString());
            using var info8 = TfliteRef.Info(tool, Path.Combine(int8Dir, "EyeState.tflite"));
            Assert.Equal("int8", info8.RootElement.GetProperty("inputs")[0].GetProperty("dtype").GetString());
            Assert.Equal("int8", info8.RootElement.GetProperty("outputs")[0].GetProperty("dtype").GetString());
            Assert.False(info8.RootElement.GetProperty("operators").GetProperty("counts").TryGetProperty("QUANTIZE", out _));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Same input, same bytes: converting twice (and through a fresh copy of the model) gives identical files.</summary>
    [SkippableFact]
    public void SameInputSameBytes()
    {
        string data = TestData.Require();
        var spec = RealModelSpec.Get("face-detect-rfb320");
        var model = TfliteHarness.OptimizedFloat(TestData.Model(spec.Id), spec);
        var ranges = TfliteHarness.Ranges(model, new RealModelSamples(spec, spec.Photos(data, CalibrationPhotos), data));
        foreach (var precision in Enum.GetValues<TflitePrecision>())
        {
            var a = TfliteHarness.Convert(model, precision, ranges).Bytes;
            var b = TfliteHarness.Convert(TfliteHarness.OptimizedFloat(TestData.Model(spec.Id), spec), precision, ranges).Bytes;
            Assert.Equal(a, b);
        }
    }

    private static int ArgMax(float[] v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
