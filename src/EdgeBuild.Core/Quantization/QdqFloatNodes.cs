using EdgeBuild.Ir;

namespace EdgeBuild.Quantization;

/// <summary>
/// The nodes of a QDQ model that compute in float: those that read a float activation not coming out of a
/// DequantizeLinear, convolutions and matrix products with float weights, ops ONNX Runtime runs in float between Q/DQ
/// (PRelu), and other ops whose float result something other than a QuantizeLinear reads (or the model returns). In the
/// ONNX INT8 artifact these are the ops the quantizer registry leaves float (a Softmax on dequantized logits, a box
/// decoder's Exp and Mul), the layers a budget or KeepFp32 kept, and what follows them until the next quantized op.
/// Other writers (TFLite at Precision=Mixed) keep the same nodes in float, so both artifacts round in the same places.
/// </summary>
public static class QdqFloatNodes
{
    /// <summary>
    /// Ops ONNX Runtime's CPU provider has no integer kernel for: between their DequantizeLinear and QuantizeLinear they
    /// compute in float (the quantize benchmark's --fusions, docs/quantization-engine.md: face-embedding's 33 PRelus).
    /// </summary>
    private static readonly HashSet<string> NoIntegerKernel = new(StringComparer.Ordinal) { "PRelu" };

    /// <summary>The nodes by <see cref="NodePatterns.NameOf"/> (their name, or their first output's when they have none).</summary>
    public static IReadOnlySet<string> Of(Model qdq)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in qdq.Graph.Nodes)
        {
            if (!node.IsStandardDomain || node.OpType is "QuantizeLinear" or "DequantizeLinear") continue;
            var activations = node.Inputs.Where(v => v is { ConstantValue: null } && IsFloat(v) && !ComputedFromConstants(v)).ToList();
            // Scale products and other computations on constants are not layers.
            if (activations.Count == 0) continue;
            bool readsFloat = activations.Any(v => !Dequantized(v));
            if (Operators.QuantizerRegistry.IsComputeOp(node))
            {
                // A convolution or matrix product is float when its data or weights are (a kept layer). One that reads
                // dequantized int8 data and weights and gives a float result is an int8 layer whose output is simply
                // not requantized (a model's last layer): other formats write it int8 with a DEQUANTIZE after it.
                if (readsFloat || !Dequantized(node.Input(1))) result.Add(NodePatterns.NameOf(node));
                continue;
            }
            if (NoIntegerKernel.Contains(node.OpType))
            {
                result.Add(NodePatterns.NameOf(node));
                continue;
            }
            bool writesFloat = node.Outputs.Any(o => o is not null && IsFloat(o) &&
                (o.IsGraphOutput || o.Uses.Any(u => u.Node.OpType != "QuantizeLinear" || u.InputIndex != 0)));
            if (readsFloat || writesFloat) result.Add(NodePatterns.NameOf(node));
        }
        return result;
    }

    private static bool Dequantized(Value? v) => v?.Producer is { OpType: "DequantizeLinear" };

    private static bool IsFloat(Value? v) => v?.TensorType?.ElementType is DataType.Float or DataType.Float16 || v?.Initializer?.ElementType is DataType.Float;

    private static bool ComputedFromConstants(Value? v) =>
        v?.Producer is { } p && p.Inputs.All(i => i is null || i.ConstantValue is not null || ComputedFromConstants(i));
}
