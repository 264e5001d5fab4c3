using EdgeBuild.Ir;
using EdgeBuild.Session;

namespace EdgeBuild.Targets.TensorRt;

/// <summary>One layer of the kit's network as TensorRT will see it.</summary>
/// <param name="Layer">The node's name in the .trt.onnx (TensorRT names the layer after it).</param>
/// <param name="OpType">The ONNX operator.</param>
/// <param name="Supported">Whether the chosen TensorRT version's ONNX parser imports it (<see cref="TensorRtOperatorTable"/>).</param>
/// <param name="Precision">Expected precision: Int8 (its inputs are dequantized int8: TensorRT runs it in INT8), Fp16, Fp32, or the output's element type for non-float layers.</param>
/// <param name="Reason">Why it is not supported, or null.</param>
/// <param name="Scope">For a layer inside an If / Loop / Scan body: the enclosing layer and its body attribute ("If_25/then_branch", nested ones joined by " > "); null in the main graph.</param>
public sealed record LayerSupport(string Layer, string OpType, bool Supported, string Precision, string? Reason, string? Scope = null);

/// <summary>
/// The per-layer compatibility report of a kit for one TensorRT version. The Q/DQ nodes themselves are not listed:
/// they are the quantization, not layers of the model. No latency column: EdgeBuild has no Orin roofline estimate yet.
/// Layers inside If, Loop and Scan bodies are listed after the layer that holds them, with their scope: TensorRT's
/// parser imports each body node as a layer of its own (an IIfConditional's branches, an ILoop's body), so an operator
/// it lacks fails the build there as anywhere else (voice-activity models keep their LSTMs inside If branches).
/// </summary>
public static class LayerSupportReport
{
    /// <param name="model">The kit's network (.trt.onnx) with every node named.</param>
    /// <param name="version">The TensorRT version on the device.</param>
    /// <param name="floatPrecision">The precision of layers that are not INT8: "Fp16" or "Fp32".</param>
    /// <param name="keptFp32">Layers forced to FP32 (--layerPrecisions name:fp32).</param>
    public static IReadOnlyList<LayerSupport> Build(Model model, TensorRtVersion version, string floatPrecision, IReadOnlySet<string> keptFp32)
    {
        var result = new List<LayerSupport>();
        Add(model.Graph, null, version, floatPrecision, keptFp32, result);
        return result;
    }

    private static void Add(Graph graph, string? scope, TensorRtVersion version, string floatPrecision, IReadOnlySet<string> keptFp32, List<LayerSupport> result)
    {
        foreach (var node in graph.Nodes)
        {
            if (node.IsStandardDomain && node.OpType is "QuantizeLinear" or "DequantizeLinear") continue;
            string? reason = TensorRtOperatorTable.Unsupported(node, version);
            result.Add(new LayerSupport(node.Name, node.OpType, reason is null, PrecisionOf(node, floatPrecision, keptFp32), reason, scope));
            foreach (var a in node.Attributes)
                foreach (var body in a.Subgraphs)
                    Add(body, (scope is null ? "" : scope + " > ") + node.Name + "/" + a.Name, version, floatPrecision, keptFp32, result);
        }
    }

    private static string PrecisionOf(Node node, string floatPrecision, IReadOnlySet<string> keptFp32)
    {
        bool int8Input = node.Inputs.Any(v => v?.Producer is { } p && p.Is("DequantizeLinear") && p.Input(0)?.Producer is { } q && q.Is("QuantizeLinear"));
        if (int8Input && !keptFp32.Contains(node.Name)) return "Int8";
        var output = node.Outputs.FirstOrDefault(o => o is not null);
        var type = output?.TensorType?.ElementType;
        if (type is DataType.Float or DataType.Float16 or null) return keptFp32.Contains(node.Name) ? "Fp32" : floatPrecision;
        return ModelManifest.ElementTypeName(type.Value);
    }
}
