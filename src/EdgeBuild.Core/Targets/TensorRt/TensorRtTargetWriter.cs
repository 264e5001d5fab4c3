using EdgeBuild.Compile;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Session;

namespace EdgeBuild.Targets.TensorRt;

/// <summary>
/// The TensorRT kit: everything a device needs to build its engine there (engines are tied to the GPU, the TensorRT
/// version and the OS, so none is built here). For Precision Int8/Mixed, from the build's shared symmetric calibration:
/// <list type="bullet">
/// <item><c>Name.trt.onnx</c>: explicit quantization by TensorRT's placement rules (<see cref="QdqPlacement.TensorRt"/>);</item>
/// <item><c>Name.trt.fp32.onnx</c> and <c>Name.calib.cache</c> (TensorRT 10 and older): the float network and TensorRT's
/// calibration cache for implicit quantization, same scales;</item>
/// <item><c>Name.trt.json</c>: the build recipe, the per-layer compatibility report and the kit's sha256 sums;</item>
/// <item><c>Name.build-engine.sh</c>: checks the sums and runs trtexec.</item>
/// </list>
/// Fp32/Fp16 kits hold the float network, the recipe and the script; an Fp32 kit compiled with the Onnx target names the
/// ONNX artifact (the same bytes) as its network instead of writing <c>Name.trt.onnx</c>. See docs/tensorrt.md.
/// </summary>
public sealed class TensorRtTargetWriter : ITargetWriter
{
    public const string NetworkSuffix = ".trt.onnx";
    public const string FloatNetworkSuffix = ".trt.fp32.onnx";
    public const string CacheSuffix = ".calib.cache";
    public const string RecipeSuffix = ".trt.json";
    public const string ScriptSuffix = ".build-engine.sh";

    public TargetKind Kind => TargetKind.TensorRT;
    public IReadOnlyList<string> FileSuffixes { get; } = [NetworkSuffix, FloatNetworkSuffix, CacheSuffix, RecipeSuffix, ScriptSuffix];

    public void Write(CompileSession context)
    {
        var options = context.Options;
        var settings = options.TensorRt;
        var version = TensorRtVersion.Parse(settings.Version);
        if (settings.WorkspaceMiB < 1)
            throw new EdgeBuildException(DiagnosticCodes.InvalidTensorRtOption, "TensorRTWorkspaceMiB", $"{settings.WorkspaceMiB} is not a positive number of MiB");
        if (settings.Compatibility != EnginePortability.None && !version.HasCompatibilityOptions)
            throw new EdgeBuildException(DiagnosticCodes.InvalidTensorRtOption, "TensorRTCompatibility", $"{settings.Compatibility} needs TensorRT 8.6 or later, the kit targets {version}");
        if (options.Precision == Precision.Int8Dynamic)
            throw new EdgeBuildException(DiagnosticCodes.TensorRtNoDynamicInt8, "Precision", "Int8Dynamic cannot be expressed for TensorRT");
        bool int8 = options.Precision is Precision.Int8 or Precision.Mixed;
        string floatPrecision = options.Precision == Precision.Fp32 ? "Fp32" : "Fp16";

        // Layer choices are made on the original node names (the patterns and the mixed-precision search use them).
        var floatModel = context.CloneFloatModel();
        // The float layers of the build's one accuracy-budget search (Mixed, Auto, Int8 with MaxAccuracyLoss) stay float here too.
        var keepFp32 = new NodePatterns(options.KeepFp32.Concat(context.FloatLayers.Select(k => k.Node)));
        var keepFp16 = new NodePatterns(options.KeepFp16);
        var keptFp32Nodes = floatModel.Graph.Nodes.Where(keepFp32.Matches).ToHashSet();
        // An Fp16 kit computes every layer in float16 (--fp16): the FP16 range rule keeps those whose values leave
        // float16's range in float32, from the build's calibration ranges where Calibration files are given.
        if (options.Precision == Precision.Fp16)
        {
            var extremes = context.Split.Calibration.Count > 0 ? context.Calibration(symmetric: true).Extremes : null;
            var candidates = floatModel.Graph.Nodes.Where(n => !keptFp32Nodes.Contains(n)).ToHashSet();
            var rangeKept = Fp16RangeRule.Find(floatModel.Graph, candidates, extremes);
            foreach (var (node, finding) in rangeKept)
            {
                keptFp32Nodes.Add(node);
                context.Progress($"TensorRT kit: {NodePatterns.NameOf(node)} ({node.OpType}) stays FP32, {finding.Reason}");
            }
        }
        var keptFp16Nodes = options.Precision == Precision.Fp32 ? new HashSet<Node>() : floatModel.Graph.Nodes.Where(n => keepFp16.Matches(n) && !keptFp32Nodes.Contains(n)).ToHashSet();
        var names = LayerNames.Assign(floatModel.Graph);
        var keptFp32 = keptFp32Nodes.Select(n => names[n]).ToHashSet(StringComparer.Ordinal);
        var keptFp16 = keptFp16Nodes.Select(n => names[n]).ToHashSet(StringComparer.Ordinal);
        var profiles = ShapeProfiles.For(floatModel, settings.Profiles, out var guessed);
        // 1..16 suits a batch axis; for an image's height or width it would build an engine for toy sizes.
        if (guessed.Where(g => g.Axis != 0).ToList() is { Count: > 0 } spatial)
            context.Warn($"TensorRT shape profile guessed ({ShapeProfiles.DefaultRange.Min}:{ShapeProfiles.DefaultRange.Opt}:{ShapeProfiles.DefaultRange.Max}) for " +
                string.Join(", ", spatial.Select(g => $"{g.Input}[{g.Axis}]")) + $"; set TensorRTProfile (e.g. \"{spatial[0].Input}[{spatial[0].Axis}]=min:opt:max\") to the sizes the device will feed");

        byte[] floatBytes = OnnxExporter.ToBytes(floatModel);
        var network = OnnxImporter.Parse(floatBytes);
        CalibrationTable? calibration = null;
        AccuracyReport? accuracy = null;
        if (int8)
        {
            calibration = context.Calibration(symmetric: true);
            context.Progress("placing Q/DQ by TensorRT's rules (symmetric int8, the build's calibration)");
            // Exact names: both kinds stay out of INT8; FP16 is the engine's float precision, set per layer by the recipe.
            QuantizeForTensorRt(network, calibration, keptFp32.Concat(keptFp16), context.Progress);
            (network, accuracy) = MeetBudget(context, floatModel, floatBytes, network, calibration, keptFp32, keptFp16);
            LayerNames.Assign(network.Graph);
        }

        var layers = LayerSupportReport.Build(network, version, floatPrecision, keptFp32);
        var unsupported = layers.Where(l => !l.Supported).ToList();
        if (unsupported.Count > 0)
        {
            string list = string.Join(", ", unsupported.Take(20).Select(l => $"{l.Layer} ({l.OpType}{(l.Scope is null ? "" : " inside " + l.Scope)}: {l.Reason})")) + (unsupported.Count > 20 ? $", and {unsupported.Count - 20} more" : "");
            if (settings.Strict)
                throw new EdgeBuildException(DiagnosticCodes.TensorRtLayerUnsupported, context.Name,
                    $"{unsupported.Count} layer(s) not supported by TensorRT {version}: {list}");
            context.Warn($"TensorRT {version} does not support {unsupported.Count} layer(s): {list}; the kit is written, but building the engine on the device will fail at them (TensorRTStrict=true makes this an error)");
        }

        string precision = options.Precision.ToString();
        byte[] networkBytes = OnnxExporter.ToBytes(network);
        string networkSha = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(networkBytes)).ToLowerInvariant();
        // An Fp32 kit's network is the optimized float model, byte for byte the ONNX artifact when that target is built
        // too (the compile writes it first): the kit then names that file instead of a second copy.
        var networkArtifact = context.Artifacts.FirstOrDefault(a => a.Target == nameof(TargetKind.Onnx) && a.Sha256 == networkSha)
            ?? context.WriteArtifact(context.Name + NetworkSuffix, networkBytes, precision, ArtifactRuntime.TensorRt);
        var kit = new List<ManifestArtifact> { networkArtifact };
        bool implicitRoute = int8 && version.HasImplicitQuantization;
        if (implicitRoute)
        {
            kit.Add(context.WriteArtifact(context.Name + FloatNetworkSuffix, floatBytes, precision, ArtifactRuntime.None));
            kit.Add(context.WriteArtifact(context.Name + CacheSuffix, CalibrationCache.Write(version, CacheEntries(floatModel, calibration!)), precision, ArtifactRuntime.None));
        }

        var recipe = new EngineRecipe(context.Name, networkArtifact.Path, version, options.Precision, settings, profiles,
            keptFp16.Order(StringComparer.Ordinal).ToList(), keptFp32.Order(StringComparer.Ordinal).ToList(), implicitRoute, calibration, accuracy);
        kit.Add(context.WriteArtifact(context.Name + RecipeSuffix, recipe.ToJson(EdgeBuildVersion.Current, kit, layers), precision, ArtifactRuntime.None));
        var script = context.WriteArtifact(context.Name + ScriptSuffix, recipe.ToScript(EdgeBuildVersion.Current, kit), precision, ArtifactRuntime.None);
        MakeExecutable(context.PathOf(script.Path));
    }

    /// <summary>
    /// The kit's loss against FP32 on the build's held-out files, by the same task metric as the ONNX artifact. With
    /// MaxAccuracyLoss (Int8 or Mixed) and a loss the gate does not accept, layers return to FP32 by the same search as the
    /// ONNX artifact's, on the TensorRT network, starting from the layers already kept; the gate's errors (EB3009, EB3012)
    /// fail the build and its warnings are printed. Adds the layers it
    /// kept to <paramref name="keptFp32"/>. No held-out files: no measurement.
    /// </summary>
    private static (Model Network, AccuracyReport? Accuracy) MeetBudget(CompileSession context, Model floatModel, byte[] floatBytes, Model network,
        CalibrationTable calibration, HashSet<string> keptFp32, HashSet<string> keptFp16)
    {
        var options = context.Options;
        if (context.Evaluation is not { } evaluation) return (network, null);
        var task = options.Task == TaskKind.Auto ? AccuracyEvaluator.Infer(floatModel) : options.Task;
        context.Progress($"measuring the TensorRT network against FP32 on {evaluation.Count} held-out samples ({task})");
        var accuracy = AccuracyEvaluator.Compare(floatBytes, OnnxExporter.ToBytes(network), evaluation, task);
        // The same gate as the ONNX artifact's (docs/quantization.md): the loss by its 95 % interval, the output floors.
        AccuracyJudgement Judge(AccuracyReport a) =>
            AccuracyGate.Judge(context.Name, "the TensorRT network", a, options.MaxAccuracyLoss, options.OutputFloors, options.Preprocessing);
        var judgement = Judge(accuracy);
        context.NoteWriterJudgedFloors();
        if (options.MaxAccuracyLoss is not double budget || judgement.AcceptableForSearch)
        {
            Enforce(context, judgement);
            return (network, accuracy);
        }

        context.Progress($"TensorRT network loses {accuracy.LossPercent:F2} % against the budget of {budget} % ({judgement.Verdict}): measuring each layer's sensitivity");
        var search = MixedPrecisionSearch.Run(floatBytes, QuantizeOptionsFor(calibration, keptFp32.Concat(keptFp16)), context.CalibrationData, evaluation, task, budget, Judge, context.Progress);
        foreach (var layer in search.KeptInFp32) keptFp32.Add(layer.Node);
        Enforce(context, search.Judgement ?? Judge(search.Accuracy), $" even with {search.KeptInFp32.Count} more layer(s) in FP32");
        return (search.Model, search.Accuracy);
    }

    /// <summary>Prints the gate's warnings and throws its first error.</summary>
    private static void Enforce(CompileSession context, AccuracyJudgement judgement, string suffix = "")
    {
        foreach (var w in judgement.Warnings) context.Warn(w.Format());
        if (judgement.Errors.FirstOrDefault() is { } error)
            throw new EdgeBuildException(error.Descriptor, error.Subject, error.Message + suffix);
    }

    /// <summary>
    /// Rewrites a float network in place into TensorRT's explicit quantization (<see cref="QdqPlacement.TensorRt"/>, symmetric
    /// int8) with the scales of <paramref name="calibration"/> (a symmetric table); nodes named in <paramref name="keepFloat"/>
    /// stay float. The step behind Name.trt.onnx, public so benchmarks measure exactly what the kit holds.
    /// </summary>
    public static QuantizationReport QuantizeForTensorRt(Model network, CalibrationTable calibration, IEnumerable<string> keepFloat, Action<string>? progress = null)
    {
        if (!calibration.Symmetric) throw new ArgumentException("TensorRT needs a symmetric calibration table", nameof(calibration));
        return ModelQuantizer.Quantize(network, QuantizeOptionsFor(calibration, keepFloat), data: null, progress);
    }

    /// <summary>The quantization engine's settings for the kit's network: TensorRT placement, symmetric int8, the table's scales.</summary>
    public static QuantizeOptions QuantizeOptionsFor(CalibrationTable calibration, IEnumerable<string> keepFloat) => new()
    {
        Mode = QuantizationMode.Int8Static,
        Calibrator = calibration.Calibrator,
        SymmetricActivations = true,
        Placement = QdqPlacement.TensorRt,
        CalibratedRanges = calibration.Ranges,
        KeepFp32 = keepFloat.ToList(),
    };

    /// <summary>
    /// One (tensor, scale) per calibrated tensor of the float network, inputs first, then node outputs in graph order:
    /// the same scale the .trt.onnx's Q/DQ pair of that tensor carries (symmetric int8, amax / 127).
    /// </summary>
    internal static IEnumerable<(string Tensor, float Scale)> CacheEntries(Model floatModel, CalibrationTable calibration)
    {
        var order = floatModel.Graph.Inputs.Where(v => v.Initializer is null).Select(v => v.Name)
            .Concat(floatModel.Graph.Nodes.SelectMany(n => n.Outputs).Where(v => v is not null).Select(v => v!.Name));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in order)
        {
            if (!seen.Add(name) || !calibration.Ranges.TryGetValue(name, out var r)) continue;
            yield return (name, QuantMath.ForActivation(r.Min, r.Max, symmetric: true).Scale);
        }
    }

    private static void MakeExecutable(string path)
    {
        if (OperatingSystem.IsWindows()) return;
        File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
    }
}
