using EdgeBuild.Ir;
using EdgeBuild.Quantization.Calibration;

namespace EdgeBuild.Quantization;

/// <summary>What <see cref="Fp16Converter.Convert"/> changed, and the nodes the range rule kept in float32 with why.</summary>
internal sealed record Fp16Result(IReadOnlySet<Node> Fp16Nodes, int Casts, int ConvertedInitializers)
{
    public IReadOnlyList<Fp16RangeFinding> RangeKept { get; init; } = [];
}

/// <summary>
/// Float16 conversion of a chosen set of nodes (all of them in <see cref="QuantizationMode.Fp16"/>, the KeepFp16
/// ones in the int8 modes). A chosen node computes in float16: its float32 outputs become float16 values, and
/// the float32 weights only float16 nodes read are stored as float16 (saturated to ±65504). Wherever a value
/// meets a reader of the other precision a Cast is inserted, one per value and direction; with KeepIoFp32 the
/// graph inputs and outputs stay float32, so the model's interface does not change.
/// </summary>
/// <remarks>
/// Nodes stay float32, whatever was chosen, when:
/// <list type="bullet">
/// <item>they are numerically sensitive (<see cref="SensitiveOps"/>): exponentials and logarithms overflow float16
/// (exp(11.1) > 65504), and sums over many elements (reductions, Softmax denominators, normalizations) lose the
/// small terms in float16's 11-bit mantissa;</item>
/// <item>their output type is not their input's (Cast, ConstantOfShape, random generators, (de)quantization and
/// integer kernels);</item>
/// <item>a type around them is unknown (shape inference does not cover the op), since converting them blind could
/// hand a float16 tensor to a reader that expects float32;</item>
/// <item>the values they meet leave float16's range (<see cref="Fp16RangeRule"/>): measured on calibration data where it
/// is given, and for constants always.</item>
/// </list>
/// ONNX Runtime's CPU provider has float16 kernels for few operators (Conv, MatMul and most element-wise ops have
/// none on x86). For the others its InsertCastTransformer wraps the node in Casts at session creation, so the model
/// still runs, computing in float32 between float16 tensors: the gain on CPU is size, not speed.
/// </remarks>
internal static class Fp16Converter
{
    public static readonly IReadOnlySet<string> SensitiveOps = new HashSet<string>(StringComparer.Ordinal)
    {
        "Exp", "Log", "Pow", "Reciprocal", "Softmax", "LogSoftmax", "Softplus",
        "ReduceSum", "ReduceMean", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceProd", "CumSum",
        "LayerNormalization", "InstanceNormalization", "GroupNormalization", "LpNormalization", "MeanVarianceNormalization", "LRN",
        // Box arithmetic and indices: float-only kernels in ORT and coordinates that need float32's precision.
        "TopK", "NonMaxSuppression", "RoiAlign",
    };

    private static readonly HashSet<string> TypeFixedOps = new(StringComparer.Ordinal)
    {
        "Cast", "CastLike", "Constant", "ConstantOfShape", "EyeLike", "Range",
        "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
        "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "ConvInteger", "MatMulInteger", "QLinearConv", "QLinearMatMul",
    };

    /// <summary>Readers that accept either precision as is: they look at the shape only.</summary>
    private static readonly HashSet<string> ShapeReaders = new(StringComparer.Ordinal) { "Shape", "Size" };

    /// <summary>Inputs fixed to float32 by the operator's signature whatever the data type (Resize roi/scales, Upsample scales).</summary>
    private static bool IsFixedFloat32Slot(Node n, int input) => n.IsStandardDomain && ((n.OpType == "Resize" && input is 1 or 2) || (n.OpType == "Upsample" && input == 1));

    public static bool CanRunInFp16(Node n)
    {
        if (!n.IsStandardDomain || n.HasSubgraphs || n.Graph is null || n.Graph.Parent is not null) return false;
        if (SensitiveOps.Contains(n.OpType) || TypeFixedOps.Contains(n.OpType) || ShapeReaders.Contains(n.OpType)) return false;
        bool anyFloat = false;
        foreach (var v in n.Inputs)
        {
            if (v is null) continue;
            if (v.TensorType is not { ElementType: not DataType.Undefined } t) return false;
            anyFloat |= t.ElementType == DataType.Float;
        }
        foreach (var v in n.Outputs)
        {
            if (v is null) continue;
            if (v.TensorType is not { ElementType: not DataType.Undefined } t) return false;
            anyFloat |= t.ElementType == DataType.Float;
        }
        return anyFloat;
    }

    /// <param name="model">Converted in place.</param>
    /// <param name="chosen">The nodes asked to compute in float16.</param>
    /// <param name="keepIoFp32">Casts at the model boundary keep its interface float32.</param>
    /// <param name="extremes">Value ranges of the float model's tensors over calibration data, by name (null: the range rule judges constants only).</param>
    /// <param name="rangeRule">Apply the range rule (off only to measure what it changes).</param>
    public static Fp16Result Convert(Model model, Func<Node, bool> chosen, bool keepIoFp32, IReadOnlyDictionary<string, ValueExtremes>? extremes = null, bool rangeRule = true)
    {
        var graph = model.Graph;
        ShapeInference.ClearInferred(graph);
        ShapeInference.Infer(model);
        var fp16Nodes = graph.Nodes.Where(n => chosen(n) && CanRunInFp16(n)).ToHashSet();
        // Decided before anything changes, while every tensor still has the float model's name the ranges are keyed by.
        var rangeKept = rangeRule ? Fp16RangeRule.Find(graph, fp16Nodes, extremes) : new Dictionary<Node, Fp16RangeFinding>();
        fp16Nodes.ExceptWith(rangeKept.Keys);
        var findings = graph.Nodes.Where(rangeKept.ContainsKey).Select(n => rangeKept[n]).ToList();
        if (fp16Nodes.Count == 0) return new Fp16Result(fp16Nodes, 0, 0) { RangeKept = findings };

        // Which slots want float16: float inputs of chosen nodes, except the signature's fixed float32 ones.
        bool WantsFp16(Use u) => u.Node.Graph == graph && fp16Nodes.Contains(u.Node) && !IsFixedFloat32Slot(u.Node, u.InputIndex);
        bool Indifferent(Use u) => u.Node.Graph == graph && ShapeReaders.Contains(u.Node.OpType) && u.Node.IsStandardDomain;

        // Values that become float16 where they are defined.
        var half = new HashSet<Value>();
        foreach (var n in fp16Nodes)
            foreach (var o in n.Outputs)
                if (GraphEdits.IsFloat32(o)) half.Add(o!);

        int converted = 0;
        var fp16Copies = new Dictionary<Value, Value>();
        foreach (var v in graph.Initializers.ToList())
        {
            if (v.ConstantValue is not { ElementType: DataType.Float } t) continue;
            var uses = v.Uses;
            if (uses.Count == 0 || !uses.Any(WantsFp16)) continue;
            if (uses.All(u => WantsFp16(u) || Indifferent(u)) && !v.IsGraphOutput)
            {
                graph.SetInitializer(v, QuantMath.ToFloat16(t));
                half.Add(v);
            }
            else fp16Copies[v] = GraphEdits.Initializer(graph, v.Name + "_fp16", QuantMath.ToFloat16(t));
            converted++;
        }
        if (!keepIoFp32)
            foreach (var v in graph.Inputs)
                if (v.Initializer is null && GraphEdits.IsFloat32(v) && v.Uses.Count > 0 && v.Uses.All(u => WantsFp16(u) || Indifferent(u)) && !v.IsGraphOutput)
                {
                    v.Type = new TensorType(DataType.Float16, v.TensorType!.Shape, v.Type!.Denotation);
                    half.Add(v);
                }

        // Casts where a value meets a reader of the other precision, shared per value and direction.
        var casts = new Dictionary<(Value, DataType), Value>();
        Value CastOf(Value v, DataType to)
        {
            if (to == DataType.Float16 && fp16Copies.TryGetValue(v, out var copy)) return copy;
            if (!casts.TryGetValue((v, to), out var c))
                casts[(v, to)] = c = GraphEdits.Cast(graph, v, to, to == DataType.Float16 ? "_fp16" : "_fp32");
            return c;
        }
        var floatValues = graph.Values.Where(v => GraphEdits.IsFloat32(v) || half.Contains(v)).ToList();
        foreach (var v in floatValues)
        {
            bool isHalf = half.Contains(v);
            foreach (var u in v.Uses.ToList())
            {
                if (Indifferent(u)) continue;
                bool wantHalf = WantsFp16(u);
                if (wantHalf == isHalf) continue;
                u.Node.SetInput(u.InputIndex, CastOf(v, wantHalf ? DataType.Float16 : DataType.Float));
            }
        }

        // Declared types of converted values follow; inferred ones are recomputed below.
        foreach (var v in half)
            if (!v.TypeInferred && v.TensorType is { ElementType: DataType.Float } t)
                v.Type = t with { ElementType = DataType.Float16 };

        foreach (var v in graph.Outputs.ToList())
        {
            if (!half.Contains(v)) continue;
            if (keepIoFp32)
            {
                var shape = v.TypeInferred ? null : v.TensorType?.Shape;
                GraphEdits.AppendToGraphOutput(graph, v, "_fp16", x => GraphEdits.Cast(graph, x, DataType.Float, "_fp32"),
                    new TensorType(DataType.Float, shape));
            }
            else if (v.TensorType is { } t) v.Type = t with { ElementType = DataType.Float16 };
        }

        graph.SortTopologically();
        ShapeInference.ClearInferred(graph);
        ShapeInference.Infer(model);
        return new Fp16Result(fp16Nodes, casts.Count, converted) { RangeKept = findings };
    }
}
