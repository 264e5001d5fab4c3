using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using Microsoft.ML.OnnxRuntime;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.Support;

/// <summary>ONNX Runtime as the reference: runs serialized models and compares outputs.</summary>
public static class Ort
{
    public static SessionOptions Options(bool optimize = true)
    {
        var o = new SessionOptions
        {
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
            GraphOptimizationLevel = optimize ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_DISABLE_ALL,
        };
        return o;
    }

    /// <summary>Runs <paramref name="model"/> with named inputs; returns every graph output by name.</summary>
    public static Dictionary<string, Tensor> Run(byte[] model, IReadOnlyDictionary<string, Tensor> inputs, bool optimize = true)
    {
        using var options = Options(optimize);
        using var session = new InferenceSession(model, options);
        return Run(session, inputs);
    }

    public static Dictionary<string, Tensor> Run(InferenceSession session, IReadOnlyDictionary<string, Tensor> inputs)
    {
        var names = inputs.Keys.ToArray();
        var values = names.Select(n => OrtTensors.ToOrtValue(inputs[n])).ToArray();
        try
        {
            using var runOptions = new RunOptions();
            var outputNames = session.OutputNames.ToArray();
            using var outputs = session.Run(runOptions, names, values, outputNames);
            var result = new Dictionary<string, Tensor>();
            int i = 0;
            foreach (var o in outputs) result[outputNames[i++]] = OrtTensors.ToTensor(o) ?? throw new InvalidOperationException("non-tensor output");
            return result;
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    public static Dictionary<string, Tensor> Run(Model model, IReadOnlyDictionary<string, Tensor> inputs, bool optimize = true) =>
        Run(OnnxExporter.ToBytes(model), inputs, optimize);

    /// <summary>Largest absolute difference between two float tensors of the same shape.</summary>
    public static double MaxAbsDiff(Tensor a, Tensor b)
    {
        Assert.Equal(a.Dims, b.Dims);
        var x = a.ToFloats();
        var y = b.ToFloats();
        double max = 0;
        for (int i = 0; i < x.Length; i++) max = Math.Max(max, Math.Abs((double)x[i] - y[i]));
        return max;
    }

    public static double MaxAbs(Tensor a) => a.ToFloats().Select(v => Math.Abs((double)v)).DefaultIfEmpty(0).Max();

    /// <summary>Asserts every output agrees within <paramref name="relative"/> of the reference's largest magnitude.</summary>
    public static void AssertClose(IReadOnlyDictionary<string, Tensor> expected, IReadOnlyDictionary<string, Tensor> actual, double relative = 1e-4)
    {
        Assert.Equal(expected.Keys.OrderBy(k => k), actual.Keys.OrderBy(k => k));
        foreach (var (name, e) in expected)
        {
            double diff = MaxAbsDiff(e, actual[name]);
            double bound = relative * Math.Max(MaxAbs(e), 1e-6);
            Assert.True(diff <= bound, $"output '{name}': max abs diff {diff:G4} > {bound:G4}");
        }
    }
}
