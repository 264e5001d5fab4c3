using System.Security.Cryptography;
using EdgeBuild.Compile;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization.Calibration;

namespace EdgeBuild.Session;

/// <summary>
/// What a target writer gets from the compile step: the optimized float model, the model at the requested
/// precision, the shared calibration, and the one way to write an artifact.
/// </summary>
public sealed class CompileSession
{
    private readonly Model floatModel;
    private byte[]? floatModelBytes;
    private readonly Dictionary<bool, CalibrationTable> calibration = [];
    private readonly List<ManifestArtifact> artifacts = [];
    private readonly List<string> written = [];

    public CompileSession(string name, string outputDirectory, CompileOptions options, Model floatModel, Model deployedModel,
        QuantizeStepResult? quantization, Action<string>? progress = null, Action<string>? warn = null, string? writeDirectory = null)
    {
        Name = name;
        OutputDirectory = outputDirectory;
        WriteDirectory = writeDirectory ?? outputDirectory;
        Options = options;
        this.floatModel = floatModel;
        DeployedModel = deployedModel;
        Quantization = quantization;
        Progress = progress ?? (_ => { });
        Warn = warn ?? (_ => { });
    }

    /// <summary>The model's name: every artifact's file name starts with it.</summary>
    public string Name { get; }
    /// <summary>The folder the artifacts are for (their manifest's folder).</summary>
    public string OutputDirectory { get; }

    /// <summary>Where the artifacts are written during the compile: the compile's staging folder, moved into <see cref="OutputDirectory"/> as one set at the end.</summary>
    public string WriteDirectory { get; }

    /// <summary>The path of an artifact written so far (in <see cref="WriteDirectory"/>).</summary>
    public string PathOf(string fileName) => Path.Combine(WriteDirectory, fileName);
    public CompileOptions Options { get; }

    /// <summary>The ONNX model at the requested precision (what the ONNX target writes). Do not change it.</summary>
    public Model DeployedModel { get; }

    /// <summary>What the quantization step did (null for Fp32).</summary>
    public QuantizeStepResult? Quantization { get; }
    public Action<string> Progress { get; }
    public Action<string> Warn { get; }

    /// <summary>The artifacts written so far, in order.</summary>
    public IReadOnlyList<ManifestArtifact> Artifacts => artifacts;

    /// <summary>Every path written so far (in <see cref="WriteDirectory"/>).</summary>
    public IReadOnlyList<string> WrittenPaths => written;

    /// <summary>A fresh copy of the optimized float32 model (before quantization): a writer may change it freely.</summary>
    /// <remarks>Serialized on first use only: an Fp32 ONNX-only build never needs a copy.</remarks>
    public Model CloneFloatModel() => OnnxImporter.Parse(floatModelBytes ??= OnnxExporter.ToBytes(floatModel));

    /// <summary>The calibration and held-out files of this build (one split for every target).</summary>
    public CalibrationSplit Split => split ??= CalibrationSplit.Of(Options);
    private CalibrationSplit? split;

    /// <summary>
    /// Ranges of every float activation of the float model from this build's calibration files and calibrator,
    /// computed on first use and shared by every target (EB3003 when there are no calibration files).
    /// </summary>
    public CalibrationTable Calibration(bool symmetric)
    {
        if (calibration.TryGetValue(symmetric, out var table)) return table;
        // The quantization step calibrated the same float model on the same files with the same calibrator: its table serves.
        if (!symmetric && Quantization?.Calibration is { Symmetric: false } shared)
        {
            calibration[symmetric] = shared;
            return shared;
        }
        if (Split.Calibration.Count == 0)
            throw new EdgeBuildException(DiagnosticCodes.NotEnoughCalibrationSamples, "Calibration",
                $"precision {Options.Precision} needs calibration images or .npy files (Calibration metadata, --calibration)");
        var model = CloneFloatModel();
        var data = new FileCalibrationSource(model, Split.Calibration, Options.Preprocessing, Options.MinCalibrationSamples);
        var options = QuantizeStep.EngineOptions(Options) with { SymmetricActivations = symmetric };
        table = CalibrationTable.Compute(model, data, options, Progress);
        calibration[symmetric] = table;
        return table;
    }

    /// <summary>Writes one artifact into <see cref="WriteDirectory"/> and records it for the manifest.</summary>
    /// <param name="fileName">File name inside <see cref="OutputDirectory"/>, starting with <see cref="Name"/>.</param>
    /// <param name="bytes">The whole file.</param>
    /// <param name="precision">The precision the manifest lists for it.</param>
    /// <param name="target">The target it belongs to (default: the writer being run).</param>
    /// <param name="io">The artifact's own inputs and outputs where they differ from the ONNX interface (layout, type), for the manifest.</param>
    public ManifestArtifact WriteArtifact(string fileName, byte[] bytes, string precision, TargetKind? target = null, IReadOnlyList<ManifestArtifactTensor>? io = null)
    {
        string path = PathOf(fileName);
        Progress($"writing {Path.Combine(OutputDirectory, fileName)}");
        written.Add(path);
        AtomicFile.WriteAllBytes(path, bytes);
        var artifact = new ManifestArtifact(fileName, (target ?? CurrentTarget).ToString(), precision,
            Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant(), bytes.LongLength) { Io = io };
        artifacts.Add(artifact);
        return artifact;
    }

    /// <summary>The target whose writer is running (set by the compile step).</summary>
    public TargetKind CurrentTarget { get; internal set; }
}
