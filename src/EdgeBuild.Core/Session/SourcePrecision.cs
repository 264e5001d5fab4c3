using System.Globalization;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;

namespace EdgeBuild.Session;

/// <summary>
/// The arithmetic a source model already carries: quantization nodes an exporter or another tool put in, and how many of
/// its float weights (initializers and Constant values, every graph) are float16. EdgeBuild labels each artifact by the
/// precision it made (the manifest, the summary, the verdict): a Precision="Fp32" build of a float16 model, or an Int8
/// build of a model that is INT8 already, would ship one thing under another's name, and quantizing a quantized model
/// compares it against a reference that is no float32 model at all.
/// </summary>
/// <param name="QuantizationNodes">Nodes that quantize, dequantize or compute on quantized values (QuantizeLinear, QLinearConv, MatMulInteger...), any domain.</param>
/// <param name="FirstQuantizationNode">One of them, for the message: its op and name.</param>
/// <param name="Float16Elements">Weight elements stored as float16 or bfloat16.</param>
/// <param name="Float32Elements">Weight elements stored as float32.</param>
/// <param name="Float16Inputs">Graph inputs of type float16 or bfloat16.</param>
public sealed record SourcePrecision(int QuantizationNodes, string? FirstQuantizationNode, long Float16Elements, long Float32Elements, IReadOnlyList<string> Float16Inputs)
{
    /// <summary>Ops that only exist in quantized graphs (ONNX's and ONNX Runtime's contrib ops); the QLinear* family is matched by prefix.</summary>
    private static readonly HashSet<string> QuantizationOps = new(StringComparer.Ordinal)
    {
        "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "ConvInteger", "MatMulInteger", "MatMulIntegerToFloat",
        "DynamicQuantizeMatMul", "QGemm", "QAttention", "MatMulNBits", "MatMulBnb4", "GatherBlockQuantized", "QOrderedMatMul",
    };

    /// <summary>A model whose float weights are mostly float16, or that takes float16 inputs.</summary>
    public bool IsFloat16 => Float16Inputs.Count > 0 || Float16Elements > Float32Elements;

    public bool IsQuantized => QuantizationNodes > 0;

    public static SourcePrecision Of(Model model)
    {
        int quantization = 0;
        string? first = null;
        long half = 0, single = 0;
        void Count(Tensor t)
        {
            if (t.ElementType is DataType.Float16 or DataType.BFloat16) half += t.ElementCount;
            else if (t.ElementType == DataType.Float) single += t.ElementCount;
        }
        foreach (var graph in model.Graph.SelfAndSubgraphs())
        {
            foreach (var init in graph.Initializers)
                if (init.Initializer is { } t) Count(t);
            foreach (var node in graph.Nodes)
            {
                if (QuantizationOps.Contains(node.OpType) || node.OpType.StartsWith("QLinear", StringComparison.Ordinal))
                {
                    quantization++;
                    first ??= node.Name.Length > 0 ? $"{node.OpType} '{node.Name}'" : node.OpType;
                }
                if (node.OpType == "Constant" && node.GetAttribute("value")?.Tensor is { } value) Count(value);
            }
        }
        var inputs = model.Graph.Inputs.Where(i => i.TensorType?.ElementType is DataType.Float16 or DataType.BFloat16).Select(i => i.Name).ToList();
        return new SourcePrecision(quantization, first, half, single, inputs);
    }

    /// <summary>
    /// Throws EB3016 when the model is quantized already (for every precision: no artifact EdgeBuild writes from it would be
    /// what its label says), EB3017 when it is float16 and the build asks for anything but Fp16 (which ships it as it is).
    /// </summary>
    public static void Require(Model model, Precision precision, string subject)
    {
        var source = Of(model);
        if (source.IsQuantized)
            throw new EdgeBuildException(DiagnosticCodes.SourceAlreadyQuantized, subject, string.Create(CultureInfo.InvariantCulture,
                $"the model is quantized already ({source.QuantizationNodes} quantization node(s), the first {source.FirstQuantizationNode}); Precision={precision} cannot start from it"));
        if (source.IsFloat16 && precision != Precision.Fp16)
        {
            string what = source.Float16Inputs.Count > 0
                ? $"its input(s) {string.Join(", ", source.Float16Inputs.Select(i => $"'{i}'"))} are float16"
                : string.Create(CultureInfo.InvariantCulture, $"{100.0 * source.Float16Elements / (source.Float16Elements + source.Float32Elements):F1} % of its weights are float16");
            throw new EdgeBuildException(DiagnosticCodes.SourceIsFloat16, subject, $"the model is float16 ({what}); Precision={precision} needs a float32 one");
        }
    }
}
