using System.Reflection;
using System.Security.Cryptography;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Targets;

namespace EdgeBuild.Compile;

/// <summary>What one compile produced.</summary>
public sealed record CompileResult(ModelManifest Manifest, string ManifestPath, IReadOnlyList<string> ArtifactPaths, OptimizationReport Optimization);

/// <summary>
/// The build step behind <c>edgebuild compile</c> and the EdgeModel item: read, optimize, write the
/// artifacts for the requested targets, then the manifest. The manifest is written last, so its
/// presence means every artifact it lists is complete; on any failure this model's previous manifest
/// and artifacts are removed, so a failed build never leaves outputs that look fresh.
/// </summary>
public static class ModelCompiler
{
    /// <summary>The compiler's version as recorded in manifests (no commit hash: same inputs, same bytes).</summary>
    public static string ToolVersion { get; } =
        typeof(ModelCompiler).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>Compiles one model into <paramref name="outputDirectory"/>; with <paramref name="writeManifest"/> false (<c>edgebuild convert</c>) only the artifacts are written and the result's ManifestPath is empty.</summary>
    public static CompileResult Compile(string modelPath, string outputDirectory, CompileOptions options,
        Action<string>? progress = null, Action<string>? warn = null, bool writeManifest = true)
    {
        string name = options.Name is { Length: > 0 } n ? n : CSharpNames.TypeName(Path.GetFileNameWithoutExtension(modelPath));
        Validate(name, options);
        string manifestPath = Path.Combine(outputDirectory, name + ModelManifest.FileSuffix);
        var written = new List<string>();
        bool reportsWritten = false;
        try
        {
            Directory.CreateDirectory(outputDirectory);
            progress?.Invoke($"reading {modelPath}");
            var model = OnnxImporter.Load(modelPath);
            byte[] source = File.ReadAllBytes(modelPath);
            InputShapes.Apply(model, options.Shapes);

            var passes = options.Passes is null ? OptimizationPipeline.DefaultPasses : OptimizationPipeline.Select(options.Passes);
            if (options.SkipPasses.Count > 0)
            {
                var skip = OptimizationPipeline.Select(options.SkipPasses, "--skip").Select(p => p.Name).ToHashSet();
                passes = passes.Where(p => !skip.Contains(p.Name)).ToList();
            }
            progress?.Invoke("optimizing");
            var report = OptimizationPipeline.Run(model, new OptimizeOptions { TargetOpset = options.TargetOpset }, passes, progress, warn);
            var floatModel = model;
            QuantizeStepResult? quantization = null;
            // The ONNX artifact is quantized here (QDQ); other targets quantize from the float model and the shared calibration.
            // The TensorRT kit and a TFLite file under an accuracy budget start from the layers this step's accuracy
            // search kept in float, so it runs for those targets too.
            bool tfliteBudget = options.Targets.Contains(TargetKind.TFLite) &&
                (options.Precision == Precision.Mixed || (options.Precision == Precision.Int8 && options.MaxAccuracyLoss is double));
            if (options.Precision != Precision.Fp32 && (options.Targets.Contains(TargetKind.Onnx) || options.Targets.Contains(TargetKind.TensorRT) || tfliteBudget))
            {
                progress?.Invoke($"quantizing to {options.Precision}");
                quantization = QuantizeStep.Run(model, options, progress, warn, modelPath);
                model = quantization.Model;
            }

            // The interface is read after optimization: passes keep names, and shape inference filled what the file left out.
            var inputs = Describe(model.Graph.Inputs.Where(v => v.Initializer is null).ToList());
            var outputs = Describe(model.Graph.Outputs);

            var context = new TargetContext(name, outputDirectory, options, floatModel, model, quantization, progress, warn);
            try
            {
                // Every target checks what it can before any writes, so a model one target cannot take leaves no files.
                foreach (var target in options.Targets.Distinct())
                {
                    context.CurrentTarget = target;
                    TargetWriters.For(target)!.Check(context);
                }
                foreach (var target in options.Targets.Distinct())
                {
                    context.CurrentTarget = target;
                    TargetWriters.For(target)!.Write(context);
                }
            }
            finally
            {
                written.AddRange(context.WrittenPaths);
            }
            var artifacts = context.Artifacts;
            var measurement = writeManifest ? Measure.MeasureStep.Run(context, modelPath, Sha256(source), inputs, outputs, progress) : null;

            var manifest = new ModelManifest(name, options.Namespace, ToolVersion, Path.GetFileName(modelPath), Sha256(source), source.LongLength,
                options, inputs, outputs, artifacts, report.NodesBefore, report.NodesAfter) { Quantization = quantization, Measurement = measurement };
            if (measurement is not null)
            {
                // Reports are written before the budgets can fail the compile: a failing build's report says why.
                Reports.ModelReport.WriteAll(outputDirectory, manifest, context, measurement);
                reportsWritten = true;
                Measure.MeasureStep.Enforce(measurement, warn);
            }
            else if (writeManifest) Reports.ModelReport.Remove(outputDirectory); // measurement off: an earlier report would be stale
            if (!writeManifest) return new CompileResult(manifest, "", written, report);
            written.Add(manifestPath);
            AtomicFile.WriteAllText(manifestPath, manifest.ToJson());
            return new CompileResult(manifest, manifestPath, written.Take(written.Count - 1).ToList(), report);
        }
        catch
        {
            RemoveOutputs(manifestPath, written, outputDirectory, name);
            // Reports of an earlier compile would describe artifacts that are gone; this compile's own say why it failed.
            if (!reportsWritten) Reports.ModelReport.Remove(outputDirectory);
            throw;
        }
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

    /// <summary>Removes this model's outputs after a failure: what this run wrote and what an earlier run left.</summary>
    private static void RemoveOutputs(string manifestPath, List<string> written, string outputDirectory, string name)
    {
        var stale = new List<string>(written) { manifestPath };
        foreach (var ext in TargetWriters.All.SelectMany(w => w.FileSuffixes)) stale.Add(Path.Combine(outputDirectory, name + ext));
        foreach (var f in stale.Distinct())
        {
            try { File.Delete(f); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }
}
