using EdgeBuild.Ir;
using EdgeBuild.Passes;
using EdgeBuild.Quantization;
using Microsoft.ML.OnnxRuntime;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Measure;

/// <summary>What a model's outputs mean, which decides the accuracy metric (the EdgeModel item's Task metadata).</summary>
public enum TaskKind { Auto, Classification, Detection, Regression, Embedding, Generic }

/// <summary>Agreement of one output with the reference: SQNR in dB (infinite when identical) and the largest error.</summary>
public sealed record OutputAgreement(string Name, double SqnrDb, double MaxAbsError);

/// <summary>
/// A candidate model against its FP32 reference on held-out samples. <see cref="LossPercent"/> is the one
/// number budgets compare (MaxAccuracyLoss): 100 - top-1 agreement, 100 x (1 - F1), 100 x mean relative
/// error, 100 x (1 - mean cosine), or 100 x relative error norm, by task.
/// </summary>
public sealed record AccuracyReport(TaskKind Task, int Samples, string Metric, double Value, double LossPercent, IReadOnlyList<OutputAgreement> Outputs)
{
    public string Summary =>
        FormattableString.Invariant($"{Task}: {Metric} {Value:G4} over {Samples} samples, loss {LossPercent:F3} %; ") +
        string.Join(", ", Outputs.Select(o => FormattableString.Invariant($"{o.Name} SQNR {(double.IsPositiveInfinity(o.SqnrDb) ? "inf" : o.SqnrDb.ToString("F1", System.Globalization.CultureInfo.InvariantCulture))} dB")));
}

/// <summary>Runs a reference and a candidate model on the same samples in ONNX Runtime and scores the candidate by task.</summary>
public static class AccuracyEvaluator
{
    /// <summary>
    /// The task from the outputs when the user did not say: two outputs shaped like boxes ([...,N,4]) and
    /// scores ([...,N,C]) are Detection; one [1,K] output from a Softmax, or with K &lt;= 10, is
    /// Classification; anything else is Generic (Regression and Embedding must be named).
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
        if (outputs.Count == 1 && shapes[0] is { Rank: 2 } s && s[1].Value is long k && k >= 2)
        {
            bool softmax = outputs[0].Producer is { } p && (p.Is("Softmax") || p.Is("LogSoftmax"));
            if (softmax || k <= 10) return TaskKind.Classification;
        }
        return TaskKind.Generic;
    }

    public static AccuracyReport Compare(byte[] reference, byte[] candidate, ICalibrationDataSource samples, TaskKind task)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var a = new InferenceSession(reference, options);
        using var b = new InferenceSession(candidate, options);
        var names = a.OutputNames.ToArray();
        var pairs = new List<(Tensor[] Ref, Tensor[] Cand)>();
        foreach (var sample in samples.Samples()) pairs.Add((Run(a, sample, names), Run(b, sample, names)));
        return Score(names, pairs, task);
    }

    /// <summary>
    /// The same comparison for a candidate that does not run in ONNX Runtime (a .tflite file in its own interpreter):
    /// the reference runs here, the candidate's outputs per sample (by ONNX output name, in the ONNX layout) are given.
    /// </summary>
    public static AccuracyReport Compare(byte[] reference, ICalibrationDataSource samples, IReadOnlyList<IReadOnlyDictionary<string, Tensor>> candidateOutputs, TaskKind task)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var a = new InferenceSession(reference, options);
        var names = a.OutputNames.ToArray();
        var pairs = new List<(Tensor[] Ref, Tensor[] Cand)>();
        int i = 0;
        foreach (var sample in samples.Samples())
        {
            var candidate = candidateOutputs[i++];
            pairs.Add((Run(a, sample, names), names.Select(n => candidate[n]).ToArray()));
        }
        if (i != candidateOutputs.Count) throw new ArgumentException($"{candidateOutputs.Count} candidate outputs for {i} samples", nameof(candidateOutputs));
        return Score(names, pairs, task);
    }

    /// <summary>The same scoring on outputs computed elsewhere: reference and candidate per sample, by output name (in <paramref name="names"/> order).</summary>
    public static AccuracyReport Compare(IReadOnlyList<string> names, IReadOnlyList<IReadOnlyDictionary<string, Tensor>> reference,
        IReadOnlyList<IReadOnlyDictionary<string, Tensor>> candidate, TaskKind task)
    {
        if (reference.Count != candidate.Count) throw new ArgumentException($"{reference.Count} reference samples, {candidate.Count} candidate ones", nameof(candidate));
        var pairs = reference.Zip(candidate, (r, c) => (names.Select(n => r[n]).ToArray(), names.Select(n => c[n]).ToArray())).ToList();
        return Score(names.ToArray(), pairs, task);
    }

    private static AccuracyReport Score(string[] names, List<(Tensor[] Ref, Tensor[] Cand)> pairs, TaskKind task)
    {

        var outputs = new List<OutputAgreement>();
        for (int k = 0; k < names.Length; k++)
        {
            double signal = 0, noise = 0, max = 0;
            foreach (var (r, c) in pairs)
            {
                var x = r[k].ToFloats();
                var y = c[k].ToFloats();
                for (int i = 0; i < x.Length; i++)
                {
                    double d = (double)x[i] - y[i];
                    signal += (double)x[i] * x[i];
                    noise += d * d;
                    max = Math.Max(max, Math.Abs(d));
                }
            }
            outputs.Add(new OutputAgreement(names[k], noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(signal / noise), max));
        }

        return task switch
        {
            TaskKind.Classification => Classification(pairs, outputs),
            TaskKind.Detection => Detection(pairs, outputs),
            TaskKind.Regression => Regression(pairs, outputs),
            TaskKind.Embedding => Embedding(pairs, outputs),
            _ => Generic(pairs, outputs),
        };
    }

    private static Tensor[] Run(InferenceSession session, IReadOnlyDictionary<string, Tensor> inputs, string[] outputNames)
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

    private static AccuracyReport Classification(List<(Tensor[] Ref, Tensor[] Cand)> pairs, List<OutputAgreement> outputs)
    {
        int top1 = 0, top5 = 0;
        foreach (var (r, c) in pairs)
        {
            var x = r[0].ToFloats();
            var y = c[0].ToFloats();
            int best = ArgMax(x);
            if (best == ArgMax(y)) top1++;
            var five = y.Select((v, i) => (v, i)).OrderByDescending(t => t.v).Take(5).Select(t => t.i);
            if (five.Contains(best)) top5++;
        }
        double agreement = 100.0 * top1 / pairs.Count;
        _ = top5;
        return new AccuracyReport(TaskKind.Classification, pairs.Count, $"top-1 agreement % (top-5 {100.0 * top5 / pairs.Count:F1} %)", agreement, 100 - agreement, outputs);
    }

    private static AccuracyReport Regression(List<(Tensor[] Ref, Tensor[] Cand)> pairs, List<OutputAgreement> outputs)
    {
        double error = 0, magnitude = 0;
        foreach (var (r, c) in pairs)
            for (int k = 0; k < r.Length; k++)
            {
                var x = r[k].ToFloats();
                var y = c[k].ToFloats();
                for (int i = 0; i < x.Length; i++) { error += Math.Abs((double)x[i] - y[i]); magnitude += Math.Abs(x[i]); }
            }
        double relative = magnitude == 0 ? 0 : error / magnitude;
        return new AccuracyReport(TaskKind.Regression, pairs.Count, "mean relative error %", 100 * relative, 100 * relative, outputs);
    }

    private static AccuracyReport Embedding(List<(Tensor[] Ref, Tensor[] Cand)> pairs, List<OutputAgreement> outputs)
    {
        var cosines = pairs.Select(p => Cosine(p.Ref[0].ToFloats(), p.Cand[0].ToFloats())).ToList();
        double mean = cosines.Average();
        return new AccuracyReport(TaskKind.Embedding, pairs.Count, $"mean cosine (min {cosines.Min():F5})", mean, 100 * (1 - mean), outputs);
    }

    private static AccuracyReport Generic(List<(Tensor[] Ref, Tensor[] Cand)> pairs, List<OutputAgreement> outputs)
    {
        double signal = 0, noise = 0;
        foreach (var (r, c) in pairs)
            for (int k = 0; k < r.Length; k++)
            {
                var x = r[k].ToFloats();
                var y = c[k].ToFloats();
                for (int i = 0; i < x.Length; i++) { double d = (double)x[i] - y[i]; signal += (double)x[i] * x[i]; noise += d * d; }
            }
        double relative = signal == 0 ? 0 : Math.Sqrt(noise / signal);
        return new AccuracyReport(TaskKind.Generic, pairs.Count, "relative error norm %", 100 * relative, 100 * relative, outputs);
    }

    /// <summary>
    /// Boxes above a 0.5 score (NMS at IoU 0.4) from the reference are matched greedily to the candidate's at
    /// IoU &gt;= 0.5; F1 over all samples, and the mean score drift of matched boxes.
    /// </summary>
    private static AccuracyReport Detection(List<(Tensor[] Ref, Tensor[] Cand)> pairs, List<OutputAgreement> outputs)
    {
        int matched = 0, refCount = 0, candCount = 0;
        double drift = 0;
        foreach (var (r, c) in pairs)
        {
            var reference = Boxes(r);
            var candidate = Boxes(c);
            refCount += reference.Count;
            candCount += candidate.Count;
            var used = new bool[candidate.Count];
            foreach (var box in reference)
            {
                int best = -1;
                double bestIou = 0.5;
                for (int j = 0; j < candidate.Count; j++)
                    if (!used[j] && Iou(box, candidate[j]) is var iou && iou >= bestIou) { bestIou = iou; best = j; }
                if (best < 0) continue;
                used[best] = true;
                matched++;
                drift += Math.Abs(box.Score - candidate[best].Score);
            }
        }
        // No box above 0.5 in the reference on any sample (raw logits, anchors not decoded, photos without
        // objects): F1 would be 1 whatever the candidate does. Judge the raw outputs instead, and say so.
        if (refCount == 0)
        {
            var generic = Generic(pairs, outputs);
            return generic with { Task = TaskKind.Detection, Metric = "no reference box scored >= 0.5, so " + generic.Metric };
        }
        double precision = candCount == 0 ? 0 : (double)matched / candCount;
        double recall = (double)matched / refCount;
        double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new AccuracyReport(TaskKind.Detection, pairs.Count,
            $"F1 of matched boxes ({refCount} reference boxes, mean score drift {(matched == 0 ? 0 : drift / matched):F4})", f1, 100 * (1 - f1), outputs);
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

    private static int ArgMax(float[] v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
