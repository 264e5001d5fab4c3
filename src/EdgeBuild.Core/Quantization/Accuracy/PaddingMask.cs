using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Quantization;

/// <summary>
/// Padding in token-level outputs. A transformer fed a batch of padded sequences takes an integer [batch, sequence]
/// mask that becomes an additive bias on its attention scores (mask -> Unsqueeze/Cast/Sub/Mul -> Add -> Softmax); the
/// states it returns at positions where that mask is 0 attend to the real tokens but are read by nothing downstream
/// (mean pooling, a classifier on the first token). Comparing a candidate with FP32 there judges values nobody uses and,
/// with short sentences in long padding, outweighs the real tokens (MiniLM at 32 tokens: token-state cosine 0.86 while
/// the mean-pooled sentence embedding agrees at 0.993). So those positions are set to 0 in both before they are scored.
/// Found by op pattern: an integer rank-2 input that reaches a Softmax through elementwise and shape ops only (token ids
/// and segment ids reach it through a Gather, an embedding lookup, and are not masks).
/// </summary>
internal static class PaddingMask
{
    /// <summary>Ops a mask passes through on its way to the attention scores.</summary>
    private static readonly HashSet<string> MaskPath =
        ["Unsqueeze", "Reshape", "Expand", "Cast", "Sub", "Mul", "Add", "Div", "Neg", "Not", "Equal", "Where", "Squeeze", "Identity"];

    /// <summary>The model's attention-mask inputs (by name), empty for a model without one.</summary>
    public static IReadOnlyList<string> Inputs(byte[] model)
    {
        var graph = OnnxImporter.Parse(model).Graph;
        var result = new List<string>();
        foreach (var input in graph.Inputs.Where(v => v.Initializer is null))
        {
            if (input.TensorType is not { ElementType: DataType.Int64 or DataType.Int32 or DataType.Bool, Shape.Rank: 2 }) continue;
            var seen = new HashSet<Value> { input };
            var frontier = new Queue<Value>([input]);
            bool reachesSoftmax = false;
            while (frontier.Count > 0 && !reachesSoftmax)
            {
                foreach (var node in frontier.Dequeue().Consumers)
                {
                    if (node.OpType == "Softmax") { reachesSoftmax = true; break; }
                    if (!MaskPath.Contains(node.OpType)) continue;
                    foreach (var o in node.Outputs)
                        if (o is not null && seen.Add(o)) frontier.Enqueue(o);
                }
            }
            if (reachesSoftmax) result.Add(input.Name);
        }
        return result;
    }

    /// <summary>
    /// The outputs with every position the sample's mask marks as padding set to 0: float outputs whose first two dims
    /// are the mask's [batch, sequence]; others, and samples without padding, as they are.
    /// </summary>
    public static Tensor[] Apply(IReadOnlyList<string> maskInputs, IReadOnlyDictionary<string, Tensor> sample, Tensor[] outputs)
    {
        if (maskInputs.Count == 0) return outputs;
        var result = (Tensor[])outputs.Clone();
        foreach (var name in maskInputs)
        {
            if (!sample.TryGetValue(name, out var maskTensor) || maskTensor.Rank != 2) continue;
            long[] mask = maskTensor.ElementType == DataType.Bool ? maskTensor.Raw.Select(b => (long)b).ToArray() : maskTensor.ToInt64s();
            if (!mask.Contains(0)) continue;
            for (int k = 0; k < result.Length; k++)
            {
                var t = result[k];
                if (t.ElementType != DataType.Float || t.Rank < 2 || t.Dims[0] != maskTensor.Dims[0] || t.Dims[1] != maskTensor.Dims[1]) continue;
                var values = t.ToFloats();
                long inner = values.Length / mask.Length;
                for (int p = 0; p < mask.Length; p++)
                    if (mask[p] == 0) Array.Clear(values, (int)(p * inner), (int)inner);
                result[k] = Tensor.FromFloats(t.Dims, values);
            }
        }
        return result;
    }
}
