using EdgeBuild.Compile;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Quantization;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Tests.Support;
using Xunit.Abstractions;
using EdgeBuild.Session;

namespace EdgeBuild.Tests.Quantization;

/// <summary>
/// Precision=Auto (issue 13): the profiler's parsing and the kernel-to-layer attribution on fixed inputs, then the search
/// on models where the answer is not in doubt: no quantizable layer (FP32, one line), a real model whose INT8 kernels are
/// slower (eye-state: FP32), a compute-bound conv stack (INT8, faster in an independent race), and the bad inputs.
/// </summary>
public class AutoPrecisionTests(ITestOutputHelper output)
{
    private static AccuracyJudgement Judge(AccuracyReport a) => AccuracyGate.Judge("test", "Auto", a, 1.0, new OutputFloors(), null);

    [Fact]
    public void ProfileParsingSkipsWarmUpRunsAndTakesTheMedianPerRun()
    {
        // Three runs: the first is warm-up; node A runs twice in run 2 (its times add up per run); B is preempted once.
        string json = """
        [
          {"cat":"Session","name":"session_initialization","dur":100},
          {"cat":"Node","name":"A_kernel_time","dur":1000,"args":{"op_name":"Conv","provider":"CPUExecutionProvider"}},
          {"cat":"Session","name":"model_run","dur":1000},
          {"cat":"Node","name":"A_kernel_time","dur":10,"args":{"op_name":"Conv","provider":"CPUExecutionProvider"}},
          {"cat":"Node","name":"B_fence_before","dur":0},
          {"cat":"Node","name":"B_kernel_time","dur":5,"args":{"op_name":"Relu","provider":"CPUExecutionProvider"}},
          {"cat":"Session","name":"model_run","dur":20},
          {"cat":"Node","name":"A_kernel_time","dur":6,"args":{"op_name":"Conv","provider":"CPUExecutionProvider"}},
          {"cat":"Node","name":"A_kernel_time","dur":6,"args":{"op_name":"Conv","provider":"CPUExecutionProvider"}},
          {"cat":"Node","name":"B_kernel_time","dur":500,"args":{"op_name":"Relu","provider":"CPUExecutionProvider"}},
          {"cat":"Session","name":"model_run","dur":520},
          {"cat":"Node","name":"A_kernel_time","dur":14,"args":{"op_name":"Conv","provider":"CPUExecutionProvider"}},
          {"cat":"Node","name":"B_kernel_time","dur":7,"args":{"op_name":"Relu","provider":"CPUExecutionProvider"}},
          {"cat":"Session","name":"model_run","dur":21}
        ]
        """;
        var times = NodeProfile.Parse(json, skipRuns: 1);
        Assert.Equal(["A", "B"], times.Select(t => t.Node));
        Assert.Equal(12, times[0].Microseconds);   // runs 10, 12, 14
        Assert.Equal(7, times[1].Microseconds);    // runs 5, 500, 7: the preempted run does not move the median
        Assert.Equal("Conv", times[0].OpType);
        Assert.Equal("CPUExecutionProvider", times[0].Provider);
    }

    [Fact]
    public void KernelsAreAttributedToTheLayerTheyComputeWhateverOnnxRuntimeCalledThem()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 4, 8, 8);
        var c = b.Graph.AddNode("Conv", [x, b.Weight("w", [4, 4, 3, 3])], ["conv_out"], "", "Conv_0",
            [Ir.Attribute.Of("kernel_shape", [3L, 3L]), Ir.Attribute.Of("pads", [1L, 1L, 1L, 1L])]).Output0;
        var r = b.Graph.AddNode("Relu", [c], ["97"], "", "Relu_1").Output0;
        var m = b.Graph.AddNode("MatMul", [b.Op("Reshape", [r, b.ConstInts("shape", 1, 256)], "flat"), b.Weight("fc", [256, 10])], ["logits"], "", "").Output0;
        b.Output(m);
        var times = AutoPrecisionSearch.Attribute(b.Model,
        [
            new NodeTime("97_nchwc", "Conv", "CPUExecutionProvider", 10),          // Conv+Relu fused, named after the Relu's output
            new NodeTime("Conv_0_token_4", "QLinearConv", "CPUExecutionProvider", 3), // and under its own name
            new NodeTime("ReorderOutput_token_52", "ReorderOutput", "CPUExecutionProvider", 2),
            new NodeTime("logits", "MatMul", "CPUExecutionProvider", 4),            // an unnamed node by its output
            new NodeTime("flat", "Reshape", "CPUExecutionProvider", 1),             // not a layer, and nothing fuses a Reshape into a conv
        ]);
        Assert.Equal(13, times["Conv_0"]);
        Assert.Equal(4, times["logits"]);
        Assert.Equal(2, times.Count);
    }

    [Fact]
    public void AFusedKernelNamedOriginalSlashFusionBelongsToItsOriginalLayer()
    {
        // ONNX Runtime 1.32 names MatMul+Add fused into Gemm "MatMul_214/MatMulAddFusion"; the exporter's own '/' stays.
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 16);
        var first = b.Graph.AddNode("MatMul", [x, b.Weight("w1", [16, 16])], ["h"], "", "MatMul_214").Output0;
        var second = b.Graph.AddNode("MatMul", [first, b.Weight("w2", [16, 4])], ["y"], "", "block/dense/MatMul").Output0;
        b.Output(second);
        var times = AutoPrecisionSearch.Attribute(b.Model,
        [
            new NodeTime("MatMul_214/MatMulAddFusion", "Gemm", "CPUExecutionProvider", 7),
            new NodeTime("block/dense/MatMul", "MatMul", "CPUExecutionProvider", 3),
        ]);
        Assert.Equal(7, times["MatMul_214"]);
        Assert.Equal(3, times["block/dense/MatMul"]);
    }

    [Fact]
    public void DynamicKernelsAreTheirLayersAndTheSharedInputQuantizationIsSplitBetweenItsReaders()
    {
        // Two MatMuls read one input: dynamic INT8 quantizes that input once (one DynamicQuantizeLinear) for both.
        var b = new ModelBuilder(seed: 5);
        var x = b.Input("x", 1, 32);
        var left = b.Graph.AddNode("MatMul", [x, b.Weight("wl", [32, 32])], ["left"], "", "left_mm").Output0;
        var right = b.Graph.AddNode("MatMul", [x, b.Weight("wr", [32, 32])], ["right"], "", "right_mm").Output0;
        b.Output(b.Op("Add", [left, right], "y"));
        var model = b.Model;
        byte[] floatBytes = OnnxExporter.ToBytes(model);
        var report = ModelQuantizer.Quantize(model, new QuantizeOptions { Mode = QuantizationMode.Int8Dynamic }, null);
        Assert.Equal(2, report.Layers.Count(l => l.Precision == "Int8"));
        var dql = Assert.Single(model.Graph.Nodes, n => n.OpType == "DynamicQuantizeLinear");
        var scaled = model.Graph.Nodes.First(n => n.OpType == "Mul" && n.Name.StartsWith("left_mm_", StringComparison.Ordinal));
        var times = AutoPrecisionSearch.AttributeDynamic(model,
        [
            new NodeTime(dql.Name, "DynamicQuantizeLinear", "CPUExecutionProvider", 10),
            new NodeTime("left_mm_int32", "MatMulInteger", "CPUExecutionProvider", 5),
            new NodeTime(scaled.Name, "Mul", "CPUExecutionProvider", 1),
            new NodeTime("right_mm_int32_token_3", "DynamicQuantizeMatMul", "CPUExecutionProvider", 7),
            new NodeTime("y", "Add", "CPUExecutionProvider", 2),   // the float Add is no layer's
        ], ["left_mm", "right_mm"]);
        Assert.Equal(11, times["left_mm"]);    // 5 + 1 + half of 10
        Assert.Equal(12, times["right_mm"]);   // 7 + half of 10
        Assert.Equal(2, times.Count);

        // The real profile of the same model lands on the same two layers and nothing else.
        var feed = ListDataSource.Random("x", [1, 32], 1).Samples().First();
        var profiled = AutoPrecisionSearch.AttributeDynamic(model, NodeProfile.Measure(OnnxExporter.ToBytes(model), feed, runs: 5), ["left_mm", "right_mm"]);
        Assert.Equal(["left_mm", "right_mm"], profiled.Keys.Order(StringComparer.Ordinal));

        // Profiled in turn with the float model (as Auto compares them), each model keeps its own kernels.
        var both = NodeProfile.Measure([floatBytes, OnnxExporter.ToBytes(model)], feed, runs: 5);
        Assert.Equal(2, both.Count);
        Assert.DoesNotContain(both[0], t => t.OpType is "MatMulInteger" or "DynamicQuantizeLinear" or "DynamicQuantizeMatMul");
        Assert.Equal(["left_mm", "right_mm"], AutoPrecisionSearch.AttributeDynamic(model, both[1], ["left_mm", "right_mm"]).Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void TheScreenSpendsTheWholeHeldOutSetOnlyOnCandidatesItDoesNotAlreadyCallMissed()
    {
        var b = new ModelBuilder(seed: 3);
        var x = b.Input("x", 1, 8);
        b.Output(b.Op("Relu", [x], "y"));
        byte[] fp32 = OnnxExporter.ToBytes(b.Model);
        var heldOut = ListDataSource.Random("x", [1, 8], 40, seed: 4);
        var exact = AccuracyEvaluator.CachedReference(fp32, heldOut, TaskKind.Generic);
        var asked = new List<int>();
        var screened = MixedPrecisionSearch.Screened((bytes, n) => { asked.Add(n); return exact(bytes, n); }, Judge);

        var same = screened(fp32, 40);   // the reference itself: no loss, judged at 12, 24, then on all 40
        Assert.Equal([MixedPrecisionSearch.ScreenSamples, 2 * MixedPrecisionSearch.ScreenSamples, 40], asked);
        Assert.Equal(40, same.Samples);

        // A candidate that negates the output misses on the first samples already: the full set is not spent on it.
        asked.Clear();
        var nb = new ModelBuilder(seed: 3);
        nb.Output(nb.Op("Neg", [nb.Op("Relu", [nb.Input("x", 1, 8)], "r")], "y"));
        var wrong = screened(OnnxExporter.ToBytes(nb.Model), 40);
        Assert.Equal([MixedPrecisionSearch.ScreenSamples], asked);
        Assert.Equal(AccuracyVerdict.Missed, Judge(wrong).Verdict);

        // The scorer keeps the last candidate's outputs for its next, longer score: another candidate's never mix in.
        byte[] negated = OnnxExporter.ToBytes(nb.Model);
        exact(fp32, 12);
        var afterOther = exact(negated, 40);
        var fresh = AccuracyEvaluator.CachedReference(fp32, heldOut, TaskKind.Generic)(negated, 40);
        Assert.Equal(fresh.LossPercent, afterOther.LossPercent);
        Assert.Equal(fresh.Loss, afterOther.Loss);
        exact(negated, 12);
        Assert.Equal(fresh.LossPercent, exact(negated, 40).LossPercent);

        // Too few samples to screen: scored once.
        asked.Clear();
        screened(fp32, 20);
        Assert.Equal([20], asked);
    }

    [Theory]
    [InlineData(0.983, 1.000, 0.983)]   // the A/A pair 1.7 % apart: a candidate must be more than 1.7 % faster
    [InlineData(0.998, 1.006, 0.994)]   // the band's larger side counts, whichever way it leans
    [InlineData(1.000, 1.000, 1.000)]
    public void ACandidateIsFasterOnlyBeyondTheAaBandMirroredUnder1(double noiseLow, double noiseHigh, double fasterBelow)
    {
        var race = new RaceReport([], "thread CPU clock", 100, noiseLow, noiseHigh, "x=1x8");
        Assert.Equal(fasterBelow, race.FasterBelow, 9);
    }

    [Fact]
    public void TheMedianIntervalHoldsTheMedianAndWidensWithFewerRuns()
    {
        var (median, low, high) = Quantiles.Of(Enumerable.Range(1, 101).Select(i => (double)i).ToList(), 0.5);
        Assert.Equal(51, median);
        Assert.InRange(low, 40, 50);
        Assert.InRange(high, 52, 62);
        var (_, fewLow, fewHigh) = Quantiles.Of(Enumerable.Range(1, 11).Select(i => (double)i).ToList(), 0.5);
        Assert.True(fewHigh - fewLow > (high - low) / 101.0 * 11, "a short race must give a relatively wider interval");
    }

    [Fact]
    public void AModelWithNoQuantizableLayerStaysFp32AndSaysSoInOneLine()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 8);
        b.Output(b.Op("Sigmoid", [b.Op("Add", [b.Op("Relu", [x], "r"), b.Const("one", [1], 1f)], "a")], "y"));
        byte[] fp32 = OnnxExporter.ToBytes(b.Model);
        var data = ListDataSource.Random("x", [1, 8], 8);
        var auto = AutoPrecisionSearch.Run(fp32, new QuantizeOptions(), data, ListDataSource.Random("x", [1, 8], 30, seed: 500), TaskKind.Generic, 1.0, Judge);
        Assert.Equal("Fp32", auto.Choice);
        Assert.Contains("no layer of this model can be quantized", auto.Summary);
        Assert.DoesNotContain('\n', auto.Summary);
        Assert.Equal(b.Model.Graph.Nodes.Select(n => n.OpType), auto.Model.Graph.Nodes.Select(n => n.OpType));
    }

    /// <summary>
    /// A recurrent net's pattern (Silero VAD): every weighted layer inside If branches, nothing in the main graph. The line
    /// must not claim the model has no MatMul: it names the layers and that control-flow bodies are not quantized.
    /// </summary>
    [Fact]
    public void LayersOnlyInsideIfBranchesStayFp32AndTheLineSaysWhere()
    {
        var b = new ModelBuilder(seed: 5);
        var x = b.Input("x", 1, 8);
        var cond = b.Graph.AddInitializer("cond", Tensor.FromRaw(DataType.Bool, [], [1]));
        var thenBranch = new Graph("then", b.Graph);
        var w = thenBranch.AddNode("Constant", [], ["w"], "", "w_node", [Ir.Attribute.Of("value", ModelBuilder.RandomInput([8, 8], seed: 3))]).Output0;
        var product = thenBranch.AddNode("MatMul", [x, w], ["product"], "", "matmul").Output0;
        product.Type = new TensorType(DataType.Float, Shape.Of(1, 8));
        thenBranch.AddOutput(product);
        var elseBranch = new Graph("else", b.Graph);
        var rectified = elseBranch.AddNode("Relu", [x], ["rectified"]).Output0;
        rectified.Type = new TensorType(DataType.Float, Shape.Of(1, 8));
        elseBranch.AddOutput(rectified);
        var branch = b.Graph.AddNode("If", [cond], ["branch"], "", "if",
            [new Ir.Attribute("then_branch", AttributeKind.Graph) { Graph = thenBranch }, new Ir.Attribute("else_branch", AttributeKind.Graph) { Graph = elseBranch }]).Output0;
        branch.Type = new TensorType(DataType.Float, Shape.Of(1, 8));
        b.Output(b.Op("Sigmoid", [branch], "y"));
        byte[] fp32 = OnnxExporter.ToBytes(b.Model);
        var auto = AutoPrecisionSearch.Run(fp32, new QuantizeOptions(), ListDataSource.Random("x", [1, 8], 8), ListDataSource.Random("x", [1, 8], 30, seed: 500), TaskKind.Generic, 1.0, Judge);
        output.WriteLine(auto.Summary);
        Assert.Equal("Fp32", auto.Choice);
        Assert.Contains("1 compute layers (MatMul 1) sit inside If/Loop/Scan bodies", auto.Summary);
        Assert.DoesNotContain("no Conv, MatMul", auto.Summary);
        Assert.DoesNotContain('\n', auto.Summary);
    }

    /// <summary>Six conv layers, a sigmoid score map and its peak mask (map == MaxPool(map)) multiplied in: M-LSD's output pattern.</summary>
    private static (byte[] Fp32, ListDataSource Calibration, ListDataSource HeldOut) PeakMaskModel()
    {
        var b = new ModelBuilder(seed: 11);
        var x = b.Input("x", 1, 8, 24, 24);
        var h = x;
        for (int i = 0; i < 6; i++) h = b.Op("Relu", [b.Conv(h, $"c{i}", 16, i == 0 ? 8 : 16)], $"r{i}");
        var map = b.Op("Sigmoid", [b.Conv(h, "head", 1, 16)], "map");
        var pooled = b.Op("MaxPool", [map], "pooled", Ir.Attribute.Of("kernel_shape", [3L, 3L]), Ir.Attribute.Of("pads", [1L, 1L, 1L, 1L]));
        var peaks = b.Op("Cast", [b.Op("Equal", [map, pooled], "is_peak")], "peak_mask", Ir.Attribute.Of("to", (long)DataType.Float));
        b.Output(b.Op("Mul", [map, peaks], "scores"));
        byte[] fp32 = OnnxExporter.ToBytes(b.Model);
        var calibration = ListDataSource.Random("x", [1, 8, 24, 24], 8);
        var heldOut = ListDataSource.Random("x", [1, 8, 24, 24], 30, seed: 900);
        return (fp32, calibration, heldOut);
    }

    /// <summary>
    /// M-LSD's output pattern: a score map multiplied by its own peak mask (map == MaxPool(map)). Any rounding upstream
    /// moves peaks, so the loss stays far over the budget however many layers return to FP32; the search gives up after
    /// a few steps with a line that says so instead of evaluating ever more layers.
    /// </summary>
    [Fact]
    public void ALossThatDoesNotFallAsLayersReturnToFp32StopsTheSearchEarly()
    {
        var (fp32, calibration, heldOut) = PeakMaskModel();
        var search = MixedPrecisionSearch.Run(fp32, new QuantizeOptions { Mode = QuantizationMode.Int8Static }, calibration, heldOut, 1.0, Judge,
            AccuracyEvaluator.CachedReference(fp32, heldOut, TaskKind.Generic), line => output.WriteLine(line));
        output.WriteLine($"loss {search.Accuracy.LossPercent:F2} %, {search.KeptInFp32.Count} of {search.Ranking.Count} layers kept in FP32, {search.Quantizations} quantizations");
        Assert.NotNull(search.GaveUp);
        Assert.Contains("no small set of layers holds the error", search.GaveUp);
        Assert.True(search.KeptInFp32.Count < search.Ranking.Count, "the search returned every layer to FP32 instead of stopping");
        Assert.True(search.Quantizations <= 1 + search.Ranking.Count + MixedPrecisionSearch.NoProgressSteps, $"{search.Quantizations} quantizations");
    }

    /// <summary>
    /// A search whose time is spent judges no more candidates: the peak-mask model's budget search (which would probe
    /// every layer and step through fallbacks) stops at once, ships FP32, and the summary says why; the same model with
    /// time goes through its probes.
    /// </summary>
    [Fact]
    public void ASearchWhoseTimeIsSpentRacesWhatItHasAndSaysSo()
    {
        var (fp32, calibration, heldOut) = PeakMaskModel();
        var lines = new List<string>();
        var spent = AutoPrecisionSearch.Run(fp32, new QuantizeOptions(), calibration, heldOut, TaskKind.Generic, 1.0, Judge, lines.Add, deadline: DateTime.UtcNow);
        output.WriteLine(spent.Summary);
        Assert.Equal("Fp32", spent.Choice);
        Assert.Contains("the search's time was spent", spent.Summary);
        Assert.DoesNotContain(lines, l => l.StartsWith("sensitivity ", StringComparison.Ordinal));
        Assert.DoesNotContain('\n', spent.Summary);

        var timely = AutoPrecisionSearch.Run(fp32, new QuantizeOptions(), calibration, heldOut, TaskKind.Generic, 1.0, Judge, lines.Add);
        Assert.DoesNotContain("the search's time was spent", timely.Summary);
        Assert.Contains(lines, l => l.StartsWith("sensitivity ", StringComparison.Ordinal));
    }

    /// <summary>A made-up profile of the model's convolutions: the later a layer, the more its INT8 kernel saves (the head saves most).</summary>
    private static (List<string> Layers, Dictionary<string, double> Savings, double Total) MadeUpProfile(byte[] fp32)
    {
        var layers = OnnxImporter.Parse(fp32).Graph.Nodes.Where(n => n.OpType == "Conv").Select(NodePatterns.NameOf).ToList();
        var savings = layers.Select((n, i) => (n, (double)(i + 1))).ToDictionary(p => p.n, p => p.Item2, StringComparer.Ordinal);
        return (layers, savings, savings.Values.Sum());
    }

    /// <summary>
    /// The same peak-mask pattern with the caller's profile: the layers that save the most are probed first, and once
    /// those that miss the budget on their own leave too little to gain, probing stops with a line that says so; the
    /// layers saving least are never probed.
    /// </summary>
    [Fact]
    public void ProbingStopsOnceLayersThatMissAloneLeaveTooLittleToGain()
    {
        var (fp32, calibration, heldOut) = PeakMaskModel();
        var (layers, savings, total) = MadeUpProfile(fp32);
        var search = MixedPrecisionSearch.Run(fp32, new QuantizeOptions { Mode = QuantizationMode.Int8Static }, calibration, heldOut, 1.0, Judge,
            AccuracyEvaluator.CachedReference(fp32, heldOut, TaskKind.Generic), line => output.WriteLine(line),
            worthGoingOn: kept => savings.Where(s => !kept.Contains(s.Key)).Sum(s => s.Value) >= 0.5 * total, probeOrder: savings);
        foreach (var r in search.Ranking) output.WriteLine($"{r.Node}: {r.LossPercent:F2} % alone");
        Assert.NotNull(search.GaveUp);
        Assert.Contains("miss the budget with only themselves in INT8", search.GaveUp);
        Assert.Equal(layers[^1], search.Ranking[0].Node);
        Assert.True(search.Ranking.Count < layers.Count, $"every one of the {layers.Count} layers was probed");
        Assert.DoesNotContain(layers[0], search.Ranking.Select(r => r.Node));
        Assert.Empty(search.KeptInFp32);
        Assert.False(search.Judgement!.AcceptableForSearch);
    }

    [Fact]
    public void NoProbeRunsWhenReturningEvenTheLayerThatSavesLeastLeavesTooLittleToGain()
    {
        var (fp32, calibration, heldOut) = PeakMaskModel();
        var (layers, savings, total) = MadeUpProfile(fp32);
        // Worth going on only while nothing is returned: the gain is in all the layers together.
        bool WorthGoingOn(IReadOnlyCollection<string> kept) => savings.Where(s => !kept.Contains(s.Key)).Sum(s => s.Value) > total - 0.5;
        var search = MixedPrecisionSearch.Run(fp32, new QuantizeOptions { Mode = QuantizationMode.Int8Static }, calibration, heldOut, 1.0, Judge,
            ScoreByFloatConvs(4), line => output.WriteLine(line), worthGoingOn: WorthGoingOn, probeOrder: savings);
        Assert.Contains($"returning even the one that saves least ({layers[0]})", search.GaveUp);
        Assert.Empty(search.Ranking);
        Assert.Equal(1, search.Quantizations);
        Assert.Empty(search.KeptInFp32);
        Assert.False(search.Judgement!.AcceptableForSearch);

        // With a layer that saves nothing (its return costs no gain), the search goes on to probe.
        savings[layers[0]] = 0;
        var probing = MixedPrecisionSearch.Run(fp32, new QuantizeOptions { Mode = QuantizationMode.Int8Static }, calibration, heldOut, 1.0, Judge,
            ScoreByFloatConvs(4), line => output.WriteLine(line), worthGoingOn: kept => savings.Where(s => !kept.Contains(s.Key)).Sum(s => s.Value) >= total - layers.Count - 1,
            probeOrder: savings);
        Assert.NotEmpty(probing.Ranking);
    }

    [Fact]
    public void LayersNotProbedInTimeFollowTheProbedOnesByTheirSqnrMeasuredThen()
    {
        var (fp32, calibration, heldOut) = PeakMaskModel();
        var table = EdgeBuild.Quantization.Calibration.CalibrationTable.Compute(OnnxImporter.Parse(fp32), calibration, new QuantizeOptions(), statistics: true);
        var options = new QuantizeOptions { Mode = QuantizationMode.Int8Static, CalibratedRanges = table.Ranges, Statistics = table.Statistics };
        var lines = new List<string>();
        // The deadline has passed before the first probe: every layer is ranked by the SQNR measured for the purpose.
        var search = MixedPrecisionSearch.Run(fp32, options, calibration, heldOut, 1.0, Judge, ScoreByFloatConvs(4), lines.Add,
            probeDeadline: DateTime.UtcNow.AddDays(-1));
        int convs = OnnxImporter.Parse(fp32).Graph.Nodes.Count(n => n.OpType == "Conv");
        Assert.Equal(convs, search.Ranking.Count);
        Assert.All(search.Ranking, r => Assert.True(double.IsNaN(r.LossPercent)));
        Assert.All(search.Ranking, r => Assert.True(double.IsFinite(r.WorstOutputSqnrDb), $"{r.Node}: no SQNR"));
        Assert.Equal(search.Ranking.Select(r => r.WorstOutputSqnrDb).Order(), search.Ranking.Select(r => r.WorstOutputSqnrDb));
        Assert.Contains(lines, l => l.StartsWith("measuring the per-layer SQNR", StringComparison.Ordinal));
    }

    /// <summary>
    /// A scorer that knows only how many convolutions a candidate left in float: with 0-1 the loss misses the 1 % budget,
    /// with 2-3 it is acceptable but unproven (0.8 % [0.5, 1.2]), with 4 or more it is met (or, when
    /// <paramref name="metFrom"/> is past the layer count, never). The search's steps are then exactly what is tested.
    /// </summary>
    private static Func<byte[], int, AccuracyReport> ScoreByFloatConvs(int metFrom) => (bytes, samples) =>
    {
        var graph = OnnxImporter.Parse(bytes).Graph;
        int floatConvs = graph.Nodes.Count(n => n.OpType == "Conv" && n.Input(1)?.Producer?.OpType != "DequantizeLinear");
        var loss = floatConvs < 2 ? new Estimate(5, 4, 6) : floatConvs < metFrom ? new Estimate(0.8, 0.5, 1.2) : new Estimate(0.3, 0.2, 0.5);
        return new AccuracyReport(TaskKind.Generic, samples, "test loss", loss.Value, loss, "bootstrap", []);
    };

    [Theory]
    [InlineData(false, 4, 2)]   // Mixed: the first acceptable model
    [InlineData(true, 4, 4)]    // Auto: on to the first met one
    [InlineData(true, 99, 2)]   // met never comes: the first acceptable one, after at most four more steps
    public void AutoGoesOnPastAnUnprovenVerdictToAMetOneAndFallsBackToTheFirstAcceptable(bool provenOnly, int metFrom, int expectedFloat)
    {
        var (fp32, calibration, heldOut) = PeakMaskModel();
        var search = MixedPrecisionSearch.Run(fp32, new QuantizeOptions { Mode = QuantizationMode.Int8Static }, calibration, heldOut, 1.0, Judge,
            ScoreByFloatConvs(metFrom), line => output.WriteLine(line), provenOnly: provenOnly);
        output.WriteLine($"{search.KeptInFp32.Count} kept, {search.Quantizations} quantizations, {search.Judgement!.Verdict}");
        Assert.Equal(expectedFloat, search.KeptInFp32.Count);
        Assert.True(search.Judgement.AcceptableForSearch);
        Assert.Equal(expectedFloat >= metFrom ? AccuracyVerdict.Met : AccuracyVerdict.Unproven, search.Judgement.Verdict);
        int layers = search.Ranking.Count;
        // All-INT8, one probe per layer, then at most six steps (1, 2, 3, 4, 6, 8 layers).
        Assert.True(search.Quantizations <= 1 + layers + 6, $"{search.Quantizations} quantizations for {layers} layers");
    }

    [Fact]
    public void AComputeBoundConvStackShipsInt8ThatAnIndependentRaceFindsFaster()
    {
        // Three 3x3 convolutions of 64 channels on 48x48: the work is in the convolutions, where int8 kernels do 4x the math per instruction.
        var b = new ModelBuilder(seed: 31);
        var x = b.Input("x", 1, 32, 48, 48);
        var h = b.Op("Relu", [b.Conv(x, "c1", 64, 32)], "r1");
        h = b.Op("Relu", [b.Conv(h, "c2", 64, 64)], "r2");
        b.Output(b.Conv(h, "c3", 64, 64));
        byte[] fp32 = OnnxExporter.ToBytes(b.Model);
        var calibration = ListDataSource.Random("x", [1, 32, 48, 48], 8, seed: 1);
        var heldOut = ListDataSource.Random("x", [1, 32, 48, 48], 30, seed: 900);
        var auto = AutoPrecisionSearch.Run(fp32, new QuantizeOptions(), calibration, heldOut, TaskKind.Embedding, 1.0, Judge);
        output.WriteLine(auto.Summary);
        foreach (var l in auto.Layers) output.WriteLine($"{l.Node} {l.Fp32Microseconds} -> {l.Int8Microseconds} µs: {l.Precision} ({l.Reason})");
        Assert.NotEqual("Fp32", auto.Choice);
        Assert.True(auto.Judgement!.AcceptableForSearch, auto.Accuracy!.Summary);

        var check = LatencyRace.Run([("FP32", fp32), ("Auto", OnnxExporter.ToBytes(auto.Model))], heldOut.Samples().First(), seconds: 2);
        output.WriteLine(check.Conditions + ": " + check.Results[1]);
        Assert.True(check.Results[1].Ratio < 1.0, $"Auto's {auto.Choice} model ran at {check.Results[1]} of FP32 in an independent race");
    }

    [SkippableFact]
    public void OnARealModelWhoseInt8KernelsAreSlowerAutoShipsFp32()
    {
        // eye-state: 24x24 grey crops, tiny convolutions where QLinearConv and its reorders cost more than the float kernels save.
        string data = TestData.Require();
        var spec = RealModelSpec.Get("eye-state");
        var model = OnnxImporter.Load(TestData.Model("eye-state"));
        OptimizationPipeline.Run(model, new OptimizeOptions(), OptimizationPipeline.DefaultPasses);
        byte[] fp32 = OnnxExporter.ToBytes(model);
        var photos = spec.Photos(data, 28).Concat(Directory.GetFiles(TestData.Photos("people")).Order(StringComparer.Ordinal)).ToList();
        var heldOut = new RealModelSamples(spec, photos.Take(30), data);
        var calibration = new RealModelSamples(spec, photos.Skip(30), data);
        var auto = AutoPrecisionSearch.Run(fp32, new QuantizeOptions(), calibration, heldOut, TaskKind.Classification, 1.0, Judge);
        output.WriteLine(auto.Summary);
        Assert.Equal("Fp32", auto.Choice);
        Assert.Equal(fp32, OnnxExporter.ToBytes(auto.Model));
        Assert.All(auto.Layers, l => Assert.False(string.IsNullOrWhiteSpace(l.Reason)));
        Assert.Contains(auto.Layers, l => l.Fp32Microseconds is not null && l.Int8Microseconds is not null);
    }

    [Fact]
    public void AutoWithTooFewHeldOutFilesIsAnErrorNamingHowManyAreNeeded()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 4, 8, 8);
        b.Output(b.Conv(x, "c", 4, 4));
        string dir = Directory.CreateTempSubdirectory("edgebuild-auto-").FullName;
        try
        {
            var files = Enumerable.Range(0, 10).Select(i =>
            {
                string path = Path.Combine(dir, $"s{i}.npy");
                NpyFile.Write(path, ModelBuilder.RandomInput([1, 4, 8, 8], i));
                return path;
            }).ToList();
            var options = new CompileOptions { Precision = Precision.Auto, Calibration = files, Evaluation = files.Take(5).ToList() };
            var e = Assert.Throws<EdgeBuildException>(() => QuantizeStep.Run(b.Model, options));
            Assert.Equal(DiagnosticCodes.NotEnoughHeldOutSamples.Code, e.Descriptor.Code);
            Assert.Contains("25 more", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
