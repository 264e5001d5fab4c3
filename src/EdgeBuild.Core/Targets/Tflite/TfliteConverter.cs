using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Targets.Tflite.Ops;
using EdgeBuild.Targets.Tflite.Schema;
using TensorType = EdgeBuild.Targets.Tflite.Schema.TensorType;
using EdgeBuild.Session;

namespace EdgeBuild.Targets.Tflite;

/// <summary>Numeric precision of a .tflite file.</summary>
public enum TflitePrecision { Fp32, Fp16, Int8 }

/// <summary>What the converter is asked for.</summary>
/// <param name="Precision">Float32, float16 weights, or full-integer int8.</param>
/// <param name="Layout">Layout of rank-4 model inputs and outputs.</param>
/// <param name="Producer">Written as the model description and "producer" metadata.</param>
/// <param name="Ranges">Calibrated ranges of the float model's activations by ONNX name (Int8 only).</param>
/// <param name="Int8Io">Int8: int8 model inputs and outputs instead of float ones.</param>
/// <param name="FloatNodes">
/// Int8: ONNX nodes written as float kernels (float weights, DEQUANTIZE before and QUANTIZE after them), by
/// <see cref="Quantization.NodePatterns.NameOf"/>: the layers an accuracy budget or KeepFp32 keeps out of int8, and at
/// Mixed what the ONNX artifact computes in float. Empty: full-integer.
/// </param>
public sealed record TfliteOptions(
    TflitePrecision Precision = TflitePrecision.Fp32,
    TfliteIoLayout Layout = TfliteIoLayout.Nhwc,
    bool Int8Io = false,
    IReadOnlyDictionary<string, TensorRange>? Ranges = null,
    string Producer = "EdgeBuild",
    IReadOnlySet<string>? FloatNodes = null);

/// <summary>One model input or output of the .tflite file: the ONNX name, the TFLite shape and type, and the permutation from the ONNX dims.</summary>
public sealed record TfliteIo(string Name, bool IsInput, int[] Shape, string ElementType, int[] Perm, float? Scale, long? ZeroPoint)
{
    /// <summary>"NHWC" when a rank-4 NCHW tensor is held transposed, "ONNX" when the dims are the ONNX model's.</summary>
    public string Layout => Tflite.Layout.IsIdentity(Perm) ? "ONNX" : Tflite.Layout.Same(Perm, Tflite.Layout.Nhwc) ? "NHWC" : "[" + string.Join(",", Perm) + "]";
}

/// <summary>The converted model with its interface.</summary>
public sealed record TfliteResult(TflModel Model, IReadOnlyList<TfliteIo> Io, int Transposes);

/// <summary>
/// ONNX (optimized, static shapes) to TFLite. Walks the graph once in order; each value is bound to a TFLite
/// tensor and the permutation it is held in (<see cref="Layout"/>). Ops that need NHWC (convolutions, pools,
/// resize) ask for their input in NHWC, element-wise ops keep whatever layout their inputs have, ONNX
/// Transposes only change the layout, and a TRANSPOSE is emitted only where an op needs another layout
/// than the one a value is held in (once per value and layout). Rank-4 inputs take the layout that needs
/// the fewest TRANSPOSE ops (NHWC on a tie), so NHWC models (tf2onnx) keep their input as it is.
/// </summary>
public static class TfliteConverter
{
    public static TfliteResult Convert(Model model, TfliteOptions options)
    {
        Check(model, options);
        var inputs = model.Graph.Inputs.Where(v => v.Initializer is null).ToList();
        var candidates = inputs.Select(v => v.TensorType!.Shape!.Rank == 4 && options.Layout == TfliteIoLayout.Nhwc && DataTypes.IsFloatingPoint(v.TensorType.ElementType)
            ? new[] { Layout.Nhwc, Layout.Identity(4) } : [Layout.Identity(v.TensorType!.Shape!.Rank)]).ToList();
        int combos = candidates.Aggregate(1, (n, c) => n * c.Length);
        if (combos > 16) combos = 1; // many image inputs: all NHWC
        TfliteResult? best = null;
        for (int k = 0; k < combos; k++)
        {
            var perms = new int[inputs.Count][];
            int rest = k;
            for (int i = 0; i < inputs.Count; i++)
            {
                perms[i] = candidates[i][rest % candidates[i].Length];
                rest /= candidates[i].Length;
            }
            var result = new TflConverter(model, options, perms).Run();
            if (best is null || result.Transposes < best.Transposes) best = result;
        }
        return best!;
    }

    /// <summary>Everything that stops a conversion, found before anything is built: unsupported ops (all of them, in one error), dynamic dims, int64 constants past int32.</summary>
    public static void Check(Model model, TfliteOptions options)
    {
        var graph = model.Graph;
        // A model read back from bytes has only declared shapes: infer the rest.
        ShapeInference.Infer(model);
        var dynamic = graph.Inputs.Where(v => v.Initializer is null && v.TensorType?.Shape is not { IsStatic: true }).ToList();
        if (dynamic.Count > 0)
        {
            var example = dynamic.Select(v => $"--shape {v.Name}={ExampleShape(v)}");
            throw new EdgeBuildException(DiagnosticCodes.TfliteDynamicShape, "Targets",
                $"input(s) {string.Join(", ", dynamic.Select(v => $"'{v.Name}' {v.TensorType?.Shape?.ToString() ?? "[*]"}"))} have dynamic dims, which a TFLite file cannot hold; fix them with {string.Join(" ", example)} (Shapes metadata in MSBuild)");
        }
        CheckShapesFitInt32(graph);
        var unsupported = new List<string>();
        foreach (var node in graph.Nodes)
        {
            string? why = TflOpRegistry.Unsupported(node) ?? (options.Precision == TflitePrecision.Int8 && node.OpType is "LSTM" or "If" ? FloatOnly(node) : null);
            if (why is not null) unsupported.Add($"{node.OpType} ({(node.Name.Length > 0 ? node.Name : node.Output0.Name)}{(why.Length > 0 ? ": " + why : "")})");
        }
        if (unsupported.Count > 0)
            throw new EdgeBuildException(DiagnosticCodes.TfliteUnsupportedOperator, "Targets",
                $"{unsupported.Count} node(s) cannot be expressed in TFLite: {string.Join("; ", unsupported)}");
        // If branches are converted into the main graph: their values need static shapes too.
        var notStatic = graph.AllNodes().SelectMany(n => n.Outputs).Where(o => o is not null && o.TensorType?.Shape is not { IsStatic: true }).ToList();
        if (notStatic.Count > 0)
            throw new EdgeBuildException(DiagnosticCodes.TfliteDynamicShape, "Targets",
                $"{notStatic.Count} tensor(s) have no static shape after shape inference (first: '{notStatic[0]!.Name}' {notStatic[0]!.TensorType?.Shape?.ToString() ?? "[*]"}); fix the input shapes with --shape NAME=DIMS");
        foreach (var v in graph.SelfAndSubgraphs().SelectMany(g => g.Initializers).Concat(graph.Inputs))
        {
            if (v.Initializer is { ElementType: DataType.Int64 } t && v.Uses.Any(u => !TflOpRegistry.ReadsConstantOnly(u.Node, u.InputIndex)))
            {
                var values = t.AsSpan<long>();
                foreach (var x in values)
                    if (x is > int.MaxValue or < int.MinValue)
                        throw new EdgeBuildException(DiagnosticCodes.TfliteInt64Overflow, "Targets",
                            $"int64 tensor '{v.Name}' holds {x}, outside int32; TFLite computes int64 ONNX tensors in int32. Change the model to keep its values in int32 range");
            }
        }
        if (options.Precision == TflitePrecision.Int8 && options.Ranges is null)
            throw new ArgumentException("Int8 needs calibration ranges", nameof(options));
    }

    /// <summary>Why an LSTM or If (unrolled or inlined in float) has no int8 form here, with what to do instead.</summary>
    private static string FloatOnly(Node node) =>
        $"{(node.OpType == "LSTM" ? "an unrolled LSTM" : "an inlined If")} converts at Fp32 and Fp16 only; build this model's .tflite with Precision Fp32 or Fp16";

    /// <summary>TFLite dims and element counts are int32: every dim within 0..2^31-1, every count within int32 (empty tensors, which Concat skips, stay allowed).</summary>
    private static void CheckShapesFitInt32(Graph graph)
    {
        var values = graph.Inputs.Where(v => v.Initializer is null).Concat(graph.AllNodes().SelectMany(n => n.Outputs).OfType<Value>())
            .Concat(graph.SelfAndSubgraphs().SelectMany(g => g.Initializers).Where(v => v.Uses.Any(u => !TflOpRegistry.ReadsConstantOnly(u.Node, u.InputIndex))));
        foreach (var v in values)
        {
            long[]? dims = v.Initializer?.Dims ?? (v.TensorType?.Shape is { IsStatic: true } s ? s.ToArray() : null);
            if (dims is null) continue;
            long count = 1;
            foreach (var d in dims)
            {
                if (d < 0 || d > int.MaxValue)
                    throw new EdgeBuildException(DiagnosticCodes.TfliteShapeOutOfRange, "Targets",
                        $"tensor '{v.Name}' has dims [{string.Join(",", dims)}]; a TFLite file needs every dim between 0 and {int.MaxValue}");
                count = d != 0 && count > int.MaxValue / d ? long.MaxValue : count * d;
            }
            if (count > int.MaxValue)
                throw new EdgeBuildException(DiagnosticCodes.TfliteShapeOutOfRange, "Targets",
                    $"tensor '{v.Name}' has dims [{string.Join(",", dims)}], more than {int.MaxValue} elements, which a TFLite file cannot index");
        }
    }

    private static string ExampleShape(Value v) =>
        v.TensorType?.Shape is { } s ? string.Join(",", s.Dims.Select((d, i) => d.Value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? (i == 0 ? "1" : s.Rank == 4 && i == 2 ? "480" : s.Rank == 4 && i == 3 ? "640" : "N"))) : "1,3,480,640";
}
