using EdgeBuild.Targets.Tflite.Schema;

namespace EdgeBuild.Targets.Tflite.Ops;

/// <summary>
/// The OperatorCode version of each op EdgeBuild emits: 1 for float kernels, the version that introduced int8
/// (TFLite's op_version rules) for int8 ones, and the versions that added the options we set (half-pixel resize,
/// float16 DEQUANTIZE).
/// </summary>
internal static class OpVersions
{
    public static int For(BuiltinOperator op, TensorType input, BuiltinOptions? options)
    {
        bool int8 = input == TensorType.INT8;
        switch (op)
        {
            case BuiltinOperator.DEQUANTIZE: return input == TensorType.FLOAT16 ? 3 : int8 ? 2 : 1;
            case BuiltinOperator.QUANTIZE: return 2;
            // Version 1 of BROADCAST_TO is the TensorFlow (Flex) op; the builtin kernel starts at 2.
            case BuiltinOperator.BROADCAST_TO: return 2;
            case BuiltinOperator.RESIZE_BILINEAR: return options is ResizeBilinearOptions { HalfPixelCenters: true } ? 3 : int8 ? 2 : 1;
            case BuiltinOperator.RESIZE_NEAREST_NEIGHBOR: return options is ResizeNearestNeighborOptions { HalfPixelCenters: true } ? 3 : int8 ? 2 : 1;
        }
        if (!int8) return 1;
        return op switch
        {
            BuiltinOperator.CONV_2D or BuiltinOperator.DEPTHWISE_CONV_2D => 3,
            BuiltinOperator.FULLY_CONNECTED => 4,
            BuiltinOperator.TRANSPOSE_CONV => 2,
            BuiltinOperator.ADD or BuiltinOperator.SUB or BuiltinOperator.MUL or BuiltinOperator.AVERAGE_POOL_2D or BuiltinOperator.MAX_POOL_2D
                or BuiltinOperator.CONCATENATION or BuiltinOperator.SOFTMAX or BuiltinOperator.LOGISTIC or BuiltinOperator.TANH or BuiltinOperator.PAD
                or BuiltinOperator.PADV2 or BuiltinOperator.MEAN or BuiltinOperator.TRANSPOSE or BuiltinOperator.STRIDED_SLICE or BuiltinOperator.SPLIT
                or BuiltinOperator.MAXIMUM or BuiltinOperator.MINIMUM or BuiltinOperator.RELU or BuiltinOperator.RELU6 or BuiltinOperator.LEAKY_RELU
                or BuiltinOperator.GATHER or BuiltinOperator.SLICE or BuiltinOperator.SPLIT_V or BuiltinOperator.DEPTH_TO_SPACE
                or BuiltinOperator.SPACE_TO_DEPTH or BuiltinOperator.EXP or BuiltinOperator.SUM or BuiltinOperator.REDUCE_MAX
                or BuiltinOperator.BATCH_MATMUL or BuiltinOperator.MIRROR_PAD => 2,
            _ => 1,
        };
    }
}
