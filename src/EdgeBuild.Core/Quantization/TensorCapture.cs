using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using P = EdgeBuild.Onnx.Proto;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Quantization;

/// <summary>
/// Runs a model in ONNX Runtime with intermediate tensors added as graph outputs (ORT's "augmented model"), so
/// calibration and the SQNR comparison see activations the model does not return.
/// </summary>
internal sealed class TensorCapture : IDisposable
{
    private readonly InferenceSession session;
    private readonly SessionOptions options;
    private readonly RunOptions runOptions = new();
    private readonly IReadOnlyList<InputSpec> inputs;
    private readonly string[] inputNames;
    private readonly string[] fetch;

    /// <summary>A graph input as calibration data must match it: name, element type, dims (null where free).</summary>
    public sealed record InputSpec(string Name, DataType Type, long?[]? Dims);

    public static IReadOnlyList<InputSpec> InputsOf(Model model) =>
        model.Graph.Inputs.Where(v => v.Initializer is null)
            .Select(v => new InputSpec(v.Name, v.TensorType?.ElementType ?? DataType.Undefined, v.TensorType?.Shape?.Dims.Select(d => d.Value).ToArray()))
            .ToList();

    /// <param name="model">The model as a proto; it is not changed (a copy gets the extra outputs).</param>
    /// <param name="inputs">Its graph inputs.</param>
    /// <param name="tensors">The tensors to return, by name.</param>
    public TensorCapture(P.ModelProto model, IReadOnlyList<InputSpec> inputs, IEnumerable<string> tensors)
    {
        var proto = model.Clone();
        var present = proto.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var names = new List<string>();
        foreach (var t in tensors)
        {
            if (present.Add(t)) proto.Graph.Output.Add(new P.ValueInfoProto { Name = t });
            names.Add(t);
        }
        Outputs = names.Distinct(StringComparer.Ordinal).ToArray();
        // ORT needs at least one output to run; with nothing requested, the model's own first one (not reported).
        fetch = Outputs.Count > 0 ? Outputs.ToArray() : proto.Graph.Output.Take(1).Select(o => o.Name).ToArray();
        options = OrtSessions.ForCapture();
        try
        {
            session = new InferenceSession(proto.ToByteArray(), options);
        }
        catch (OnnxRuntimeException e)
        {
            options.Dispose();
            runOptions.Dispose();
            throw new EdgeBuildException(DiagnosticCodes.ModelNotRunnable, "Calibration",
                $"ONNX Runtime cannot load the model to run it on the calibration data: {Names.Escape(e.Message.Split('\n')[0].Trim())}", e);
        }
        this.inputs = inputs;
        inputNames = inputs.Select(i => i.Name).ToArray();
    }

    /// <summary>The requested tensors, without repeats, in the order they were asked for.</summary>
    public IReadOnlyList<string> Outputs { get; }

    /// <summary>Runs one sample; <paramref name="onOutputs"/> sees the outputs (in <see cref="Outputs"/> order) before they are freed.</summary>
    /// <remarks><paramref name="ct"/> stops a run in progress (ONNX Runtime's terminate flag): a model of 10^11 multiply-adds takes minutes per sample.</remarks>
    public void Run(IReadOnlyDictionary<string, Tensor> sample, int sampleIndex, Action<IReadOnlyList<OrtValue>> onOutputs, CancellationToken ct = default)
    {
        var values = new OrtValue[inputNames.Length];
        try
        {
            for (int i = 0; i < inputNames.Length; i++)
            {
                string name = inputNames[i];
                if (!sample.TryGetValue(name, out var tensor))
                    throw new EdgeBuildException(DiagnosticCodes.CalibrationDataMismatch, $"calibration sample {sampleIndex + 1}",
                        $"the sample has no tensor for model input '{name}' (it has: {string.Join(", ", sample.Keys)})");
                Check(inputs[i], tensor, sampleIndex);
                values[i] = OrtTensors.ToOrtValue(tensor);
            }
            IDisposableReadOnlyCollection<OrtValue> results;
            try
            {
                ct.ThrowIfCancellationRequested();
                using var stop = ct.Register(() => runOptions.Terminate = true);
                results = session.Run(runOptions, inputNames, values, fetch);
            }
            catch (OnnxRuntimeException) when (ct.IsCancellationRequested)
            {
                throw new OperationCanceledException(ct);
            }
            catch (OnnxRuntimeException e)
            {
                throw new EdgeBuildException(DiagnosticCodes.CalibrationDataMismatch, $"calibration sample {sampleIndex + 1}",
                    $"ONNX Runtime cannot run the model on it: {e.Message.Split('\n')[0].Trim()}", e);
            }
            using (results) onOutputs(Outputs.Count > 0 ? results.ToList() : []);
        }
        finally
        {
            foreach (var v in values) v?.Dispose();
        }
    }

    private static void Check(InputSpec input, Tensor tensor, int sampleIndex)
    {
        var (name, type, dims) = input;
        if (type != DataType.Undefined && tensor.ElementType != type)
            throw new EdgeBuildException(DiagnosticCodes.CalibrationDataMismatch, $"calibration sample {sampleIndex + 1}",
                $"input '{name}' is {DataTypes.Name(tensor.ElementType)}, the model expects {DataTypes.Name(type)}");
        if (dims is null) return;
        bool fits = dims.Length == tensor.Rank;
        for (int d = 0; fits && d < dims.Length; d++) fits = dims[d] is not long v || v == tensor.Dims[d];
        if (!fits)
            throw new EdgeBuildException(DiagnosticCodes.CalibrationDataMismatch, $"calibration sample {sampleIndex + 1}",
                $"input '{name}' has shape {tensor.Shape}, the model expects [{string.Join(",", dims.Select(d => d?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"))}]");
    }

    public void Dispose()
    {
        runOptions.Dispose();
        session.Dispose();
        options.Dispose();
    }
}
