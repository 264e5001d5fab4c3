using System.Security.Cryptography;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using EdgeBuild.Quantization.Calibration;

namespace EdgeBuild.Session;

/// <summary>The program that loads an artifact as a model, or <see cref="None"/> for a recipe, script or cache.</summary>
public enum ArtifactRuntime { None, OnnxRuntime, TfliteInterpreter, TensorRt }

/// <summary>
/// One compile after optimization: it owns the optimized float model, the calibration / held-out split, the data
/// sources over it, each calibration table, the quantization at the requested precision with its one accuracy-budget
/// search, and the artifacts. Writers ask it for what they need and it computes each thing once, on first request:
/// an Fp32 build never quantizes, a TFLite Int8 build without a budget only calibrates, and every target takes the
/// float layers of the same search.
/// </summary>
public sealed class CompileSession
{
    private readonly Model floatModel;
    private byte[]? floatModelBytes;
    private readonly Dictionary<bool, CalibrationTable> calibration = [];
    private readonly List<ManifestArtifact> artifacts = [];
    private readonly List<string> written = [];
    private CalibrationSplit? split;
    private FileCalibrationSource? calibrationData;
    private FileCalibrationSource? evaluation;
    private bool evaluationMade;
    private QuantizeStepResult? quantization;
    private bool quantized;

    /// <param name="name">The model's name: every artifact's file name starts with it.</param>
    /// <param name="outputDirectory">The folder the artifacts are for (their manifest's folder).</param>
    /// <param name="options">What the build was asked (Precision may be Auto).</param>
    /// <param name="floatModel">The optimized float model; the session never changes it.</param>
    /// <param name="progress">Progress lines (calibration, quantization, writes).</param>
    /// <param name="warn">Whole "warning EBnnnn: ..." lines.</param>
    /// <param name="subject">The model file or item that findings name (default: <paramref name="name"/>).</param>
    /// <param name="writeDirectory">Where artifacts are written during the compile (the staging folder; default: the output folder).</param>
    public CompileSession(string name, string outputDirectory, CompileOptions options, Model floatModel,
        Action<string>? progress = null, Action<string>? warn = null, string? writeDirectory = null, string? subject = null)
    {
        Name = name;
        OutputDirectory = outputDirectory;
        WriteDirectory = writeDirectory ?? outputDirectory;
        Requested = options;
        this.floatModel = floatModel;
        Subject = subject ?? name;
        Progress = progress ?? (_ => { });
        Warn = warn ?? (_ => { });
    }

    /// <summary>The model's name: every artifact's file name starts with it.</summary>
    public string Name { get; }

    /// <summary>The folder the artifacts are for (their manifest's folder).</summary>
    public string OutputDirectory { get; }

    /// <summary>Where the artifacts are written during the compile: the compile's staging folder, moved into <see cref="OutputDirectory"/> as one set at the end.</summary>
    public string WriteDirectory { get; }

    /// <summary>The model file or item that findings and errors name.</summary>
    public string Subject { get; }

    /// <summary>What the build was asked, as given (Precision may be Auto).</summary>
    public CompileOptions Requested { get; }

    /// <summary>What the writers build: <see cref="Requested"/>, with Precision=Auto replaced by what it chose (which runs Auto's search).</summary>
    public CompileOptions Options => Requested.Precision == Precision.Auto ? Requested with { Precision = Quantization!.Chosen } : Requested;

    public Action<string> Progress { get; }
    public Action<string> Warn { get; }

    /// <summary>The path of an artifact written so far (in <see cref="WriteDirectory"/>).</summary>
    public string PathOf(string fileName) => Path.Combine(WriteDirectory, fileName);

    /// <summary>A fresh copy of the optimized float32 model (before quantization): a writer may change it freely.</summary>
    /// <remarks>Serialized on first use only: an Fp32 ONNX-only build never needs a copy.</remarks>
    public Model CloneFloatModel() => OnnxImporter.Parse(floatModelBytes ??= OnnxExporter.ToBytes(floatModel));

    /// <summary>The calibration and held-out files of this build (one split for every target).</summary>
    public CalibrationSplit Split => split ??= CalibrationSplit.Of(Requested);

    /// <summary>The calibration files as model inputs (EB3003 when there are none), made once for every quantization and target.</summary>
    public ICalibrationDataSource CalibrationData
    {
        get
        {
            if (calibrationData is not null) return calibrationData;
            if (Split.Calibration.Count == 0)
                throw new EdgeBuildException(DiagnosticCodes.NotEnoughCalibrationSamples, "Calibration",
                    $"precision {Requested.Precision} needs calibration images or .npy files (Calibration metadata, --calibration)");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            calibrationData = new FileCalibrationSource(floatModel, Split.Calibration, Requested.Preprocessing, Requested.MinCalibrationSamples);
            CalibrationTime += clock.Elapsed;
            return calibrationData;
        }
    }

    /// <summary>
    /// Wall time this build has spent calibrating the ONNX artifact's quantization so far: decoding the calibration files
    /// and the asymmetric table's pass over them (not TensorRT's symmetric table, which only its kit uses). The
    /// quantization's report states it (<see cref="QuantizationReport.CalibrationTime"/>), since the engine no longer
    /// calibrates itself when the session hands it the table's ranges.
    /// </summary>
    public TimeSpan CalibrationTime { get; internal set; }

    /// <summary>The held-out files as model inputs, for every accuracy verdict of this build; null when nothing is held out.</summary>
    public ICalibrationDataSource? Evaluation
    {
        get
        {
            if (!evaluationMade)
            {
                evaluation = Split.HeldOut.Count > 0 ? new FileCalibrationSource(floatModel, Split.HeldOut, Requested.Preprocessing) : null;
                evaluationMade = true;
            }
            return evaluation;
        }
    }

    /// <summary>
    /// Ranges of every float activation of the float model from this build's calibration files and calibrator,
    /// computed once per kind (asymmetric: the ONNX artifact, its searches and TFLite; symmetric: TensorRT) and shared
    /// by every quantization and target (EB3003 when there are no calibration files).
    /// </summary>
    public CalibrationTable Calibration(bool symmetric)
    {
        if (calibration.TryGetValue(symmetric, out var table)) return table;
        var options = QuantizeStep.EngineOptions(Requested) with { SymmetricActivations = symmetric };
        // The asymmetric table serves the ONNX artifact, whose quantizer reads the post-training statistics: the same pass collects them.
        var data = CalibrationData;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        table = CalibrationTable.Compute(floatModel, data, options, Progress, statistics: !symmetric && Requested.Targets.Contains(TargetKind.Onnx));
        // The symmetric table is TensorRT's own; the quantization of the ONNX artifact (and its searches) runs on the asymmetric one.
        if (!symmetric) CalibrationTime += clock.Elapsed;
        calibration[symmetric] = table;
        return table;
    }

    /// <summary>
    /// The model at the requested precision and what quantizing it did (<see cref="QuantizeStep"/>: the engine, the
    /// accuracy verdict, the one budget search, Auto's choice), run on first request; null for Fp32.
    /// </summary>
    public QuantizeStepResult? Quantization
    {
        get
        {
            if (quantized) return quantization;
            if (Requested.Precision != Precision.Fp32)
            {
                Progress($"quantizing to {Requested.Precision}");
                quantization = QuantizeStep.Run(this);
            }
            quantized = true;
            return quantization;
        }
    }

    /// <summary>The quantization if some writer asked for it, without running it.</summary>
    public QuantizeStepResult? QuantizationIfRun => quantized ? quantization : null;

    /// <summary>
    /// True when a writer judged its own quantized network against FP32 on the held-out samples under the output floors
    /// (the TensorRT network's check); with the session's own quantization's judgement, the build knows the floors were seen.
    /// </summary>
    public bool WriterJudgedFloors { get; private set; }

    /// <summary>Records that a writer applied the accuracy gate (and so the output floors) to an artifact it wrote.</summary>
    public void NoteWriterJudgedFloors() => WriterJudgedFloors = true;

    /// <summary>
    /// Whether the precision asked for holds an accuracy budget that decides which layers stay float (Mixed, Auto, or
    /// Int8 with MaxAccuracyLoss): then every target takes <see cref="FloatLayers"/> from the one search.
    /// </summary>
    public bool HasLayerSearch => Requested.Precision is Precision.Mixed or Precision.Auto ||
        (Requested.Precision == Precision.Int8 && Requested.MaxAccuracyLoss is double);

    /// <summary>
    /// The layers the build's accuracy-budget search (or Auto) kept in float, for every target: empty without a
    /// search. Asking runs the quantization when a search is due.
    /// </summary>
    public IReadOnlyList<LayerSensitivity> FloatLayers => HasLayerSearch ? Quantization?.KeptInFloat ?? [] : [];

    /// <summary>The ONNX model at the precision the writers build (the float model for Fp32). Do not change it.</summary>
    public Model DeployedModel => Requested.Precision == Precision.Fp32 ? floatModel : Quantization!.Model;

    /// <summary>The model whose interface the manifest describes: the quantized one if a writer asked for it, else the float model.</summary>
    public Model InterfaceModel => QuantizationIfRun?.Model ?? floatModel;

    /// <summary>The artifacts written so far, in order.</summary>
    public IReadOnlyList<ManifestArtifact> Artifacts => artifacts;

    /// <summary>Every path written so far (in <see cref="WriteDirectory"/>).</summary>
    public IReadOnlyList<string> WrittenPaths => written;

    /// <summary>Writes one artifact into <see cref="WriteDirectory"/> and records it for the manifest.</summary>
    /// <param name="fileName">File name inside <see cref="OutputDirectory"/>, starting with <see cref="Name"/>.</param>
    /// <param name="bytes">The whole file.</param>
    /// <param name="precision">The precision the manifest lists for it.</param>
    /// <param name="runtime">The program that loads it as a model (what measurement reads), or None for a recipe, script or cache.</param>
    /// <param name="target">The target it belongs to (default: the writer being run).</param>
    /// <param name="io">The artifact's own inputs and outputs where they differ from the ONNX interface (layout, type), for the manifest.</param>
    public ManifestArtifact WriteArtifact(string fileName, byte[] bytes, string precision, ArtifactRuntime runtime, TargetKind? target = null,
        IReadOnlyList<ManifestArtifactTensor>? io = null)
    {
        string path = PathOf(fileName);
        Progress($"writing {Path.Combine(OutputDirectory, fileName)}");
        written.Add(path);
        AtomicFile.WriteAllBytes(path, bytes);
        var artifact = new ManifestArtifact(fileName, (target ?? CurrentTarget).ToString(), precision,
            Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant(), bytes.LongLength) { Io = io, Runtime = runtime };
        artifacts.Add(artifact);
        return artifact;
    }

    /// <summary>The target whose writer is running (set by the compile step).</summary>
    public TargetKind CurrentTarget { get; set; }
}
