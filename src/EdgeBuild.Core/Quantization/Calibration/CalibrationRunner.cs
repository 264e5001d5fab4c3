using EdgeBuild.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using P = EdgeBuild.Onnx.Proto;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Quantization.Calibration;

/// <summary>
/// Runs the float model over the calibration data with the tensors to quantize as extra outputs, and feeds every
/// sample's values to a <see cref="Calibrator"/>. Tensors are handed to the calibrator in parallel (each once per
/// sample), samples one after another.
/// </summary>
internal static class CalibrationRunner
{
    /// <summary>Shows the calibrator one sample's float tensors (<paramref name="outputs"/>, named by <paramref name="names"/>), in parallel.</summary>
    public static void Collect(Calibrator calibrator, IReadOnlyList<string> names, IReadOnlyList<OrtValue> outputs, CancellationToken ct) =>
        Parallel.For(0, outputs.Count, new ParallelOptions { CancellationToken = ct }, k =>
        {
            var value = outputs[k];
            if (value.OnnxType != OnnxValueType.ONNX_TYPE_TENSOR) return;
            if (value.GetTensorTypeAndShape().ElementDataType != TensorElementType.Float) return;
            calibrator.Collect(names[k], value.GetTensorDataAsSpan<float>());
        });

    /// <summary>
    /// Shows the calibrator and <paramref name="extremes"/> one sample's float tensors, in parallel: one pass of each
    /// tensor measures its extremes for both, and the calibrator reads the values once more only to histogram them.
    /// </summary>
    public static void Collect(Calibrator calibrator, ValueExtremesCollector extremes, IReadOnlyList<string> names, IReadOnlyList<OrtValue> outputs, CancellationToken ct) =>
        Parallel.For(0, outputs.Count, new ParallelOptions { CancellationToken = ct }, k =>
        {
            var value = outputs[k];
            if (value.OnnxType != OnnxValueType.ONNX_TYPE_TENSOR) return;
            if (value.GetTensorTypeAndShape().ElementDataType != TensorElementType.Float) return;
            Collect(calibrator, extremes, names[k], value.GetTensorDataAsSpan<float>());
        });

    /// <summary>One tensor's values of one sample to the calibrator and the extremes, from one pass of extremes.</summary>
    public static void Collect(Calibrator calibrator, ValueExtremesCollector extremes, string name, ReadOnlySpan<float> values)
    {
        var sample = SpanStatistics.FiniteExtremes(values);
        extremes.Add(name, sample);
        calibrator.Collect(name, values, sample.Min, sample.Max);
    }

    /// <summary>Calibrated ranges by tensor name, and the first <paramref name="keep"/> samples (for the SQNR comparison).</summary>
    public static (IReadOnlyDictionary<string, TensorRange> Ranges, List<IReadOnlyDictionary<string, Tensor>> Kept) Run(
        P.ModelProto floatModel, IReadOnlyList<TensorCapture.InputSpec> inputs, IReadOnlyList<string> tensors, ICalibrationDataSource data,
        Calibrator calibrator, int minSamples, int keep, Action<string>? progress, CancellationToken ct)
    {
        var kept = new List<IReadOnlyDictionary<string, Tensor>>();
        using var capture = new TensorCapture(floatModel, inputs, tensors);
        var names = capture.Outputs;
        int count = 0;
        int declared = data.Count;
        foreach (var sample in data.Samples())
        {
            ct.ThrowIfCancellationRequested();
            capture.Run(sample, count, outputs => Collect(calibrator, names, outputs, ct), ct);
            if (kept.Count < keep) kept.Add(sample);
            count++;
            progress?.Invoke($"calibrating {count}/{Math.Max(declared, count)}");
        }
        if (count < minSamples)
            throw new EdgeBuildException(DiagnosticCodes.NotEnoughCalibrationSamples, "calibration data",
                $"int8 static quantization needs at least {minSamples} calibration sample{(minSamples == 1 ? "" : "s")}; the data source gave {count}");
        return (calibrator.ComputeRanges(), kept);
    }
}
