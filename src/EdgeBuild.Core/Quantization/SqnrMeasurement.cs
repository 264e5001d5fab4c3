using EdgeBuild.Passes;
using Microsoft.ML.OnnxRuntime;
using P = EdgeBuild.Onnx.Proto;
using Tensor = EdgeBuild.Ir.Tensor;
using EdgeBuild.Onnx;

namespace EdgeBuild.Quantization;

/// <summary>One compute node to compare: its output in the float model and the tensor standing for it in the quantized one.</summary>
internal sealed record ObservedLayer(string Key, string FloatTensor, string QuantizedTensor);

/// <summary>
/// Per-layer signal-to-quantization-noise ratio (ORT's qdq_loss_debug.py): both models run on the same samples
/// with the compared tensors as extra outputs; SQNR = 20 log10(|x| / |x - y|) in dB over all samples together.
/// As in ORT, the error is the accumulated error up to that layer, not the layer's own: a low value can come
/// from an earlier layer.
/// </summary>
internal static class SqnrMeasurement
{
    public static Dictionary<string, double> Measure(P.ModelProto floatModel, P.ModelProto quantizedModel, IReadOnlyList<TensorCapture.InputSpec> inputs,
        IReadOnlyList<ObservedLayer> layers, IReadOnlyList<IReadOnlyDictionary<string, Tensor>> samples, CancellationToken ct)
    {
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        if (layers.Count == 0 || samples.Count == 0) return result;
        using var reference = new TensorCapture(floatModel, inputs, layers.Select(l => l.FloatTensor));
        using var quantized = new TensorCapture(quantizedModel, inputs, layers.Select(l => l.QuantizedTensor));
        var signal = new double[layers.Count];
        var noise = new double[layers.Count];
        var valid = Enumerable.Repeat(true, layers.Count).ToArray();
        int index = 0;
        foreach (var sample in samples)
        {
            ct.ThrowIfCancellationRequested();
            float[][] x = new float[layers.Count][];
            reference.Run(sample, index, outs => Read(outs, reference.Outputs, layers.Select(l => l.FloatTensor).ToList(), x), ct);
            float[][] y = new float[layers.Count][];
            quantized.Run(sample, index, outs => Read(outs, quantized.Outputs, layers.Select(l => l.QuantizedTensor).ToList(), y), ct);
            for (int k = 0; k < layers.Count; k++)
            {
                if (x[k] is null || y[k] is null || x[k].Length != y[k].Length) { valid[k] = false; continue; }
                for (int i = 0; i < x[k].Length; i++)
                {
                    double a = x[k][i], d = a - y[k][i];
                    signal[k] += a * a;
                    noise[k] += d * d;
                }
            }
            index++;
        }
        for (int k = 0; k < layers.Count; k++)
        {
            if (!valid[k]) continue;
            result[layers[k].Key] = noise[k] == 0 ? double.PositiveInfinity : signal[k] == 0 ? double.NegativeInfinity : 10 * Math.Log10(signal[k] / noise[k]);
        }
        return result;
    }

    private static void Read(IReadOnlyList<OrtValue> outputs, IReadOnlyList<string> outputNames, List<string> wanted, float[][] into)
    {
        var byName = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < outputNames.Count; i++) byName[outputNames[i]] = i;
        for (int k = 0; k < wanted.Count; k++)
            if (byName.TryGetValue(wanted[k], out int i) && OrtTensors.ToTensor(outputs[i]) is { } t && Ir.DataTypes.IsFloatingPoint(t.ElementType))
                into[k] = t.ToFloats();
    }
}
