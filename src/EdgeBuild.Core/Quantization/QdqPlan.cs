using EdgeBuild.Ir;

namespace EdgeBuild.Quantization;

/// <summary>How an activation's scale and zero point are decided.</summary>
internal sealed class ActivationMark(Value value, string calibrationName)
{
    public Value Value { get; } = value;

    /// <summary>The tensor of the unquantized model whose calibrated range gives the parameters.</summary>
    public string CalibrationName { get; set; } = calibrationName;

    /// <summary>When set, the parameters are this tensor's (an op that only moves data must not rescale it).</summary>
    public Value? SameAs { get; set; }

    /// <summary>When set, fixed parameters that need no calibration (Softmax's [0, 1) output).</summary>
    public QuantParams? Fixed { get; set; }

    /// <summary>
    /// When set, the tensor is <see cref="RescaleOf"/> times <see cref="Factor"/> (a Mul by a positive scalar): it is
    /// represented by the same integers with the scale multiplied, and its Mul node disappears.
    /// </summary>
    public Value? RescaleOf { get; set; }
    public float Factor { get; set; } = 1f;
}

/// <summary>A constant input quantized at one reading slot: a per-channel or per-tensor weight, or an int32 bias.</summary>
internal abstract record ConstantMark(Node Node, int Input);

/// <summary>A weight: symmetric int8, per channel along <paramref name="Axis"/> or per tensor when it is null.</summary>
internal sealed record WeightMark(Node Node, int Input, int? Axis) : ConstantMark(Node, Input);

/// <summary>A constant in an activation's place (Add/Mul/Concat operand): per tensor with the activation type, from its own range.</summary>
internal sealed record ConstantActivationMark(Node Node, int Input) : ConstantMark(Node, Input);

/// <summary>A bias: int32, zero point 0, scale = scale(input) * scale(weight) * beta, per channel like the weight.</summary>
internal sealed record BiasMark(Node Node, int Input, Value Activation, Node WeightNode, int WeightInput, float Beta) : ConstantMark(Node, Input);

/// <summary>
/// Phase one of static quantization (ORT's qdq_quantizer.py): the per-op quantizers only record here which
/// tensors are quantized and how. Nothing is inserted until phase two (<see cref="QdqInserter"/>), so a tensor
/// read by five nodes gets one Q/DQ pair however many quantizers asked for it. The one graph change of phase
/// one is folding a Relu/Clip into its producer's quantization, which ORT's quantizer also does while marking.
/// </summary>
internal sealed class QdqPlan(Graph graph, QuantizeOptions options)
{
    private readonly Dictionary<Value, ActivationMark> activations = [];
    private readonly List<ActivationMark> activationOrder = [];
    private readonly List<ConstantMark> constants = [];
    private readonly HashSet<(Node, int)> constantSlots = [];

    public Graph Graph { get; } = graph;
    public QuantizeOptions Options { get; } = options;
    public bool Symmetric => Options.SymmetricActivations;

    public IReadOnlyList<ActivationMark> Activations => activationOrder;
    public IReadOnlyList<ConstantMark> Constants => constants;

    /// <summary>Nodes that will run quantized (marked by their quantizer), folded activations included.</summary>
    public HashSet<Node> QuantizedNodes { get; } = [];

    /// <summary>For each quantized compute node: the tensor of the float model to compare its output with (SQNR).</summary>
    public Dictionary<Node, string> ObservedName { get; } = [];

    private readonly HashSet<Value> keptFloat = [];

    /// <summary>A float32 tensor of the main graph, of known type, that no placement rule keeps float: the only kind that is quantized.</summary>
    public bool IsQuantizable(Value? v) => v is not null && v.Graph == Graph && GraphEdits.IsFloat32(v) && !keptFloat.Contains(v);

    /// <summary>A placement rule's decision, taken before any quantizer marks: the tensor is never quantized (<see cref="Operators.AffineInputPlacement"/>).</summary>
    public void KeepFloat(Value v) => keptFloat.Add(v);

    /// <summary>
    /// An output the node's quantizer may quantize. Model outputs stay float, and so do tensors that only reach
    /// model outputs through reshaping (a pooled vector flattened into the logits): quantizing them would only add
    /// error (a uint8 step of 1/256 on probabilities, saturation of logits outside the calibrated range) and save
    /// nothing, since the caller reads float anyway. The last layer then runs on dequantized inputs in float.
    /// </summary>
    public bool CanQuantizeOutput(Value? v) => IsQuantizable(v) && !OnlyReachesModelOutputs(v!, 0);

    private static readonly HashSet<string> Reshaping = new(StringComparer.Ordinal) { "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity" };

    private static bool OnlyReachesModelOutputs(Value v, int depth)
    {
        if (v.IsGraphOutput) return true;
        if (v.Uses.Count == 0 || depth > 8) return false;
        foreach (var u in v.Uses)
        {
            var n = u.Node;
            if (u.InputIndex != 0 || !n.IsStandardDomain || !Reshaping.Contains(n.OpType) || n.Outputs.Count == 0 || n.Outputs[0] is not { } o) return false;
            if (!OnlyReachesModelOutputs(o, depth + 1)) return false;
        }
        return true;
    }

    public bool IsConstant(Value? v) => v?.ConstantValue is { ElementType: DataType.Float };

    /// <summary>True when the tensor already gets a Q/DQ pair (an earlier quantizer marked it, usually its producer's).</summary>
    public bool IsQuantized(Value? v) => v is not null && activations.ContainsKey(v);

    public ActivationMark? MarkOf(Value v) => activations.GetValueOrDefault(v);

    /// <summary>Quantizes the tensor at input <paramref name="input"/> of <paramref name="node"/> as an activation (a constant there gets its own per-tensor quantization).</summary>
    public bool QuantizeInput(Node node, int input)
    {
        var v = node.Input(input);
        if (!IsQuantizable(v)) return false;
        if (IsConstant(v))
        {
            AddConstant(new ConstantActivationMark(node, input));
            return true;
        }
        QuantizeActivation(v!);
        return true;
    }

    /// <summary>Quantizes a (non-constant) tensor per tensor with its calibrated range; every reader shares the pair.</summary>
    public ActivationMark QuantizeActivation(Value v)
    {
        if (activations.TryGetValue(v, out var mark)) return mark;
        mark = new ActivationMark(v, v.Name);
        activations[v] = mark;
        activationOrder.Add(mark);
        return mark;
    }

    /// <summary>The output gets the input's scale and zero point: ORT then drops the Q/DQ around data-movement ops.</summary>
    public void QuantizeOutputSameAsInput(Value output, Value input)
    {
        if (!CanQuantizeOutput(output)) return;
        var mark = QuantizeActivation(output);
        mark.SameAs = input;
    }

    public void QuantizeOutputFixed(Value output, QuantParams p)
    {
        if (!CanQuantizeOutput(output)) return;
        QuantizeActivation(output).Fixed = p;
    }

    public bool QuantizeWeight(Node node, int input, int? axis)
    {
        if (!IsConstant(node.Input(input)) || node.Input(input)!.Graph != Graph) return false;
        AddConstant(new WeightMark(node, input, axis));
        return true;
    }

    public bool QuantizeBias(Node node, int input, Value activation, Node weightNode, int weightInput, float beta = 1f)
    {
        if (!IsConstant(node.Input(input)) || node.Input(input)!.Graph != Graph) return false;
        AddConstant(new BiasMark(node, input, activation, weightNode, weightInput, beta));
        return true;
    }

    private void AddConstant(ConstantMark mark)
    {
        if (constantSlots.Add((mark.Node, mark.Input))) constants.Add(mark);
    }

    /// <summary>
    /// Removes a Relu/Clip whose input is quantized by its producer alone: the producer's output takes the
    /// activation's range and name, and the clamp happens in its QuantizeLinear (zero point at the bottom of the
    /// uint8 range for a Relu). ORT then fuses Conv+Relu into one QLinearConv. Only valid with asymmetric
    /// activations and when the quantized range lies inside the clamp; returns false, changing nothing, otherwise.
    /// </summary>
    public bool TryFoldActivation(Node activation)
    {
        if (Symmetric) return false;
        var input = activation.Input(0);
        var output = activation.Outputs.Count > 0 ? activation.Outputs[0] : null;
        if (input is null || output is null || !IsQuantized(input) || input.Producer is null) return false;
        if (input.IsGraphOutput || output.IsGraphOutput || input.Uses.Count != 1) return false;
        var mark = activations[input];
        if (mark.SameAs is not null || mark.Fixed is not null || mark.RescaleOf is not null || !IsQuantizable(output)) return false;
        // The calibrated output range [lo, hi] widened to include 0 must stay inside [min, max] of the clamp.
        if (activation.OpType == "Clip" && !ClipContainsZero(activation)) return false;

        string name = output.Name;
        Graph.ReplaceAllUses(output, input);
        Graph.RemoveNode(activation);
        Graph.Rename(input, name);
        mark.CalibrationName = name;
        // The producer's observed tensor is now the activation's output (the same name in the float model).
        if (input.Producer is { } producer && ObservedName.ContainsKey(producer)) ObservedName[producer] = name;
        QuantizedNodes.Add(activation);
        return true;
    }

    /// <summary>
    /// Marks y = x * c, for a positive scalar constant c and a quantized x, as "x's integers with scale s_x * c":
    /// exact, since c * s_x * (q - zp) = (c * s_x) * (q - zp), and the Mul is removed in phase two (its readers get
    /// a DequantizeLinear of x's QuantizeLinear output with the larger scale). ORT's QLinearMul would instead
    /// requantize every element. Returns false, changing nothing, when the pattern does not apply.
    /// </summary>
    public bool TryRescale(Node mul)
    {
        if (!mul.Is("Mul") || mul.Inputs.Count != 2) return false;
        int constant = IsConstant(mul.Input(1)) ? 1 : IsConstant(mul.Input(0)) ? 0 : -1;
        if (constant < 0) return false;
        var x = mul.Input(1 - constant);
        var c = mul.Input(constant)!.ConstantValue!;
        var y = mul.Outputs[0];
        if (c.ElementCount != 1 || x is null || IsConstant(x) || !IsQuantized(x) || !CanQuantizeOutput(y) || IsQuantized(y)) return false;
        // The result must have x's shape: a scalar constant of higher rank would broadcast x up.
        if (c.Rank > (x.TensorType?.Shape?.Rank ?? 0)) return false;
        float factor = c.ToFloats()[0];
        if (!(factor > 0) || !float.IsFinite(factor)) return false;
        var mark = QuantizeActivation(y!);
        mark.RescaleOf = x;
        mark.Factor = factor;
        QuantizedNodes.Add(mul);
        return true;
    }

    private static bool ClipContainsZero(Node clip)
    {
        float min = float.NegativeInfinity, max = float.PositiveInfinity;
        if (clip.GetAttribute("min") is { } a) min = a.Float;
        if (clip.GetAttribute("max") is { } b) max = b.Float;
        if (clip.Input(1) is { } lo)
        {
            if (lo.ConstantValue is not { ElementCount: 1 } t) return false;
            min = t.ToFloats()[0];
        }
        if (clip.Input(2) is { } hi)
        {
            if (hi.ConstantValue is not { ElementCount: 1 } t) return false;
            max = t.ToFloats()[0];
        }
        return min <= 0 && max >= 0;
    }
}
