using EdgeBuild.Ir;
using EdgeBuild.Passes;
using Microsoft.ML.OnnxRuntime;
using Tensor = EdgeBuild.Ir.Tensor;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;

namespace EdgeBuild.Quantization;

/// <summary>What a model's outputs mean, which decides the accuracy metric (the EdgeModel item's Task metadata).</summary>
public enum TaskKind { Auto, Classification, Detection, Regression, Embedding, Generic }

/// <summary>
/// Agreement of one output with the reference over the held-out samples, each with its 95 % interval (bootstrap over
/// samples): SQNR in dB, 10 log10(sum |fp32|^2 / sum |fp32 - candidate|^2) (infinite when identical, null-like NaN when
/// the reference is all zeros), the mean per-sample cosine, and the largest error.
/// </summary>
public sealed record OutputAgreement(string Name, Estimate Sqnr, Estimate Cosine, double MaxAbsError)
{
    public double SqnrDb => Sqnr.Value;
}

/// <summary>
/// A candidate model against its FP32 reference on held-out samples. <see cref="LossPercent"/> is the one
/// number budgets compare (MaxAccuracyLoss): 100 - top-1 agreement, 100 x (1 - F1), 100 x mean relative
/// error, 100 x (1 - mean cosine), or 100 x relative error norm, by task. <see cref="Loss"/> is its 95 %
/// interval: Wilson score for top-1 agreement, a seeded percentile bootstrap over samples for the rest
/// (<see cref="IntervalMethod"/>).
/// </summary>
public sealed record AccuracyReport(TaskKind Task, int Samples, string Metric, double Value, Estimate Loss, string IntervalMethod, IReadOnlyList<OutputAgreement> Outputs)
{
    public double LossPercent => Loss.Value;

    /// <summary>What looks wrong with the FP32 reference's own outputs (NaN, constant, saturated, too many boxes); empty when nothing does.</summary>
    public IReadOnlyList<string> ReferenceProblems { get; init; } = [];

    public string Summary =>
        FormattableString.Invariant($"{Task}: {Metric} {Value:G4} over {Samples} samples, loss {LossPercent:F3} % [95 % CI {Loss.Low:F3}, {Loss.High:F3}] ({IntervalMethod}); ") +
        string.Join(", ", Outputs.Select(o => $"{o.Name} SQNR {AccuracyEvaluator.FormatDb(o.Sqnr.Value)} dB [{AccuracyEvaluator.FormatDb(o.Sqnr.Low)}, {AccuracyEvaluator.FormatDb(o.Sqnr.High)}], cosine " +
            FormattableString.Invariant($"{o.Cosine.Value:F5} [{o.Cosine.Low:F5}, {o.Cosine.High:F5}]")));
}

/// <summary>Runs a reference and a candidate model on the same samples in ONNX Runtime and scores the candidate by task.</summary>
public static class AccuracyEvaluator
{
    /// <summary>
    /// The task from the outputs' op patterns when the user did not say: two outputs shaped like boxes ([...,N,4]) and
    /// scores ([...,N,C]) are Detection; outputs all made by Softmax or LogSoftmax (through reshapes and transposes), of
    /// any rank, are Classification (per position when there are several: a sequence recognizer's [1,T,C], a segmenter's
    /// [1,C,H,W], a head per angle); one [1,K] output with K &lt;= 10 is Classification; one output divided by its own L2 norm
    /// (LpNormalization, or a Div by a ReduceL2 or by the Sqrt of a sum of squares) is Embedding; anything else is Generic
    /// (Regression must be named).
    /// </summary>
    public static TaskKind Infer(Model model)
    {
        var outputs = model.Graph.Outputs;
        var shapes = outputs.Select(o => o.TensorType?.Shape).ToList();
        if (outputs.Count == 2 && shapes.All(s => s is { Rank: >= 2 }))
        {
            var a = shapes[0]!;
            var b = shapes[1]!;
            bool boxesFirst = a[a.Rank - 1].Value == 4, boxesSecond = b[b.Rank - 1].Value == 4;
            if ((boxesFirst || boxesSecond) && a.Rank == b.Rank && a[a.Rank - 2].Equals(b[b.Rank - 2])) return TaskKind.Detection;
        }
        if (outputs.All(o => ThroughLayoutOps(o.Producer) is { } m && (m.Is("Softmax") || m.Is("LogSoftmax")) && o.TensorType?.Shape is not { Rank: < 2 }))
            return TaskKind.Classification;
        if (outputs.Count != 1) return TaskKind.Generic;
        var maker = ThroughLayoutOps(outputs[0].Producer);
        if (shapes[0] is { Rank: 2 } s && s[1].Value is long k && k is >= 2 and <= 10) return TaskKind.Classification;
        if (maker is not null && IsL2Normalization(maker)) return TaskKind.Embedding;
        return TaskKind.Generic;
    }

    /// <summary>The node that made a value's numbers, looking back through ops that only move or relabel them.</summary>
    private static Node? ThroughLayoutOps(Node? node)
    {
        for (int hops = 0; node is not null && hops < 8 && node.OpType is "Reshape" or "Transpose" or "Squeeze" or "Unsqueeze" or "Flatten" or "Identity"; hops++)
            node = node.Inputs.Count > 0 ? node.Inputs[0]?.Producer : null;
        return node;
    }

    /// <summary>LpNormalization with p = 2, or x / f(‖x‖₂) where the divisor's chain (clamps, broadcasts) reaches ReduceL2 or the Sqrt of a sum of squares.</summary>
    private static bool IsL2Normalization(Node node)
    {
        if (node.Is("LpNormalization")) return node.GetInt("p", 2) == 2;
        if (!node.Is("Div") || node.Inputs.Count < 2) return false;
        var divisor = node.Inputs[1]?.Producer;
        for (int hops = 0; divisor is not null && hops < 6; hops++)
        {
            if (divisor.Is("ReduceL2")) return true;
            if (divisor.Is("Sqrt"))
                return ThroughLayoutOps(divisor.Inputs[0]?.Producer) is { } sum && (sum.Is("ReduceSumSquare") || (sum.Is("ReduceSum") &&
                    sum.Inputs[0]?.Producer is { } square && (square.Is("Mul") && square.Inputs.Count == 2 && square.Inputs[0] == square.Inputs[1] || square.Is("Pow"))));
            if (divisor.OpType is not ("Clip" or "Max" or "Add" or "Expand" or "Reshape" or "Unsqueeze" or "Identity")) return false;
            // The norm, not the epsilon beside it (Max(eps, norm) as often as Max(norm, eps)).
            divisor = divisor.Inputs.Select(i => i?.Producer).FirstOrDefault(p => p is not null && !p.Is("Constant"));
        }
        return false;
    }

    public static AccuracyReport Compare(byte[] reference, byte[] candidate, ICalibrationDataSource samples, TaskKind task)
    {
        using var options = OrtSessions.ForEvaluation();
        using var a = new InferenceSession(reference, options);
        using var b = new InferenceSession(candidate, options);
        var names = a.OutputNames.ToArray();
        var masks = PaddingMask.Inputs(reference);
        var pairs = new List<(Tensor[] Ref, Tensor[] Cand)>();
        foreach (var sample in samples.Samples()) pairs.Add((PaddingMask.Apply(masks, sample, Run(a, sample, names)), PaddingMask.Apply(masks, sample, Run(b, sample, names))));
        return Score(names, pairs, task, masks);
    }

    /// <summary>
    /// The reference's outputs on <paramref name="samples"/>, each computed once, and a scorer for candidates against them:
    /// a search that judges many candidates runs the reference once instead of once per candidate. The scorer takes the
    /// candidate's bytes and how many of the first samples to use. The reference runs on a sample when a candidate is
    /// first scored on it: a search whose candidates are all screened out on the first samples never pays for the rest
    /// (40 runs of a 230 ms line detector would be 9 s). The same candidate (the same byte array) scored again on more
    /// samples runs only on the new ones.
    /// </summary>
    public static Func<byte[], int, AccuracyReport> CachedReference(byte[] reference, ICalibrationDataSource samples, TaskKind task)
    {
        var inputs = samples.Samples().ToList();
        var masks = PaddingMask.Inputs(reference);
        // The graph's outputs in their order, as a session names them, without loading one.
        string[] names = EdgeBuild.Onnx.Proto.ModelProto.Parser.ParseFrom(reference).Graph.Output.Select(o => o.Name).ToArray();
        var outputs = new List<Tensor[]>();
        void Reference(int count)
        {
            if (outputs.Count >= count) return;
            using var options = OrtSessions.ForEvaluation();
            using var a = new InferenceSession(reference, options);
            outputs.AddRange(RunEach(a, inputs, outputs.Count, count, names, masks));
        }
        // The last candidate's outputs: a screen scores it on its first samples, then on more (Screened), and the
        // samples it already ran on are not run again.
        byte[]? lastCandidate = null;
        var lastOutputs = new List<Tensor[]>();
        return (candidate, count) =>
        {
            int n = Math.Min(count, inputs.Count);
            lock (outputs)
            {
                Reference(n);
                if (!ReferenceEquals(candidate, lastCandidate))
                {
                    lastCandidate = candidate;
                    lastOutputs.Clear();
                }
                if (lastOutputs.Count < n)
                {
                    using var options = OrtSessions.ForEvaluation();
                    using var b = new InferenceSession(candidate, options);
                    lastOutputs.AddRange(RunEach(b, inputs, lastOutputs.Count, n, names, masks));
                }
                return Score(names, Enumerable.Range(0, n).Select(i => (outputs[i], lastOutputs[i])).ToList(), task, masks);
            }
        };
    }

    /// <summary>
    /// Runs samples [<paramref name="from"/>, <paramref name="to"/>) concurrently on one session (ONNX Runtime's Run is
    /// thread-safe). Each run keeps its single intra-op thread, so every sample's outputs are the ones a sequential
    /// loop gives; the samples only spread over the cores.
    /// </summary>
    private static Tensor[][] RunEach(InferenceSession session, List<IReadOnlyDictionary<string, Tensor>> inputs, int from, int to, string[] names, IReadOnlyList<string> masks)
    {
        var results = new Tensor[Math.Max(0, to - from)][];
        Parallel.For(from, to, i => results[i - from] = PaddingMask.Apply(masks, inputs[i], Run(session, inputs[i], names)));
        return results;
    }

    /// <summary>
    /// The same comparison for a candidate that does not run in ONNX Runtime (a .tflite file in its own interpreter):
    /// the reference runs here, the candidate's outputs per sample (by ONNX output name, in the ONNX layout) are given.
    /// </summary>
    public static AccuracyReport Compare(byte[] reference, ICalibrationDataSource samples, IReadOnlyList<IReadOnlyDictionary<string, Tensor>> candidateOutputs, TaskKind task)
    {
        using var options = OrtSessions.ForEvaluation();
        using var a = new InferenceSession(reference, options);
        var names = a.OutputNames.ToArray();
        var masks = PaddingMask.Inputs(reference);
        var pairs = new List<(Tensor[] Ref, Tensor[] Cand)>();
        int i = 0;
        foreach (var sample in samples.Samples())
        {
            var candidate = candidateOutputs[i++];
            pairs.Add((PaddingMask.Apply(masks, sample, Run(a, sample, names)), PaddingMask.Apply(masks, sample, names.Select(n => candidate[n]).ToArray())));
        }
        if (i != candidateOutputs.Count) throw new ArgumentException($"{candidateOutputs.Count} candidate outputs for {i} samples", nameof(candidateOutputs));
        return Score(names, pairs, task, masks);
    }

    /// <summary>The same scoring on outputs computed elsewhere: reference and candidate per sample, by output name (in <paramref name="names"/> order).</summary>
    public static AccuracyReport Compare(IReadOnlyList<string> names, IReadOnlyList<IReadOnlyDictionary<string, Tensor>> reference,
        IReadOnlyList<IReadOnlyDictionary<string, Tensor>> candidate, TaskKind task)
    {
        if (reference.Count != candidate.Count) throw new ArgumentException($"{reference.Count} reference samples, {candidate.Count} candidate ones", nameof(candidate));
        var pairs = reference.Zip(candidate, (r, c) => (names.Select(n => r[n]).ToArray(), names.Select(n => c[n]).ToArray())).ToList();
        return Score(names.ToArray(), pairs, task);
    }

    private static AccuracyReport Score(string[] names, List<(Tensor[] Ref, Tensor[] Cand)> pairs, TaskKind task, IReadOnlyList<string>? masks = null)
    {
        var outputs = new List<OutputAgreement>();
        for (int k = 0; k < names.Length; k++)
        {
            // Per sample: [signal, noise] for the SQNR and the cosine, so both get a bootstrap interval over samples.
            var energy = new List<double[]>();
            var cosines = new List<double[]>();
            double max = 0;
            foreach (var (r, c) in pairs)
            {
                var x = r[k].ToFloats();
                var y = c[k].ToFloats();
                double signal = 0, noise = 0;
                for (int i = 0; i < x.Length; i++)
                {
                    double d = (double)x[i] - y[i];
                    signal += (double)x[i] * x[i];
                    noise += d * d;
                    max = Math.Max(max, Math.Abs(d));
                }
                energy.Add([signal, noise]);
                cosines.Add([Cosine(x, y)]);
            }
            outputs.Add(new OutputAgreement(names[k], Bootstrap(energy, s => Sqnr(s[0], s[1])), Bootstrap(cosines, s => s[0] / pairs.Count), max));
        }

        var report = task switch
        {
            TaskKind.Classification => Classification(pairs, outputs),
            TaskKind.Detection => Detection(pairs, outputs),
            TaskKind.Regression => Regression(pairs, outputs),
            TaskKind.Embedding => Embedding(pairs, outputs),
            _ => Generic(pairs, outputs),
        };
        if (masks is { Count: > 0 }) report = report with { Metric = $"{report.Metric}, padded positions ({string.Join(", ", masks)} 0) left out" };
        return report with { ReferenceProblems = [.. ReferenceProblems(names, pairs), .. report.ReferenceProblems] };
    }

    /// <summary>Bootstrap resamples per interval: enough that the 2.5 and 97.5 percentiles move by well under the interval's width.</summary>
    public const int BootstrapResamples = 2000;

    /// <summary>Fixed seed: the same outputs give the same interval on every build and machine.</summary>
    public const int BootstrapSeed = 20261206;

    /// <summary>
    /// The 95 % percentile-bootstrap interval of a statistic of summed per-sample parts: <paramref name="statistic"/> maps
    /// the sums over the samples (each a vector of parts) to the value, and is taken on <see cref="BootstrapResamples"/>
    /// resamples drawn with replacement by a seeded generator. The point value is the statistic over all samples.
    /// </summary>
    public static Estimate Bootstrap(IReadOnlyList<double[]> perSample, Func<double[], double> statistic)
    {
        int n = perSample.Count;
        int parts = n == 0 ? 0 : perSample[0].Length;
        var sums = new double[parts];
        foreach (var p in perSample) for (int j = 0; j < parts; j++) sums[j] += p[j];
        double value = statistic(sums);
        if (n < 2) return new Estimate(value, value, value);
        var random = new Random(BootstrapSeed);
        var values = new double[BootstrapResamples];
        for (int b = 0; b < values.Length; b++)
        {
            Array.Clear(sums);
            for (int i = 0; i < n; i++)
            {
                var p = perSample[random.Next(n)];
                for (int j = 0; j < parts; j++) sums[j] += p[j];
            }
            double v = statistic(sums);
            values[b] = double.IsNaN(v) ? value : v;
        }
        Array.Sort(values);
        double low = values[(int)Math.Floor(0.025 * (values.Length - 1))];
        double high = values[(int)Math.Ceiling(0.975 * (values.Length - 1))];
        return new Estimate(value, Math.Min(low, value), Math.Max(high, value));
    }

    /// <summary>z of a two-sided 95 % interval.</summary>
    public const double Z95 = 1.959963984540054;

    /// <summary>The Wilson score 95 % interval of a proportion, <paramref name="events"/> of <paramref name="n"/>, as fractions.</summary>
    public static (double Low, double High) Wilson(double events, double n)
    {
        if (n <= 0) return (0, 1);
        double p = events / n, z2 = Z95 * Z95;
        double denominator = 1 + z2 / n;
        double center = (p + z2 / (2 * n)) / denominator;
        double half = Z95 * Math.Sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator;
        return (Math.Max(0, center - half), Math.Min(1, center + half));
    }

    private static double Sqnr(double signal, double noise) =>
        noise == 0 ? (signal == 0 ? double.NaN : double.PositiveInfinity) : signal == 0 ? double.NegativeInfinity : 10 * Math.Log10(signal / noise);

    /// <summary>A dB figure for messages: "inf", "-inf", "n/a" (reference all zeros) or one decimal.</summary>
    public static string FormatDb(double db) =>
        double.IsNaN(db) ? "n/a" : double.IsPositiveInfinity(db) ? "inf" : double.IsNegativeInfinity(db) ? "-inf" : db.ToString("F1", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// What makes the FP32 reference itself suspect, so that agreement with it means little: NaN or infinity; an output
    /// identical for every sample (the inputs probably all saturate to the same thing); an output pinned at its two
    /// extremes (saturated sigmoids or softmaxes: inputs far outside the range the model was trained on).
    /// </summary>
    private static IEnumerable<string> ReferenceProblems(string[] names, List<(Tensor[] Ref, Tensor[] Cand)> pairs)
    {
        for (int k = 0; k < names.Length; k++)
        {
            var values = pairs.Select(p => p.Ref[k].ToFloats()).ToList();
            long total = values.Sum(v => (long)v.Length);
            if (total == 0) continue;
            long notFinite = values.Sum(v => (long)v.Count(f => !float.IsFinite(f)));
            if (notFinite > 0)
            {
                yield return FormattableString.Invariant($"output '{names[k]}' has {notFinite} NaN or infinite values of {total}");
                continue;
            }
            if (values.Count >= 2 && values.All(v => v.AsSpan().SequenceEqual(values[0])))
            {
                yield return FormattableString.Invariant($"output '{names[k]}' is identical for all {values.Count} held-out samples");
                continue;
            }
            float min = values.Min(v => v.Length == 0 ? float.MaxValue : v.Min());
            float max = values.Max(v => v.Length == 0 ? float.MinValue : v.Max());
            long atMin = values.Sum(v => (long)v.Count(f => f == min)), atMax = values.Sum(v => (long)v.Count(f => f == max));
            // Both ends pinned: at least one value per sample exactly at the maximum and nearly all the rest exactly at the
            // minimum. ReLU sparsity (many exact zeros, one maximum) is not saturation; a softmax of huge logits is.
            if (values.Count >= 2 && min < max && atMax >= values.Count && atMin + atMax >= 0.95 * total)
                yield return FormattableString.Invariant($"output '{names[k]}' is saturated: {100.0 * (atMin + atMax) / total:F1} % of its values sit exactly at its extremes {min:G4} and {max:G4}");
        }
    }

    /// <summary>One run of <paramref name="session"/> on <paramref name="inputs"/> (every one a model input), the named outputs as IR tensors.</summary>
    internal static Tensor[] Run(InferenceSession session, IReadOnlyDictionary<string, Tensor> inputs, string[] outputNames)
    {
        var names = inputs.Keys.ToArray();
        var values = names.Select(n => OrtTensors.ToOrtValue(inputs[n])).ToArray();
        try
        {
            using var runOptions1 = new RunOptions(); // held in a local: an inline RunOptions can be finalized mid-Run
            using var results = session.Run(runOptions1, names, values, outputNames);
            return results.Select(r => OrtTensors.ToTensor(r) ?? throw new InvalidOperationException("non-tensor output")).ToArray();
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    /// <summary>
    /// Top-1 agreement at every position of every output: argmax along each output's class axis, compared. The class axis
    /// is the one along which the reference's values are probabilities (each position's values in [0, 1] summing to 1, or
    /// their exponentials for a LogSoftmax), else the last axis. One position per sample (a [1,K] classifier) is the classic
    /// top-1 with a Wilson interval over samples; several ([1,T,C] sequences, [1,C,H,W] maps, a head per angle) are scored
    /// over all positions with a bootstrap over samples (a sample's positions are not independent), its upper bound at
    /// least Wilson's over positions.
    /// </summary>
    private static AccuracyReport Classification(List<(Tensor[] Ref, Tensor[] Cand)> pairs, List<OutputAgreement> outputs)
    {
        int heads = pairs[0].Ref.Length;
        var axes = Enumerable.Range(0, heads).Select(k => ClassAxis(pairs.Select(p => p.Ref[k]).ToList())).ToArray();
        long top1 = 0, top5 = 0, positions = 0;
        var perSample = new List<double[]>();
        foreach (var (r, c) in pairs)
        {
            long count = 0, agree = 0;
            for (int k = 0; k < heads; k++)
            {
                var dims = r[k].Dims;
                long classes = dims.Length == 0 ? 1 : dims[axes[k]], inner = 1;
                for (int d = axes[k] + 1; d < dims.Length; d++) inner *= dims[d];
                var x = r[k].ToFloats();
                var y = c[k].ToFloats();
                long here = classes == 0 ? 0 : x.Length / classes;
                for (long p = 0; p < here; p++)
                {
                    long start = p / inner * classes * inner + p % inner;
                    int best = ArgMax(x, start, classes, inner);
                    if (best == ArgMax(y, start, classes, inner)) agree++;
                    if (InTopFive(y, start, classes, inner, best)) top5++;
                }
                count += here;
            }
            top1 += agree;
            positions += count;
            perSample.Add([count - agree, count]);
        }
        double agreement = positions == 0 ? 100 : 100.0 * top1 / positions;
        string metric = $"top-1 agreement % (top-5 {(positions == 0 ? 100 : 100.0 * top5 / positions):F1} %)";
        if (positions == pairs.Count)
        {
            var (low, high) = Wilson(pairs.Count - top1, pairs.Count);
            return new AccuracyReport(TaskKind.Classification, pairs.Count, metric, agreement, new Estimate(100 - agreement, 100 * low, 100 * high), WilsonMethod, outputs);
        }
        var bootstrap = Bootstrap(perSample, s => s[1] == 0 ? 0 : 100 * s[0] / s[1]);
        var (_, positionsHigh) = Wilson(positions - top1, positions);
        string where = heads == 1 ? $"classes along axis {axes[0]}" : $"{heads} outputs, classes along axes {string.Join(", ", axes)}";
        return new AccuracyReport(TaskKind.Classification, pairs.Count,
            FormattableString.Invariant($"{metric} at {positions / pairs.Count} positions per sample, {where}"),
            agreement, bootstrap with { High = Math.Max(bootstrap.High, 100 * positionsHigh) }, BootstrapPositionsMethod, outputs);
    }

    /// <summary>
    /// The axis along which every position of the reference holds a probability distribution (a Softmax's: values in
    /// [0, 1] summing to 1; a LogSoftmax's: exponentials summing to 1), the first such of several; else the last axis.
    /// </summary>
    internal static int ClassAxis(IReadOnlyList<Tensor> reference)
    {
        var dims = reference[0].Dims;
        if (dims.Length == 0) return 0;
        // Copied out once: a search scores many candidates against the same reference, each time through here.
        var values = reference.Select(t => t.ToFloats()).ToList();
        for (int axis = 0; axis < dims.Length; axis++)
        {
            if (dims[axis] < 2) continue;
            if (values.All(v => SumsToOne(v, dims, axis, log: false)) || values.All(v => SumsToOne(v, dims, axis, log: true))) return axis;
        }
        return dims.Length - 1;
    }

    private static bool SumsToOne(float[] values, long[] dims, int axis, bool log)
    {
        long classes = dims[axis], inner = 1;
        for (int d = axis + 1; d < dims.Length; d++) inner *= dims[d];
        if (classes == 0 || values.Length == 0) return false;
        long count = values.Length / classes;
        for (long p = 0; p < count; p++)
        {
            long start = p / inner * classes * inner + p % inner;
            double sum = 0;
            for (long k = 0; k < classes; k++)
            {
                float v = values[start + k * inner];
                if (log ? !(v <= 0) : !(v >= 0 && v <= 1)) return false;
                sum += log ? Math.Exp(v) : v;
            }
            // float32 softmaxes over thousands of classes sum to 1 within a few 1e-4.
            if (Math.Abs(sum - 1) > 1e-3) return false;
        }
        return true;
    }

    private static int ArgMax(float[] v, long start, long count, long stride)
    {
        int best = 0;
        for (int k = 1; k < count; k++) if (v[start + k * stride] > v[start + best * stride]) best = k;
        return best;
    }

    private static bool InTopFive(float[] v, long start, long count, long stride, int index)
    {
        float value = v[start + index * stride];
        int above = 0;
        for (int k = 0; k < count && above < 5; k++) if (v[start + k * stride] > value) above++;
        return above < 5;
    }

    /// <summary>The interval methods as reports name them.</summary>
    public const string WilsonMethod = "Wilson score", BootstrapMethod = "bootstrap", BootstrapWilsonMethod = "bootstrap over photos, upper bound at least Wilson over boxes",
        BootstrapPositionsMethod = "bootstrap over samples, upper bound at least Wilson over positions";

    private static AccuracyReport Regression(List<(Tensor[] Ref, Tensor[] Cand)> pairs, List<OutputAgreement> outputs)
    {
        var perSample = pairs.Select(p =>
        {
            double error = 0, magnitude = 0;
            for (int k = 0; k < p.Ref.Length; k++)
            {
                var x = p.Ref[k].ToFloats();
                var y = p.Cand[k].ToFloats();
                for (int i = 0; i < x.Length; i++) { error += Math.Abs((double)x[i] - y[i]); magnitude += Math.Abs(x[i]); }
            }
            return new[] { error, magnitude };
        }).ToList();
        var loss = Bootstrap(perSample, s => s[1] == 0 ? 0 : 100 * s[0] / s[1]);
        return new AccuracyReport(TaskKind.Regression, pairs.Count, "mean relative error %", loss.Value, loss, BootstrapMethod, outputs);
    }

    private static AccuracyReport Embedding(List<(Tensor[] Ref, Tensor[] Cand)> pairs, List<OutputAgreement> outputs)
    {
        var cosines = pairs.Select(p => Cosine(p.Ref[0].ToFloats(), p.Cand[0].ToFloats())).ToList();
        var loss = Bootstrap(cosines.Select(c => new[] { c }).ToList(), s => 100 * (1 - s[0] / cosines.Count));
        return new AccuracyReport(TaskKind.Embedding, pairs.Count, $"mean cosine (min {cosines.Min():F5})", cosines.Average(), loss, BootstrapMethod, outputs);
    }

    private static AccuracyReport Generic(List<(Tensor[] Ref, Tensor[] Cand)> pairs, List<OutputAgreement> outputs)
    {
        var perSample = pairs.Select(p =>
        {
            double signal = 0, noise = 0;
            for (int k = 0; k < p.Ref.Length; k++)
            {
                var x = p.Ref[k].ToFloats();
                var y = p.Cand[k].ToFloats();
                for (int i = 0; i < x.Length; i++) { double d = (double)x[i] - y[i]; signal += (double)x[i] * x[i]; noise += d * d; }
            }
            return new[] { noise, signal };
        }).ToList();
        var loss = Bootstrap(perSample, s => s[1] == 0 ? 0 : 100 * Math.Sqrt(s[0] / s[1]));
        return new AccuracyReport(TaskKind.Generic, pairs.Count, "relative error norm %", loss.Value, loss, BootstrapMethod, outputs);
    }

    /// <summary>
    /// Boxes above a 0.5 score (NMS at IoU 0.4) from the reference are matched greedily to the candidate's at
    /// IoU &gt;= 0.5; F1 over all samples, and the mean score drift of matched boxes.
    /// </summary>
    private static AccuracyReport Detection(List<(Tensor[] Ref, Tensor[] Cand)> pairs, List<OutputAgreement> outputs)
    {
        int matched = 0, refCount = 0, candCount = 0;
        double drift = 0;
        var perSample = new List<double[]>();
        foreach (var (r, c) in pairs)
        {
            var reference = Boxes(r);
            var candidate = Boxes(c);
            refCount += reference.Count;
            candCount += candidate.Count;
            var used = new bool[candidate.Count];
            int matchedHere = 0;
            foreach (var box in reference)
            {
                int best = -1;
                double bestIou = 0.5;
                for (int j = 0; j < candidate.Count; j++)
                    if (!used[j] && Iou(box, candidate[j]) is var iou && iou >= bestIou) { bestIou = iou; best = j; }
                if (best < 0) continue;
                used[best] = true;
                matchedHere++;
                drift += Math.Abs(box.Score - candidate[best].Score);
            }
            matched += matchedHere;
            perSample.Add([matchedHere, reference.Count, candidate.Count]);
        }
        // No box above 0.5 in the reference on any sample (raw logits, anchors not decoded, photos without
        // objects): F1 would be 1 whatever the candidate does. Judge the raw outputs instead, and say so.
        if (refCount == 0)
        {
            var generic = Generic(pairs, outputs);
            return generic with { Task = TaskKind.Detection, Metric = "no reference box scored >= 0.5, so " + generic.Metric };
        }
        // 1 - F1 is the share of box slots (reference + candidate) left unmatched. A bootstrap over photos cannot reach past
        // the failures it saw (no miss on any photo gives [0, 0]), so the upper bound is at least the Wilson bound of that share.
        var bootstrap = Bootstrap(perSample, s => 100 * (1 - F1(s[0], s[1], s[2])));
        var (_, slotsHigh) = Wilson(refCount + candCount - 2.0 * matched, refCount + candCount);
        var loss = bootstrap with { High = Math.Max(bootstrap.High, 100 * slotsHigh) };
        double boxesPerSample = (double)refCount / pairs.Count;
        IReadOnlyList<string> problems = boxesPerSample > MaxPlausibleBoxesPerSample
            ? [FormattableString.Invariant($"the reference finds {boxesPerSample:F1} boxes per held-out sample ({refCount} on {pairs.Count}) after non-maximum suppression, more than the {MaxPlausibleBoxesPerSample} a real scene gives")]
            : [];
        return new AccuracyReport(TaskKind.Detection, pairs.Count,
            $"F1 of matched boxes ({refCount} reference boxes, mean score drift {(matched == 0 ? 0 : drift / matched):F4})", F1(matched, refCount, candCount), loss, BootstrapWilsonMethod, outputs)
        { ReferenceProblems = problems };
    }

    /// <summary>
    /// Reference boxes per sample above which the detector is taken to be reading garbage (inputs not normalized as it
    /// was trained, channels swapped): after NMS at IoU 0.4, boxes that do not overlap; a face detector on face photos finds a
    /// handful, and ones fed raw 0..255 pixels fire on tens of anchors per photo.
    /// </summary>
    public const int MaxPlausibleBoxesPerSample = 20;

    private static double F1(double matched, double refCount, double candCount)
    {
        if (refCount == 0 && candCount == 0) return 1;
        double precision = candCount == 0 ? 0 : matched / candCount;
        double recall = refCount == 0 ? 0 : matched / refCount;
        return precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
    }

    private readonly record struct Box(float X1, float Y1, float X2, float Y2, float Score);

    private static List<Box> Boxes(Tensor[] outputs)
    {
        int boxesIndex = outputs[0].Dims[^1] == 4 ? 0 : 1;
        var boxes = outputs[boxesIndex].ToFloats();
        var scoreTensor = outputs[1 - boxesIndex];
        var scores = scoreTensor.ToFloats();
        int classes = (int)scoreTensor.Dims[^1];
        int n = boxes.Length / 4;
        var found = new List<Box>();
        for (int i = 0; i < n; i++)
        {
            // One class: its score; two: class 1 (class 0 is background); more: the best non-background class.
            float s = classes == 1 ? scores[i] : classes == 2 ? scores[i * 2 + 1] : Enumerable.Range(1, classes - 1).Max(k => scores[i * classes + k]);
            if (s >= 0.5f) found.Add(new Box(boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3], s));
        }
        found.Sort((x, y) => y.Score.CompareTo(x.Score));
        var kept = new List<Box>();
        foreach (var b in found)
            if (kept.All(k => Iou(k, b) < 0.4)) kept.Add(b);
        return kept;
    }

    private static double Iou(Box a, Box b)
    {
        double w = Math.Max(0, Math.Min(a.X2, b.X2) - Math.Max(a.X1, b.X1));
        double h = Math.Max(0, Math.Min(a.Y2, b.Y2) - Math.Max(a.Y1, b.Y1));
        double inter = w * h;
        double union = (a.X2 - a.X1) * (a.Y2 - a.Y1) + (b.X2 - b.X1) * (b.Y2 - b.Y1) - inter;
        return union <= 0 ? 0 : inter / union;
    }

    private static double Cosine(float[] x, float[] y)
    {
        double dot = 0, nx = 0, ny = 0;
        for (int i = 0; i < x.Length; i++) { dot += (double)x[i] * y[i]; nx += (double)x[i] * x[i]; ny += (double)y[i] * y[i]; }
        return nx == 0 || ny == 0 ? (nx == ny ? 1 : 0) : dot / Math.Sqrt(nx * ny);
    }

}
