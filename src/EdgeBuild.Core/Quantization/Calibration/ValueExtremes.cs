using System.Collections.Concurrent;
using EdgeBuild.Analysis;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;

namespace EdgeBuild.Quantization.Calibration;

/// <summary>
/// The values one float tensor took over the calibration data, unclipped (a calibrator's range may saturate outliers;
/// these do not): its smallest and largest value and its smallest nonzero magnitude. The FP16 range rule
/// (<see cref="Fp16RangeRule"/>) reads them. Non-finite values are left out: they are the float model's own, not a range.
/// </summary>
/// <param name="Min">The smallest value seen.</param>
/// <param name="Max">The largest value seen.</param>
/// <param name="SmallestNonZero">The smallest |x| over the values that are not 0 (+infinity when every value was 0).</param>
public readonly record struct ValueExtremes(float Min, float Max, float SmallestNonZero)
{
    /// <summary>The largest magnitude seen.</summary>
    public float AbsMax => Math.Max(Math.Abs(Min), Math.Abs(Max));

    /// <summary>Every value seen was 0 or more: a power, a magnitude, a variance, a probability.</summary>
    public bool NonNegative => Min >= 0;
}

/// <summary>
/// Collects <see cref="ValueExtremes"/> per tensor. Calls for different tensors may come from different threads at once;
/// calls for one tensor never overlap (the calibrators' contract, which the calibration runs keep).
/// </summary>
public sealed class ValueExtremesCollector
{
    private readonly ConcurrentDictionary<string, float[]> states = new(StringComparer.Ordinal);

    /// <summary>Adds one sample's values of <paramref name="tensor"/>.</summary>
    public void Collect(string tensor, ReadOnlySpan<float> values) => Add(tensor, SpanStatistics.FiniteExtremes(values));

    /// <summary>Adds one sample's extremes of <paramref name="tensor"/>, measured by the caller (<see cref="SpanStatistics.FiniteExtremes"/>).</summary>
    internal void Add(string tensor, (float Min, float Max, float SmallestNonZero) sample)
    {
        var s = states.GetOrAdd(tensor, _ => [float.PositiveInfinity, float.NegativeInfinity, float.PositiveInfinity]);
        var (min, max, tiny) = sample;
        s[0] = Math.Min(s[0], min);
        s[1] = Math.Max(s[1], max);
        s[2] = Math.Min(s[2], tiny);
    }

    /// <summary>The extremes of every tensor that showed a finite value.</summary>
    public IReadOnlyDictionary<string, ValueExtremes> Result() =>
        states.Where(kv => kv.Value[0] <= kv.Value[1])
            .ToDictionary(kv => kv.Key, kv => new ValueExtremes(kv.Value[0], kv.Value[1], kv.Value[2]), StringComparer.Ordinal);

    /// <summary>
    /// One pass of <paramref name="floatModel"/> (not changed) over <paramref name="data"/>, collecting the extremes of every
    /// float32 graph input and node output. For builds that calibrate no int8 ranges (Precision=Fp16); the others take
    /// <see cref="CalibrationTable.Extremes"/>, collected in the calibration's own pass.
    /// </summary>
    public static IReadOnlyDictionary<string, ValueExtremes> Measure(Model floatModel, ICalibrationDataSource data, Action<string>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(floatModel);
        ArgumentNullException.ThrowIfNull(data);
        MemoryCeiling.Check(floatModel, "Calibration");
        ComputeCeiling.Check(floatModel, "Calibration");
        var inputs = TensorCapture.InputsOf(floatModel);
        var tensors = FloatActivations(floatModel, inputs);
        var floatInputs = inputs.Where(i => i.Type == DataType.Float).Select(i => i.Name).ToList();
        var collector = new ValueExtremesCollector();
        using var capture = new TensorCapture(OnnxExporter.ToProto(floatModel), inputs, tensors);
        var names = capture.Outputs;
        progress?.Invoke($"measuring the value range of {names.Count + floatInputs.Count} tensors for the FP16 range rule");
        int count = 0;
        foreach (var sample in data.Samples())
        {
            ct.ThrowIfCancellationRequested();
            foreach (var input in floatInputs)
                if (sample.TryGetValue(input, out var t) && t.ElementType == DataType.Float) collector.Collect(input, t.AsSpan<float>());
            capture.Run(sample, count, outputs => collector.CollectAll(names, outputs, ct), ct);
            count++;
        }
        return collector.Result();
    }

    /// <summary>Every float32 (or untyped) node output of the graph, by name, graph inputs left out (the samples hold them).</summary>
    internal static List<string> FloatActivations(Model model, IReadOnlyList<TensorCapture.InputSpec> inputs)
    {
        var inputNames = inputs.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        return model.Graph.Nodes.SelectMany(n => n.Outputs)
            .Where(v => v is not null && v.TensorType?.ElementType is DataType.Float or null)
            .Select(v => v!.Name).Where(n => n.Length > 0 && !inputNames.Contains(n)).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>One sample's float tensors (<paramref name="outputs"/>, named by <paramref name="names"/>), in parallel.</summary>
    internal void CollectAll(IReadOnlyList<string> names, IReadOnlyList<Microsoft.ML.OnnxRuntime.OrtValue> outputs, CancellationToken ct) =>
        Parallel.For(0, outputs.Count, new ParallelOptions { CancellationToken = ct }, k =>
        {
            var value = outputs[k];
            if (value.OnnxType != Microsoft.ML.OnnxRuntime.OnnxValueType.ONNX_TYPE_TENSOR) return;
            if (value.GetTensorTypeAndShape().ElementDataType != Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float) return;
            Collect(names[k], value.GetTensorDataAsSpan<float>());
        });
}
