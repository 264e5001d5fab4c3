using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using EdgeBuild.Session;
using EdgeBuild.Tests.Support;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.RealModels;

/// <summary>
/// PP-OCRv4's text recognizer, a family nobody tuned EdgeBuild for (a [1,40,6625] CTC output from a Softmax, SVTR
/// attention, decomposed HardSwish), on text lines rendered from the template sentences: the FP32 model reads them (so
/// the inputs are what the model was trained on and the agreement below means something), its task is inferred as
/// Classification per time step, and a quantized model's loss is the share of time steps whose character changed.
/// </summary>
public class TextRecognizerTests
{
    private const string Id = "ocr-rec-ppocrv4";

    private static (Model Model, byte[] Bytes, IReadOnlyList<TextLines.Line> Lines, string[] Characters) Load(int lines)
    {
        string data = TestData.Require();
        var model = OnnxImporter.Load(TestData.Model(Id));
        InputShapes.Apply(model, new Dictionary<string, long[]> { ["x"] = [1, 3, TextLines.Height, TextLines.Width] });
        ShapeInference.Infer(model);
        var characters = File.ReadAllLines(TestData.RequireFile(Path.Combine("text", "ppocr-keys-v1.txt")));
        return (model, OnnxExporter.ToBytes(model), TextLines.Render(data, lines), characters);
    }

    [SkippableFact]
    public void TheFp32RecognizerReadsTheRenderedLinesAndItsTaskIsClassificationPerStep()
    {
        var (model, bytes, lines, characters) = Load(30);
        Assert.Equal(TaskKind.Classification, AccuracyEvaluator.Infer(model));
        int exact = 0;
        var misread = new List<string>();
        foreach (var line in lines)
        {
            var output = Ort.Run(bytes, new Dictionary<string, Tensor> { ["x"] = TextLines.Input(line) }).Values.Single();
            // The class after the last character is a space; a trailing one is dropped, as PP-OCR's own post-processing does.
            string read = TextLines.Decode(output.ToFloats(), (int)output.Dims[1], (int)output.Dims[2], characters).TrimEnd();
            if (read == line.Text) exact++;
            else misread.Add($"'{line.Text}' read as '{read}'");
        }
        // A recognizer fed garbage (wrong normalization, channels, size) reads nothing right; this one reads nearly all.
        Assert.True(exact >= 22, $"{exact} of {lines.Count} lines read exactly: {string.Join("; ", misread)}");
    }

    /// <summary>
    /// Static INT8 on 16 lines, judged on 30 others: the report scores all 40 steps of each line along the character axis,
    /// and its loss is the share of steps whose best character differs, counted here from the two models' outputs.
    /// </summary>
    [SkippableFact]
    public void AQuantizedRecognizerLosesTheShareOfTimeStepsWhoseCharacterChanged()
    {
        var (model, bytes, lines, _) = Load(46);
        var inputs = lines.Select(l => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { ["x"] = TextLines.Input(l) }).ToList();
        var heldOut = new SampleList(inputs.Take(30).ToList());
        ModelQuantizer.Quantize(model, new QuantizeOptions { Mode = QuantizationMode.Int8Static }, new SampleList(inputs.Skip(30).ToList()));
        byte[] quantized = OnnxExporter.ToBytes(model);

        var report = AccuracyEvaluator.Compare(bytes, quantized, heldOut, TaskKind.Classification);
        long changed = 0, steps = 0;
        foreach (var sample in heldOut.Samples())
        {
            var a = Ort.Run(bytes, sample).Values.Single().ToFloats();
            var b = Ort.Run(quantized, sample).Values.Single().ToFloats();
            for (int t = 0; t < a.Length / 6625; t++, steps++)
                if (ArgMax(a, t * 6625) != ArgMax(b, t * 6625)) changed++;
        }
        Assert.Equal(30 * 40, steps);
        Assert.Contains("40 positions per sample, classes along axis 2", report.Metric);
        Assert.Equal(100.0 * changed / steps, report.LossPercent, 6);
        Assert.InRange(report.LossPercent, report.Loss.Low, report.Loss.High);
    }

    private static int ArgMax(float[] v, int start)
    {
        int best = 0;
        for (int k = 1; k < 6625; k++) if (v[start + k] > v[start + best]) best = k;
        return best;
    }
}
