using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using Microsoft.ML.OnnxRuntime;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Quantization;

/// <summary>
/// One output of two artifacts over all samples: absolute and relative error, cosine similarity, argmax agreement
/// along the last axis (null for outputs with a last dimension of 1), and SQNR of B against A in dB.
/// </summary>
public sealed record OutputComparison(string Name, long Elements, double MaxAbs, double MeanAbs, double MaxRelative, double MeanRelative,
    double Cosine, double? ArgmaxAgreement, double SqnrDb);

/// <summary>What <c>edgebuild compare</c> found: the samples used and one row per output both artifacts have.</summary>
public sealed record ComparisonResult(int Samples, string InputSource, IReadOnlyList<OutputComparison> Outputs, IReadOnlyList<string> OnlyInA, IReadOnlyList<string> OnlyInB);

/// <summary>
/// Runs two artifacts on the same inputs in ONNX Runtime and reports per-output error statistics, the way Polygraphy's
/// <c>run --onnxrt --trt</c> compares runners: A is the reference, B the candidate.
/// </summary>
public static class ArtifactComparison
{
    /// <summary>Relative errors divide by max(|a|, this) so zeros in the reference do not explode them.</summary>
    public const double RelativeFloor = 1e-6;

    /// <summary>
    /// Compares <paramref name="pathA"/> (reference) with <paramref name="pathB"/>. Inputs come from
    /// <paramref name="samples"/> when given (photos through the preprocessing), otherwise
    /// <paramref name="randomSamples"/> seeded random tensors in [-1, 1).
    /// </summary>
    public static ComparisonResult Compare(string pathA, string pathB, Func<Model, ICalibrationDataSource>? samples, int randomSamples = 8)
    {
        var modelA = OnnxImporter.Load(pathA);
        var modelB = OnnxImporter.Load(pathB);
        var inputsA = modelA.Graph.Inputs.Where(v => v.Initializer is null).ToList();
        var inputsB = modelB.Graph.Inputs.Where(v => v.Initializer is null).ToList();
        string Sig(Value v) => $"{v.Name}:{(v.TensorType is { } t ? DataTypes.Name(t.ElementType) + (t.Shape is { } s ? "[" + string.Join(",", s.Dims.Select(d => d.ToString())) + "]" : "[*]") : "?")}";
        var sa = inputsA.Select(Sig).ToList();
        var sb = inputsB.Select(Sig).ToList();
        if (!sa.SequenceEqual(sb))
            throw new EdgeBuildException(DiagnosticCodes.ArtifactsDiffer, pathB, $"inputs {string.Join(", ", sb)} differ from {Path.GetFileName(pathA)}'s {string.Join(", ", sa)}");
        var outputsA = modelA.Graph.Outputs.Select(o => o.Name).ToList();
        var outputsB = modelB.Graph.Outputs.Select(o => o.Name).ToList();
        var common = outputsA.Where(outputsB.Contains).ToList();
        if (common.Count == 0)
            throw new EdgeBuildException(DiagnosticCodes.ArtifactsDiffer, pathB, $"no output name in common with {Path.GetFileName(pathA)} ({string.Join(", ", outputsA)} vs {string.Join(", ", outputsB)})");

        IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds;
        string source;
        if (samples is not null)
        {
            var data = samples(modelA);
            feeds = data.Samples();
            source = $"{data.Count} files";
        }
        else
        {
            feeds = RandomFeeds(inputsA, randomSamples);
            source = $"{randomSamples} random inputs (seeded)";
        }

        using var options = OrtSessions.ForEvaluation();
        using var a = Open(pathA, options);
        using var b = Open(pathB, options);
        var stats = common.ToDictionary(n => n, _ => new Accumulator());
        int count = 0;
        foreach (var feed in feeds)
        {
            var ra = Run(a, feed, common, pathA);
            var rb = Run(b, feed, common, pathB);
            foreach (var name in common)
            {
                if (!ra[name].Dims.SequenceEqual(rb[name].Dims))
                    throw new EdgeBuildException(DiagnosticCodes.ArtifactsDiffer, pathB, $"output {name} has shape [{string.Join(",", rb[name].Dims)}], {Path.GetFileName(pathA)} gives [{string.Join(",", ra[name].Dims)}]");
                stats[name].Add(ra[name].ToFloats(), rb[name].ToFloats(), ra[name].Dims.Length > 0 ? ra[name].Dims[^1] : 1);
            }
            count++;
        }
        return new ComparisonResult(count, source, common.Select(n => stats[n].Result(n)).ToList(),
            outputsA.Except(common).ToList(), outputsB.Except(common).ToList());
    }

    private static InferenceSession Open(string path, SessionOptions options)
    {
        try
        {
            return new InferenceSession(path, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new EdgeBuildException(DiagnosticCodes.MeasurementFailed, path, $"ONNX Runtime cannot load it: {e.Message.Split('\n')[0].Trim().TrimEnd('.')}");
        }
    }

    private static Dictionary<string, Tensor> Run(InferenceSession session, IReadOnlyDictionary<string, Tensor> feed, List<string> names, string path)
    {
        var inputNames = feed.Keys.ToArray();
        var values = inputNames.Select(n => OrtTensors.ToOrtValue(feed[n])).ToArray();
        try
        {
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, inputNames, values, names);
            var result = new Dictionary<string, Tensor>();
            int i = 0;
            foreach (var o in outputs) result[names[i++]] = OrtTensors.ToTensor(o) ?? throw new EdgeBuildException(DiagnosticCodes.ArtifactsDiffer, path, $"output {names[i - 1]} is not a tensor");
            return result;
        }
        catch (OnnxRuntimeException e)
        {
            throw new EdgeBuildException(DiagnosticCodes.MeasurementFailed, path, $"ONNX Runtime failed to run it: {e.Message.Split('\n')[0].Trim().TrimEnd('.')}");
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    private static IEnumerable<IReadOnlyDictionary<string, Tensor>> RandomFeeds(List<Value> inputs, int count)
    {
        for (int s = 0; s < count; s++)
        {
            var random = new Random(1000 + s);
            var feed = new Dictionary<string, Tensor>();
            foreach (var v in inputs)
            {
                var t = v.TensorType ?? throw new EdgeBuildException(DiagnosticCodes.ArtifactsDiffer, v.Name, "input has no tensor type; pass --images");
                long[] dims = t.Shape?.Dims.Select(d => d.Value ?? 1).ToArray() ?? [1];
                long n = Tensor.CountElements(dims);
                feed[v.Name] = t.ElementType switch
                {
                    DataType.Float => Tensor.FromFloats(dims, Enumerable.Range(0, (int)n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()),
                    DataType.Float16 => Tensor.FromSpan<Half>(DataType.Float16, dims, Enumerable.Range(0, (int)n).Select(_ => (Half)(random.NextDouble() * 2 - 1)).ToArray()),
                    _ => Tensor.FromRaw(t.ElementType, dims, new byte[DataTypes.ByteCount(t.ElementType, n)]),
                };
            }
            yield return feed;
        }
    }

    private sealed class Accumulator
    {
        private long elements, rows, argmaxAgree;
        private double maxAbs, sumAbs, maxRel, sumRel, dot, normA, normB, noise;
        private bool argmaxApplies;

        public void Add(float[] a, float[] b, long lastDim)
        {
            for (int i = 0; i < a.Length; i++)
            {
                double x = a[i], y = b[i], d = Math.Abs(x - y);
                maxAbs = Math.Max(maxAbs, d);
                sumAbs += d;
                double rel = d / Math.Max(Math.Abs(x), RelativeFloor);
                maxRel = Math.Max(maxRel, rel);
                sumRel += rel;
                dot += x * y;
                normA += x * x;
                normB += y * y;
                noise += (x - y) * (x - y);
            }
            elements += a.Length;
            if (lastDim > 1 && a.Length % lastDim == 0)
            {
                argmaxApplies = true;
                for (long r = 0; r < a.Length / lastDim; r++)
                {
                    int off = (int)(r * lastDim);
                    if (ArgMax(a, off, (int)lastDim) == ArgMax(b, off, (int)lastDim)) argmaxAgree++;
                    rows++;
                }
            }
        }

        private static int ArgMax(float[] v, int offset, int n)
        {
            int best = 0;
            for (int i = 1; i < n; i++) if (v[offset + i] > v[offset + best]) best = i;
            return best;
        }

        public OutputComparison Result(string name) => new(name, elements, maxAbs, elements > 0 ? sumAbs / elements : 0, maxRel, elements > 0 ? sumRel / elements : 0,
            normA > 0 && normB > 0 ? dot / Math.Sqrt(normA * normB) : normA == normB ? 1 : 0,
            argmaxApplies && rows > 0 ? (double)argmaxAgree / rows : null,
            noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(normA / noise));
    }
}
