using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Quantization;
using EdgeBuild.Tests.Support;
using Xunit.Abstractions;
using IrAttribute = EdgeBuild.Ir.Attribute;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.Quantization;

/// <summary>
/// A BERT-style encoder exported at opset 11 (all-MiniLM-L6-v2 written back to opset 11 without value_info: attention
/// with symbolic batch and sequence, position ids sliced to a computed length, Softmax, LayerNorm and GELU in primitives) through the optimizer and dynamic INT8, which converts it to
/// opset 13 first: the sentence embeddings of 30 sentences must stay within cosine 0.99 of FP32's.
/// </summary>
public class TransformerQuantizationTests(ITestOutputHelper output)
{
    private const int SequenceLength = 32;

    [SkippableFact]
    public void Int8DynamicQuantizesAnOpset11BertEncoder()
    {
        var tokenizer = new WordPiece(TestData.RequireFile(Path.Combine("text", "minilm-vocab.txt")));
        byte[] original = File.ReadAllBytes(TestData.Model("text-minilm-l6"));
        var opset11 = OnnxImporter.Parse(original);
        Assert.Equal(13, opset11.DefaultOpset);
        int rewritten = WriteAsOpset11(opset11);
        Assert.True(rewritten > 0);
        byte[] exported = OnnxExporter.ToBytes(opset11);
        var sentences = TemplateSentences.All().Take(30).Select(s => tokenizer.Feed(s, SequenceLength)).ToList();
        // The opset-11 file is the same network (Softmax's axis 3 is the last one): ONNX Runtime gives what the shipped model gives.
        Ort.AssertClose(Ort.Run(original, sentences[0]), Ort.Run(exported, sentences[0]), 1e-5);

        // Straight from the file (the engine's API, edgebuild quantize --skip of every pass): only shape inference can
        // give the conversion to opset 13 the Softmax's rank. Then the compile's road: the optimizer first.
        foreach (bool optimize in new[] { false, true })
        {
            var model = OnnxImporter.Parse(exported);
            Assert.Equal(11, model.DefaultOpset);
            if (optimize) OptimizationPipeline.Run(model, new OptimizeOptions { VerifyAfterEachPass = true });
            var report = ModelQuantizer.Quantize(model, new QuantizeOptions { Mode = QuantizationMode.Int8Dynamic }, null);
            Assert.Empty(GraphVerifier.Verify(model.Graph));
            Assert.Equal(ModelQuantizer.MinQdqOpset, model.DefaultOpset);
            int int8 = report.Layers.Count(l => l.Precision == "Int8");
            Assert.True(int8 >= 36, $"{int8} of {report.Layers.Count} layers quantized; the encoder's 36 projections and feed-forward MatMuls should be");
            byte[] quantized = OnnxExporter.ToBytes(model);

            var cosines = new List<double>();
            foreach (var sample in sentences)
            {
                var reference = Pool(Ort.Run(original, sample), sample);
                var candidate = Pool(Ort.Run(quantized, sample), sample);
                cosines.Add(reference.Zip(candidate, (a, b) => (double)a * b).Sum());
            }
            output.WriteLine($"opset 11 -> {(optimize ? "optimized" : "not optimized")} -> Int8Dynamic: {int8}/{report.Layers.Count} layers int8; sentence-embedding cosine vs FP32 mean {cosines.Average():F4}, min {cosines.Min():F4} over {cosines.Count} sentences");
            Assert.True(cosines.Average() >= 0.99, $"mean cosine {cosines.Average():F4}");
            Assert.True(cosines.Min() >= 0.97, $"worst cosine {cosines.Min():F4}");
        }
    }

    /// <summary>
    /// Writes an opset-13 model in opset 11's forms: Unsqueeze's axes input becomes its attribute, and Softmax's axis is
    /// written as torch's opset-11 exporter writes it (3: the last axis of the attention scores, which means the same
    /// in both opsets only because it is the last; converting back to 13 needs the rank). Returns the nodes rewritten.
    /// </summary>
    private static int WriteAsOpset11(Model model)
    {
        int rewritten = 0;
        foreach (var n in model.Graph.Nodes.ToList())
        {
            if (n.Is("Softmax"))
            {
                // torch writes softmax(dim=-1) at opset 11 with the axis counted from the front: 3 for the attention
                // scores [batch, heads, sequence, sequence] (the caller checks in ONNX Runtime that it is the last axis).
                Assert.Equal(-1, n.GetInt("axis", -1));
                n.SetAttribute(IrAttribute.Of("axis", 3L));
                rewritten++;
            }
            if (!n.Is("Unsqueeze") || n.Inputs.Count < 2) continue;
            var axes = n.Input(1)!;
            var values = axes.ConstantValue ?? (axes.Producer is { OpType: "Constant" } c ? c.GetAttribute("value")!.Tensor : null);
            Assert.NotNull(values);
            n.SetAttribute(IrAttribute.Of("axes", values!.ToInt64s()));
            n.TruncateInputs(1);
            rewritten++;
        }
        model.SetOpsetVersion("", 11);
        new DeadCodeElimination().Run(model, new PassContext(new OptimizeOptions()));
        // As exporters that write no value_info leave it: only the graph's inputs and outputs declare types, so every
        // rank inside (the Softmax's the conversion to opset 13 needs) must come from shape inference.
        foreach (var v in model.Graph.Nodes.SelectMany(n => n.Outputs))
            if (v is not null && !v.IsGraphOutput) v.Type = null;
        return rewritten;
    }

    /// <summary>Mean of last_hidden_state over the tokens the mask keeps, scaled to unit length.</summary>
    private static float[] Pool(IReadOnlyDictionary<string, Tensor> outputs, IReadOnlyDictionary<string, Tensor> inputs)
    {
        var hidden = outputs["last_hidden_state"];
        var h = hidden.ToFloats();
        var mask = inputs["attention_mask"].ToInt64s();
        int tokens = (int)hidden.Dims[1], width = (int)hidden.Dims[2];
        var sum = new double[width];
        for (int t = 0; t < tokens; t++)
            if (mask[t] != 0)
                for (int k = 0; k < width; k++) sum[k] += h[t * width + k];
        double norm = Math.Sqrt(sum.Sum(v => v * v));
        return sum.Select(v => (float)(v / norm)).ToArray();
    }
}
