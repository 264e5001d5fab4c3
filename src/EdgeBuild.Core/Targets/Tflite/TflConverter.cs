using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Targets.Tflite.Ops;
using EdgeBuild.Targets.Tflite.Schema;
using TensorType = EdgeBuild.Targets.Tflite.Schema.TensorType;
using EdgeBuild.Session;

namespace EdgeBuild.Targets.Tflite;

/// <summary>One conversion with fixed input layouts: the state op converters work on.</summary>
public sealed class TflConverter
{
    private readonly Model model;
    private readonly int[][] inputPerms;
    private readonly Dictionary<Value, (int Tensor, int[] Perm)> bound = [];
    private readonly Dictionary<(int Tensor, string Perm), int> relaid = [];
    private readonly Dictionary<(Value, string), int> constants = [];
    private readonly HashSet<string> names = new(StringComparer.Ordinal);
    private readonly HashSet<Node> absorbed = [];
    private readonly Dictionary<int, int> precisionChanged = [];
    private readonly IReadOnlyDictionary<string, TensorRange>? ranges;
    private bool inFloatNode;

    internal TflConverter(Model model, TfliteOptions options, int[][] inputPerms)
    {
        this.model = model;
        Options = options;
        this.inputPerms = inputPerms;
        ranges = options.Ranges is null ? null : ConcatScaleSharing.Apply(model.Graph, options.Ranges);
    }

    public TfliteOptions Options { get; }
    public TflModel Tfl { get; } = new();
    /// <summary>The op being converted is written in int8: an Int8 file, and not one of <see cref="TfliteOptions.FloatNodes"/>.</summary>
    public bool Int8 => Options.Precision == TflitePrecision.Int8 && !inFloatNode;
    public bool Fp16 => Options.Precision == TflitePrecision.Fp16;
    public bool OpsetBelow13 => model.DefaultOpset < 13;
    public int Transposes { get; private set; }

    internal TfliteResult Run()
    {
        var graph = model.Graph;
        var io = new List<TfliteIo>();
        var inputs = graph.Inputs.Where(v => v.Initializer is null).ToList();
        for (int i = 0; i < inputs.Count; i++)
        {
            var v = inputs[i];
            var perm = inputPerms[i];
            var shape = Layout.Apply(perm, v.TensorType!.Shape!.ToArray());
            var type = TypeOf(v.TensorType.ElementType);
            // A float input of an Int8 file stays float unless int8 I/O is asked for: the first int8 op that reads it
            // QUANTIZEs it (AtOpPrecision), so an input only float nodes read (a first layer kept in float) is never
            // rounded to 8 bits.
            int t = IsQuantized(v) && Options.Int8Io
                ? NewTensor(v.Name, shape, TensorType.INT8, ActivationQuant(v.Name) ?? TflQuantization.PerTensor(1f, 0))
                : NewTensor(v.Name, shape, type);
            Bind(v, t, perm);
            Tfl.Inputs.Add(t);
            var tensor = Tfl.Tensors[Tfl.Inputs[^1]];
            io.Add(new TfliteIo(v.Name, true, tensor.Shape, TypeName(tensor.Type), perm, tensor.Quantization?.Scale[0], tensor.Quantization?.ZeroPoint[0]));
        }

        ConvertNodes(graph.Nodes);

        foreach (var v in graph.Outputs)
        {
            var (t, perm) = Bound(v);
            // int8 outputs asked for: an output a float node computed is quantized like any other.
            if (Options.Int8Io) t = AtOpPrecision(t, v);
            int rank = perm.Length;
            int[] want = Options.Layout == TfliteIoLayout.Nchw || !(Layout.IsIdentity(perm) || (rank == 4 && Layout.Same(perm, Layout.Nhwc))) ? Layout.Identity(rank) : perm;
            int final = Relayout(t, perm, want);
            var tensor = Tfl.Tensors[final];
            if (tensor.Type == TensorType.INT8 && !Options.Int8Io && IsQuantized(v))
            {
                int f = NewTensor(v.Name, tensor.Shape.Select(d => (long)d).ToArray(), TensorType.FLOAT32);
                Op(BuiltinOperator.DEQUANTIZE, [final], [f], null);
                final = f;
            }
            else if (Tfl.Inputs.Contains(final) || Tfl.Outputs.Contains(final) || Tfl.Tensors[final].Buffer != 0)
            {
                // An output that is an input, another output or a constant gets its own tensor.
                int copy = NewTensor(v.Name, tensor.Shape.Select(d => (long)d).ToArray(), tensor.Type, tensor.Quantization);
                Op(BuiltinOperator.RESHAPE, [final, Int32Const(v.Name + "/shape", tensor.Shape)], [copy], null);
                final = copy;
            }
            else
            {
                RenameTensor(final, v.Name);
            }
            Tfl.Outputs.Add(final);
            var ft = Tfl.Tensors[final];
            io.Add(new TfliteIo(v.Name, false, ft.Shape, TypeName(ft.Type), want, ft.Quantization?.Scale[0], ft.Quantization?.ZeroPoint[0]));
        }

        Tfl.Description = Options.Producer;
        Tfl.Signatures.Add(new TflSignature("serving_default",
            io.Where(x => x.IsInput).Select((x, i) => (x.Name, Tfl.Inputs[i])).ToList(),
            io.Where(x => !x.IsInput).Select((x, i) => (x.Name, Tfl.Outputs[i])).ToList()));
        var version = new byte[16];
        var text = System.Text.Encoding.ASCII.GetBytes(MinRuntimeVersion());
        text.CopyTo(version, 0);
        Tfl.Metadata.Add(("min_runtime_version", Tfl.AddBuffer(version)));
        Tfl.Metadata.Add(("producer", Tfl.AddBuffer(System.Text.Encoding.UTF8.GetBytes(Options.Producer))));
        return new TfliteResult(Tfl, io, Transposes);
    }

    /// <summary>Converts nodes in order (the main graph, or an If branch inlined into it), skipping those a fused pattern took.</summary>
    internal void ConvertNodes(IEnumerable<Node> nodes)
    {
        foreach (var node in nodes)
        {
            if (absorbed.Contains(node)) continue;
            bool outer = inFloatNode;
            inFloatNode = outer || (Options.FloatNodes is { Count: > 0 } kept && (kept.Contains(Quantization.NodePatterns.NameOf(node)) || FollowsFloat(node)));
            TflOpRegistry.Convert(node, this);
            inFloatNode = outer;
        }
    }

    /// <summary>
    /// A node that is not a convolution or matrix product, all of whose activation inputs are float, stays float: the
    /// ONNX artifact's Q/DQ placement works the same way (pools, activations, shape ops and element-wise ops are
    /// quantized only where quantized data reaches them), so a kept layer's float output is not requantized by the
    /// reshape, concat or activation after it, which would bring back the very error the layer was kept for.
    /// </summary>
    private bool FollowsFloat(Node node)
    {
        if (Quantization.Operators.QuantizerRegistry.IsComputeOp(node)) return false;
        var activations = node.Inputs.Where(v => v is { Initializer: null } && v.TensorType?.ElementType == DataType.Float && bound.ContainsKey(v)).ToList();
        return activations.Count > 0 && activations.All(v => Tfl.Tensors[bound[v!].Tensor].Type == TensorType.FLOAT32);
    }

    private string MinRuntimeVersion()
    {
        // The oldest TFLite runtime that has every (op, version) used, from TFLite's runtime version table where we use them.
        var needed = new Version(1, 14, 0);
        foreach (var c in Tfl.OperatorCodes)
        {
            var v = (c.Code, c.Version) switch
            {
                (BuiltinOperator.HARD_SWISH, _) or (BuiltinOperator.DEQUANTIZE, 3) => new Version(1, 15, 0),
                (BuiltinOperator.RESIZE_BILINEAR, 3) or (BuiltinOperator.RESIZE_NEAREST_NEIGHBOR, 3) => new Version(2, 2, 0),
                (BuiltinOperator.BATCH_MATMUL, _) or (BuiltinOperator.SELECT_V2, _) => new Version(2, 3, 0),
                (BuiltinOperator.BROADCAST_TO, _) => new Version(2, 5, 0),
                (BuiltinOperator.GELU, _) => new Version(2, 9, 0),
                (BuiltinOperator.TRANSPOSE_CONV, 4) => new Version(2, 9, 0),
                _ => new Version(1, 14, 0),
            };
            if (v > needed) needed = v;
        }
        return needed.ToString(3);
    }

    // ---- tensors and ops ----

    public static TensorType TypeOf(DataType t) => t switch
    {
        DataType.Float => TensorType.FLOAT32,
        DataType.Float16 => TensorType.FLOAT16,
        DataType.Int32 or DataType.Int64 => TensorType.INT32,
        DataType.Int8 => TensorType.INT8,
        DataType.UInt8 => TensorType.UINT8,
        DataType.Int16 => TensorType.INT16,
        DataType.Bool => TensorType.BOOL,
        _ => throw new EdgeBuildException(DiagnosticCodes.TfliteUnsupportedOperator, "Targets", $"element type {DataTypes.Name(t)} has no TFLite equivalent"),
    };

    private static string TypeName(TensorType t) => t.ToString().ToLowerInvariant();

    /// <summary>The value is an int8 activation of the op being converted (a float value of an int8 op).</summary>
    public bool IsQuantized(Value v) => Int8 && v.TensorType?.ElementType == DataType.Float;

    public int NewTensor(string name, IReadOnlyList<long> shape, TensorType type, TflQuantization? q = null, byte[]? data = null)
    {
        string unique = name;
        for (int i = 1; !names.Add(unique); i++) unique = $"{name}_{i}";
        var t = new TflTensor { Name = unique, Shape = shape.Select(d => checked((int)d)).ToArray(), Type = type, Quantization = q };
        if (data is not null) t.Buffer = Tfl.AddBuffer(data);
        Tfl.Tensors.Add(t);
        return Tfl.Tensors.Count - 1;
    }

    private void RenameTensor(int tensor, string name)
    {
        var t = Tfl.Tensors[tensor];
        if (t.Name == name) return;
        if (names.Contains(name))
        {
            // Whoever holds the name gives it up: graph outputs keep their ONNX names.
            int other = Tfl.Tensors.FindIndex(x => x.Name == name);
            if (other >= 0)
            {
                string moved = name + "/internal";
                for (int i = 1; names.Contains(moved); i++) moved = $"{name}/internal_{i}";
                names.Add(moved);
                Tfl.Tensors[other] = Clone(Tfl.Tensors[other], moved);
            }
        }
        names.Remove(t.Name);
        names.Add(name);
        Tfl.Tensors[tensor] = Clone(t, name);
    }

    private static TflTensor Clone(TflTensor t, string name) => new() { Name = name, Shape = t.Shape, Type = t.Type, Buffer = t.Buffer, Quantization = t.Quantization };

    public TflTensor Tensor(int index) => Tfl.Tensors[index];

    public void Op(BuiltinOperator op, int[] inputs, int[] outputs, BuiltinOptions? options, int? version = null)
    {
        if (op == BuiltinOperator.TRANSPOSE) Transposes++;
        int v = version ?? OpVersions.For(op, inputs.Length > 0 && inputs[0] >= 0 ? Tfl.Tensors[inputs[0]].Type : TensorType.FLOAT32, options);
        Tfl.Operators.Add(new TflOperator { OpcodeIndex = Tfl.OperatorCodeIndex(op, v), Inputs = inputs, Outputs = outputs, Options = options });
    }

    public int Int32Const(string name, IReadOnlyList<int> values, long[]? shape = null)
    {
        var data = new byte[values.Count * 4];
        for (int i = 0; i < values.Count; i++) BitConverter.TryWriteBytes(data.AsSpan(i * 4), values[i]);
        return NewTensor(name, shape ?? [values.Count], TensorType.INT32, null, data);
    }

    // ---- values ----

    public void Bind(Value v, int tensor, int[] perm) => bound[v] = (tensor, perm);

    public bool IsBound(Value v) => bound.ContainsKey(v);

    /// <summary>The tensor and layout a value is held in; constants are materialized in ONNX order.</summary>
    public (int Tensor, int[] Perm) Bound(Value v)
    {
        if (bound.TryGetValue(v, out var b)) return b;
        if (v.Initializer is { } c)
        {
            var id = Layout.Identity(c.Rank);
            return (Constant(v, id), id);
        }
        if (v.Producer is { } p && p.Is("ConstantOfShape"))
        {
            // Made on first use: a fill that a Concat turns into a PAD never becomes a constant.
            ShapeOps.MaterializeConstantOfShape(p, this);
            return bound[v];
        }
        throw new InvalidOperationException($"value '{v.Name}' is used before it is produced");
    }

    public int[] PermOf(Value v) => bound.TryGetValue(v, out var b) ? b.Perm : Layout.Identity(Rank(v));

    public static int Rank(Value v) => v.TensorType?.Shape?.Rank ?? v.Initializer?.Rank ?? throw new InvalidOperationException($"'{v.Name}' has no rank");

    public static long[] Dims(Value v) => v.Initializer?.Dims ?? v.TensorType!.Shape!.ToArray();

    /// <summary>
    /// The value held in <paramref name="perm"/> at the precision of the op being converted: the bound tensor, or a
    /// TRANSPOSE of it (made once); in a mixed Int8 file also a DEQUANTIZE (into a float node) or QUANTIZE (out of one).
    /// </summary>
    public int In(Value v, int[] perm)
    {
        if (!bound.ContainsKey(v) && v.Initializer is not null) return Constant(v, perm);
        var (t, p) = Bound(v);
        return Relayout(AtOpPrecision(t, v), p, perm);
    }

    /// <summary>An int8 activation read by a float node is dequantized, a float one read by an int8 op quantized to its calibrated range; once per tensor.</summary>
    private int AtOpPrecision(int tensor, Value v)
    {
        if (Options.Precision != TflitePrecision.Int8 || v.TensorType?.ElementType != DataType.Float) return tensor;
        var t = Tfl.Tensors[tensor];
        bool toFloat = inFloatNode && t.Type == TensorType.INT8;
        bool toInt8 = !inFloatNode && t.Type == TensorType.FLOAT32 && t.Buffer == 0;
        if (!toFloat && !toInt8) return tensor;
        if (precisionChanged.TryGetValue(tensor, out int done)) return done;
        var shape = t.Shape.Select(d => (long)d).ToArray();
        int result = toFloat
            ? NewTensor(t.Name + "/float", shape, TensorType.FLOAT32)
            : NewTensor(t.Name + "/int8", shape, TensorType.INT8, ActivationQuant(v.Name) ?? TflQuantization.PerTensor(1f / 256, 0));
        Op(toFloat ? BuiltinOperator.DEQUANTIZE : BuiltinOperator.QUANTIZE, [tensor], [result], null);
        precisionChanged[tensor] = result;
        return result;
    }

    /// <summary>The value in ONNX order.</summary>
    public int InOnnx(Value v) => In(v, Layout.Identity(Rank(v)));

    public int Relayout(int tensor, int[] from, int[] to)
    {
        if (Layout.Same(from, to)) return tensor;
        string key = string.Join(",", to) + "/" + string.Join(",", from);
        if (relaid.TryGetValue((tensor, key), out int done)) return done;
        var t = Tfl.Tensors[tensor];
        var between = Layout.Between(from, to);
        var shape = between.Select(i => (long)t.Shape[i]).ToArray();
        int result = NewTensor(t.Name + "/transposed", shape, t.Type, t.Quantization);
        var moved = between.Where(i => t.Shape[i] != 1).ToArray();
        if (moved.Zip(moved.Skip(1)).All(p => p.First < p.Second))
        {
            // Only size-1 dims move: the bytes are already in order, a RESHAPE does it.
            var dims = shape.Select(d => (int)d).ToArray();
            Op(BuiltinOperator.RESHAPE, [tensor, Int32Const(t.Name + "/reshaped", dims)], [result], new ReshapeOptions(dims));
        }
        else if (t.Buffer != 0)
        {
            // A constant is transposed here, not at run time.
            var raw = Ir.Tensor.FromRaw(ElementOf(t.Type), t.Shape.Select(d => (long)d).ToArray(), Tfl.Buffers[t.Buffer]);
            Tfl.Tensors[result].Buffer = Tfl.AddBuffer(Layout.Transpose(raw, between).Raw);
        }
        else Op(BuiltinOperator.TRANSPOSE, [tensor, Int32Const(t.Name + "/perm", between)], [result], null);
        relaid[(tensor, key)] = result;
        return result;
    }

    private static DataType ElementOf(TensorType t) => t switch
    {
        TensorType.FLOAT32 => DataType.Float,
        TensorType.FLOAT16 => DataType.Float16,
        TensorType.INT32 => DataType.Int32,
        TensorType.INT8 => DataType.Int8,
        TensorType.UINT8 => DataType.UInt8,
        TensorType.INT16 => DataType.Int16,
        TensorType.BOOL => DataType.Bool,
        TensorType.INT64 => DataType.Int64,
        _ => throw new InvalidOperationException($"no IR type for {t}"),
    };

    /// <summary>
    /// Creates the tensor for a node output held in <paramref name="perm"/> and binds it. Int8: quantization from the
    /// calibrated range, unless <paramref name="quantization"/> fixes it (same-scale ops pass their input's).
    /// </summary>
    public int Out(Value v, int[] perm, TflQuantization? quantization = null, DataType? type = null)
    {
        var shape = Layout.Apply(perm, Dims(v));
        var et = type ?? v.TensorType!.ElementType;
        TensorType tt;
        TflQuantization? q = null;
        if (IsQuantized(v) && type is null)
        {
            tt = TensorType.INT8;
            q = quantization ?? ActivationQuant(v.Name) ?? TflQuantization.PerTensor(1f / 256, 0);
        }
        else tt = TypeOf(et);
        int t = NewTensor(v.Name, shape, tt, q);
        Bind(v, t, perm);
        return t;
    }

    /// <summary>Int8 parameters of an activation from its calibrated range (widened to hold 0), asymmetric over [-128, 127].</summary>
    public TflQuantization? ActivationQuant(string name)
    {
        if (ranges is null || !ranges.TryGetValue(name, out var r)) return null;
        return RangeQuant(r.Min, r.Max);
    }

    public static TflQuantization RangeQuant(double min, double max)
    {
        double rmin = Math.Min(min, 0), rmax = Math.Max(max, 0);
        double scale = (rmax - rmin) / 255.0;
        if (!(scale > 0) || !double.IsFinite(scale)) return TflQuantization.PerTensor(1f, 0);
        long zp = (long)Math.Clamp(Math.Round(-128 - rmin / scale, MidpointRounding.ToEven), -128, 127);
        return TflQuantization.PerTensor((float)scale, zp);
    }

    // ---- constants ----

    /// <summary>A constant value held in <paramref name="perm"/> (broadcast-aligned first when its rank is lower).</summary>
    public int Constant(Value v, int[] perm, TflQuantization? quantization = null)
    {
        string key = string.Join(",", perm) + (quantization is null ? "" : $"/q{quantization.Scale[0]}/{quantization.ZeroPoint[0]}") + (Int8 ? "" : "/float");
        if (constants.TryGetValue((v, key), out int known)) return known;
        var t = v.Initializer ?? throw new InvalidOperationException($"'{v.Name}' is not a constant");
        if (t.Rank < perm.Length) t = t.WithDims(Enumerable.Repeat(1L, perm.Length - t.Rank).Concat(t.Dims).ToArray());
        t = Layout.Transpose(t, perm);
        int index = ConstTensor(v.Name, t, quantization);
        constants[(v, key)] = index;
        return index;
    }

    /// <summary>
    /// A constant tensor (already in TFLite order). Float data: float32; float16 behind DEQUANTIZE for the
    /// <paramref name="weights"/> of convolutions and fully connected layers and for large constants at Fp16 (the bulk
    /// of the bytes; biases and small element-wise constants stay float32, where float16 rounding would cost accuracy
    /// for no size);
    /// int8 at Int8 (per-tensor over its own range, or <paramref name="quantization"/>). Integers become int32.
    /// </summary>
    public int ConstTensor(string name, Ir.Tensor t, TflQuantization? quantization = null, bool keepFloat = false, bool weights = false)
    {
        switch (t.ElementType)
        {
            case DataType.Float or DataType.Double or DataType.Float16:
                {
                    var x = t.ToFloats();
                    if (Int8 && !keepFloat)
                    {
                        var q = quantization ?? RangeQuant(x.Length == 0 ? 0 : x.Min(), x.Length == 0 ? 0 : x.Max());
                        return NewTensor(name, t.Dims, TensorType.INT8, q, QuantizeInt8(x, q.Scale[0], (int)q.ZeroPoint[0]));
                    }
                    if (Fp16 && (weights || x.Length >= LargeConstant))
                    {
                        var half = new byte[x.Length * 2];
                        for (int i = 0; i < x.Length; i++) BitConverter.TryWriteBytes(half.AsSpan(i * 2), Quantization.QuantMath.ToHalf(x[i]));
                        int h = NewTensor(name + "/fp16", t.Dims, TensorType.FLOAT16, null, half);
                        int f = NewTensor(name, t.Dims, TensorType.FLOAT32);
                        Op(BuiltinOperator.DEQUANTIZE, [h], [f], null);
                        return f;
                    }
                    return NewTensor(name, t.Dims, TensorType.FLOAT32, null, FloatBytes(x));
                }
            case DataType.Int64 or DataType.Int32 or DataType.Int16 or DataType.UInt16 or DataType.UInt32:
                {
                    var values = t.ToInt64s();
                    var ints = new int[values.Length];
                    for (int i = 0; i < values.Length; i++)
                        ints[i] = values[i] is > int.MaxValue or < int.MinValue
                            ? throw new EdgeBuildException(DiagnosticCodes.TfliteInt64Overflow, "Targets", $"constant '{name}' holds {values[i]}, outside int32")
                            : (int)values[i];
                    return Int32Const(name, ints, t.Dims);
                }
            case DataType.Int8 or DataType.UInt8 or DataType.Bool:
                return NewTensor(name, t.Dims, TypeOf(t.ElementType), null, t.Raw);
            default:
                throw new EdgeBuildException(DiagnosticCodes.TfliteUnsupportedOperator, "Targets", $"constant '{name}' has type {DataTypes.Name(t.ElementType)}, which TFLite cannot hold");
        }
    }

    /// <summary>Float constants of at least this many elements are float16 at Fp16 whatever reads them (e.g. a mean image).</summary>
    public const int LargeConstant = 4096;

    /// <summary>
    /// Weight tensors smaller than this stay float32 at Fp16: a few percent of the bytes (depthwise and 1x1 layers of
    /// small channel counts), but rounding them to float16 costs as much accuracy as rounding all the rest (real models:
    /// face-detect-rfb320 6.9e-3 -> 3.6e-3, ocr-det-ppocrv4 6.8e-2 -> 3.3e-2, for 1-6 % more bytes).
    /// </summary>
    public const int Fp16MinWeights = 1024;

    public static byte[] FloatBytes(float[] x)
    {
        var data = new byte[x.Length * 4];
        Buffer.BlockCopy(x, 0, data, 0, data.Length);
        return data;
    }

    public static byte[] QuantizeInt8(float[] x, float scale, int zeroPoint)
    {
        var q = new byte[x.Length];
        for (int i = 0; i < x.Length; i++) q[i] = unchecked((byte)(sbyte)Quantization.QuantMath.Quantize(x[i], scale, zeroPoint, -128, 127));
        return q;
    }

    // ---- fusion ----

    /// <summary>
    /// The activation that can be fused into the op producing <paramref name="output"/>: its only consumer is a Relu,
    /// Clip(0,6) or Clip(-1,1), and it is not a model output. Returns the activation and the value the fused op
    /// produces (the activation's output); the activation node is then skipped.
    /// </summary>
    public (ActivationFunctionType Activation, Value Result) FuseActivation(Value output)
    {
        if (output.IsGraphOutput || output.Uses.Count != 1) return (ActivationFunctionType.NONE, output);
        var next = output.Uses[0].Node;
        if (!next.IsStandardDomain || output.Uses[0].InputIndex != 0) return (ActivationFunctionType.NONE, output);
        var act = next.OpType switch
        {
            "Relu" => ActivationFunctionType.RELU,
            "Clip" => ActivationOps.ClipRange(next) switch
            {
                (0f, 6f) => ActivationFunctionType.RELU6,
                (-1f, 1f) => ActivationFunctionType.RELU_N1_TO_1,
                (0f, float.PositiveInfinity) => ActivationFunctionType.RELU,
                _ => ActivationFunctionType.NONE,
            },
            _ => ActivationFunctionType.NONE,
        };
        if (act == ActivationFunctionType.NONE) return (act, output);
        absorbed.Add(next);
        return (act, next.Output0);
    }

    /// <summary>Marks a later node as done by the current op (e.g. the Mul of a HardSigmoid-times-x pattern).</summary>
    public void Absorb(Node node) => absorbed.Add(node);
}
