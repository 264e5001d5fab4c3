using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using IrAttribute = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Passes;

/// <summary>
/// Converts the default-domain (ai.onnx) operators of a model, main graph and every If/Loop/Scan body,
/// up to <see cref="OptimizeOptions.TargetOpset"/>. The knowledge sits in one registry: per operator, the
/// opset versions where its meaning or signature changed, each with an adapter that rewrites a node from
/// the form before that version to the form it has from that version on (<see cref="Steps"/>); operators
/// whose later versions only widened types or added optional things with compatible defaults are listed in
/// <see cref="Compatible"/> and carried over. Adapters run in version order, so a node travels through every
/// form between the two opsets (Upsample-7 -> Upsample-9 -> Resize-10 -> Resize-11 -> Resize-13).
/// A default-domain operator in neither table, or a change the rules cannot express exactly, is an error
/// (EB2002): the pass never guesses. Every operator is checked against the tables before anything is
/// rewritten; a failure that depends on a node's data (an unknown rank, a used training output) is found
/// while rewriting, and then the model is left partly converted and must be discarded.
/// </summary>
public sealed class OpsetConversion : IPass
{
    /// <summary>The newest default-domain opset the rules cover.</summary>
    public const long MaxTargetOpset = 21;

    public string Name => "opset-conversion";
    public string Description => "Default-domain operators converted up to the target opset by per-operator rules (unknown changes are errors)";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        if (context.Options.TargetOpset is not long target) return result;
        long from = model.DefaultOpset;
        if (target == from) return result;
        if (target > MaxTargetOpset)
            throw new EdgeBuildException(DiagnosticCodes.OpsetConversionUnsupported, $"opset {target}",
                $"cannot convert to opset {target}: the newest opset EdgeBuild converts to is {MaxTargetOpset}");
        if (target < from)
            throw new EdgeBuildException(DiagnosticCodes.OpsetConversionUnsupported, $"opset {target}",
                $"the model uses opset {from}; converting down to opset {target} is not supported");

        CheckOpaqueParts(model, target);
        var graphs = model.Graph.SelfAndSubgraphs().ToList();
        // Every operator is checked against the tables first, so a missing rule changes nothing.
        foreach (var node in graphs.SelectMany(g => g.Nodes))
            if (node.IsStandardDomain) CheckRules(node.OpType, from, target);

        // Some adapters need ranks and element types; infer what the file leaves out (flagged as inferred).
        foreach (var g in graphs) ShapeInference.Infer(g, from);

        var conversion = new Conversion(from, target, result, context.Warn);
        foreach (var g in graphs)
            foreach (var node in g.Nodes.ToList())
                if (node.Graph == g && node.IsStandardDomain) ConvertNode(conversion, node);
        foreach (var g in conversion.Touched) g.SortTopologically();

        model.SetOpsetVersion("", target);
        result.Count("opset_raised");
        long minIr = MinIrVersion(target);
        if (model.IrVersion < minIr)
        {
            model.IrVersion = minIr;
            result.Count("ir_version_raised");
        }
        return result;
    }

    /// <summary>
    /// Model-local functions and training info are carried as serialized protos and never rewritten. A
    /// function that imports the default domain at its own version keeps working only if that is the
    /// target; training graphs use the model's opset, so their operators would change meaning unseen.
    /// </summary>
    private static void CheckOpaqueParts(Model model, long target)
    {
        foreach (var f in model.Functions)
        {
            var proto = Onnx.Proto.FunctionProto.Parser.ParseFrom(f.Proto);
            var import = proto.OpsetImport.FirstOrDefault(o => Model.SameDomain(o.Domain, ""));
            bool usesDefault = proto.Node.Any(n => n.Domain is "" or "ai.onnx");
            if (import is not null && usesDefault && import.Version != target)
                throw new EdgeBuildException(DiagnosticCodes.OpsetConversionUnsupported, $"function {f.Domain}.{f.Name}",
                    $"model-local function '{f.Name}' imports opset {import.Version}; EdgeBuild does not convert function bodies to opset {target}");
        }
        if (model.TrainingInfo.Count > 0)
            throw new EdgeBuildException(DiagnosticCodes.OpsetConversionUnsupported, "training_info",
                $"the model carries training info, whose graphs EdgeBuild does not convert to opset {target}");
    }

    /// <summary>The lowest ONNX IR version that may import <paramref name="opset"/> of the default domain.</summary>
    public static long MinIrVersion(long opset) => opset switch
    {
        <= 8 => 3,
        9 => 4,
        10 => 5,
        11 => 6,
        <= 14 => 7,
        <= 18 => 8,
        <= 20 => 9,
        _ => 10,
    };

    // ------------------------------------------------------------------------------------------------
    // The registry.
    // ------------------------------------------------------------------------------------------------

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

    // ------------------------------------------------------------------------------------------------
    // Driving the rules.
    // ------------------------------------------------------------------------------------------------

    /// <summary>
    /// Operators deprecated at a version (their last schema stays valid in later opsets only as a
    /// deprecation). A model at or past that version that still uses one holds the last form before the
    /// deprecation, so its conversion starts just before it.
    /// </summary>
    private static readonly Dictionary<string, long> DeprecatedAt = new(StringComparer.Ordinal)
    {
        ["Upsample"] = 10,
        ["Scatter"] = 11,
    };

    /// <summary>The version whose form a node of <paramref name="opType"/> has in a model at opset <paramref name="from"/>, for step lookup.</summary>
    private static long StartVersion(string opType, long from) =>
        DeprecatedAt.TryGetValue(opType, out long deprecated) && from >= deprecated ? deprecated - 1 : from;

    /// <summary>The first step of <paramref name="opType"/> after version <paramref name="at"/> up to <paramref name="to"/>; throws when the op has no rule.</summary>
    private static Step? NextStep(string opType, long at, long from, long to)
    {
        if (Steps.TryGetValue(opType, out var steps)) return steps.FirstOrDefault(s => s.Version > at && s.Version <= to);
        if (Compatible.Contains(opType)) return null;
        // A corrupt node can have an empty op type: the subject still names something ("" printed as '<model>').
        string shown = opType.Length > 0 ? opType : "(empty op type)";
        throw new EdgeBuildException(DiagnosticCodes.OpsetConversionUnsupported, shown, $"no rule to convert {shown} from opset {from} to {to}");
    }

    /// <summary>Follows the op through the tables without touching a node: unknown ops and unsupported steps fail here.</summary>
    private static void CheckRules(string opType, long from, long to)
    {
        string op = opType;
        long at = StartVersion(opType, from);
        while (NextStep(op, at, from, to) is { } step)
        {
            if (step.Adapt is null)
                throw new EdgeBuildException(DiagnosticCodes.OpsetConversionUnsupported, opType,
                    $"cannot convert {opType} from opset {from} to {to}: {step.Why}");
            op = step.Becomes ?? op;
            at = step.Version;
        }
    }

    private static void ConvertNode(Conversion c, Node node)
    {
        bool rewritten = false;
        if (node.GetAttribute("consumed_inputs") is not null)
        {
            node.RemoveAttribute("consumed_inputs");
            rewritten = true;
        }
        long at = StartVersion(node.OpType, c.From);
        while (NextStep(node.OpType, at, c.From, c.To) is { } step)
        {
            if (step.Adapt is null) throw c.Fail(node, step.Why ?? "no rule");
            node = step.Adapt(c, node);
            at = step.Version;
            rewritten = true;
        }
        c.Result.Count(rewritten ? "nodes_rewritten" : "ops_bumped");
    }

    /// <summary>State of one conversion: the versions, counters, and helpers that create values and nodes.</summary>
    private sealed class Conversion(long from, long to, PassResult result, Action<string> warn)
    {
        public Action<string> Warn { get; } = warn;
        public long From { get; } = from;
        public long To { get; } = to;
        public PassResult Result { get; } = result;

        /// <summary>Graphs that got new nodes (sorted at the end).</summary>
        public HashSet<Graph> Touched { get; } = [];

        /// <summary>Resize nodes that were Upsample, whose scales are at least 1 by definition.</summary>
        public HashSet<Node> FromUpsample { get; } = [];

        public EdgeBuildException Fail(Node node, string why) =>
            new(DiagnosticCodes.OpsetConversionUnsupported, node.OpType, $"cannot convert {Describe(node)} from opset {From} to {To}: {why}");

        public Value Constant(Node near, string what, Tensor tensor)
        {
            var g = near.Graph!;
            Result.Count("initializers_added");
            return g.AddInitializer(g.UniqueName(PassHelpers.Hint(near, what)), tensor);
        }

        public Value Int64s(Node near, string what, long[] values) => Constant(near, what, Tensor.FromInt64s([values.Length], values));

        public Node AddNode(Node near, string opType, Value?[] inputs, string what, params IrAttribute[] attributes)
        {
            var g = near.Graph!;
            var added = g.AddNodeWithFreshOutputs(opType, inputs, 1, PassHelpers.Hint(near, what), attributes);
            Touched.Add(g);
            Result.Count("nodes_added");
            return added;
        }

        /// <summary>
        /// Replaces <paramref name="old"/> by a new <paramref name="opType"/> node with its first
        /// <paramref name="keep"/> outputs, which keep their names, types and readers. The outputs dropped must be unused.
        /// </summary>
        public Node Rebuild(Node old, string opType, int keep, IEnumerable<Value?> inputs, IEnumerable<IrAttribute> attributes, string droppedWhat)
        {
            var g = old.Graph!;
            for (int i = keep; i < old.Outputs.Count; i++)
                if (old.Outputs[i] is { IsUsed: true } o) throw Fail(old, $"output {i} ('{o.Name}', {droppedWhat}) is used, and opset {To} has no such output");
            int count = Math.Min(keep, old.Outputs.Count);
            var names = old.Outputs.Take(count).Select(o => o is null ? null : g.UniqueName(o.Name)).ToList();
            var fresh = g.AddNode(opType, inputs.ToList(), names, old.Domain, old.Name, attributes.ToList());
            fresh.DocString = old.DocString;
            fresh.MetadataProps.AddRange(old.MetadataProps);
            var renames = new List<(Value Value, string Name)>();
            for (int i = 0; i < count; i++)
            {
                if (old.Outputs[i] is not { } o) continue;
                var v = fresh.Outputs[i]!;
                v.Type = o.Type;
                v.TypeInferred = o.TypeInferred;
                v.DocString = o.DocString;
                v.MetadataProps.AddRange(o.MetadataProps);
                bool graphOutput = o.IsGraphOutput;
                if (!g.TrySubstitute(o, v)) throw new InvalidOperationException($"opset conversion could not substitute '{o.Name}'");
                if (!graphOutput) renames.Add((v, o.Name));
            }
            g.RemoveNode(old);
            foreach (var (v, name) in renames) g.Rename(v, name);
            Touched.Add(g);
            return fresh;
        }

        /// <summary>Removes an initializer of this graph that nothing reads any more.</summary>
        public static void DropIfUnused(Value v)
        {
            if (!v.IsUsed && !v.IsGraphInput && v.Producer is null && v.Initializer is not null) v.Graph.RemoveInitializer(v);
        }
    }

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

    // ------------------------------------------------------------------------------------------------
    // Adapters. Each validates before it changes anything.
    // ------------------------------------------------------------------------------------------------

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
