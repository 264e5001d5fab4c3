using EdgeBuild.Ir;
using IrAttribute = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Passes;

// The adapters of OpsetConversion (driver in OpsetConversion.cs, the table in OpsetConversion.Registry.cs): each rewrites one form of a node into the next.
public sealed partial class OpsetConversion
{
    private static string Describe(Node n) =>
        n.Name.Length > 0 ? $"{n.OpType} '{n.Name}'" : n.Outputs.FirstOrDefault(o => o is not null) is { } o ? $"{n.OpType} (output '{o.Name}')" : n.OpType;

    private static int? RankOf(Value? v) => v?.TensorType?.Shape?.Rank;
    private static DataType ElementTypeOf(Value? v) => v?.TensorType?.ElementType ?? DataType.Undefined;

    /// <summary>A scalar of a floating-point element type (the types Clip-6 and Pad-2 accept).</summary>
    private static Tensor FloatScalar(DataType type, double value) => type switch
    {
        DataType.Float => Tensor.FromFloats([], [(float)value]),
        DataType.Double => Tensor.FromSpan<double>(DataType.Double, [], [value]),
        DataType.Float16 => Tensor.FromSpan<Half>(DataType.Float16, [], [(Half)value]),
        _ => throw new ArgumentException($"no scalar of {DataTypes.Name(type)}", nameof(type)),
    };

    private static bool IsLegacyFloat(DataType t) => t is DataType.Float or DataType.Double or DataType.Float16;


    private static Node Drop(Node n, string attribute)
    {
        n.RemoveAttribute(attribute);
        return n;
    }

    private static Node Rename(Node n, string opType)
    {
        n.OpType = opType;
        return n;
    }

    /// <summary>An attribute list (axes, split) that became input <paramref name="index"/> as an int64 tensor.</summary>
    private static Adapter AttributeToInput(string attribute, int index, bool required) => (c, n) =>
    {
        var attr = n.GetAttribute(attribute);
        if (attr is null)
        {
            if (required) throw c.Fail(n, $"the '{attribute}' attribute is missing");
            return n;
        }
        if (attr.Kind != AttributeKind.Ints) throw c.Fail(n, $"the '{attribute}' attribute is not a list of integers");
        if (n.Input(index) is not null) throw c.Fail(n, $"it has both a '{attribute}' attribute and input {index}");
        n.RemoveAttribute(attribute);
        // An empty list meant "all" (reductions, Squeeze), which is what an omitted input means now.
        if (attr.Ints.Length == 0 && !required) return n;
        n.SetInput(index, c.Int64s(n, attribute, attr.Ints));
        return n;
    };

    /// <summary>
    /// Opset 7 replaced 'broadcast'/'axis' by numpy broadcasting. Legacy broadcasting aligned B with A
    /// starting at 'axis' (default: the trailing dimensions); numpy aligns the trailing dimensions, so the
    /// two agree unless an axis other than rank(A) - rank(B) was given.
    /// </summary>
    private static Node LegacyBroadcast(Conversion c, Node n)
    {
        bool broadcast = n.GetInt("broadcast", 0) != 0;
        if (broadcast && n.GetAttribute("axis") is { Kind: AttributeKind.Int } axisAttr)
        {
            int? ra = RankOf(n.Input(0));
            int? rb = RankOf(n.Input(1));
            if (ra is not int a || rb is not int b)
                throw c.Fail(n, $"legacy broadcasting along axis {axisAttr.Int} needs the ranks of both inputs, which are unknown");
            long axis = axisAttr.Int < 0 ? axisAttr.Int + a : axisAttr.Int;
            if (axis != a - b)
                throw c.Fail(n, $"legacy broadcasting of a rank-{b} B along axis {axisAttr.Int} of a rank-{a} A differs from numpy broadcasting");
        }
        n.RemoveAttribute("broadcast");
        n.RemoveAttribute("axis");
        return n;
    }

    /// <summary>
    /// Before opset 13 Softmax, LogSoftmax and Hardmax flattened the input to 2-D at 'axis' (default 1) and
    /// normalized each row; from 13 they work along the one axis. Same result when 'axis' is the last axis
    /// (or every later axis has size 1); otherwise Flatten -> op(axis=-1) -> Reshape(Shape(x)).
    /// </summary>
    private static Node SoftmaxFamilyTo13(Conversion c, Node n)
    {
        long axis = n.GetInt("axis", 1);
        var x = n.Input(0) ?? throw c.Fail(n, "it has no input");
        var shape = x.TensorType?.Shape;
        if (axis == -1)
        {
            n.SetAttribute(IrAttribute.Of("axis", -1L));
            return n;
        }
        if (shape is null) throw c.Fail(n, $"it flattens at axis {axis}, which needs the input's rank, and the rank is unknown");
        int rank = shape.Rank;
        if (axis < 0) axis += rank;
        if (axis < 0 || axis >= Math.Max(rank, 1)) throw c.Fail(n, $"axis {n.GetInt("axis", 1)} is out of range for rank {rank}");
        if (axis == rank - 1)
        {
            n.SetAttribute(IrAttribute.Of("axis", -1L));
            return n;
        }
        if (shape.Dims.Skip((int)axis + 1).All(d => d.Value == 1))
        {
            n.SetAttribute(IrAttribute.Of("axis", axis));
            return n;
        }
        var flat = c.AddNode(n, "Flatten", [x], "flatten", IrAttribute.Of("axis", axis));
        var op = c.AddNode(n, n.OpType, [flat.Output0], "2d", IrAttribute.Of("axis", -1L));
        var dims = c.AddNode(n, "Shape", [x], "shape");
        n.OpType = "Reshape";
        n.Attributes.Clear();
        n.TruncateInputs(0);
        n.SetInput(0, op.Output0);
        n.SetInput(1, dims.Output0);
        return n;
    }

    /// <summary>
    /// Inference-mode BatchNormalization: is_test (gone at 7) and spatial (gone at 9; only spatial=1 is
    /// expressible) are dropped, and the training outputs (mean, var, saved_mean, saved_var), which later
    /// versions compute only in training mode, must be unused and are removed.
    /// </summary>
    private static Node BatchNormToInference(Conversion c, Node n)
    {
        if (n.GetAttribute("spatial") is { } spatial && spatial.Int != 1)
            throw c.Fail(n, "spatial=0 (per-activation statistics) has no equivalent in later opsets");
        for (int i = 1; i < n.Outputs.Count; i++)
            if (n.Outputs[i] is { IsUsed: true } o) throw c.Fail(n, $"its training output {i} ('{o.Name}') is used");
        // Without is_test=1, declaring the training outputs meant training mode (batch statistics).
        if (n.Outputs.Count > 1 && n.GetInt("is_test", 0) == 0)
            c.Warn($"{Describe(n)} declares training outputs (unused); converted as inference-mode BatchNormalization with running statistics");
        n.RemoveAttribute("is_test");
        n.RemoveAttribute("spatial");
        if (n.Outputs.Count <= 1) return n;
        return c.Rebuild(n, n.OpType, 1, n.Inputs, n.Attributes, "training statistics");
    }

    /// <summary>Dropout at inference is the identity; its mask output must be unused.</summary>
    private static Node DropoutToIdentity(Conversion c, Node n) =>
        c.Rebuild(n, "Identity", 1, [n.Input(0)], [], "the dropout mask");

    private static readonly Dictionary<string, DataType> CastNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["FLOAT"] = DataType.Float, ["UINT8"] = DataType.UInt8, ["INT8"] = DataType.Int8, ["UINT16"] = DataType.UInt16,
        ["INT16"] = DataType.Int16, ["INT32"] = DataType.Int32, ["INT64"] = DataType.Int64, ["STRING"] = DataType.String,
        ["BOOL"] = DataType.Bool, ["FLOAT16"] = DataType.Float16, ["DOUBLE"] = DataType.Double, ["UINT32"] = DataType.UInt32,
        ["UINT64"] = DataType.UInt64, ["COMPLEX64"] = DataType.Complex64, ["COMPLEX128"] = DataType.Complex128,
    };

    /// <summary>Cast-1 named the target type as a string; Cast-6 takes the TensorProto data type number.</summary>
    private static Node CastToAsInt(Conversion c, Node n)
    {
        var to = n.GetAttribute("to") ?? throw c.Fail(n, "the 'to' attribute is missing");
        if (to.Kind == AttributeKind.Int) return n;
        if (to.Kind != AttributeKind.String || !CastNames.TryGetValue(to.StringValue, out var type))
            throw c.Fail(n, $"'to' = '{to.StringValue}' is not a known type name");
        n.SetAttribute(IrAttribute.Of("to", (long)type));
        return n;
    }

    /// <summary>Clip-11 takes min and max as optional scalar inputs of the data's type instead of attributes.</summary>
    private static Node ClipBoundsToInputs(Conversion c, Node n)
    {
        var min = n.GetAttribute("min");
        var max = n.GetAttribute("max");
        var type = ElementTypeOf(n.Input(0));
        if (type == DataType.Undefined) type = DataType.Float; // Clip-6 is float-only; float32 is all but certain
        if (!IsLegacyFloat(type)) throw c.Fail(n, $"Clip-6 does not take {DataTypes.Name(type)} data");
        n.RemoveAttribute("min");
        n.RemoveAttribute("max");
        if (min is not null) n.SetInput(1, c.Constant(n, "min", FloatScalar(type, min.Float)));
        if (max is not null)
        {
            if (n.Inputs.Count < 2) n.SetInput(1, null);
            n.SetInput(2, c.Constant(n, "max", FloatScalar(type, max.Float)));
        }
        return n;
    }

    /// <summary>Concat-1 defaulted to axis 1; from Concat-4 the axis is required.</summary>
    private static Node ConcatExplicitAxis(Conversion c, Node n)
    {
        if (n.GetAttribute("axis") is null) n.SetAttribute(IrAttribute.Of("axis", 1L));
        return n;
    }

    /// <summary>DFT-20 takes the axis as an optional scalar input (default -2); DFT-17 had an attribute (default 1).</summary>
    private static Node DftAxisToInput(Conversion c, Node n)
    {
        if (n.Input(2) is not null) throw c.Fail(n, "it already has a third input");
        long axis = n.GetInt("axis", 1);
        n.RemoveAttribute("axis");
        if (n.Inputs.Count < 2) n.SetInput(1, null);
        n.SetInput(2, c.Constant(n, "axis", Tensor.FromInt64s([], [axis])));
        return n;
    }

    /// <summary>LpPool-1/GlobalLpPool-1 took p as a float; version 2 takes an integer.</summary>
    private static Node LpPoolIntegerP(Conversion c, Node n)
    {
        if (n.GetAttribute("p") is not { Kind: AttributeKind.Float } p) return n;
        if (p.Float != MathF.Floor(p.Float) || p.Float < 1) throw c.Fail(n, $"p = {p.Float} is not a positive integer");
        n.SetAttribute(IrAttribute.Of("p", (long)p.Float));
        return n;
    }

    /// <summary>GridSample-20 renamed the modes bilinear/bicubic to linear/cubic (same sampling).</summary>
    private static Node GridSampleModeNames(Conversion c, Node n)
    {
        switch (n.GetString("mode"))
        {
            case "bilinear": n.SetAttribute(IrAttribute.Of("mode", "linear")); break;
            case "bicubic": n.SetAttribute(IrAttribute.Of("mode", "cubic")); break;
        }
        return n;
    }

    /// <summary>Pad-1 called the pads 'paddings'.</summary>
    private static Node PadPaddingsRenamed(Conversion c, Node n)
    {
        if (n.GetInts("paddings") is { } p)
        {
            n.RemoveAttribute("paddings");
            n.SetAttribute(IrAttribute.Of("pads", p));
        }
        return n;
    }

    /// <summary>Pad-11 takes pads (int64) and the constant value (a scalar of the data's type) as inputs.</summary>
    private static Node PadAttributesToInputs(Conversion c, Node n)
    {
        var pads = n.GetInts("pads") ?? throw c.Fail(n, "the 'pads' attribute is missing");
        string mode = n.GetString("mode") ?? "constant";
        float value = n.GetFloat("value", 0f);
        var type = ElementTypeOf(n.Input(0));
        bool needsValue = mode == "constant" && value != 0f;
        if (needsValue && type == DataType.Undefined)
            throw c.Fail(n, $"the padding value {value} must become a tensor of the data's element type, which is unknown");
        if (needsValue && !IsLegacyFloat(type)) throw c.Fail(n, $"Pad-2 does not take {DataTypes.Name(type)} data");
        n.RemoveAttribute("pads");
        n.RemoveAttribute("value");
        n.SetInput(1, c.Int64s(n, "pads", pads));
        if (needsValue) n.SetInput(2, c.Constant(n, "value", FloatScalar(type, value)));
        return n;
    }

    /// <summary>
    /// PRelu before 7 shared a single slope, or took one slope per channel (axis 1); PRelu-7 broadcasts the
    /// slope numpy-style against the trailing axes, so a per-channel [C] slope must become [C, 1, ...].
    /// </summary>
    private static Node PReluSlopeForBroadcast(Conversion c, Node n)
    {
        var slope = n.Input(1) ?? throw c.Fail(n, "it has no slope");
        var slopeShape = slope.ConstantValue?.Shape ?? slope.TensorType?.Shape;
        if (slopeShape is null) throw c.Fail(n, "the slope's shape is unknown");
        if (slopeShape.ElementCount() == 1 || slopeShape.Rank != 1) return n;
        int? rank = RankOf(n.Input(0));
        if (rank is not int r) throw c.Fail(n, "a per-channel slope needs the input's rank, which is unknown");
        if (r <= 2) return n;
        if (slope.ConstantValue is not { } t) throw c.Fail(n, "a per-channel slope that is not a constant cannot be reshaped");
        var dims = new long[r - 1];
        Array.Fill(dims, 1L);
        dims[0] = t.Dims[0];
        n.SetInput(1, c.Constant(n, "slope", t.WithDims(dims)));
        Conversion.DropIfUnused(slope);
        return n;
    }

    /// <summary>Reshape-5 takes the target shape as an int64 input.</summary>
    private static Node ReshapeShapeToInput(Conversion c, Node n)
    {
        var shape = n.GetInts("shape") ?? throw c.Fail(n, "the 'shape' attribute is missing");
        n.RemoveAttribute("shape");
        n.SetInput(1, c.Int64s(n, "shape", shape));
        return n;
    }

    /// <summary>
    /// Resize-10 (X, scales) maps output to input coordinates as x / scale (asymmetric). For nearest it
    /// rounds down when enlarging and up when shrinking (ONNX Runtime and the ONNX test data agree), so
    /// nearest_mode is floor or ceil, and one axis shrinking while another grows has no Resize-11 form.
    /// Resize-11 also wants a roi input; it gets an empty one.
    /// </summary>
    private static Node Resize10To11(Conversion c, Node n)
    {
        string mode = n.GetString("mode") ?? "nearest";
        var scales = n.Input(1) ?? throw c.Fail(n, "it has no scales input");
        string? nearestMode = null;
        if (mode == "nearest")
        {
            if (scales.ConstantValue is { } t)
            {
                var s = t.ToFloats();
                bool shrinks = s.Any(v => v < 1f), grows = s.Any(v => v > 1f);
                if (shrinks && grows) throw c.Fail(n, "nearest resizing that shrinks some axes and enlarges others rounds differently per axis");
                nearestMode = shrinks ? "ceil" : "floor";
            }
            else if (c.FromUpsample.Contains(n)) nearestMode = "floor"; // Upsample scales are >= 1
            else throw c.Fail(n, "nearest resizing with scales computed at run time: the rounding depends on whether each axis shrinks");
        }
        else if (mode != "linear") throw c.Fail(n, $"mode '{mode}' is not a Resize-10 mode");
        n.SetInput(1, c.Constant(n, "roi", Tensor.FromFloats([0], [])));
        n.SetInput(2, scales);
        n.SetAttribute(IrAttribute.Of("mode", mode));
        n.SetAttribute(IrAttribute.Of("coordinate_transformation_mode", "asymmetric"));
        if (nearestMode is not null) n.SetAttribute(IrAttribute.Of("nearest_mode", nearestMode));
        return n;
    }

    /// <summary>
    /// Resize-13 made roi and scales optional: empty constants become omitted inputs. It also dropped
    /// tf_half_pixel_for_nn, which is half_pixel shifted by +0.5 before rounding: with floor that is
    /// half_pixel with round_prefer_ceil, with round_prefer_floor it is half_pixel with ceil; the other
    /// roundings (and non-nearest modes) have no exact equivalent.
    /// </summary>
    private static Node ResizeOptionalInputs(Conversion c, Node n)
    {
        string transform = n.GetString("coordinate_transformation_mode") ?? "half_pixel";
        if (transform == "tf_half_pixel_for_nn")
        {
            string mode = n.GetString("mode") ?? "nearest";
            string rounding = n.GetString("nearest_mode") ?? "round_prefer_floor";
            string equivalent = mode != "nearest"
                ? throw c.Fail(n, $"tf_half_pixel_for_nn with mode '{mode}' has no opset 13 equivalent")
                : rounding switch
                {
                    "floor" => "round_prefer_ceil",
                    "round_prefer_floor" => "ceil",
                    _ => throw c.Fail(n, $"tf_half_pixel_for_nn with nearest_mode '{rounding}' has no opset 13 equivalent"),
                };
            n.SetAttribute(IrAttribute.Of("coordinate_transformation_mode", "half_pixel"));
            n.SetAttribute(IrAttribute.Of("nearest_mode", equivalent));
            transform = "half_pixel";
        }
        if (n.Input(1) is { ConstantValue.ElementCount: 0 } roi && transform != "tf_crop_and_resize")
        {
            n.SetInput(1, null);
            Conversion.DropIfUnused(roi);
        }
        if (n.Input(3) is not null && n.Input(2) is { ConstantValue.ElementCount: 0 } scales)
        {
            n.SetInput(2, null);
            Conversion.DropIfUnused(scales);
        }
        return n;
    }

    /// <summary>RoiAlign-16 added coordinate_transformation_mode defaulting to half_pixel; RoiAlign-10 behaved as output_half_pixel.</summary>
    private static Node RoiAlignKeepCoordinates(Conversion c, Node n)
    {
        if (n.GetAttribute("coordinate_transformation_mode") is null)
            n.SetAttribute(IrAttribute.Of("coordinate_transformation_mode", "output_half_pixel"));
        return n;
    }

    /// <summary>Slice-10 takes starts, ends and axes as int64 inputs (steps, new, default to 1).</summary>
    private static Node SliceAttributesToInputs(Conversion c, Node n)
    {
        var starts = n.GetInts("starts") ?? throw c.Fail(n, "the 'starts' attribute is missing");
        var ends = n.GetInts("ends") ?? throw c.Fail(n, "the 'ends' attribute is missing");
        var axes = n.GetInts("axes");
        if (starts.Length != ends.Length || (axes is not null && axes.Length != starts.Length))
            throw c.Fail(n, "starts, ends and axes differ in length");
        n.RemoveAttribute("starts");
        n.RemoveAttribute("ends");
        n.RemoveAttribute("axes");
        n.SetInput(1, c.Int64s(n, "starts", starts));
        n.SetInput(2, c.Int64s(n, "ends", ends));
        if (axes is not null) n.SetInput(3, c.Int64s(n, "axes", axes));
        return n;
    }

    /// <summary>Split-1 could take the split sizes as a second input; Split-2 only as an attribute.</summary>
    private static Node SplitInputToAttribute(Conversion c, Node n)
    {
        if (n.Input(1) is not { } split) return n;
        if (split.ConstantValue is not { } t) throw c.Fail(n, "its split sizes are an input computed at run time");
        n.TruncateInputs(1);
        n.SetAttribute(IrAttribute.Of("split", t.ToInt64s()));
        Conversion.DropIfUnused(split);
        return n;
    }

    /// <summary>Split-18 wants the number of parts when no sizes are given (an even split, as before).</summary>
    private static Node SplitNumOutputs(Conversion c, Node n)
    {
        if (n.Input(1) is null && n.GetAttribute("num_outputs") is null)
            n.SetAttribute(IrAttribute.Of("num_outputs", (long)n.Outputs.Count));
        return n;
    }

    /// <summary>TopK-10 takes k as a one-element int64 input.</summary>
    private static Node TopKToInput(Conversion c, Node n)
    {
        if (n.GetAttribute("k") is not { Kind: AttributeKind.Int } k) throw c.Fail(n, "the 'k' attribute is missing");
        n.RemoveAttribute("k");
        n.SetInput(1, c.Int64s(n, "k", [k.Int]));
        return n;
    }

    /// <summary>Upsample-9 takes the scales as a float input.</summary>
    private static Node UpsampleScalesToInput(Conversion c, Node n)
    {
        if (n.GetAttribute("scales") is not { Kind: AttributeKind.Floats } scales) throw c.Fail(n, "the 'scales' attribute is missing");
        n.RemoveAttribute("scales");
        n.SetInput(1, c.Constant(n, "scales", Tensor.FromFloats([scales.Floats.Length], scales.Floats)));
        return n;
    }

    /// <summary>Upsample (deprecated at 10) is Resize-10 with the same inputs and modes.</summary>
    private static Node UpsampleToResize(Conversion c, Node n)
    {
        string mode = n.GetString("mode") ?? "nearest";
        if (mode is not ("nearest" or "linear")) throw c.Fail(n, $"mode '{mode}' has no Resize equivalent");
        if (n.Input(1) is null) throw c.Fail(n, "it has no scales input");
        n.OpType = "Resize";
        n.SetAttribute(IrAttribute.Of("mode", mode));
        c.FromUpsample.Add(n);
        return n;
    }
}
