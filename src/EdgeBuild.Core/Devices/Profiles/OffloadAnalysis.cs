using EdgeBuild.Analysis;
using EdgeBuild.Ir;
using EdgeBuild.Session;
using EdgeBuild.Targets.TensorRt;

namespace EdgeBuild.Devices;

/// <summary>A layer a runtime does not take, and why (an estimate from published operator lists, before anything is deployed).</summary>
public sealed record OffloadLayer(string Node, string Op, string Builtins, string Reason);

/// <summary>
/// One device, one of its runtimes, one precision: how many layers the runtime would place on the accelerator, which
/// fall back and why, and the roofline estimate at that precision. <see cref="NotJudged"/> says why the layers could not
/// be judged (no published list for that precision); the roofline is given all the same.
/// </summary>
public sealed record OffloadResult(string Device, string Runtime, string RuntimeName, string Precision, int Layers,
    IReadOnlyList<OffloadLayer> FallBack, string FallsBackTo, string Source, string SourceUrl, string? NotJudged, DeviceEstimate? Estimate);

/// <summary>The work one inference does, for the roofline: multiply-accumulates, weight and activation elements.</summary>
public sealed record Workload(long Macs, long WeightElements, long ActivationElements)
{
    /// <summary>Weights read once and every activation written and read once: no reuse in caches, so an upper bound on traffic.</summary>
    public long BytesMoved(string precision)
    {
        int bytes = precision switch { "Fp32" => 4, "Fp16" => 2, _ => 1 };
        return (WeightElements + 2 * ActivationElements) * bytes;
    }

    /// <summary>The workload of a model whose shapes are inferred (free dims count as unknown: their activations are left out).</summary>
    public static Workload Of(Model model)
    {
        long macs = 0, activations = 0;
        foreach (var n in model.Graph.Nodes)
        {
            foreach (var o in n.Outputs)
                if (o?.TensorType?.Shape?.ElementCount() is long count) activations += count;
            if (MacCounter.IsComputeLayer(n)) macs += MacCounter.Count(n) ?? 0;
        }
        long weights = model.Graph.Initializers.Sum(v => v.Initializer?.ElementCount ?? 0);
        return new Workload(macs, weights, activations);
    }
}

/// <summary>
/// Which layers of a model each device's runtimes would leave to the CPU (docs/devices.md, "Device profiles"): every
/// node of the optimized float model is judged by the runtime's published operator list at each precision the device
/// runs (TFLite delegates and the Edge TPU compiler through <see cref="TfliteBuiltins"/> and <see cref="OffloadRules"/>;
/// TensorRT through the kit's operator table), then the model-wide rules (static shapes, tensor rank, one delegated
/// subgraph). Estimates from documents, not a deployment: the report labels them so.
/// </summary>
public static class OffloadAnalysis
{
    /// <summary>
    /// Every profile's runtimes at every precision the profile runs, for <paramref name="model"/> (shapes inferred by the
    /// caller). TensorRT is judged at <paramref name="tensorRt"/> (the compile's TensorRTVersion; default: the kit's, JetPack 6).
    /// </summary>
    public static IReadOnlyList<OffloadResult> Analyze(Model model, IReadOnlyList<DeviceProfile>? profiles = null, TensorRtVersion? tensorRt = null)
    {
        var workload = Workload.Of(model);
        var version = tensorRt ?? TensorRtVersion.Parse(new TensorRtSettings().Version);
        var results = new List<OffloadResult>();
        foreach (var device in profiles ?? DeviceProfiles.All)
            foreach (var runtime in device.Runtimes.Select(DeviceProfiles.Runtime))
                foreach (var peak in device.Precisions)
                    results.Add(Judge(model, device, runtime, peak.Precision, workload, version));
        return results;
    }

    /// <summary>One device, runtime and precision.</summary>
    public static OffloadResult Judge(Model model, DeviceProfile device, RuntimeSupport runtime, string precision, Workload workload, TensorRtVersion tensorRt)
    {
        var estimate = DeviceProfiles.Estimate(device, precision, workload.Macs, workload.BytesMoved(precision));
        // A node that vanishes in TFLite conversion (a Transpose) is no layer of a TFLite runtime; TensorRT and ONNX Runtime run it.
        var layers = model.Graph.Nodes.Where(IsLayer).Where(n => runtime.Ops is null || TfliteBuiltins.Of(n) is not { Count: 0 }).ToList();
        string? notJudged = runtime.Judges(precision) ? null
            : runtime.Ops is null ? runtime.Source : $"{runtime.Name} publishes no {precision} operator list: its layers are not judged at {precision}";
        var fallBack = new List<OffloadLayer>();
        if (notJudged is null && !runtime.AllOps)
        {
            OffloadLayer? first = null;
            foreach (var node in layers)
            {
                var builtins = runtime.Table is null ? TfliteBuiltins.Of(node) : null;
                string names = runtime.Table is null ? (builtins is null ? "none" : string.Join("+", builtins)) : node.OpType;
                string? reason = runtime.Table == "tensorrt" ? TensorRtOperatorTable.Unsupported(node, tensorRt) : TfliteReason(node, builtins, runtime, precision);
                if (reason is null && first is not null && runtime.SingleSubgraph)
                    reason = $"after {first.Node} ({first.Op}), the first layer that falls back: {runtime.Name} delegates one subgraph, so every later layer runs on the CPU too";
                if (reason is null) continue;
                var layer = new OffloadLayer(NodeName(node), node.OpType, names, reason);
                first ??= layer;
                fallBack.Add(layer);
            }
        }
        return new OffloadResult(device.Name, runtime.Id, runtime.Name, precision, layers.Count, fallBack, runtime.FallsBackTo,
            runtime.Source, runtime.SourceUrl, notJudged, estimate);
    }

    /// <summary>A node the runtime places somewhere: not one that vanishes in conversion or only reads constants.</summary>
    private static bool IsLayer(Node n) =>
        !(n.IsStandardDomain && n.OpType is "Identity" or "Dropout" or "Constant")
        && n.Inputs.Any(i => i is not null && i.ConstantValue is null);

    private static string? TfliteReason(Node node, IReadOnlyList<string>? builtins, RuntimeSupport runtime, string precision)
    {
        if (builtins is null) return node.IsStandardDomain ? $"{node.OpType} has no TFLite builtin operator" : $"operator domain '{node.Domain}' has no TFLite builtin";
        var list = runtime.Ops![precision];
        if (builtins.FirstOrDefault(b => !list.Contains(b, StringComparer.Ordinal)) is { } missing)
            return $"{missing} is not in {runtime.Name}'s {precision} operator list";
        foreach (var b in builtins)
            if (OffloadRules.Check(runtime.Id, b, node) is { } why) return why;
        var tensors = node.Inputs.Concat(node.Outputs).Where(v => v is not null && v.ConstantValue is null).Select(v => v!).ToList();
        if (runtime.StaticShapes && tensors.FirstOrDefault(v => v.TensorType?.Shape is not { } s || s.Dims.Any(d => d.Value is null)) is { } dynamic)
            return $"tensor '{dynamic.Name}' has no fixed size: {runtime.Name} needs every size known when it compiles";
        if (runtime.MaxRank is int maxRank && tensors.FirstOrDefault(v => v.TensorType?.Shape?.Rank > maxRank) is { } deep)
            return $"tensor '{deep.Name}' has {deep.TensorType!.Shape!.Rank} dimensions: {runtime.Name} takes at most {maxRank}";
        if (runtime.InnermostDims is int inner && tensors.FirstOrDefault(v => v.TensorType?.Shape is { } s && s.Rank > inner && s.Dims.Take(s.Rank - inner).Any(d => d.Value != 1)) is { } wide)
            return $"tensor '{wide.Name}' {wide.TensorType!.Shape}: only the {inner} innermost dimensions may be larger than 1 on {runtime.Name}";
        return null;
    }

    private static string NodeName(Node n) => n.Name.Length > 0 ? n.Name : n.Output0.Name;
}
