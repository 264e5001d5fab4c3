using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using Microsoft.ML.OnnxRuntime;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Quantization;

/// <summary>One output of a converted model that is infinite or NaN where the float32 model's is finite.</summary>
/// <param name="Output">The output's name.</param>
/// <param name="Inputs">On how many of the inputs tried.</param>
/// <param name="Of">How many inputs were tried.</param>
/// <param name="Elements">Non-finite elements over those inputs (where float32 was finite).</param>
public sealed record NonFiniteOutput(string Output, int Inputs, int Of, long Elements);

/// <summary>
/// A quantized model and its float32 original on the same inputs: a model whose output holds infinity or NaN where the
/// original's is finite is a broken artifact (a tensor left float16's range on the way, or INT8 rounded a small positive
/// value to 0 before a Log), whatever accuracy a budget would say. Run on every quantized build, held-out data or not,
/// so such a model is never shipped silently.
/// </summary>
public static class NonFiniteOutputCheck
{
    /// <summary>Inputs tried at most: a range problem shows on the first input that reaches it, and each costs two runs.</summary>
    public const int MaxInputs = 8;

    /// <summary>The outputs that go non-finite, on up to <paramref name="maxInputs"/> of <paramref name="inputs"/>.</summary>
    public static IReadOnlyList<NonFiniteOutput> Run(byte[] fp32, byte[] fp16, IEnumerable<IReadOnlyDictionary<string, Tensor>> inputs, int maxInputs = MaxInputs)
    {
        using var options = OrtSessions.ForEvaluation();
        // A refusal is reported by the caller in one line; ONNX Runtime's own log of it would only repeat it.
        options.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
        using var reference = new InferenceSession(fp32, options);
        using var candidate = new InferenceSession(fp16, options);
        var outputs = reference.OutputMetadata.Where(o => o.Value.IsTensor && o.Value.ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float)
            .Select(o => o.Key).Where(candidate.OutputMetadata.ContainsKey).ToArray();
        var hits = outputs.ToDictionary(o => o, _ => (Inputs: 0, Elements: 0L), StringComparer.Ordinal);
        int tried = 0;
        if (outputs.Length == 0) return [];
        foreach (var input in inputs.Take(maxInputs))
        {
            var a = AccuracyEvaluator.Run(reference, input, outputs);
            var b = AccuracyEvaluator.Run(candidate, input, outputs);
            tried++;
            for (int k = 0; k < outputs.Length; k++)
            {
                var x = a[k].AsSpan<float>();
                // Without KeepIoFp32 the converted model's outputs are float16.
                var y = b[k].ToFloats();
                long bad = 0;
                for (int i = 0; i < Math.Min(x.Length, y.Length); i++)
                    if (float.IsFinite(x[i]) && !float.IsFinite(y[i])) bad++;
                if (bad == 0) continue;
                var h = hits[outputs[k]];
                hits[outputs[k]] = (h.Inputs + 1, h.Elements + bad);
            }
        }
        return outputs.Where(o => hits[o].Inputs > 0).Select(o => new NonFiniteOutput(o, hits[o].Inputs, tried, hits[o].Elements)).ToList();
    }

    /// <summary>
    /// The input the latency measurement feeds when nothing else is given (<c>ModelBenchmark</c>): floats uniform in
    /// [-1, 1) from seed 7, integers 0 (indices and lengths: always in range), free dims at 1.
    /// </summary>
    public static IReadOnlyDictionary<string, Tensor> GeneratedInput(Model model)
    {
        var random = new Random(7);
        var feed = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var v in model.Graph.Inputs.Where(v => v.Initializer is null))
        {
            if (v.TensorType is not { } t) continue;
            long[] dims = t.Shape?.Dims.Select(d => d.Value is long n && n >= 0 ? n : 1L).ToArray() ?? [];
            long count = Tensor.CountElements(dims);
            feed[v.Name] = t.ElementType switch
            {
                DataType.Float => Tensor.FromFloats(dims, Enumerable.Range(0, (int)count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()),
                DataType.Float16 => Tensor.FromSpan<Half>(DataType.Float16, dims, Enumerable.Range(0, (int)count).Select(_ => (Half)(random.NextDouble() * 2 - 1)).ToArray()),
                _ => Tensor.FromRaw(t.ElementType, dims, new byte[DataTypes.ByteCount(t.ElementType, count)]),
            };
        }
        return feed;
    }
}
