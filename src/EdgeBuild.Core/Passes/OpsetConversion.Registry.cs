using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

// The registry of OpsetConversion (driver in OpsetConversion.cs, adapters in OpsetConversion.Adapters.cs): per operator, the versions where it changed.
public sealed partial class OpsetConversion
{

    /// <summary>Rewrites a node from the form before a step's version to the form at it; returns the node now standing in its place.</summary>
    private delegate Node Adapter(Conversion c, Node node);

    /// <summary>
    /// A version where an operator changed. <see cref="Adapt"/> null means the change has no exact rewrite
    /// (<see cref="Why"/> says what); <see cref="Becomes"/> names the operator the adapter turns the node into.
    /// </summary>
    private sealed record Step(long Version, Adapter? Adapt, string? Becomes = null, string? Why = null);

    private static Step At(long version, Adapter adapt, string? becomes = null) => new(version, adapt, becomes);
    private static Step Unsupported(long version, string why) => new(version, null, null, why);

    /// <summary>
    /// Operators whose every later version (up to <see cref="MaxTargetOpset"/>) only widened types, allowed
    /// negative axes, or added attributes and optional inputs/outputs whose defaults keep the old meaning.
    /// A legacy 'consumed_inputs' attribute (opset 1) is dropped from any operator.
    /// </summary>
    private static readonly HashSet<string> Compatible = new(StringComparer.Ordinal)
    {
        // Element-wise math and activations.
        "Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh", "Erf", "Exp", "Floor", "Log",
        "Neg", "Reciprocal", "Round", "Sign", "Sin", "Sinh", "Sqrt", "Tan", "Tanh", "Relu", "Sigmoid", "Elu", "Selu", "Celu",
        "LeakyRelu", "HardSigmoid", "HardSwish", "Softplus", "Softsign", "ThresholdedRelu", "Shrink", "Mish", "Gelu",
        "IsNaN", "IsInf", "Not", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot", "Mod",
        "GreaterOrEqual", "LessOrEqual", "Where", "Sum", "Mean", "Max", "Min",
        // Convolution, pooling, normalization, linear algebra.
        "Conv", "ConvTranspose", "ConvInteger", "DeformConv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
        "MaxRoiPool", "MaxUnpool", "InstanceNormalization", "LRN", "LpNormalization", "LayerNormalization",
        "MatMul", "MatMulInteger", "Einsum", "Det", "Trilu",
        // Quantization.
        "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul",
        // Tensor shape and data movement.
        "Flatten", "Transpose", "Gather", "GatherElements", "GatherND", "ScatterElements", "ScatterND", "Shape", "Size",
        "Expand", "DepthToSpace", "SpaceToDepth", "Compress", "NonZero", "OneHot", "Range", "ReverseSequence", "Unique",
        "CumSum", "EyeLike", "CenterCropPad", "Col2Im", "AffineGrid", "ArgMax", "ArgMin", "NonMaxSuppression",
        "Constant", "ConstantOfShape", "Identity", "CastLike",
        // Control flow (bodies are converted like the main graph), sequences, optionals.
        "If", "Loop", "SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceErase", "SequenceInsert", "SequenceLength",
        "SequenceMap", "SplitToSequence", "ConcatFromSequence", "Optional", "OptionalGetElement", "OptionalHasElement",
        // Random generators, signal processing, strings, images, losses.
        "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli",
        "BlackmanWindow", "HammingWindow", "HannWindow", "MelWeightMatrix", "STFT",
        "StringNormalizer", "StringConcat", "StringSplit", "RegexFullMatch", "TfIdfVectorizer", "ImageDecoder",
        "NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss",
    };

    /// <summary>Operators with breaking changes: the versions where they changed and how to follow each change.</summary>
    private static readonly Dictionary<string, Step[]> Steps = BuildSteps();

    private static Dictionary<string, Step[]> BuildSteps()
    {
        var s = new Dictionary<string, Step[]>(StringComparer.Ordinal)
        {
            ["BatchNormalization"] = [At(7, BatchNormToInference), At(9, BatchNormToInference), At(14, BatchNormToInference)],
            ["Dropout"] = [At(7, DropoutToIdentity, "Identity"), At(10, DropoutToIdentity, "Identity"), At(12, DropoutToIdentity, "Identity")],
            ["Cast"] = [At(6, CastToAsInt)],
            ["Clip"] = [At(11, ClipBoundsToInputs)],
            ["Concat"] = [At(4, ConcatExplicitAxis)],
            ["DFT"] = [At(20, DftAxisToInput)],
            ["Gemm"] = [At(7, (_, n) => Drop(n, "broadcast"))],
            ["GlobalLpPool"] = [At(2, LpPoolIntegerP)],
            ["LpPool"] = [At(2, LpPoolIntegerP)],
            ["GridSample"] = [At(20, GridSampleModeNames)],
            ["GroupNormalization"] = [Unsupported(21, "GroupNormalization-21 takes per-channel scale and bias instead of per-group ones")],
            ["MeanVarianceNormalization"] = [Unsupported(9, "MeanVarianceNormalization-1 (across_channels, normalize_variance) has no exact opset 9 form")],
            ["Pad"] = [At(2, PadPaddingsRenamed), At(11, PadAttributesToInputs)],
            ["PRelu"] = [At(7, PReluSlopeForBroadcast)],
            ["Reshape"] = [At(5, ReshapeShapeToInput)],
            ["Resize"] = [At(11, Resize10To11), At(13, ResizeOptionalInputs)],
            ["RoiAlign"] = [At(16, RoiAlignKeepCoordinates)],
            ["Scan"] = [Unsupported(9, "Scan-8 (batch axis, sequence_lens) has no exact Scan-9 form")],
            ["Scatter"] = [At(11, (_, n) => Rename(n, "ScatterElements"), "ScatterElements")],
            ["Slice"] = [At(10, SliceAttributesToInputs)],
            ["Split"] = [At(2, SplitInputToAttribute), At(13, AttributeToInput("split", 1, required: false)), At(18, SplitNumOutputs)],
            ["Squeeze"] = [At(13, AttributeToInput("axes", 1, required: false))],
            ["Unsqueeze"] = [At(13, AttributeToInput("axes", 1, required: true))],
            ["ReduceSum"] = [At(13, AttributeToInput("axes", 1, required: false))],
            ["Tile"] = [Unsupported(6, "Tile-1 (tiles and axis inputs) has no exact Tile-6 form")],
            ["TopK"] = [At(10, TopKToInput)],
            ["Upsample"] =
            [
                Unsupported(7, "Upsample-1 (experimental, height_scale/width_scale) is not converted"),
                At(9, UpsampleScalesToInput),
                At(10, UpsampleToResize, "Resize"),
            ],
        };
        foreach (var op in new[] { "Softmax", "LogSoftmax", "Hardmax" })
            s[op] = [At(13, SoftmaxFamilyTo13)];
        foreach (var op in new[] { "GRU", "LSTM", "RNN" })
            s[op] = [At(7, (_, n) => Drop(n, "output_sequence"))];
        // Before opset 7 these took 'broadcast'/'axis' attributes instead of numpy broadcasting.
        foreach (var op in new[] { "Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor", "Equal", "Greater", "Less" })
            s[op] = [At(7, LegacyBroadcast)];
        // ReduceSum took its axes as an input at 13; the other reductions at 18.
        foreach (var op in new[] { "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSumSquare" })
            s[op] = [At(18, AttributeToInput("axes", 1, required: false))];

        foreach (var (op, steps) in s)
        {
            if (Compatible.Contains(op)) throw new InvalidOperationException($"opset rules: {op} is both compatible and breaking");
            for (int i = 1; i < steps.Length; i++)
                if (steps[i].Version <= steps[i - 1].Version) throw new InvalidOperationException($"opset rules: {op} steps out of order");
        }
        return s;
    }
}
