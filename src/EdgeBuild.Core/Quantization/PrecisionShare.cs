using EdgeBuild.Ir;

namespace EdgeBuild.Quantization;

/// <summary>
/// How much of a quantized model really runs in each precision: compute layers (Conv, ConvTranspose, Gemm, MatMul) by
/// precision, and weight elements by storage type, so that a model reported as "Int8" cannot hide that most of its
/// weights stayed float32.
/// </summary>
/// <param name="Layers">Compute layers per precision ("Int8", "Fp16", "Fp32").</param>
/// <param name="IntegerWeights">Weight elements stored as integers (int8/uint8 weights, int32 biases of quantized layers).</param>
/// <param name="Float16Weights">Weight elements stored as float16.</param>
/// <param name="Float32Weights">Weight elements stored as float32 (scales and zero points of Q/DQ nodes are not weights and not counted).</param>
public sealed record PrecisionShare(IReadOnlyDictionary<string, int> Layers, long IntegerWeights, long Float16Weights, long Float32Weights)
{
    public long TotalWeights => IntegerWeights + Float16Weights + Float32Weights;

    /// <summary>Percent of the weight elements left in float32 (0 without weights).</summary>
    public double Float32WeightPercent => TotalWeights == 0 ? 0 : 100.0 * Float32Weights / TotalWeights;

    /// <summary>Compute layers not in Int8.</summary>
    public int FloatLayers => Layers.Where(l => l.Key != "Int8").Sum(l => l.Value);

    public int TotalLayers => Layers.Values.Sum();

    public string Summary => FormattableString.Invariant(
        $"{FloatLayers} of {TotalLayers} compute layers in float ({string.Join(", ", Layers.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Value} {l.Key}"))}); {Float32WeightPercent:F1} % of {TotalWeights:N0} weights in float32") +
        (Float16Weights > 0 ? FormattableString.Invariant($", {100.0 * Float16Weights / TotalWeights:F1} % in float16") : "");

    /// <summary>Counts <paramref name="quantized"/>'s initializers by type and <paramref name="report"/>'s layers by precision.</summary>
    public static PrecisionShare Of(Model quantized, QuantizationReport report)
    {
        long integer = 0, half = 0, single = 0;
        foreach (var v in quantized.Graph.Initializers)
        {
            if (v.Initializer is not { } t || t.ElementCount <= 1 || v.Uses.Count == 0 || v.Uses.All(IsQuantizationParameter)) continue;
            switch (t.ElementType)
            {
                case DataType.Int8 or DataType.UInt8 or DataType.Int16 or DataType.UInt16 or DataType.Int32 or DataType.Int4 or DataType.UInt4:
                    integer += t.ElementCount;
                    break;
                case DataType.Float16 or DataType.BFloat16:
                    half += t.ElementCount;
                    break;
                case DataType.Float or DataType.Double:
                    single += t.ElementCount;
                    break;
            }
        }
        var layers = report.Layers.GroupBy(l => l.Precision).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        return new PrecisionShare(layers, integer, half, single);
    }

    /// <summary>A scale or zero point: inputs 1 and 2 of (De)QuantizeLinear, the zero points of the integer kernels.</summary>
    private static bool IsQuantizationParameter(Use use) => use.Node.OpType switch
    {
        "QuantizeLinear" or "DequantizeLinear" => use.InputIndex >= 1,
        "MatMulInteger" or "ConvInteger" => use.InputIndex >= 2,
        _ => false,
    };
}
