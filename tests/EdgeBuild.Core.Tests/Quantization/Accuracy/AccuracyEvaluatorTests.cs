using EdgeBuild.Ir;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using EdgeBuild.Tests.Support;
using A = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Tests.Quantization;

public class AccuracyEvaluatorTests
{
    private sealed class RandomSamples(string input, long[] dims, int count) : ICalibrationDataSource
    {
        public int Count => count;
        public IEnumerable<IReadOnlyDictionary<string, Tensor>> Samples() =>
            Enumerable.Range(0, count).Select(i => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { [input] = ModelBuilder.RandomInput(dims, seed: i) });
    }

    /// <summary>
    /// A one-head attention over token embeddings with BERT's inputs: token ids (looked up by Gather), an attention mask
    /// turned into an additive bias on the scores (Cast, Reshape, Sub, Mul, Add, then Softmax), and a float input.
    /// </summary>
    private static byte[] Attention()
    {
        var b = new ModelBuilder(seed: 8);
        var x = b.Input("x", 1, 4, 8);
        var ids = b.Graph.AddInput("ids", new TensorType(DataType.Int64, Shape.Of(1, 4)));
        var mask = b.Graph.AddInput("mask", new TensorType(DataType.Int64, Shape.Of(1, 4)));
        var h = b.Op("Add", [x, b.Op("Gather", [b.Weight("table", [10, 8]), ids], "embedded")], "h");
        var scores = b.Op("MatMul", [h, b.Op("Transpose", [h], "ht", A.Of("perm", [0L, 2L, 1L]))], "scores");
        var keep = b.Op("Reshape", [b.Op("Cast", [mask], "mask_float", A.Of("to", (long)DataType.Float)), b.ConstInts("bias_shape", 1, 1, 4)], "keep");
        var bias = b.Op("Mul", [b.Op("Sub", [b.Const("one", [1], 1f), keep], "dropped"), b.Const("big", [1], -10000f)], "bias");
        var weights = b.Op("Softmax", [b.Op("Add", [scores, bias], "biased")], "weights", A.Of("axis", -1L));
        b.Output(b.Op("MatMul", [weights, h], "states"));
        return OnnxExporter.ToBytes(b.Model);
    }

    /// <summary>
    /// Token states at positions the attention mask marks as padding are read by nothing downstream: a candidate that
    /// differs only there agrees with FP32, one that differs at a real token does not, and the metric says what was left out.
    /// </summary>
    [Fact]
    public void PaddedPositionsOfAnAttentionMaskAreLeftOutOfTheComparison()
    {
        byte[] model = Attention();
        var samples = Enumerable.Range(0, 12).Select(i => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor>
        {
            ["x"] = ModelBuilder.RandomInput([1, 4, 8], seed: i),
            ["ids"] = Tensor.FromInt64s([1, 4], [1 + i % 5, 2, 3, 0]),
            ["mask"] = Tensor.FromInt64s([1, 4], [1, 1, 1, 0]),
        }).ToList();
        var source = new Support.SampleList(samples);
        var reference = samples.Select(s => Ort.Run(model, s)).ToList();
        List<IReadOnlyDictionary<string, Tensor>> Garbage(int position) => reference.Select(r =>
        {
            var v = r["states"].ToFloats();
            for (int k = 0; k < 8; k++) v[position * 8 + k] = 100f + k;
            return (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { ["states"] = Tensor.FromFloats([1, 4, 8], v) };
        }).ToList();

        var atPadding = AccuracyEvaluator.Compare(model, source, Garbage(3), TaskKind.Embedding);
        var atToken = AccuracyEvaluator.Compare(model, source, Garbage(1), TaskKind.Embedding);
        Assert.Equal(0, atPadding.LossPercent, 6);
        Assert.Contains("padded positions (mask 0) left out", atPadding.Metric);
        Assert.DoesNotContain("ids", atPadding.Metric);
        Assert.True(atToken.LossPercent > 10, $"garbage at a real token: loss {atToken.LossPercent:F2} %");
    }

    /// <summary>A linear classifier [1,8] -> [1,K]; <paramref name="noise"/> perturbs the weights.</summary>
    private static byte[] Linear(int k, float noise, bool softmax = false)
    {
        var b = new ModelBuilder(seed: 5);
        var x = b.Input("x", 1, 8);
        var w = b.Weight("w", [8, k]);
        if (noise != 0)
        {
            var data = w.Initializer!.ToFloats();
            var r = new Random(9);
            for (int i = 0; i < data.Length; i++) data[i] += noise * (float)(r.NextDouble() - 0.5);
            b.Graph.SetInitializer(w, Tensor.FromFloats([8, k], data));
        }
        var y = b.Op("MatMul", [x, w], "logits");
        b.Output(softmax ? b.Op("Softmax", [y], "prob", A.Of("axis", -1L)) : y);
        return OnnxExporter.ToBytes(b.Model);
    }

    [Fact]
    public void IdenticalModelsLoseNothing()
    {
        var samples = new RandomSamples("x", [1, 8], 20);
        foreach (var task in new[] { TaskKind.Classification, TaskKind.Regression, TaskKind.Embedding, TaskKind.Generic })
        {
            var r = AccuracyEvaluator.Compare(Linear(4, 0), Linear(4, 0), samples, task);
            Assert.Equal(0, r.LossPercent, 9);
            Assert.True(double.IsPositiveInfinity(r.Outputs[0].SqnrDb));
        }
    }

    [Fact]
    public void PerturbedWeightsShowUpInEveryMetric()
    {
        var samples = new RandomSamples("x", [1, 8], 50);
        var cls = AccuracyEvaluator.Compare(Linear(4, 0), Linear(4, 1.0f), samples, TaskKind.Classification);
        Assert.InRange(cls.LossPercent, 1, 99);
        var emb = AccuracyEvaluator.Compare(Linear(64, 0), Linear(64, 0.2f), samples, TaskKind.Embedding);
        Assert.InRange(emb.Value, 0.5, 0.9999);
        var reg = AccuracyEvaluator.Compare(Linear(64, 0), Linear(64, 0.2f), samples, TaskKind.Regression);
        Assert.True(reg.LossPercent > 1);
        Assert.True(emb.Outputs[0].SqnrDb is > 0 and < 60);
    }

    [Fact]
    public void TaskIsInferredFromOutputs()
    {
        var small = OnnxImporter.Parse(Linear(4, 0));
        var softmax = OnnxImporter.Parse(Linear(100, 0, softmax: true));
        var wide = OnnxImporter.Parse(Linear(100, 0));
        foreach (var m in new[] { small, softmax, wide }) ShapeInference.Infer(m);
        Assert.Equal(TaskKind.Classification, AccuracyEvaluator.Infer(small));
        Assert.Equal(TaskKind.Classification, AccuracyEvaluator.Infer(softmax));
        Assert.Equal(TaskKind.Generic, AccuracyEvaluator.Infer(wide));
    }

    /// <summary>A model [1,4,6] -> <paramref name="tail"/>(x): one output made by the given chain.</summary>
    private static Model Headed(Func<ModelBuilder, Value, Value> tail)
    {
        var b = new ModelBuilder(seed: 3);
        var x = b.Input("x", 1, 4, 6);
        b.Output(tail(b, b.Op("MatMul", [x, b.Weight("w", [6, 6])], "h")));
        ShapeInference.Infer(b.Model);
        return b.Model;
    }

    /// <summary>
    /// The task comes from op patterns, never from names: a Softmax or LogSoftmax output of any rank (also behind a
    /// Transpose, as a CTC recognizer's [T,N,C]) is Classification; a division by the output's own L2 norm, written any of
    /// the usual ways, is Embedding; a plain wide tensor stays Generic.
    /// </summary>
    [Fact]
    public void SequenceSoftmaxesAreClassificationAndL2NormalizedOutputsAreEmbeddings()
    {
        Assert.Equal(TaskKind.Classification, AccuracyEvaluator.Infer(Headed((b, h) => b.Op("Softmax", [h], "p", A.Of("axis", -1L)))));
        Assert.Equal(TaskKind.Classification, AccuracyEvaluator.Infer(Headed((b, h) =>
            b.Op("Transpose", [b.Op("LogSoftmax", [h], "lp", A.Of("axis", 2L))], "tnc", A.Of("perm", [1L, 0L, 2L])))));
        Assert.Equal(TaskKind.Embedding, AccuracyEvaluator.Infer(Headed((b, h) => b.Op("LpNormalization", [h], "e", A.Of("axis", -1L), A.Of("p", 2L)))));
        Assert.Equal(TaskKind.Embedding, AccuracyEvaluator.Infer(Headed((b, h) =>
            b.Op("Div", [h, b.Op("Clip", [b.Op("ReduceL2", [h], "n", A.Of("axes", [-1L]), A.Of("keepdims", 1L)), b.Const("eps", [], 1e-12f)], "nc")], "e"))));
        Assert.Equal(TaskKind.Embedding, AccuracyEvaluator.Infer(Headed((b, h) =>
            b.Op("Div", [h, b.Op("Max", [b.Const("eps", [], 1e-12f),
                b.Op("Sqrt", [b.Op("ReduceSum", [b.Op("Mul", [h, h], "sq"), b.ConstInts("axes", -1)], "ss", A.Of("keepdims", 1L))], "n")], "nm")], "e"))));
        Assert.Equal(TaskKind.Generic, AccuracyEvaluator.Infer(Headed((b, h) => b.Op("Div", [h, b.Op("ReduceMax", [h], "m", A.Of("axes", [-1L]))], "scaled"))));
        Assert.Equal(TaskKind.Generic, AccuracyEvaluator.Infer(Headed((b, h) => b.Op("Relu", [h], "r"))));
    }

    /// <summary>Softmax along <paramref name="axis"/> of a [dims] tensor of seeded logits.</summary>
    private static float[] Probabilities(long[] dims, int axis, int seed, bool log = false)
    {
        var logits = ModelBuilder.RandomInput(dims, seed).ToFloats();
        long classes = dims[axis], inner = 1;
        for (int d = axis + 1; d < dims.Length; d++) inner *= dims[d];
        for (long p = 0; p < logits.Length / classes; p++)
        {
            long start = p / inner * classes * inner + p % inner;
            double sum = 0;
            for (long k = 0; k < classes; k++) sum += Math.Exp(4 * logits[start + k * inner]);
            for (long k = 0; k < classes; k++)
            {
                double v = Math.Exp(4 * logits[start + k * inner]) / sum;
                logits[start + k * inner] = (float)(log ? Math.Log(v) : v);
            }
        }
        return logits;
    }

    /// <summary>
    /// A [1,T,C] sequence and a [1,C,H,W] map are scored at every position along the axis that holds the distributions
    /// (found from the reference: the last one for the sequence, axis 1 for the map, also for log-probabilities): a
    /// candidate with known positions' winners swapped loses exactly that share, with an interval that contains it.
    /// </summary>
    [Theory]
    [InlineData(new long[] { 1, 40, 12 }, 2, false)]
    [InlineData(new long[] { 1, 5, 6, 7 }, 1, false)]
    [InlineData(new long[] { 1, 5, 6, 7 }, 1, true)]
    public void PositionsAreScoredAlongTheAxisThatHoldsTheDistributions(long[] dims, int axis, bool log)
    {
        long classes = dims[axis], inner = 1, total = 1;
        for (int d = axis + 1; d < dims.Length; d++) inner *= dims[d];
        foreach (var d in dims) total *= d;
        long positions = total / classes;
        const int samples = 30;
        var reference = new List<IReadOnlyDictionary<string, Tensor>>();
        var candidate = new List<IReadOnlyDictionary<string, Tensor>>();
        int swapped = 0;
        for (int i = 0; i < samples; i++)
        {
            var x = Probabilities(dims, axis, seed: 100 + i, log);
            var y = (float[])x.Clone();
            // Every 7th position of every 3rd sample: the winner and the runner-up trade values.
            for (long p = 0; i % 3 == 0 && p < positions; p += 7)
            {
                long start = p / inner * classes * inner + p % inner;
                var order = Enumerable.Range(0, (int)classes).OrderByDescending(k => x[start + k * inner]).ToArray();
                (y[start + order[0] * inner], y[start + order[1] * inner]) = (x[start + order[1] * inner], x[start + order[0] * inner]);
                swapped++;
            }
            reference.Add(new Dictionary<string, Tensor> { ["p"] = Tensor.FromFloats(dims, x) });
            candidate.Add(new Dictionary<string, Tensor> { ["p"] = Tensor.FromFloats(dims, y) });
        }
        var r = AccuracyEvaluator.Compare(["p"], reference, candidate, TaskKind.Classification);
        double expected = 100.0 * swapped / (positions * samples);
        Assert.Equal(expected, r.LossPercent, 6);
        Assert.InRange(expected, r.Loss.Low, r.Loss.High);
        Assert.Contains($"{positions} positions per sample, classes along axis {axis}", r.Metric);
        Assert.Equal(axis, AccuracyEvaluator.ClassAxis(reference.Select(s => s["p"]).ToList()));
        // The same logits unnormalized hold no distribution: the last axis is the class axis.
        Assert.Equal(dims.Length - 1, AccuracyEvaluator.ClassAxis([ModelBuilder.RandomInput(dims, seed: 1)]));
    }

    /// <summary>
    /// A head per angle ([1,66] bins each, as a head-pose regressor by classification has): every head counts, so a flip
    /// in the third head is a loss though the first agrees everywhere; several Softmax outputs are inferred Classification.
    /// </summary>
    [Fact]
    public void EveryHeadOfAMultiHeadClassifierIsScored()
    {
        var reference = new List<IReadOnlyDictionary<string, Tensor>>();
        var candidate = new List<IReadOnlyDictionary<string, Tensor>>();
        for (int i = 0; i < 40; i++)
        {
            var heads = Enumerable.Range(0, 3).Select(h => Probabilities([1, 66], 1, seed: 10 * i + h)).ToArray();
            var changed = heads.Select(h => (float[])h.Clone()).ToArray();
            if (i % 4 == 0)
            {
                // The third head's winner trades places with the runner-up.
                var order = Enumerable.Range(0, 66).OrderByDescending(k => heads[2][k]).ToArray();
                (changed[2][order[0]], changed[2][order[1]]) = (heads[2][order[1]], heads[2][order[0]]);
            }
            reference.Add(Enumerable.Range(0, 3).ToDictionary(h => $"head{h}", h => Tensor.FromFloats([1, 66], heads[h])));
            candidate.Add(Enumerable.Range(0, 3).ToDictionary(h => $"head{h}", h => Tensor.FromFloats([1, 66], changed[h])));
        }
        var r = AccuracyEvaluator.Compare(["head0", "head1", "head2"], reference, candidate, TaskKind.Classification);
        Assert.Equal(100.0 * 10 / 120, r.LossPercent, 6);
        Assert.Contains("3 positions per sample, 3 outputs, classes along axes 1, 1, 1", r.Metric);

        var b = new ModelBuilder(seed: 2);
        var x = b.Input("x", 1, 8);
        b.Output(Enumerable.Range(0, 3).Select(h => b.Op("Softmax", [b.Op("MatMul", [x, b.Weight($"w{h}", [8, 66])], $"logits{h}")], $"p{h}", A.Of("axis", -1L))).ToArray());
        ShapeInference.Infer(b.Model);
        Assert.Equal(TaskKind.Classification, AccuracyEvaluator.Infer(b.Model));
    }

    [SkippableFact]
    public void DetectorAgreesWithItselfAndTheTaskIsDetection()
    {
        string data = TestData.Require();
        var spec = RealModelSpec.Get("face-detect-rfb320");
        var model = OnnxImporter.Load(TestData.Model(spec.Id));
        ShapeInference.Infer(model);
        Assert.Equal(TaskKind.Detection, AccuracyEvaluator.Infer(model));
        var bytes = File.ReadAllBytes(TestData.Model(spec.Id));
        var photos = new RealModelSamples(spec, spec.Photos(data, 4), data);
        var r = AccuracyEvaluator.Compare(bytes, bytes, photos, TaskKind.Detection);
        Assert.Equal(1.0, r.Value);
        Assert.Contains("reference boxes", r.Metric);
    }

    /// <summary>
    /// Raw detector outputs with no score above 0.5 (logits of an undecoded anchor head) would give F1 = 1 whatever
    /// the candidate does; the evaluator judges the raw outputs instead and says so.
    /// </summary>
    [Fact]
    public void DetectionWithoutReferenceBoxesIsNotAVacuousPass()
    {
        static IReadOnlyDictionary<string, Tensor> Outputs(float offset) => new Dictionary<string, Tensor>
        {
            ["boxes"] = Tensor.FromFloats([1, 3, 4], Enumerable.Range(0, 12).Select(i => i * 0.1f + offset).ToArray()),
            ["scores"] = Tensor.FromFloats([1, 3, 2], [0.9f, 0.1f, 0.8f, 0.2f, 0.7f, 0.3f + offset]),
        };
        string[] names = ["boxes", "scores"];
        var same = AccuracyEvaluator.Compare(names, [Outputs(0)], [Outputs(0)], TaskKind.Detection);
        Assert.Equal(0, same.LossPercent, 9);
        var drifted = AccuracyEvaluator.Compare(names, [Outputs(0)], [Outputs(0.1f)], TaskKind.Detection);
        Assert.Equal(TaskKind.Detection, drifted.Task);
        Assert.Contains("no reference box", drifted.Metric);
        Assert.True(drifted.LossPercent > 1, drifted.Summary);
    }

    /// <summary>A [1,8] -> [1,K] model from <paramref name="body"/> over the input.</summary>
    private static byte[] Model(Func<ModelBuilder, Value, Value> body)
    {
        var b = new ModelBuilder(seed: 5);
        var x = b.Input("x", 1, 8);
        b.Output(body(b, x));
        return OnnxExporter.ToBytes(b.Model);
    }

    private static Value Logits(ModelBuilder b, Value x) => b.Op("MatMul", [x, b.Weight("w", [8, 6])], "logits");

    /// <summary>
    /// Every logit halved: top-1 agreement stays 100 % and the cosine 1, but the output is 6 dB from FP32. The SQNR and its
    /// interval show the collapse that the agreement hides, and the gate's floor fails it.
    /// </summary>
    [Fact]
    public void HalvedLogitsKeepEveryAnswerButNotTheSqnr()
    {
        var samples = new RandomSamples("x", [1, 8], 40);
        var reference = Model((b, x) => b.Op("Mul", [Logits(b, x), b.Const("one", [], 1f)], "scaled"));
        var halved = Model((b, x) => b.Op("Mul", [Logits(b, x), b.Const("half", [], 0.5f)], "scaled"));
        var r = AccuracyEvaluator.Compare(reference, halved, samples, TaskKind.Classification);
        Assert.Equal(0, r.LossPercent, 9);
        Assert.Equal(10 * Math.Log10(4), r.Outputs[0].Sqnr.Value, 3);
        Assert.InRange(r.Outputs[0].Sqnr.High, 6.0, 6.1);
        var judgement = AccuracyGate.Judge("m", "x", r, null, new OutputFloors(), null);
        Assert.Equal("EB3012", Assert.Single(judgement.Errors).Descriptor.Code);
    }

    [Fact]
    public void LossIntervalComesWithTheReport()
    {
        var samples = new RandomSamples("x", [1, 8], 50);
        var cls = AccuracyEvaluator.Compare(Linear(4, 0), Linear(4, 1.0f), samples, TaskKind.Classification);
        Assert.Equal(AccuracyEvaluator.WilsonMethod, cls.IntervalMethod);
        Assert.True(cls.Loss.Low < cls.LossPercent && cls.LossPercent < cls.Loss.High, cls.Summary);
        var reg = AccuracyEvaluator.Compare(Linear(64, 0), Linear(64, 0.2f), samples, TaskKind.Regression);
        Assert.Equal(AccuracyEvaluator.BootstrapMethod, reg.IntervalMethod);
        Assert.True(reg.Loss.Low < reg.LossPercent && reg.LossPercent < reg.Loss.High, reg.Summary);
        Assert.Equal(reg, AccuracyEvaluator.Compare(Linear(64, 0), Linear(64, 0.2f), samples, TaskKind.Regression) with { Outputs = reg.Outputs, ReferenceProblems = reg.ReferenceProblems });
        Assert.Empty(reg.ReferenceProblems);
    }

    [Fact]
    public void AReferenceThatIgnoresItsInputIsDegenerate()
    {
        var samples = new RandomSamples("x", [1, 8], 10);
        // x * 0 + b: the same output whatever the photo (all inputs saturated to one value look like this).
        var constant = Model((b, x) => b.Op("Add", [b.Op("Mul", [Logits(b, x), b.Const("zero", [], 0f)], "zeroed"), b.Weight("bias", [1, 6])], "y"));
        var r = AccuracyEvaluator.Compare(constant, constant, samples, TaskKind.Generic);
        Assert.Contains(r.ReferenceProblems, p => p.Contains("identical for all 10 held-out samples", StringComparison.Ordinal));
    }

    [Fact]
    public void SaturatedAndNotFiniteReferencesAreDegenerate()
    {
        var samples = new RandomSamples("x", [1, 8], 10);
        // Sigmoid of logits a thousand times too large: every value exactly 0 or 1.
        var saturated = Model((b, x) => b.Op("Sigmoid", [b.Op("Mul", [Logits(b, x), b.Const("k", [], 1000f)], "big")], "y"));
        var s = AccuracyEvaluator.Compare(saturated, saturated, samples, TaskKind.Generic);
        Assert.Contains(s.ReferenceProblems, p => p.Contains("is saturated", StringComparison.Ordinal));
        // Log of inputs that are partly negative: NaN.
        var nan = Model((b, x) => b.Op("Log", [Logits(b, x)], "y"));
        var n = AccuracyEvaluator.Compare(nan, nan, samples, TaskKind.Generic);
        Assert.Contains(n.ReferenceProblems, p => p.Contains("NaN or infinite", StringComparison.Ordinal));
        // A healthy sigmoid is neither.
        var healthy = Model((b, x) => b.Op("Sigmoid", [Logits(b, x)], "y"));
        Assert.Empty(AccuracyEvaluator.Compare(healthy, healthy, samples, TaskKind.Generic).ReferenceProblems);
    }

    /// <summary>
    /// The face detector fed raw 0..255 pixels (Mean and Std left out) fires on dozens of anchors per photo (36.8 on these
    /// 30 photos); normalized as it was trained, it finds a few faces (1.7). The first is flagged as a degenerate
    /// reference, the second is not.
    /// </summary>
    [SkippableFact]
    public void DetectorFedRawPixelsIsADegenerateReference()
    {
        string data = TestData.Require();
        var spec = RealModelSpec.Get("face-detect-rfb320");
        var bytes = File.ReadAllBytes(TestData.Model(spec.Id));
        var photos = spec.Photos(data, 40).Skip(10).ToList(); // the 30 held out in the measurement of docs/quantization.md
        var normalized = AccuracyEvaluator.Compare(bytes, bytes, new RealModelSamples(spec, photos, data), TaskKind.Detection);
        Assert.Empty(normalized.ReferenceProblems);
        var raw = AccuracyEvaluator.Compare(bytes, bytes, new RealModelSamples(spec with { Normalize = (x, _) => x }, photos, data), TaskKind.Detection);
        Assert.Contains(raw.ReferenceProblems, p => p.Contains("boxes per held-out sample", StringComparison.Ordinal));
    }
}
