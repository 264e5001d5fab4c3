using EdgeBuild.Ir;
using EdgeBuild.Targets.Tflite.Schema;
using static EdgeBuild.Targets.Tflite.Ops.TflOpRegistry;

namespace EdgeBuild.Targets.Tflite.Ops;

/// <summary>
/// Resize / Upsample on H and W of an NCHW tensor -> RESIZE_BILINEAR or RESIZE_NEAREST_NEIGHBOR in NHWC, with the
/// coordinate transformation mapped to TFLite's two flags: half_pixel (and pytorch_half_pixel) -> half_pixel_centers,
/// align_corners -> align_corners, asymmetric -> neither. Nearest needs the rounding TFLite does: floor for
/// asymmetric (or round_prefer_floor at integer factors up to 2), round_prefer_ceil for half_pixel / align_corners.
/// </summary>
internal static class ResizeOps
{
    public static IEnumerable<(string, OpRule)> Rules()
    {
        yield return ("Resize", new OpRule(Check, Convert, [1, 2, 3]));
        yield return ("Upsample", new OpRule(Check, Convert, [1]));
    }

    private static (bool AlignCorners, bool HalfPixel)? Flags(Node n)
    {
        string mode = n.GetString("mode") ?? "nearest";
        // Upsample and opset-10 Resize (inputs X, scales) have no coordinate_transformation_mode: asymmetric.
        string coord = n.Is("Upsample") || n.Inputs.Count <= 2 ? "asymmetric" : n.GetString("coordinate_transformation_mode") ?? "half_pixel";
        string nearest = n.GetString("nearest_mode") ?? "round_prefer_floor";
        var x = TflConverter.Dims(n.Input(0)!);
        var y = TflConverter.Dims(n.Output0);
        bool integerUpTo2 = y[2] % x[2] == 0 && y[3] % x[3] == 0 && y[2] / x[2] <= 2 && y[3] / x[3] <= 2;
        if (mode is "linear" or "bilinear")
            return coord switch
            {
                "asymmetric" => (false, false),
                "align_corners" => (true, false),
                "half_pixel" or "pytorch_half_pixel" => (false, true),
                _ => null,
            };
        if (mode == "nearest")
            return (coord, nearest) switch
            {
                ("asymmetric", "floor") => (false, false),
                ("asymmetric", "round_prefer_floor") when integerUpTo2 => (false, false),
                ("half_pixel" or "pytorch_half_pixel", "round_prefer_ceil") => (false, true),
                ("align_corners", "round_prefer_ceil") => (true, false),
                _ => null,
            };
        return null;
    }

    private static string? Check(Node n)
    {
        if (TflConverter.Rank(n.Input(0)!) != 4) return "only 4-D input";
        var x = TflConverter.Dims(n.Input(0)!);
        var y = TflConverter.Dims(n.Output0);
        if (x[0] != y[0] || x[1] != y[1]) return "only H and W can be resized";
        if (n.GetString("coordinate_transformation_mode") is "tf_crop_and_resize") return "tf_crop_and_resize";
        if (n.GetInt("exclude_outside", 0) != 0) return "exclude_outside";
        if (n.GetString("mode") is "cubic") return "cubic mode";
        // Resize-18's antialias widens the filter on a downscale; TFLite's resize kernels have no such filter.
        if (n.GetInt("antialias", 0) != 0 && (y[2] < x[2] || y[3] < x[3])) return "antialias on a downscale";
        // With a kept aspect ratio the sampling grid follows the one chosen scale, not output / input per axis as TFLite's.
        if (n.GetString("keep_aspect_ratio_policy") is { } policy && policy != "stretch") return $"keep_aspect_ratio_policy {policy}";
        if (Flags(n) is null)
            return $"mode {n.GetString("mode") ?? "nearest"} with {n.GetString("coordinate_transformation_mode") ?? "half_pixel"} / {n.GetString("nearest_mode") ?? "round_prefer_floor"} has no TFLite equivalent";
        return null;
    }

    private static void Convert(Node n, TflConverter c)
    {
        var (align, half) = Flags(n)!.Value;
        int input = c.In(n.Input(0)!, Layout.Nhwc);
        var y = TflConverter.Dims(n.Output0);
        int size = c.Int32Const(n.Output0.Name + "/size", [(int)y[2], (int)y[3]]);
        int o = c.Out(n.Output0, Layout.Nhwc, c.Tensor(input).Quantization);
        bool linear = (n.GetString("mode") ?? "nearest") is "linear" or "bilinear";
        if (linear) c.Op(BuiltinOperator.RESIZE_BILINEAR, [input, size], [o], new ResizeBilinearOptions(align, half));
        else c.Op(BuiltinOperator.RESIZE_NEAREST_NEIGHBOR, [input, size], [o], new ResizeNearestNeighborOptions(align, half));
    }
}
