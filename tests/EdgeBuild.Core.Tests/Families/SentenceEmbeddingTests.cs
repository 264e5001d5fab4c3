using EdgeBuild.Tests.Support;
using Xunit.Abstractions;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.Families;

/// <summary>
/// all-MiniLM-L6-v2 (a 6-layer BERT encoder: attention, GELU as Erf, LayerNorm in primitives, symbolic batch and
/// sequence, int64 inputs) as a sentence encoder: BERT's uncased WordPiece on the vocab.txt of the same package,
/// mean pooling of last_hidden_state over the attention mask, then L2 normalization (the upstream recipe). A sentence
/// must be closer to its paraphrase than to unrelated ones, in the shipped model and the optimized one, and the two
/// must agree within 1e-4 of the outputs' magnitude.
/// </summary>
public class SentenceEmbeddingTests(ITestOutputHelper output)
{
    private const string Query = "A man is eating food.";
    private const string Related = "A man is eating a piece of bread.";

    private static readonly string[] Unrelated =
    [
        "A monkey is playing drums.",
        "Two men pushed carts through the woods.",
        "The new movie is awesome.",
        "A cheetah is running behind its prey.",
    ];

    [SkippableFact]
    public void TokenizerSplitsAsBert()
    {
        var tokenizer = new WordPiece(TestData.RequireFile(Path.Combine("text", "minilm-vocab.txt")));
        Assert.Equal(30522, tokenizer.VocabularySize);
        Assert.Equal(["[CLS]", "a", "man", "is", "eating", "food", ".", "[SEP]"], tokenizer.Tokens(Query));
        // Punctuation split off, accents stripped, an unknown word in pieces, a made-up word of no pieces at all.
        Assert.Equal(["[CLS]", "cafe", ",", "naive", "!", "[SEP]"], tokenizer.Tokens("Café, NAÏVE!"));
        var pieces = tokenizer.Tokens("unaffable");
        Assert.True(pieces.Count > 3 && pieces.Skip(2).Take(pieces.Count - 3).All(p => p.StartsWith("##", StringComparison.Ordinal)), string.Join(" ", pieces));
        Assert.Equal(101, tokenizer.Cls);
        Assert.Equal(102, tokenizer.Sep);
    }

    [SkippableFact]
    public void MiniLmRanksParaphraseAboveUnrelated_OptimizedAgrees()
    {
        var tokenizer = new WordPiece(TestData.RequireFile(Path.Combine("text", "minilm-vocab.txt")));
        using var model = FamilyModel.Load("text-minilm-l6");
        output.WriteLine(model.Summary);
        string[] sentences = [Query, Related, .. Unrelated];

        var agreement = new FamilyModel.Agreement();
        var original = new List<float[]>();
        var optimized = new List<float[]>();
        foreach (var sentence in sentences)
        {
            var inputs = Inputs([tokenizer.Encode(sentence)]);
            var (a, b) = model.Run(inputs);
            agreement.Add(a, b);
            Assert.True(FamilyModel.AllFinite(a["last_hidden_state"]), $"non-finite hidden state for '{sentence}'");
            original.Add(MeanPoolL2(a["last_hidden_state"], inputs["attention_mask"])[0]);
            optimized.Add(MeanPoolL2(b["last_hidden_state"], inputs["attention_mask"])[0]);
        }

        foreach (var (name, embeddings) in new[] { ("original", original), ("optimized", optimized) })
        {
            double related = Dot(embeddings[0], embeddings[1]);
            var unrelated = Enumerable.Range(2, Unrelated.Length).Select(i => Dot(embeddings[0], embeddings[i])).ToList();
            output.WriteLine($"  {name}: cosine('{Query}', '{Related}') {related:F3}; with the unrelated {string.Join(", ", unrelated.Select(c => c.ToString("F3")))}");
            Assert.True(related >= 0.6, $"{name}: cosine {related:F3} between a sentence and its paraphrase, expected >= 0.6");
            Assert.True(related >= unrelated.Max() + 0.3, $"{name}: the paraphrase (cosine {related:F3}) is not clearly closer than an unrelated sentence ({unrelated.Max():F3})");
        }
        output.WriteLine($"  optimized vs original: worst max|diff|/max|out| {agreement.WorstRelative:G3} (absolute {agreement.WorstAbsolute:G3})");
        agreement.AssertRelative(model.Id, 1e-4);

        // A padded batch of all the sentences: the mask must keep the padding out (same embeddings as one by one),
        // and the optimized graph must still take any batch and sequence length.
        var batch = Inputs(sentences.Select(tokenizer.Encode).ToArray());
        var (batchA, batchB) = model.Run(batch);
        var pooledA = MeanPoolL2(batchA["last_hidden_state"], batch["attention_mask"]);
        var pooledB = MeanPoolL2(batchB["last_hidden_state"], batch["attention_mask"]);
        double worstBatch = 0;
        for (int i = 0; i < sentences.Length; i++)
            worstBatch = Math.Max(worstBatch, Math.Max(original[i].Zip(pooledA[i]).Max(p => Math.Abs(p.First - p.Second)), optimized[i].Zip(pooledB[i]).Max(p => Math.Abs(p.First - p.Second))));
        output.WriteLine($"  padded batch of {sentences.Length}: max |embedding difference| from one by one {worstBatch:G3}");
        Assert.True(worstBatch <= 1e-4, $"padded batch embeddings differ from one-by-one ones by {worstBatch:G3}");
    }

    /// <summary>input_ids, attention_mask and token_type_ids [batch, longest], padded with id 0 and mask 0.</summary>
    private static Dictionary<string, Tensor> Inputs(long[][] encoded)
    {
        int length = encoded.Max(e => e.Length);
        var ids = new long[encoded.Length * length];
        var mask = new long[ids.Length];
        for (int b = 0; b < encoded.Length; b++)
            for (int t = 0; t < encoded[b].Length; t++)
            {
                ids[b * length + t] = encoded[b][t];
                mask[b * length + t] = 1;
            }
        long[] dims = [encoded.Length, length];
        return new Dictionary<string, Tensor>
        {
            ["input_ids"] = Tensor.FromInt64s(dims, ids),
            ["attention_mask"] = Tensor.FromInt64s(dims, mask),
            ["token_type_ids"] = Tensor.FromInt64s(dims, new long[ids.Length]),
        };
    }

    /// <summary>Mean of the hidden states [B, T, H] over the tokens the mask keeps, then scaled to unit length.</summary>
    private static float[][] MeanPoolL2(Tensor hidden, Tensor mask)
    {
        int batch = (int)hidden.Dims[0], tokens = (int)hidden.Dims[1], width = (int)hidden.Dims[2];
        var h = hidden.ToFloats();
        var m = mask.ToInt64s();
        var result = new float[batch][];
        for (int b = 0; b < batch; b++)
        {
            var sum = new double[width];
            int kept = 0;
            for (int t = 0; t < tokens; t++)
            {
                if (m[b * tokens + t] == 0) continue;
                kept++;
                for (int k = 0; k < width; k++) sum[k] += h[(b * tokens + t) * width + k];
            }
            double norm = Math.Sqrt(sum.Sum(v => v * v));
            result[b] = sum.Select(v => (float)(v / Math.Max(norm, 1e-12))).ToArray();
            Assert.True(kept > 0);
        }
        return result;
    }

    private static double Dot(float[] a, float[] b) => a.Zip(b).Sum(p => (double)p.First * p.Second);
}
