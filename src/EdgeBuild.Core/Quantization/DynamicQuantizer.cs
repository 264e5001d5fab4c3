using EdgeBuild.Ir;
namespace EdgeBuild.Quantization;

/// <summary>
/// INT8 dynamic quantization with standard ONNX operators: the weights of Conv, MatMul and Gemm are stored as int8
/// (symmetric, one scale per output channel), the activation is quantized at run time by DynamicQuantizeLinear
/// (uint8, per tensor), the integer kernel accumulates in int32, and the scales are applied afterwards:
/// <code>
///   x ─ DynamicQuantizeLinear ─┬ x_q, x_zp ─ MatMulInteger(x_q, W_q, x_zp, 0) ─ Cast(float) ─ Mul ─ [Add bias] ─ y
///                              └ x_scale ─────────────── Mul(x_scale, W_scale[N]) ─────────┘
/// </code>
/// This is exactly the pattern ONNX Runtime's MatMulIntegerToFloat and DynamicQuantizeMatMul fusions look for,
/// so MatMul and Gemm become one DynamicQuantizeMatMul kernel. Per-channel weights fit these ops because the zero
/// point is 0 for every channel: the integer kernel sees one (scalar) zero point, and the per-channel part is
/// only the scale in the Mul. ORT's CPU ConvInteger accepts uint8 weights only, so Conv weights are stored as
/// int8 + 128 with zero point 128: the same values, shifted.
/// </summary>
internal static class DynamicQuantizer
{
    /// <summary>Rewrites every eligible Conv/MatMul/Gemm; returns each rewritten node's final value (by original node).</summary>
    public static Dictionary<Node, Value> Quantize(Model model, Func<Node, bool> eligible)
    {
        var graph = model.Graph;
        var quantizedInputs = new Dictionary<Value, (Value Q, Value Scale, Value ZeroPoint)>();
        var rewritten = new Dictionary<Node, Value>();
        foreach (var node in graph.Nodes.ToList())
        {
            if (node.Graph != graph || !node.IsStandardDomain || !eligible(node)) continue;
            Value? result = node.OpType switch
            {
                "Conv" => RewriteConv(graph, node, quantizedInputs),
                "MatMul" => RewriteMatMul(graph, node, quantizedInputs),
                "Gemm" => RewriteGemm(graph, node, quantizedInputs),
                _ => null,
            };
            if (result is null) continue;
            var output = node.Output0;
            // Later rewrites check their input's type: the replacement has the replaced output's.
            if (result.Type is null)
            {
                result.Type = output.Type;
                result.TypeInferred = true;
            }
            if (!graph.TrySubstitute(output, result)) continue;
            graph.RemoveNode(node);
            rewritten[node] = result;
        }
        graph.SortTopologically();
        return rewritten;
    }

    private static (Value Q, Value Scale, Value ZeroPoint) QuantizeInput(Graph graph, Value x, Dictionary<Value, (Value, Value, Value)> cache)
    {
        if (cache.TryGetValue(x, out var known)) return known;
        var dql = graph.AddNodeWithFreshOutputs("DynamicQuantizeLinear", [x], 3, x.Name + "_dyn");
        var result = (dql.Outputs[0]!, dql.Outputs[1]!, dql.Outputs[2]!);
        cache[x] = result;
        return result;
    }

    private static bool IsConstFloat(Value? v, int rank) => v?.ConstantValue is { ElementType: DataType.Float } t && (rank < 0 || t.Rank == rank);

    private static Value? RewriteConv(Graph graph, Node conv, Dictionary<Value, (Value, Value, Value)> cache)
    {
        var x = conv.Input(0);
        var w = conv.Input(1)?.ConstantValue;
        var b = conv.Input(2);
        if (!GraphEdits.IsFloat32(x) || w is not { ElementType: DataType.Float, Rank: >= 3 }) return null;
        if (b is not null && !IsConstFloat(b, 1)) return null;
        long channels = w.Dims[0];
        var scales = QuantMath.AbsMaxPerChannel(w, 0).Select(QuantMath.WeightScale).ToArray();
        string hint = conv.Name.Length > 0 ? conv.Name : conv.Output0.Name;

        var (xq, xs, xzp) = QuantizeInput(graph, x!, cache);
        var wq = GraphEdits.Initializer(graph, conv.Input(1)!.Name + "_quantized", QuantMath.QuantizePerChannel(w, 0, scales, offset: 128, type: DataType.UInt8));
        var wzp = GraphEdits.Initializer(graph, conv.Input(1)!.Name + "_zero_point", QuantMath.Scalar(DataType.UInt8, 128));
        var integer = graph.AddNodeWithFreshOutputs("ConvInteger", [xq, wq, xzp, wzp], 1, hint + "_int32",
            conv.Attributes.Where(a => a.Name is "auto_pad" or "dilations" or "group" or "kernel_shape" or "pads" or "strides"));
        var asFloat = GraphEdits.Cast(graph, integer.Output0, DataType.Float, "_float");

        // Per-channel factors broadcast over [N, C, spatial...]: shape [C, 1, ..., 1].
        var perChannel = new long[w.Rank - 1];
        perChannel[0] = channels;
        for (int i = 1; i < perChannel.Length; i++) perChannel[i] = 1;
        var wScale = GraphEdits.Initializer(graph, conv.Input(1)!.Name + "_scale", Tensor.FromFloats(perChannel, scales));
        var scale = graph.AddNodeWithFreshOutputs("Mul", [xs, wScale], 1, hint + "_scale").Output0;
        var y = graph.AddNodeWithFreshOutputs("Mul", [asFloat, scale], 1, hint + "_scaled").Output0;
        if (b is not null)
        {
            var bias = GraphEdits.Initializer(graph, b.Name + "_channels", b.ConstantValue!.WithDims(perChannel));
            y = graph.AddNodeWithFreshOutputs("Add", [y, bias], 1, hint + "_biased").Output0;
        }
        return y;
    }

    private static Value? RewriteMatMul(Graph graph, Node matMul, Dictionary<Value, (Value, Value, Value)> cache)
    {
        var a = matMul.Input(0);
        var b = matMul.Input(1)?.ConstantValue;
        if (!GraphEdits.IsFloat32(a) || b is not { ElementType: DataType.Float, Rank: 2 }) return null;
        return MatMulInteger(graph, matMul, a!, b, matMul.Input(1)!.Name, alpha: 1f, cache);
    }

    private static Value? RewriteGemm(Graph graph, Node gemm, Dictionary<Value, (Value, Value, Value)> cache)
    {
        var a = gemm.Input(0);
        var b = gemm.Input(1)?.ConstantValue;
        var c = gemm.Input(2);
        if (!GraphEdits.IsFloat32(a) || b is not { ElementType: DataType.Float, Rank: 2 } || gemm.GetInt("transA", 0) != 0) return null;
        float alpha = gemm.GetFloat("alpha", 1f), beta = gemm.GetFloat("beta", 1f);
        if (c is not null && !IsConstFloat(c, -1) && beta != 1f) return null;
        if (gemm.GetInt("transB", 0) != 0) b = Transpose2D(b);
        var y = MatMulInteger(graph, gemm, a!, b, gemm.Input(1)!.Name, alpha, cache);
        if (c is not null)
        {
            var bias = c.ConstantValue is { } ct && beta != 1f
                ? GraphEdits.Initializer(graph, c.Name + "_beta", Tensor.FromFloats(ct.Dims, ct.ToFloats().Select(v => v * beta).ToArray()))
                : c;
            y = graph.AddNodeWithFreshOutputs("Add", [y, bias], 1, (gemm.Name.Length > 0 ? gemm.Name : gemm.Output0.Name) + "_biased").Output0;
        }
        return y;
    }

    /// <summary>A @ B for a [K, N] float32 constant B: the ORT-fusable MatMulInteger pattern (see the class comment).</summary>
    private static Value MatMulInteger(Graph graph, Node node, Value a, Tensor b, string weightName, float alpha, Dictionary<Value, (Value, Value, Value)> cache)
    {
        string hint = node.Name.Length > 0 ? node.Name : node.Output0.Name;
        // uint8 activations x int8 weights: weights kept within the range the x86 kernels without VNNI cannot saturate.
        var scales = QuantMath.AbsMaxPerChannel(b, 1).Select(a => QuantMath.WeightScaleWithin(a, QuantMath.SaturationFreeWeightMax)).ToArray();
        var (aq, aScale, azp) = QuantizeInput(graph, a, cache);
        var bq = GraphEdits.Initializer(graph, weightName + "_quantized", QuantMath.QuantizePerChannel(b, 1, scales, qmax: QuantMath.SaturationFreeWeightMax));
        var bzp = GraphEdits.Initializer(graph, weightName + "_zero_point", QuantMath.Scalar(DataType.Int8, 0));
        var integer = graph.AddNodeWithFreshOutputs("MatMulInteger", [aq, bq, azp, bzp], 1, hint + "_int32");
        var asFloat = GraphEdits.Cast(graph, integer.Output0, DataType.Float, "_float");
        var bScale = GraphEdits.Initializer(graph, weightName + "_scale", Tensor.FromFloats([b.Dims[1]], scales.Select(s => s * alpha).ToArray()));
        var scale = graph.AddNodeWithFreshOutputs("Mul", [aScale, bScale], 1, hint + "_scale").Output0;
        return graph.AddNodeWithFreshOutputs("Mul", [asFloat, scale], 1, hint + "_scaled").Output0;
    }

    private static Tensor Transpose2D(Tensor t)
    {
        var x = t.ToFloats();
        long rows = t.Dims[0], cols = t.Dims[1];
        var y = new float[x.Length];
        for (long r = 0; r < rows; r++)
            for (long c = 0; c < cols; c++) y[c * rows + r] = x[r * cols + c];
        return Tensor.FromFloats([cols, rows], y);
    }
}
