using Google.FlatBuffers;

namespace EdgeBuild.Targets.Tflite.Schema;

/// <summary>
/// One builtin options table of the schema's BuiltinOptions union. Each record writes its fields with the
/// schema's field ids; a field equal to its schema default is left out (FlatBuffers' rule), so the bytes are
/// the same for the same options.
/// </summary>
public abstract record BuiltinOptions
{
    public abstract BuiltinOptionsType Type { get; }

    /// <summary>Writes the table; returns its offset.</summary>
    public abstract int Write(FlatBufferBuilder b);

    /// <summary>An options table without fields (PadOptions, TransposeOptions, ...).</summary>
    protected static int Empty(FlatBufferBuilder b)
    {
        b.StartTable(0);
        return b.EndTable();
    }

    protected static VectorOffset Ints(FlatBufferBuilder b, int[] values)
    {
        b.StartVector(4, values.Length, 4);
        for (int i = values.Length - 1; i >= 0; i--) b.AddInt(values[i]);
        return b.EndVector();
    }
}

public sealed record Conv2DOptions(Padding Padding, int StrideW, int StrideH, ActivationFunctionType Activation, int DilationW = 1, int DilationH = 1) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.Conv2DOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(7);
        b.AddInt(1, StrideW, 0);
        b.AddInt(2, StrideH, 0);
        b.AddInt(4, DilationW, 1);
        b.AddInt(5, DilationH, 1);
        b.AddSbyte(0, (sbyte)Padding, 0);
        b.AddSbyte(3, (sbyte)Activation, 0);
        return b.EndTable();
    }
}

public sealed record DepthwiseConv2DOptions(Padding Padding, int StrideW, int StrideH, int DepthMultiplier, ActivationFunctionType Activation, int DilationW = 1, int DilationH = 1) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.DepthwiseConv2DOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(7);
        b.AddInt(1, StrideW, 0);
        b.AddInt(2, StrideH, 0);
        b.AddInt(3, DepthMultiplier, 0);
        b.AddInt(5, DilationW, 1);
        b.AddInt(6, DilationH, 1);
        b.AddSbyte(0, (sbyte)Padding, 0);
        b.AddSbyte(4, (sbyte)Activation, 0);
        return b.EndTable();
    }
}

public sealed record TransposeConvOptions(Padding Padding, int StrideW, int StrideH, ActivationFunctionType Activation) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.TransposeConvOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(4);
        b.AddInt(1, StrideW, 0);
        b.AddInt(2, StrideH, 0);
        b.AddSbyte(0, (sbyte)Padding, 0);
        b.AddSbyte(3, (sbyte)Activation, 0);
        return b.EndTable();
    }
}

public sealed record Pool2DOptions(Padding Padding, int StrideW, int StrideH, int FilterW, int FilterH, ActivationFunctionType Activation) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.Pool2DOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(6);
        b.AddInt(1, StrideW, 0);
        b.AddInt(2, StrideH, 0);
        b.AddInt(3, FilterW, 0);
        b.AddInt(4, FilterH, 0);
        b.AddSbyte(0, (sbyte)Padding, 0);
        b.AddSbyte(5, (sbyte)Activation, 0);
        return b.EndTable();
    }
}

public sealed record FullyConnectedOptions(ActivationFunctionType Activation, bool KeepNumDims) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.FullyConnectedOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(3);
        b.AddSbyte(0, (sbyte)Activation, 0);
        b.AddBool(2, KeepNumDims, false);
        return b.EndTable();
    }
}

public sealed record BatchMatMulOptions(bool AdjX, bool AdjY) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.BatchMatMulOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(2);
        b.AddBool(0, AdjX, false);
        b.AddBool(1, AdjY, false);
        return b.EndTable();
    }
}

public sealed record SoftmaxOptions(float Beta) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.SoftmaxOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(1);
        b.AddFloat(0, Beta, 0);
        return b.EndTable();
    }
}

public sealed record ConcatenationOptions(int Axis, ActivationFunctionType Activation) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.ConcatenationOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(2);
        b.AddInt(0, Axis, 0);
        b.AddSbyte(1, (sbyte)Activation, 0);
        return b.EndTable();
    }
}

/// <summary>AddOptions, SubOptions, MulOptions, DivOptions: a fused activation (ADD and SUB also pot_scale_int16, left at its default).</summary>
public sealed record ArithmeticOptions(BuiltinOptionsType Kind, ActivationFunctionType Activation) : BuiltinOptions
{
    public override BuiltinOptionsType Type => Kind;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(1);
        b.AddSbyte(0, (sbyte)Activation, 0);
        return b.EndTable();
    }
}

public sealed record ResizeBilinearOptions(bool AlignCorners, bool HalfPixelCenters) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.ResizeBilinearOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(4);
        b.AddBool(2, AlignCorners, false);
        b.AddBool(3, HalfPixelCenters, false);
        return b.EndTable();
    }
}

public sealed record ResizeNearestNeighborOptions(bool AlignCorners, bool HalfPixelCenters) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.ResizeNearestNeighborOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(2);
        b.AddBool(0, AlignCorners, false);
        b.AddBool(1, HalfPixelCenters, false);
        return b.EndTable();
    }
}

public sealed record ReshapeOptions(int[] NewShape) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.ReshapeOptions;
    public override int Write(FlatBufferBuilder b)
    {
        var shape = Ints(b, NewShape);
        b.StartTable(1);
        b.AddOffset(0, shape.Value, 0);
        return b.EndTable();
    }
}

public sealed record ReducerOptions(bool KeepDims) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.ReducerOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(1);
        b.AddBool(0, KeepDims, false);
        return b.EndTable();
    }
}

public sealed record SqueezeOptions(int[] SqueezeDims) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.SqueezeOptions;
    public override int Write(FlatBufferBuilder b)
    {
        var dims = Ints(b, SqueezeDims);
        b.StartTable(1);
        b.AddOffset(0, dims.Value, 0);
        return b.EndTable();
    }
}

public sealed record StridedSliceOptions(int BeginMask, int EndMask, int ShrinkAxisMask) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.StridedSliceOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(5);
        b.AddInt(0, BeginMask, 0);
        b.AddInt(1, EndMask, 0);
        b.AddInt(4, ShrinkAxisMask, 0);
        return b.EndTable();
    }
}

/// <summary>SplitOptions and SplitVOptions: num_splits.</summary>
public sealed record SplitOptions(BuiltinOptionsType Kind, int NumSplits) : BuiltinOptions
{
    public override BuiltinOptionsType Type => Kind;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(1);
        b.AddInt(0, NumSplits, 0);
        return b.EndTable();
    }
}

public sealed record LeakyReluOptions(float Alpha) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.LeakyReluOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(1);
        b.AddFloat(0, Alpha, 0);
        return b.EndTable();
    }
}

public sealed record DepthToSpaceOptions(BuiltinOptionsType Kind, int BlockSize) : BuiltinOptions
{
    public override BuiltinOptionsType Type => Kind;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(1);
        b.AddInt(0, BlockSize, 0);
        return b.EndTable();
    }
}

public sealed record CastOptions(TensorType In, TensorType Out) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.CastOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(2);
        b.AddSbyte(0, (sbyte)In, 0);
        b.AddSbyte(1, (sbyte)Out, 0);
        return b.EndTable();
    }
}

public sealed record GatherOptions(int Axis) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.GatherOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(1);
        b.AddInt(0, Axis, 0);
        return b.EndTable();
    }
}

public sealed record ArgMaxOptions(TensorType OutputType) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.ArgMaxOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(1);
        b.AddSbyte(0, (sbyte)OutputType, 0);
        return b.EndTable();
    }
}

public sealed record MirrorPadOptions(MirrorPadMode Mode) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.MirrorPadOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(1);
        b.AddSbyte(0, (sbyte)Mode, 0);
        return b.EndTable();
    }
}

/// <summary>An options table of the union without fields: PadOptions, TransposeOptions, DequantizeOptions, ...</summary>
public sealed record EmptyOptions(BuiltinOptionsType Kind) : BuiltinOptions
{
    public override BuiltinOptionsType Type => Kind;
    public override int Write(FlatBufferBuilder b) => Empty(b);
}

public sealed record ArgMinOptionsTable(TensorType OutputType) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.ArgMinOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(1);
        b.AddSbyte(0, (sbyte)OutputType, 0);
        return b.EndTable();
    }
}

public sealed record GeluOptions(bool Approximate) : BuiltinOptions
{
    public override BuiltinOptionsType Type => BuiltinOptionsType.GeluOptions;
    public override int Write(FlatBufferBuilder b)
    {
        b.StartTable(1);
        b.AddBool(0, Approximate, false);
        return b.EndTable();
    }
}
