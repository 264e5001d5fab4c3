using System.Globalization;
using System.Text.RegularExpressions;
using EdgeBuild.Ir;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Quantization.Operators;

namespace EdgeBuild.Quantization;

/// <summary>One compute layer as Auto saw it: its kernel time in each precision (ONNX Runtime's profiler, µs; null where it ran fused into a neighbour), the precision it got and why.</summary>
public sealed record AutoLayer(string Node, string OpType, double? Fp32Microseconds, double? Int8Microseconds, string Precision, string Reason);

/// <summary>What Precision=Auto chose: the model, what it is (Fp32, Int8 or Mixed), the race that decided it, and every layer's precision with its reason.</summary>
public sealed record AutoPrecisionResult(
    Model Model,
    string Choice,
    QuantizationReport? Report,
    AccuracyReport? Accuracy,
    AccuracyJudgement? Judgement,
    RaceReport Race,
    IReadOnlyList<AutoLayer> Layers,
    IReadOnlyList<LayerSensitivity> KeptForAccuracy,
    int Quantizations,
    string Summary);

/// <summary>
/// Precision=Auto: per-layer INT8 or FP32 chosen by measured latency on ONNX Runtime's CPU provider under the accuracy
/// budget. The calibration runs once (every later quantization takes its ranges). The optimized FP32 model and the
/// all-INT8 model are profiled node by node (<see cref="NodeProfile"/>); a layer stays INT8 only where its int8 kernel
/// ran faster than its float one (QLinearConv against the fused NCHWc Conv, QLinearAdd against an Add fused for free).
/// That choice is profiled again, since every Q/DQ boundary it opens costs, and layers that still do not gain go back
/// to FP32. When the accuracy gate refuses the candidate, <see cref="MixedPrecisionSearch"/> returns its least robust
/// layers to FP32. Finally the candidates and FP32 race interleaved (<see cref="LatencyRace"/>); a quantized model
/// ships only when it is faster than FP32 with 95 % confidence and meets the gate, otherwise the artifact is FP32 and
/// the summary says so. Rules are by measured kernel time and op type, never by model.
/// </summary>
public static partial class AutoPrecisionSearch
{
    /// <summary>A layer counts as faster in INT8 when its int8 kernel takes at most this share of its float kernel's time.</summary>
    public const double GainThreshold = 0.95;

    /// <summary>The budget search stops once the INT8 layers it has left would save less than this share of the FP32 model's kernel time.</summary>
    public const double MinWorthwhileGain = 0.03;

    /// <summary>
    /// Rounds of the race when FP32 is the only contestant left: it decides nothing, it only reports FP32's time and its
    /// A/A band in the summary (the build's own measurement of the artifact follows), so it is kept short.
    /// </summary>
    public const int FloatOnlyRounds = 6;

    /// <summary>How long single-layer accuracy probes may run before the rest of the layers are ranked by their SQNR instead.</summary>
    public static readonly TimeSpan DefaultProbeTime = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long the search may judge candidates (profiles, probes, budget steps, the dynamic branch) before it races what
    /// it has: a build's time does not depend on how a model's noise steers the branches (PP-OCRv4's detector took 37 to
    /// 67 s by which convolutions profiled faster). A branch cut by it says so in the summary; the race and the gate
    /// still judge whatever ships. The compile's quantize step counts its calibration in it (QuantizeStep.AutoSearchTime).
    /// </summary>
    public static readonly TimeSpan DefaultSearchTime = TimeSpan.FromSeconds(45);

    /// <summary>
    /// Runs the search on <paramref name="fp32"/> (optimized float model bytes). <paramref name="dynamicCandidate"/>: race
    /// dynamic INT8 too (only ONNX Runtime runs it; the TFLite and TensorRT targets cannot take it).
    /// </summary>
    public static AutoPrecisionResult Run(byte[] fp32, QuantizeOptions options, ICalibrationDataSource calibration, ICalibrationDataSource heldOut,
        TaskKind task, double budgetPercent, Func<AccuracyReport, AccuracyJudgement> judge, Action<string>? progress = null, double raceSeconds = 3,
        TimeSpan? probeTime = null, bool dynamicCandidate = true, DateTime? deadline = null)
    {
        probeTime ??= DefaultProbeTime;
        var searchDeadline = deadline ?? DateTime.UtcNow + DefaultSearchTime;
        var searchStarted = DateTime.UtcNow;
        double budgetSeconds = Math.Max(0, (searchDeadline - searchStarted).TotalSeconds);
        DateTime ProbeDeadline(TimeSpan time) => DateTime.UtcNow + time < searchDeadline ? DateTime.UtcNow + time : searchDeadline;
        // Whether the search may judge one more candidate; once not, why, for the summary.
        string? cut = null;
        bool InTime(ref string? why)
        {
            if (DateTime.UtcNow <= searchDeadline) return true;
            cut ??= string.Create(CultureInfo.InvariantCulture, $"the search's {budgetSeconds:F0} s budget ran out before every branch was judged");
            why = string.Create(CultureInfo.InvariantCulture, $"the search's time was spent ({(DateTime.UtcNow - searchStarted).TotalSeconds:F0} s of a {budgetSeconds:F0} s budget)");
            return false;
        }
        var floatModel = OnnxImporter.Parse(fp32);
        // Every quantization below takes one calibration of every activation (the caller's, or made here once).
        var shared = options with { Mode = QuantizationMode.Int8Static };
        if (shared.CalibratedRanges is null)
        {
            progress?.Invoke("auto: calibrating every activation once");
            var table = CalibrationTable.Compute(floatModel, calibration, shared, progress, statistics: true);
            shared = shared with { CalibratedRanges = table.Ranges, Statistics = table.Statistics ?? shared.Statistics };
        }
        int quantizations = 0;
        (Model Model, QuantizationReport Report, byte[] Bytes) Quantize(IEnumerable<string> keepFp32)
        {
            quantizations++;
            var m = OnnxImporter.Parse(fp32);
            // The ranges are calibrated and the statistics came with them: the data would only feed the per-layer SQNR,
            // which the budget search measures if its probes run out of time. Without the statistics the first quantization measures them.
            var data = quantizations == 1 && shared.Statistics is null && PostTrainingStatistics.WantedBy(shared) ? calibration : null;
            var r = ModelQuantizer.Quantize(m, shared with { KeepFp32 = [.. shared.KeepFp32, .. keepFp32.Select(MixedPrecisionSearch.Escape)] }, data, quantizations == 1 ? progress : null);
            // The post-training rules' statistics, measured on the first quantization, serve every later one.
            if (shared.Statistics is null && r.Statistics is not null) shared = shared with { Statistics = r.Statistics };
            return (m, r, OnnxExporter.ToBytes(m));
        }

        var feed = (heldOut.Count > 0 ? heldOut : calibration).Samples().First();
        var score = MixedPrecisionSearch.Screened(AccuracyEvaluator.CachedReference(fp32, heldOut, task), judge);
        var all = Quantize([]);
        var int8Layers = all.Report.Layers.Where(l => l.Precision == "Int8").ToList();
        if (int8Layers.Count == 0)
        {
            var alone = LatencyRace.Run([("FP32", fp32)], feed, 0.5, FloatOnlyRounds);
            var layers = all.Report.Layers.Select(l => new AutoLayer(l.Node, l.OpType, null, null, "Fp32", "no INT8 rule covers this op")).ToList();
            return new AutoPrecisionResult(floatModel, "Fp32", null, null, null, alone, layers, [], quantizations, NothingToQuantize(floatModel));
        }

        // Dynamic INT8 (int8 weights, activations quantized at run time) where the caller's targets can take it: on
        // MatMul-heavy models (attention, fully connected heads) ONNX Runtime's MatMulInteger path is where INT8 gains.
        // It needs no calibration, so it is made now and profiled with the others.
        var dynamicOptions = options with { Mode = QuantizationMode.Int8Dynamic, CalibratedRanges = null };
        Model? dynamic = null;
        QuantizationReport? dynamicReport = null;
        byte[] dynamicBytes = [];
        var dynamicLayers = new List<string>();
        if (dynamicCandidate)
        {
            quantizations++;
            dynamic = OnnxImporter.Parse(fp32);
            dynamicReport = ModelQuantizer.Quantize(dynamic, dynamicOptions, null);
            dynamicLayers = dynamicReport.Layers.Where(l => l.Precision == "Int8").Select(l => l.Node).ToList();
            dynamicBytes = OnnxExporter.ToBytes(dynamic);
        }

        // One interleaved profile of every variant: a layer's float and int8 kernels are compared under the same load.
        progress?.Invoke($"auto: profiling FP32, all-INT8 ({int8Layers.Count} layers){(dynamicLayers.Count > 0 ? $" and dynamic INT8 ({dynamicLayers.Count} layers)" : "")} node by node, interleaved");
        var profiles = NodeProfile.Measure(dynamicLayers.Count > 0 ? [fp32, all.Bytes, dynamicBytes] : [fp32, all.Bytes], feed);
        var fp32Times = Attribute(floatModel, profiles[0]);
        var int8Times = Attribute(all.Model, profiles[1]);
        var reasons = new Dictionary<string, string>(StringComparer.Ordinal);
        var slow = new HashSet<string>(StringComparer.Ordinal);
        foreach (var layer in int8Layers)
            if (!Gains(layer.Node, fp32Times, int8Times, out string why)) { slow.Add(layer.Node); reasons[layer.Node] = why; }

        // The float layers now sit between Q/DQ boundaries of their own: profile the choice again and drop what still loses.
        var speed = slow.Count == 0 ? all : Quantize(slow);
        if (slow.Count > 0 && speed.Report.Layers.Any(l => l.Precision == "Int8"))
        {
            // FP32 again beside it, so this comparison too is under one load.
            var pair = NodeProfile.Measure([fp32, speed.Bytes], feed);
            var fp32Again = Attribute(floatModel, pair[0]);
            var again = Attribute(speed.Model, pair[1]);
            var more = speed.Report.Layers.Where(l => l.Precision == "Int8" && !Gains(l.Node, fp32Again, again, out _)).ToList();
            foreach (var l in more)
            {
                Gains(l.Node, fp32Again, again, out string why);
                slow.Add(l.Node);
                reasons[l.Node] = why + " once its neighbours stayed FP32";
            }
            if (more.Count > 0) speed = Quantize(slow);
        }

        // Accuracy: the gate judges the speed candidate; the budget search returns its least robust layers to FP32.
        var candidates = new List<Candidate>();
        IReadOnlyList<LayerSensitivity> keptForAccuracy = [];
        string? gaveUp = null;
        string dynamicNote = "";
        if (speed.Report.Layers.Any(l => l.Precision == "Int8"))
        {
            progress?.Invoke($"auto: accuracy of INT8 on {speed.Report.Layers.Count(l => l.Precision == "Int8")} layers against FP32 on {heldOut.Count} held-out samples");
            var accuracy = score(speed.Bytes, heldOut.Count);
            var judgement = judge(accuracy);
            string? late = null;
            if (!judgement.AcceptableForSearch && !InTime(ref late))
                gaveUp = string.Create(CultureInfo.InvariantCulture, $"INT8 on {speed.Report.Layers.Count(l => l.Precision == "Int8")} layers misses the budget (loss {accuracy.LossPercent:F2} %), and {late}");
            else if (!judgement.AcceptableForSearch)
            {
                var savings = Savings(int8Layers.Select(l => l.Node).Where(n => !slow.Contains(n)), fp32Times, int8Times);
                var search = MixedPrecisionSearch.Run(fp32, shared with { KeepFp32 = [.. shared.KeepFp32, .. slow.Select(MixedPrecisionSearch.Escape)] },
                    calibration, heldOut, budgetPercent, judge, score, progress, probeDeadline: ProbeDeadline(probeTime.Value),
                    worthGoingOn: kept => InTime(ref gaveUp) && WorthGoingOn(savings, kept, fp32Times, ref gaveUp), allInt8Accuracy: accuracy, probeOrder: savings, provenOnly: true);
                quantizations += search.Quantizations;
                gaveUp = Join(search.GaveUp, gaveUp);
                keptForAccuracy = search.KeptInFp32;
                speed = (search.Model, search.Report, OnnxExporter.ToBytes(search.Model));
                accuracy = search.Accuracy;
                judgement = search.Judgement ?? judge(accuracy);
                foreach (var k in keptForAccuracy) reasons[k.Node] = string.Create(CultureInfo.InvariantCulture, $"FP32 for accuracy: {k.LossPercent:F2} % loss with only this layer in INT8");
            }
            if (judgement.AcceptableForSearch && speed.Report.Layers.Any(l => l.Precision == "Int8"))
                candidates.Add(new Candidate(slow.Count + keptForAccuracy.Count == 0 ? "INT8" : "Mixed", speed.Model, speed.Report, speed.Bytes, accuracy, judgement));
        }
        // All-INT8 races too when it differs from the speed choice and holds the budget: the profile cannot see every boundary cost.
        if (slow.Count > 0 && keptForAccuracy.Count == 0 && gaveUp is null)
        {
            var accuracy = score(all.Bytes, heldOut.Count);
            var judgement = judge(accuracy);
            if (judgement.AcceptableForSearch) candidates.Add(new Candidate("INT8", all.Model, all.Report, all.Bytes, accuracy, judgement));
        }

        // The dynamic INT8 branch (made and profiled above).
        IReadOnlyDictionary<string, double> dynamicTimes = new Dictionary<string, double>(StringComparer.Ordinal);
        var dynamicSlow = new HashSet<string>(StringComparer.Ordinal);
        var dynamicReasons = new Dictionary<string, string>(StringComparer.Ordinal);
        if (dynamic is not null && dynamicReport is not null)
        {
            string? dynamicGaveUp = null;
            byte[] bytes = dynamicBytes;
            if (dynamicLayers.Count > 0)
            {
                // Speed first, as for static INT8: a layer whose integer kernels (with the run-time quantization of its
                // input) are not faster than its float kernel stays FP32 before any accuracy is spent on it. On
                // convolution nets ONNX Runtime's ConvInteger has no fast kernel, and this ends the branch at once.
                dynamicTimes = AttributeDynamic(dynamic, profiles[2], dynamicLayers);
                foreach (var node in dynamicLayers)
                    if (!Gains(node, fp32Times, dynamicTimes, out string why)) { dynamicSlow.Add(node); dynamicReasons[node] = why.Replace("INT8 kernel", "dynamic INT8 kernels", StringComparison.Ordinal); }
                string? tooLittle = null;
                if (dynamicSlow.Count == dynamicLayers.Count)
                {
                    dynamicNote = $"; dynamic INT8: no layer's integer kernels ran faster than its FP32 kernel ({dynamicLayers.Count} profiled)";
                    dynamicLayers.Clear();
                }
                else if (!WorthGoingOn(Savings(dynamicLayers.Where(n => !dynamicSlow.Contains(n)), fp32Times, dynamicTimes), [], fp32Times, ref tooLittle, context: ""))
                {
                    // No accuracy is spent on a candidate whose faster kernels could not beat FP32 beyond the noise.
                    dynamicNote = $"; dynamic INT8: {dynamicLayers.Count - dynamicSlow.Count} of {dynamicLayers.Count} layers ran faster, but {tooLittle}";
                    dynamicLayers.Clear();
                }
                else if (dynamicSlow.Count > 0)
                {
                    quantizations++;
                    dynamicOptions = dynamicOptions with { KeepFp32 = [.. dynamicOptions.KeepFp32, .. dynamicSlow.Select(MixedPrecisionSearch.Escape)] };
                    dynamic = OnnxImporter.Parse(fp32);
                    dynamicReport = ModelQuantizer.Quantize(dynamic, dynamicOptions, null);
                    bytes = OnnxExporter.ToBytes(dynamic);
                }
            }
            string? outOfTime = null;
            if (dynamicLayers.Count > 0 && !InTime(ref outOfTime))
            {
                dynamicNote = $"; dynamic INT8: not judged, {outOfTime}";
                dynamicLayers.Clear();
            }
            if (dynamicLayers.Count > 0 && dynamicReport.Layers.Any(l => l.Precision == "Int8"))
            {
                var accuracy = score(bytes, heldOut.Count);
                var judgement = judge(accuracy);
                if (!judgement.AcceptableForSearch)
                {
                    // The same budget search, on the dynamic layers; the race below decides whether what is left still pays.
                    var savings = Savings(dynamicLayers.Where(n => !dynamicSlow.Contains(n)), fp32Times, dynamicTimes);
                    string? notWorth = null;
                    var search = MixedPrecisionSearch.Run(fp32, dynamicOptions, calibration, heldOut,
                        budgetPercent, judge, score, progress, probeDeadline: ProbeDeadline(probeTime.Value / 2),
                        worthGoingOn: kept => InTime(ref notWorth) && WorthGoingOn(savings, kept, fp32Times, ref notWorth), allInt8Accuracy: accuracy, probeOrder: savings, provenOnly: true);
                    quantizations += search.Quantizations;
                    dynamicGaveUp = Join(search.GaveUp, notWorth);
                    (dynamic, dynamicReport, bytes, accuracy) = (search.Model, search.Report, OnnxExporter.ToBytes(search.Model), search.Accuracy);
                    judgement = search.Judgement ?? judge(accuracy);
                }
                if (judgement.AcceptableForSearch && dynamicReport.Layers.Any(l => l.Precision == "Int8"))
                    candidates.Add(new Candidate(DynamicName, dynamic, dynamicReport, bytes, accuracy, judgement));
                else
                    dynamicNote = dynamicGaveUp is not null ? $"; dynamic INT8: {dynamicGaveUp}" : string.Create(CultureInfo.InvariantCulture,
                        $"; dynamic INT8 did not hold the budget or the output floors (loss {accuracy.LossPercent:F2} %, lowest output SQNR {accuracy.Outputs.Select(o => o.SqnrDb).DefaultIfEmpty(double.NaN).Min():F1} dB)");
            }
        }

        progress?.Invoke(candidates.Count == 0 ? "auto: no quantized candidate left; timing FP32" : $"auto: racing FP32 against {candidates.Count} quantized candidate(s)");
        // With no candidate left the race only reports FP32's own time and noise band: the short form, as for a model with nothing to quantize.
        var race = candidates.Count == 0
            ? LatencyRace.Run([("FP32", fp32)], feed, 0.5, FloatOnlyRounds)
            : LatencyRace.Run([("FP32", fp32), .. candidates.Select(c => (c.Name, c.Bytes))], feed, raceSeconds);
        // A candidate wins only when its whole interval is under FP32's time by more than two sessions of FP32 differ
        // (RaceReport.FasterBelow): faster with confidence, not within noise.
        var winner = candidates.Select((c, i) => (Candidate: c, Result: race.Results[i + 1]))
            .Where(x => x.Result.RatioHigh < race.FasterBelow).OrderBy(x => x.Result.Ratio).FirstOrDefault();
        // The verdict names the bound it applied, not only the A/A band it came from.
        string raced = string.Join("; ", race.Results.Skip(1).Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Name} {r.Ratio:F3}x [{r.RatioLow:F3}, {r.RatioHigh:F3}]")))
            + string.Create(CultureInfo.InvariantCulture, $"; a winner's whole interval must be under {race.FasterBelow:F3}x");
        if (winner.Candidate is null)
        {
            var layers = Layers(all.Report, fp32Times, int8Times, _ => "Fp32", n => reasons.GetValueOrDefault(n) is { } r ? r : "INT8 did not make the model faster than FP32 in the race");
            string why = !speed.Report.Layers.Any(l => l.Precision == "Int8") && keptForAccuracy.Count == 0
                ? $"no layer's INT8 kernel ran faster than its FP32 one ({int8Layers.Count} profiled)" + (candidates.Count > 0 ? $", and all-INT8 was not faster beyond the noise ({raced})" : "")
                : candidates.Count == 0
                    ? gaveUp ?? "no quantized candidate held the accuracy budget"
                    : $"no quantized candidate was faster than FP32 beyond the noise ({raced})";
            return new AutoPrecisionResult(floatModel, "Fp32", null, null, null, race, layers, keptForAccuracy, quantizations,
                $"Auto: {why}{dynamicNote}; the artifact is FP32 ({race.Conditions})");
        }
        var chosen = winner.Candidate;
        bool isDynamic = chosen.Name == DynamicName;
        var precisions = chosen.Report.Layers.ToDictionary(l => l.Node, l => l.Precision, StringComparer.Ordinal);
        var chosenLayers = Layers(all.Report, fp32Times, isDynamic ? dynamicTimes : int8Times, n => precisions.GetValueOrDefault(n, "Fp32"),
            n => precisions.GetValueOrDefault(n) == "Int8"
                ? isDynamic ? "INT8 dynamic: int8 weights, activations quantized at run time" + Times(n, fp32Times, dynamicTimes) : string.Create(CultureInfo.InvariantCulture, $"INT8 kernel faster{Times(n, fp32Times, int8Times)}")
                : isDynamic ? dynamicReasons.GetValueOrDefault(n) ?? "no dynamic INT8 rule covers this op (MatMul, Gemm, Conv weights only)" : reasons.GetValueOrDefault(n) ?? "no INT8 rule covers this op here");
        int int8 = chosenLayers.Count(l => l.Precision == "Int8");
        string summary = string.Create(CultureInfo.InvariantCulture,
            $"Auto: {chosen.Name} with {int8} of {chosenLayers.Count} layers in INT8, {winner.Result.Ratio:F2}x FP32 [{winner.Result.RatioLow:F2}, {winner.Result.RatioHigh:F2}] ({race.Conditions})")
            + (cut is null ? "" : $"; {cut}");
        return new AutoPrecisionResult(chosen.Model, isDynamic ? "Int8Dynamic" : int8 == chosenLayers.Count ? "Int8" : "Mixed", chosen.Report, chosen.Accuracy, chosen.Judgement,
            race, chosenLayers, keptForAccuracy, quantizations, summary);
    }

    private const string DynamicName = "INT8 dynamic";

    /// <summary>What each layer's INT8 kernels save against its FP32 kernel (µs, 0 where they do not).</summary>
    private static Dictionary<string, double> Savings(IEnumerable<string> layers, IReadOnlyDictionary<string, double> fp32, IReadOnlyDictionary<string, double> int8) =>
        layers.Distinct(StringComparer.Ordinal).ToDictionary(n => n, n => Math.Max(0, fp32.GetValueOrDefault(n) - int8.GetValueOrDefault(n)), StringComparer.Ordinal);

    /// <summary>
    /// Whether returning <paramref name="kept"/> to FP32 still leaves INT8 kernels that save <see cref="MinWorthwhileGain"/>
    /// of the FP32 model's kernel time: returning layers gives back their gain, and once what is left could not beat FP32
    /// beyond the noise the search stops (<paramref name="why"/> says so).
    /// </summary>
    private static bool WorthGoingOn(IReadOnlyDictionary<string, double> savings, IReadOnlyCollection<string> kept, IReadOnlyDictionary<string, double> fp32, ref string? why,
        string context = "the accuracy budget needs so many layers in FP32 that ")
    {
        double total = fp32.Values.Sum();
        double left = savings.Where(s => !kept.Contains(s.Key)).Sum(s => s.Value);
        if (left >= MinWorthwhileGain * total) return true;
        why = string.Create(CultureInfo.InvariantCulture,
            $"{context}the INT8 kernels left would save {left:F0} µs of the FP32 model's {total:F0} µs (under {MinWorthwhileGain:P0})");
        return false;
    }

    private static string? Join(string? first, string? second) => first is null ? second : second is null ? first : $"{first}: {second}";

    /// <summary>
    /// Why a model has no INT8 layer, in one line. Compute ops inside If/Loop/Scan bodies (a recurrent net's branches per
    /// sample rate) are named apart: the quantizer does not enter control-flow bodies, and "no Conv" would be untrue.
    /// </summary>
    internal static string NothingToQuantize(Model model)
    {
        var nested = model.Graph.SelfAndSubgraphs().Where(g => g != model.Graph).SelectMany(g => g.Nodes)
            .Where(n => QuantizerRegistry.IsComputeOp(n) || n.OpType is "LSTM" or "GRU" or "RNN").ToList();
        if (nested.Count == 0)
            return "Auto: no layer of this model can be quantized (no Conv, MatMul, Gemm or other op with an INT8 rule); the artifact is FP32";
        string ops = string.Join(", ", nested.GroupBy(n => n.OpType).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}"));
        return $"Auto: no layer of this model can be quantized: its {nested.Count} compute layers ({ops}) sit inside If/Loop/Scan bodies, which INT8 quantization does not enter, and none is in the main graph; the artifact is FP32";
    }

    private sealed record Candidate(string Name, Model Model, QuantizationReport Report, byte[] Bytes, AccuracyReport Accuracy, AccuracyJudgement Judgement);

    private static List<AutoLayer> Layers(QuantizationReport all, IReadOnlyDictionary<string, double> fp32, IReadOnlyDictionary<string, double> int8,
        Func<string, string> precision, Func<string, string> reason) =>
        all.Layers.Select(l => new AutoLayer(l.Node, l.OpType, fp32.TryGetValue(l.Node, out var f) ? Math.Round(f, 1) : null,
            int8.TryGetValue(l.Node, out var q) ? Math.Round(q, 1) : null, precision(l.Node),
            l.Precision == "Int8" ? reason(l.Node) : "no INT8 rule covers this op here")).ToList();

    private static string Times(string node, IReadOnlyDictionary<string, double> fp32, IReadOnlyDictionary<string, double> int8) =>
        string.Create(CultureInfo.InvariantCulture, $" ({(fp32.TryGetValue(node, out var f) ? $"{f:F1}" : "fused")} -> {(int8.TryGetValue(node, out var q) ? $"{q:F1}" : "fused")} µs)");

    /// <summary>Whether a layer's INT8 kernel beat its float one. A layer ONNX Runtime fused into a float neighbour costs nothing in FP32, so its own INT8 kernel is a loss.</summary>
    private static bool Gains(string node, IReadOnlyDictionary<string, double> fp32, IReadOnlyDictionary<string, double> int8, out string why)
    {
        bool hasF = fp32.TryGetValue(node, out double f);
        bool hasQ = int8.TryGetValue(node, out double q);
        why = "";
        if (!hasQ) return true;   // fused into its int8 neighbour: free
        if (!hasF)
        {
            why = string.Create(CultureInfo.InvariantCulture, $"FP32: fused into a float kernel for free, {q:F1} µs as its own INT8 kernel");
            return false;
        }
        if (q <= f * GainThreshold) return true;
        why = string.Create(CultureInfo.InvariantCulture, $"FP32: INT8 kernel not faster ({f:F1} -> {q:F1} µs)");
        return false;
    }

    /// <summary>
    /// Profiled kernel times per compute layer of <paramref name="model"/>. ONNX Runtime names a kernel after the node
    /// or the output it came from, with suffixes of its own transformations ("97_nchwc", "Conv_0_token_4"); a kernel
    /// named after the output of an activation it absorbed belongs to the layer that activation follows.
    /// </summary>
    internal static Dictionary<string, double> Attribute(Model model, IReadOnlyList<NodeTime> times)
    {
        var graph = model.Graph;
        var byName = new Dictionary<string, Node>(StringComparer.Ordinal);
        foreach (var n in graph.Nodes)
        {
            if (n.Name.Length > 0) byName.TryAdd(n.Name, n);
            foreach (var o in n.Outputs)
                if (o is not null && o.Name.Length > 0) byName.TryAdd(o.Name, n);
        }
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var t in times)
        {
            string name = t.Node;
            string stripped;
            while ((stripped = OrtSuffix().Replace(name, "")) != name) name = stripped;
            if (!byName.TryGetValue(name, out var node) && !byName.TryGetValue(FusedFrom(name), out node)) continue;
            // Walk back over an activation fused into the layer before it (Conv+Relu named after the Relu's output).
            for (int step = 0; step < 3 && !QuantizerRegistry.IsComputeOp(node) && FusesIntoProducer.Contains(node.OpType) && node.Input(0)?.Producer is Node producer; step++)
                node = producer;
            if (node.OpType is "QuantizeLinear" or "DequantizeLinear" || !QuantizerRegistry.IsComputeOp(node)) continue;
            string key = NodePatterns.NameOf(node);
            result[key] = result.GetValueOrDefault(key) + t.Microseconds;
        }
        return result;
    }

    /// <summary>
    /// Profiled time per layer of a dynamically quantized model. A rewritten layer is a group of kernels named after it
    /// (its integer kernel, Cast, scale Mul and bias Add, or ONNX Runtime's fused DynamicQuantizeMatMul); the
    /// DynamicQuantizeLinear of an input serves every layer that reads it, so its time is shared among them.
    /// </summary>
    internal static Dictionary<string, double> AttributeDynamic(Model model, IReadOnlyList<NodeTime> times, IReadOnlyCollection<string> layers)
    {
        var byName = new Dictionary<string, Node>(StringComparer.Ordinal);
        foreach (var n in model.Graph.Nodes)
            if (n.Name.Length > 0) byName.TryAdd(n.Name, n);
        var longestFirst = layers.OrderByDescending(l => l.Length).ToList();
        string? LayerOf(string kernel) => longestFirst.FirstOrDefault(l => kernel == l || kernel.StartsWith(l + "_", StringComparison.Ordinal));
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var t in times)
        {
            string name = t.Node;
            string stripped;
            while ((stripped = OrtSuffix().Replace(name, "")) != name) name = stripped;
            if (byName.TryGetValue(name, out var node) && node.OpType == "DynamicQuantizeLinear" && node.Outputs[0] is { } quantized)
            {
                var readers = quantized.Consumers.Select(c => LayerOf(c.Name)).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
                foreach (var r in readers) result[r] = result.GetValueOrDefault(r) + t.Microseconds / readers.Count;
                continue;
            }
            if ((LayerOf(name) ?? LayerOf(FusedFrom(name))) is { } layer) result[layer] = result.GetValueOrDefault(layer) + t.Microseconds;
        }
        return result;
    }

    /// <summary>
    /// The node a fused kernel came from: some of ONNX Runtime's fusions name their node "ORIGINAL/FusionName"
    /// (MatMul + Add -> "MatMul_214/MatMulAddFusion"). Only the last segment goes: exporters put '/' in names too.
    /// </summary>
    private static string FusedFrom(string kernel) => kernel.LastIndexOf('/') is > 0 and int slash ? kernel[..slash] : kernel;

    /// <summary>Ops ONNX Runtime folds into the layer before them (activations, a residual Add or Sum), naming the kernel after their output.</summary>
    private static readonly HashSet<string> FusesIntoProducer = ["Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Add", "Sum"];

    [GeneratedRegex(@"(_nchwc|_token_\d+|_quant)$")]
    private static partial Regex OrtSuffix();
}
