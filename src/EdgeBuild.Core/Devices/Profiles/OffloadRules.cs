using EdgeBuild.Ir;

namespace EdgeBuild.Devices;

/// <summary>
/// The per-operator constraints a runtime publishes beside its operator list, where a graph shows them: one row per
/// (runtime id, TFLite builtin), each returning why the node is not taken, or null. The sources are the runtimes'
/// documents named in device-profiles.json (XNNPACK's README, the Hexagon delegate's README, Coral's operation table).
/// </summary>
public static class OffloadRules
{
    private static readonly Dictionary<(string Runtime, string Builtin), Func<Node, string?>> Rules = new()
    {
        // XNNPACK README: "Both filter and bias must be static", MEAN "Only [1, 2] or [2, 1] axes ... keep_dims = True",
        // RESIZE_BILINEAR "must be 4D tensors", PAD "must be static".
        [("xnnpack", "CONV_2D")] = StaticWeights,
        [("xnnpack", "DEPTHWISE_CONV_2D")] = StaticWeights,
        [("xnnpack", "FULLY_CONNECTED")] = StaticWeights,
        [("xnnpack", "MEAN")] = n => SpatialMean(n, requireKeepDims: true),
        [("xnnpack", "RESIZE_BILINEAR")] = n => Rank(n.Input(0)) is int r && r != 4 ? $"RESIZE_BILINEAR on a rank-{r} tensor: XNNPACK takes 4-D only" : null,
        [("xnnpack", "PAD")] = n => n.Input(1) is { } pads && pads.ConstantValue is null ? "the pads are computed at run time: XNNPACK needs them static" : null,
        // Coral: Mean "Supports reduction along x- and/or y-dimensions only"; Pad "Supports padding along x- and/or y-dimensions only".
        [("edgetpu", "MEAN")] = n => SpatialMean(n, requireKeepDims: false),
        [("edgetpu", "PAD")] = SpatialPadOnly,
        // Coral: Softmax "Supports only 1D input tensor with a max of 16,000 elements"; StridedSlice "Supported only when all
        // strides are equal to 1"; FullyConnected "Output tensor is one-dimensional". One-dimensional read as the TFLite
        // converter leaves it: at most one dimension above 1 (a batch of 1 in front is kept).
        [("edgetpu", "SOFTMAX")] = n => OneDimensional(n.Input(0), "SOFTMAX input", maxElements: 16_000),
        [("edgetpu", "STRIDED_SLICE")] = n =>
            n.Input(4)?.ConstantValue?.ToInt64s() is { } steps && steps.Any(x => x != 1) ? $"slice steps [{string.Join(",", steps)}]: the Edge TPU takes step 1 only"
            : n.Inputs.Count > 4 && n.Input(4) is { ConstantValue: null } ? "slice steps computed at run time: the Edge TPU takes step 1 only"
            : null,
        [("edgetpu", "FULLY_CONNECTED")] = n => OneDimensional(n.Output0, "FULLY_CONNECTED output", maxElements: null),
        // Hexagon delegate README: Conv2D "stride width/height <= 3"; DepthwiseConv2D "Filter width == 3, depth_multiplier == 1,
        // stride <= 3"; Pad "Only supports 0 padding"; Resize Bilinear "Requested size <= 65"; TransposeConv2D "stride <= 3, dilation == 1".
        [("hexagon", "CONV_2D")] = n => StrideAbove(n, 3),
        [("hexagon", "DEPTHWISE_CONV_2D")] = n =>
            n.Input(1)?.ConstantValue?.Dims is { Length: 4 } w && w[3] != 3 ? $"filter width {w[3]}: the Hexagon delegate takes width 3 only"
            : n.Input(1)?.ConstantValue?.Dims is { Length: 4 } w2 && n.GetInt("group", 1) != w2[0] ? "depth multiplier above 1: the Hexagon delegate takes 1 only"
            : StrideAbove(n, 3),
        [("hexagon", "PAD")] = n => n.GetString("mode") is null or "constant" && (n.Input(2)?.ConstantValue is not { } v || v.ToFloats().All(x => x == 0)) ? null : "padding with a value other than 0: the Hexagon delegate pads with zeros only",
        [("hexagon", "RESIZE_BILINEAR")] = n => n.Output0.TensorType?.Shape?.Dims is { Count: 4 } d && d.Skip(2).Any(x => x.Value > 65) ? "output size above 65: the Hexagon delegate resizes to 65 or less" : null,
        [("hexagon", "TRANSPOSE_CONV")] = n => n.GetInts("dilations") is { } dl && dl.Any(x => x != 1) ? "dilation other than 1: not taken by the Hexagon delegate" : StrideAbove(n, 3),
    };

    /// <summary>Why <paramref name="runtime"/> does not take <paramref name="node"/> as <paramref name="builtin"/>; null when its published constraints hold.</summary>
    public static string? Check(string runtime, string builtin, Node node) =>
        Rules.TryGetValue((runtime, builtin), out var rule) ? rule(node) : null;

    private static string? StaticWeights(Node n) =>
        n.Input(1) is { } w && w.ConstantValue is null ? "the weights are computed at run time: the delegate needs them static" : null;

    private static string? StrideAbove(Node n, int limit) =>
        n.GetInts("strides") is { } s && s.Any(x => x > limit) ? $"stride {string.Join("x", s)}: the Hexagon delegate takes strides up to {limit}" : null;

    /// <summary>NCHW's spatial axes are 2 and 3; GlobalAveragePool reduces exactly those.</summary>
    private static string? SpatialMean(Node n, bool requireKeepDims)
    {
        if (n.OpType == "GlobalAveragePool") return Rank(n.Input(0)) is int gr && gr != 4 ? $"mean over a rank-{gr} tensor: spatial (4-D) reductions only" : null;
        int? rank = Rank(n.Input(0));
        long[]? axes = n.GetInts("axes") ?? n.Input(1)?.ConstantValue?.ToInt64s();
        if (rank is not 4 || axes is null) return $"mean over {(axes is null ? "axes computed at run time" : "a rank-" + rank + " tensor")}: spatial reductions of a 4-D tensor only";
        var normalized = axes.Select(a => a < 0 ? a + 4 : a).ToHashSet();
        if (!normalized.All(a => a is 2 or 3)) return $"mean over axes [{string.Join(",", axes)}]: only the spatial axes (height, width) are taken";
        if (requireKeepDims && n.GetInt("keepdims", 1) == 0) return "mean without keepdims: only keep_dims = true is taken";
        return null;
    }

    private static string? SpatialPadOnly(Node n)
    {
        long[]? pads = n.GetInts("pads") ?? n.Input(1)?.ConstantValue?.ToInt64s();
        if (pads is null) return "pads computed at run time: the compiler needs them constant";
        int rank = pads.Length / 2;
        // NCHW: begin pads [N, C, H, W], then end pads; only H and W may be padded.
        for (int axis = 0; axis < rank; axis++)
            if (axis < rank - 2 && (pads[axis] != 0 || pads[axis + rank] != 0))
                return $"padding along axis {axis}: only height and width may be padded";
        return null;
    }

    private static string? OneDimensional(Value? value, string what, long? maxElements)
    {
        // An unknown size is judged by the fixed-size rule of the profile, not here.
        if (value?.TensorType?.Shape?.Dims is not { } dims || dims.Any(d => d.Value is null)) return null;
        var sizes = dims.Select(d => d.Value!.Value).ToArray();
        if (sizes.Count(x => x > 1) > 1) return $"{what} of shape [{string.Join(",", sizes)}]: the Edge TPU takes one-dimensional tensors only";
        long elements = sizes.Aggregate(1L, (a, x) => a * x);
        return maxElements is long max && elements > max ? $"{what} of {elements} elements: the Edge TPU takes at most {max}" : null;
    }

    private static int? Rank(Value? v) => v?.TensorType?.Shape?.Rank;
}
