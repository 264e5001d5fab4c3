using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using EdgeBuild.Quantization.Calibration;

namespace EdgeBuild.Session;

/// <summary>What quantizing one model did: the engine's report, accuracy against FP32 and its verdict, and the layers a budget sent back to float.</summary>
public sealed record QuantizeStepResult(
    Model Model,
    QuantizationReport Report,
    AccuracyReport? Accuracy,
    IReadOnlyList<string> CalibrationFiles,
    IReadOnlyList<string> HeldOutFiles,
    IReadOnlyList<LayerSensitivity> KeptInFloat,
    int Attempts)
{
    /// <summary>The accuracy gate's verdict (null when nothing was held out to measure on).</summary>
    public AccuracyJudgement? Judgement { get; init; }

    /// <summary>Compute layers and weights per precision in <see cref="Model"/>.</summary>
    public PrecisionShare? Share { get; init; }

    /// <summary>Precision=Auto's search: the race, every layer's precision and why (null for the other precisions).</summary>
    public AutoPrecisionResult? Auto { get; init; }

    /// <summary>What <see cref="Model"/> is: the precision asked for, or for Auto the one it chose (Fp32, Int8 or Mixed).</summary>
    public Precision Chosen { get; init; }

    /// <summary>
    /// The build's asymmetric calibration of every float activation, when this step calibrated: computed once, it gave the
    /// ONNX artifact its ranges and gives them to every other target that quantizes from the same data (TFLite INT8).
    /// </summary>
    public CalibrationTable? Calibration { get; init; }
}

/// <summary>
/// The quantization step shared by <c>edgebuild compile</c> (Precision metadata) and <c>edgebuild quantize</c>:
/// choose the calibration and held-out photos, run the engine, measure the loss against the FP32 model and judge it
/// (<see cref="AccuracyGate"/>: MaxAccuracyLoss by its 95 % interval, the output SQNR and cosine floors), and for
/// Precision=Mixed (or Int8 with MaxAccuracyLoss) return the least robust layers to FP32 until the gate accepts.
/// A budget missed with confidence is EB3009, a collapse under the floors EB3012, too few held-out samples for a
/// budget EB3010; unproven verdicts and a degenerate reference are warnings (EB3011, EB3013).
/// </summary>
public static class QuantizeStep
{
    public static QuantizationMode ModeOf(Precision precision) => precision switch
    {
        Precision.Fp16 => QuantizationMode.Fp16,
        Precision.Int8Dynamic => QuantizationMode.Int8Dynamic,
        _ => QuantizationMode.Int8Static,
    };

    /// <summary>The engine settings a compile's options ask for (mode Int8Static; callers set another).</summary>
    public static QuantizeOptions EngineOptions(CompileOptions options) => new()
    {
        Calibrator = options.Calibrator,
        Percentile = options.Percentile,
        MovingAverage = options.MovingAverage,
        KeepFp16 = options.KeepFp16,
        KeepFp32 = options.KeepFp32,
        MinCalibrationSamples = options.MinCalibrationSamples,
    };

    /// <summary>
    /// Quantizes a copy of <paramref name="model"/> (optimized FP32, left as it is) and reports. Warnings (unproven
    /// verdicts, a degenerate reference) go to <paramref name="warn"/> as whole "warning EBnnnn: ..." lines;
    /// <paramref name="subject"/> is the model file or item the findings name.
    /// </summary>
    public static QuantizeStepResult Run(Model model, CompileOptions options, Action<string>? progress = null, Action<string>? warn = null, string? subject = null) =>
        Run(new CompileSession(options.Name ?? "model", "", options, model, progress, warn, subject: subject ?? options.Name ?? "MaxAccuracyLoss"));

    /// <summary>
    /// Quantizes the session's float model at the requested precision with the session's calibration data, held-out
    /// data and asymmetric calibration table (each made once per build), and judges it.
    /// </summary>
    public static QuantizeStepResult Run(CompileSession session)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // Calibration another target asked for first (the TFLite writer's ranges) happened before this clock started.
        var calibratedBefore = session.CalibrationTime;
        // Auto's time budget counts that calibration too.
        var started = DateTime.UtcNow - calibratedBefore;
        QuantizeStepResult Timed(QuantizeStepResult r) => r with
        {
            // The engine's own calibration (a search that calibrated again) plus the session's, which the engine never saw.
            Report = r.Report with { CalibrationTime = r.Report.CalibrationTime + session.CalibrationTime, TotalTime = clock.Elapsed + calibratedBefore },
        };
        var options = session.Requested;
        var progress = session.Progress;
        var warn = session.Warn;
        var model = session.CloneFloatModel();
        var mode = ModeOf(options.Precision);
        options.OutputFloors.Validate();
        byte[] fp32 = OnnxExporter.ToBytes(model);

        var (calibration, heldOut) = session.Split;
        if (mode == QuantizationMode.Int8Static && calibration.Count == 0)
            throw new EdgeBuildException(DiagnosticCodes.NotEnoughCalibrationSamples, "Calibration",
                $"precision {options.Precision} needs calibration images or .npy files (Calibration metadata, --calibration)");
        // Auto always holds a budget (1 % unless MaxAccuracyLoss says otherwise), so it always needs held-out files.
        double? budget = options.Precision == Precision.Auto ? options.MaxAccuracyLoss ?? AutoDefaultMaxAccuracyLoss : options.MaxAccuracyLoss;
        AccuracyGate.RequireHeldOut(budget, heldOut.Count, calibration.Count);
        var data = calibration.Count > 0 && mode == QuantizationMode.Int8Static ? session.CalibrationData : null;
        var evaluation = session.Evaluation;
        var task = options.Task == TaskKind.Auto ? AccuracyEvaluator.Infer(model) : options.Task;
        if (options.Task == TaskKind.Auto && task == TaskKind.Generic && budget is not null)
            progress?.Invoke("accuracy: Task inferred as Generic (no output pattern names a task): the loss is the relative error norm of the raw outputs, " +
                "where 1 % is about 40 dB SQNR, stricter than a task's own metric; Task=Classification|Detection|Regression|Embedding judges by the metric the application uses");
        // Images go through the preprocessing settings, which name the likely cause of a degenerate reference; .npy files do not.
        var preprocessing = heldOut.Any(f => !f.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) ? options.Preprocessing : null;
        string artifact = $"the {options.Precision} model";
        string who = session.Subject;
        AccuracyJudgement Judge(AccuracyReport a) => AccuracyGate.Judge(who, artifact, a, budget, options.OutputFloors, preprocessing);

        var quantizeOptions = EngineOptions(options) with { Mode = mode };
        // One calibration of every activation serves the ONNX artifact, the budget search's many quantizations and the other targets.
        CalibrationTable? table = null;
        if (data is not null)
        {
            table = session.Calibration(symmetric: false);
            // The same pass measured the unclipped ranges the FP16 range rule reads (KeepFp16 layers) and the bias-correction statistics.
            quantizeOptions = quantizeOptions with { CalibratedRanges = table.Ranges, ValueExtremes = table.Extremes, Statistics = table.Statistics };
        }
        else if (mode == QuantizationMode.Fp16 && calibration.Count > 0)
        {
            // Nothing else calibrates an Fp16 build: one pass over its calibration files for the range rule.
            var data16 = session.CalibrationData;
            var measuring = System.Diagnostics.Stopwatch.StartNew();
            quantizeOptions = quantizeOptions with { ValueExtremes = ValueExtremesCollector.Measure(model, data16, progress) };
            session.CalibrationTime += measuring.Elapsed;
        }
        if (options.Precision == Precision.Auto)
            return Timed(RunAuto(model, fp32, options, quantizeOptions, data!, evaluation, task, calibration, heldOut, Judge, progress, warn, started) with { Calibration = table });
        var quantized = OnnxImporter.Parse(fp32);
        var report = ModelQuantizer.Quantize(quantized, quantizeOptions, data, progress);
        if (report.RangeKeptFp32.Count > 0)
            progress?.Invoke($"FP16 range rule: {report.RangeKeptFp32.Count} node(s) kept in FP32 ({string.Join("; ", report.RangeKeptFp32.Take(3).Select(f => $"{f.Node}: {f.Reason}"))}{(report.RangeKeptFp32.Count > 3 ? "; ..." : "")})");
        AccuracyReport? accuracy = null;
        AccuracyJudgement? judgement = null;
        if (evaluation is not null)
        {
            progress?.Invoke($"measuring accuracy against FP32 on {evaluation.Count} held-out samples ({task})");
            accuracy = AccuracyEvaluator.Compare(fp32, OnnxExporter.ToBytes(quantized), evaluation, task);
            judgement = Judge(accuracy);
        }

        IReadOnlyList<LayerSensitivity> kept = [];
        int attempts = 1;
        bool budgeted = options.MaxAccuracyLoss is double && (options.Precision == Precision.Mixed || options.Precision == Precision.Int8);
        if (budgeted && data is not null && evaluation is not null && judgement is { AcceptableForSearch: false })
        {
            progress?.Invoke(FormattableString.Invariant($"loss {accuracy!.LossPercent:F2} % [{accuracy.Loss.Low:F2}, {accuracy.Loss.High:F2}] against the budget of {options.MaxAccuracyLoss} % ({judgement.Verdict}): measuring each layer's sensitivity"));
            var search = MixedPrecisionSearch.Run(fp32, quantizeOptions with { Statistics = report.Statistics }, data, evaluation, task, options.MaxAccuracyLoss!.Value, Judge, progress);
            quantized = search.Model;
            report = search.Report;
            accuracy = search.Accuracy;
            judgement = search.Judgement ?? Judge(accuracy);
            kept = search.KeptInFp32;
            attempts = search.Quantizations;
        }
        RequireFiniteOutputs(fp32, OnnxExporter.ToBytes(quantized), report, mode, evaluation, calibration.Count > 0 ? session.CalibrationData : null, model, who, progress);
        var share = PrecisionShare.Of(quantized, report);
        if (judgement is not null)
        {
            foreach (var w in judgement.Warnings) warn?.Invoke(w.Format());
            if (judgement.Errors.FirstOrDefault() is { } error)
            {
                string more = judgement.Errors.Count() > 1 ? $" (also: {string.Join("; ", judgement.Errors.Skip(1).Select(e => $"{e.Descriptor.Code} {e.Message}"))})" : "";
                throw new EdgeBuildException(error.Descriptor, error.Subject,
                    error.Message + more + (kept.Count > 0 ? $"; even with {kept.Count} layer(s) in FP32" : "") + $"; {share.Summary}" +
                    $"; least robust layers: {string.Join(", ", report.Layers.Where(l => l.Sqnr is not null).OrderBy(l => l.Sqnr).Take(5).Select(l => FormattableString.Invariant($"{l.Node} {l.Sqnr:F1} dB")))}");
            }
        }
        return Timed(new QuantizeStepResult(quantized, report, accuracy, calibration, heldOut, kept, attempts) { Judgement = judgement, Share = share, Chosen = options.Precision, Calibration = table });
    }

    /// <summary>
    /// EB3015 when the quantized model (Fp16, Int8, Int8Dynamic, Mixed: the final one, after any budget search) gives
    /// infinite or NaN outputs where the float32 model does not: such an artifact is broken, not merely less accurate, so
    /// it is an error whether or not a budget or held-out data was given. Checked on the held-out samples, else the
    /// calibration samples, else the input the latency measurement generates. (Auto always judges its candidates on
    /// held-out data, where such an output fails the SQNR floor.)
    /// </summary>
    private static void RequireFiniteOutputs(byte[] fp32, byte[] quantizedBytes, QuantizationReport report, QuantizationMode mode, ICalibrationDataSource? evaluation,
        ICalibrationDataSource? calibration, Model model, string who, Action<string>? progress)
    {
        var (inputs, what) = evaluation is not null ? (evaluation.Samples(), "held-out")
            : calibration is not null ? (calibration.Samples(), "calibration")
            : ([NonFiniteOutputCheck.GeneratedInput(model)], "generated (uniform [-1, 1])");
        IReadOnlyList<NonFiniteOutput> bad;
        try
        {
            bad = NonFiniteOutputCheck.Run(fp32, quantizedBytes, inputs);
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e) when (evaluation is null && calibration is null)
        {
            // Generated data is all there is: a model that refuses it (a free dim fed at 1) cannot be checked this way.
            progress?.Invoke($"quantized outputs not checked for infinity: ONNX Runtime cannot run the model on generated input ({e.Message.Split('\n')[0].Trim()})");
            return;
        }
        if (bad.Count == 0) return;
        string outputs = string.Join(", ", bad.Select(b => $"'{b.Output}' ({b.Elements} values on {b.Inputs} of {b.Of} {what} input{(b.Of == 1 ? "" : "s")})"));
        string why, todo;
        if (mode == QuantizationMode.Fp16)
        {
            why = "a tensor leaves float16's range (past 65504, or a small positive value rounded to 0 before a Log or a division)";
            todo = calibration is null
                ? "give Calibration files (--calibration) so the FP16 range rule can measure which layers to keep in FP32, or use Precision Fp32"
                : $"the range rule kept {report.RangeKeptFp32.Count} node(s) in FP32 from the calibration files, which did not reach these values: give Calibration files that cover such inputs, KeepFp32 the layers, or use Precision Fp32";
        }
        else
        {
            why = "an INT8 tensor rounds a small value to 0 (or a range to nothing) before a Log, a division or a power that needs it nonzero";
            todo = "give held-out files (--eval) with MaxAccuracyLoss so Mixed returns the layers that cause it to FP32, KeepFp32 the layers before the Log or division, or use Precision Fp32";
        }
        string precision = mode switch { QuantizationMode.Fp16 => "Fp16", QuantizationMode.Int8Dynamic => "Int8Dynamic", _ => report.Layers.Any(l => l.Precision != "Int8") ? "INT8 (mixed)" : "Int8" };
        throw new EdgeBuildException(DiagnosticCodes.QuantizedNonFiniteOutput, who,
            $"the {precision} model's output {outputs} is infinite or NaN where the FP32 model's is finite: {why}; {todo}");
    }

    /// <summary>The budget Precision=Auto holds the model to when MaxAccuracyLoss is not set, in percent.</summary>
    public const double AutoDefaultMaxAccuracyLoss = 1.0;

    /// <summary>
    /// Time from the start of the quantize step (its calibration pass included) after which Auto's search judges no more
    /// candidates and races what it has; a search whose calibration took most of it still gets <see cref="AutoMinSearchTime"/>.
    /// With the race and the writes after it, Auto stays near a minute on this project's 2-core machine.
    /// </summary>
    public static readonly TimeSpan AutoSearchTime = TimeSpan.FromSeconds(50), AutoMinSearchTime = TimeSpan.FromSeconds(15);

    private static QuantizeStepResult RunAuto(Model model, byte[] fp32, CompileOptions options, QuantizeOptions quantizeOptions, ICalibrationDataSource data,
        ICalibrationDataSource? evaluation, TaskKind task, IReadOnlyList<string> calibration, IReadOnlyList<string> heldOut,
        Func<AccuracyReport, AccuracyJudgement> judge, Action<string>? progress, Action<string>? warn, DateTime started)
    {
        // RequireHeldOut made sure there is something held out: Auto decides by measured loss.
        ArgumentNullException.ThrowIfNull(evaluation);
        // Dynamic INT8 runs in ONNX Runtime only: it is a candidate when every target is an ONNX artifact.
        bool onnxOnly = options.Targets.All(t => t == TargetKind.Onnx);
        var auto = AutoPrecisionSearch.Run(fp32, quantizeOptions, data, evaluation, task, options.MaxAccuracyLoss ?? AutoDefaultMaxAccuracyLoss, judge, progress,
            dynamicCandidate: onnxOnly, deadline: new DateTime(Math.Max((started + AutoSearchTime).Ticks, (DateTime.UtcNow + AutoMinSearchTime).Ticks), DateTimeKind.Utc));
        progress?.Invoke(auto.Summary);
        var chosen = auto.Choice switch { "Int8" => Precision.Int8, "Mixed" => Precision.Mixed, "Int8Dynamic" => Precision.Int8Dynamic, _ => Precision.Fp32 };
        // The float layers for every target: those the speed rule and the accuracy search left in FP32.
        var kept = auto.Layers.Where(l => l.Precision != "Int8").Select(l => new LayerSensitivity(l.Node, l.OpType, double.NaN)).ToList();
        var report = auto.Report ?? new QuantizationReport(QuantizationMode.Int8Static, 0, model.Graph.Nodes.Count,
            auto.Layers.Select(l => new LayerQuantization(l.Node, l.OpType, "Fp32", null)).ToList(), TimeSpan.Zero, TimeSpan.Zero, fp32.LongLength, fp32.LongLength);
        var result = auto.Choice == "Fp32" ? model : auto.Model;
        if (auto.Judgement is { } judgement)
            foreach (var w in judgement.Warnings) warn?.Invoke(w.Format());
        return new QuantizeStepResult(result, report, auto.Accuracy, calibration, heldOut, chosen == Precision.Fp32 ? [] : kept, auto.Quantizations)
        {
            Judgement = auto.Judgement,
            Share = PrecisionShare.Of(result, report),
            Auto = auto,
            Chosen = chosen,
        };
    }
}
