using System.Reflection;
using System.Security.Cryptography;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Quantization;
using EdgeBuild.Targets;
using EdgeBuild.Session;

namespace EdgeBuild.Compile;

/// <summary>What one compile produced.</summary>
public sealed record CompileResult(ModelManifest Manifest, string ManifestPath, IReadOnlyList<string> ArtifactPaths, OptimizationReport Optimization);

/// <summary>
/// The build step behind <c>edgebuild compile</c> and the EdgeModel item: read, optimize, write the artifacts for the
/// requested targets, measure, then the manifest. Everything is written into a staging folder under the output folder's
/// lock and replaces the model's previous outputs as one set (<see cref="OutputFolder"/>): a killed compile leaves the
/// previous set or the new one, and two compiles into one folder take turns. A failed compile's set is its reports
/// (when it measured): its manifest and artifacts, old and new, are gone, so a failed build never leaves outputs
/// that look fresh.
/// </summary>
public static class ModelCompiler
{
    /// <summary>
    /// Compiles one model into <paramref name="outputDirectory"/>; with <paramref name="writeManifest"/> false (<c>edgebuild convert</c>)
    /// only the artifacts are written and the result's ManifestPath is empty. Waits up to <paramref name="lockTimeout"/>
    /// (default <see cref="OutputFolder.DefaultLockTimeout"/>) for another compile writing the same folder.
    /// </summary>
    public static CompileResult Compile(string modelPath, string outputDirectory, CompileOptions options,
        Action<string>? progress = null, Action<string>? warn = null, bool writeManifest = true, TimeSpan? lockTimeout = null,
        Action<string>? passDetail = null)
    {
        string name = options.Name is { Length: > 0 } n ? n : CSharpNames.TypeName(Path.GetFileNameWithoutExtension(modelPath));
        Validate(name, options);
        string manifestFile = name + ModelManifest.FileSuffix;
        string manifestPath = Path.Combine(outputDirectory, manifestFile);
        using var folder = OutputFolder.Open(outputDirectory, lockTimeout ?? OutputFolder.DefaultLockTimeout, progress);
        using var stage = folder.Stage(name);
        // Every file a set of this model may hold besides the manifest: what a new set removes unless it replaces it.
        var ownFiles = TargetWriters.All.SelectMany(w => w.FileSuffixes).Select(ext => name + ext).Distinct().ToList();
        string[] reports = [Reports.ModelReport.JsonName, Reports.ModelReport.MarkdownName, Reports.ModelReport.HtmlName];
        CompileSession? session = null;
        bool reportsWritten = false;
        try
        {
            progress?.Invoke($"reading {modelPath}");
            var model = OnnxImporter.Load(modelPath);
            SourcePrecision.Require(model, options.Precision, modelPath);
            byte[] source = File.ReadAllBytes(modelPath);
            InputShapes.Apply(model, options.Shapes);

            var passes = options.Passes is null ? OptimizationPipeline.DefaultPasses : OptimizationPipeline.Select(options.Passes);
            if (options.SkipPasses.Count > 0)
            {
                var skip = OptimizationPipeline.Select(options.SkipPasses, "--skip").Select(p => p.Name).ToHashSet();
                passes = passes.Where(p => !skip.Contains(p.Name)).ToList();
            }
            progress?.Invoke("optimizing");
            // Each pass of each round is a detail (passDetail: the CLI's --verbose); what a pass reports goes to progress.
            var report = OptimizationPipeline.Run(model, new OptimizeOptions { TargetOpset = options.TargetOpset }, passes, passDetail, warn, info: progress);
            // The session owns the float model from here; the writers ask it for the quantization, the calibration
            // and the float layers of the one accuracy-budget search, and each is computed once, when first asked.
            session = new CompileSession(name, outputDirectory, options, model, progress, warn, stage.Directory, subject: modelPath);
            // The ONNX artifact first, whatever the order given: a TensorRT kit whose network is that file names it instead of a copy.
            var targets = options.Targets.Distinct().OrderBy(t => t == TargetKind.Onnx ? 0 : 1).ToList();
            // Every target checks what it can before any writes, so a model one target cannot take writes nothing.
            foreach (var target in targets)
            {
                session.CurrentTarget = target;
                TargetWriters.For(target)!.Check(session);
            }
            foreach (var target in targets)
            {
                session.CurrentTarget = target;
                TargetWriters.For(target)!.Write(session);
            }
            var quantization = session.QuantizationIfRun;
            if (FloorsNotJudged(options, quantization, session.WriterJudgedFloors, name) is { } floors) warn?.Invoke(floors.Format());

            // The interface is read after optimization: passes keep names, and shape inference filled what the file left out.
            var interfaceModel = session.InterfaceModel;
            var inputs = Describe(interfaceModel.Graph.Inputs.Where(v => v.Initializer is null).ToList());
            var outputs = Describe(interfaceModel.Graph.Outputs);

            var artifacts = session.Artifacts;
            var measurement = writeManifest ? MeasureStep.Run(session, modelPath, Sha256(source), inputs, outputs, progress) : null;

            var manifest = new ModelManifest(name, options.Namespace, EdgeBuildVersion.Current, Path.GetFileName(modelPath), Sha256(source), source.LongLength,
                options, inputs, outputs, artifacts, report.NodesBefore, report.NodesAfter) { Quantization = quantization, Measurement = measurement };
            if (measurement is not null)
            {
                // Reports are written before the budgets can fail the compile: a failing build's report says why.
                Reports.ModelReport.WriteAll(stage.Directory, manifest, session, measurement);
                reportsWritten = true;
                MeasureStep.Enforce(measurement, warn);
            }
            else if (writeManifest && MeasureStep.NotMeasured(options, name) is { } notMeasured) warn?.Invoke(notMeasured.Format());
            var files = artifacts.Select(a => a.Path).ToList();
            var finalPaths = files.Select(f => Path.Combine(outputDirectory, f)).ToList();
            if (!writeManifest)
            {
                // The manifest and reports of this name described other bytes; another model's reports stay.
                var stale = ownFiles.Append(manifestFile).Concat(Reports.ModelReport.Describes(outputDirectory, name) ? reports : []).ToList();
                stage.Commit(files, null, stale);
                return new CompileResult(manifest, "", finalPaths, report);
            }
            // Measurement off: an earlier report would be stale, so it goes with the old set.
            if (reportsWritten) files.AddRange(reports);
            AtomicFile.WriteAllText(Path.Combine(stage.Directory, manifestFile), manifest.ToJson());
            stage.Commit(files, manifestFile, ownFiles.Concat(reports).ToList());
            return new CompileResult(manifest, manifestPath, finalPaths, report);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // This model's outputs go, old and new; reports of an earlier compile would describe artifacts that are gone,
            // while this compile's own say why it failed.
            try
            {
                if (!stage.IsCommitted)
                    stage.Commit(reportsWritten ? reports : [], null, ownFiles.Append(manifestFile).Concat(reports).ToList());
            }
            catch (EdgeBuildException) { }
            throw;
        }
    }

    /// <summary>
    /// EB5022 when MinSqnrDb or MinCosine was set away from its default but no quantized artifact was compared with FP32
    /// (no held-out samples, or a TFLite target that only calibrates; a TensorRT network a writer judged itself counts as
    /// compared): the floor would otherwise pass unseen.
    /// The defaults alone warn nothing: they are the engine's guard, not a verdict the user asked for.
    /// </summary>
    private static Finding? FloorsNotJudged(CompileOptions options, QuantizeStepResult? quantization, bool writerJudged, string subject)
    {
        if (options.Precision == Precision.Fp32 || quantization?.Judgement is not null || writerJudged) return null;
        var defaults = new OutputFloors();
        var set = new List<string>();
        if (options.OutputFloors.MinSqnrDb != defaults.MinSqnrDb) set.Add(FormattableString.Invariant($"MinSqnrDb={options.OutputFloors.MinSqnrDb:G}"));
        if (options.OutputFloors.MinCosine != defaults.MinCosine) set.Add(FormattableString.Invariant($"MinCosine={options.OutputFloors.MinCosine:G}"));
        return set.Count == 0 ? null
            : new Finding(FindingSeverity.Warning, DiagnosticCodes.FloorsNotJudged, subject,
                $"{string.Join(", ", set)} not checked: no held-out sample compared the {options.Precision} artifact with FP32");
    }

    private static void Validate(string name, CompileOptions options)
    {
        if (!CSharpNames.IsValidIdentifier(name))
            throw new EdgeBuildException(DiagnosticCodes.InvalidCompileOption, "ClassName", $"'{name}' is not a valid C# class name");
        if (!CSharpNames.IsValidNamespace(options.Namespace))
            throw new EdgeBuildException(DiagnosticCodes.InvalidCompileOption, "Namespace", $"'{options.Namespace}' is not a valid C# namespace");
        if (options.Precision == Precision.Mixed && options.MaxAccuracyLoss is null && options.KeepFp16.Count == 0 && options.KeepFp32.Count == 0)
            throw new EdgeBuildException(DiagnosticCodes.InvalidCompileOption, "Precision",
                "Mixed needs MaxAccuracyLoss (layers return to FP32 until the loss fits) or KeepFp16/KeepFp32 patterns");
        // Calibration files are checked even when this precision does not use them: a typo should not wait for Int8.
        if (options.Calibration.Count > 0) Quantization.Calibration.CalibrationFiles.Expand(options.Calibration);
        if (options.MinCalibrationSamples < 1)
            throw new EdgeBuildException(DiagnosticCodes.InvalidCompileOption, "MinCalibrationSamples", $"{options.MinCalibrationSamples} is not a positive count");
        if (options.Targets.Count == 0)
            throw new EdgeBuildException(DiagnosticCodes.InvalidCompileOption, "Targets", "no target given");
        foreach (var t in options.Targets)
            if (TargetWriters.For(t) is null) throw new InvalidOperationException($"no writer is registered for target {t}");
        if (options.LatencyBudgetMs is <= 0 or double.NaN)
            throw new EdgeBuildException(DiagnosticCodes.InvalidCompileOption, "LatencyBudgetMs", $"{options.LatencyBudgetMs} is not a positive number of milliseconds");
        if (options.MaxAccuracyLoss is < 0 or > 100 or double.NaN)
            throw new EdgeBuildException(DiagnosticCodes.InvalidCompileOption, "MaxAccuracyLoss", $"{options.MaxAccuracyLoss} is not a percentage between 0 and 100");
        options.OutputFloors.Validate();
    }

    private static List<ManifestTensor> Describe(IReadOnlyList<Value> values)
    {
        var names = CSharpNames.UniqueParameterNames(values.Select(v => v.Name));
        return values.Select((v, i) => new ManifestTensor(v.Name, names[i],
            v.TensorType is { } t ? ModelManifest.ElementTypeName(t.ElementType) : "unknown",
            ModelManifest.ShapeEntries(v.TensorType?.Shape))).ToList();
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();
}
