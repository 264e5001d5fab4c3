using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Calibration;

/// <summary>
/// Calibration (or evaluation) samples from files: images through <see cref="ImagePreprocessing"/>, or .npy
/// arrays used as they are. Single-input models; every file is decoded up front so a bad file fails
/// before any work (EB3005), and the count is checked against the minimum (EB3003).
/// </summary>
public sealed class FileCalibrationSource : ICalibrationDataSource
{
    private readonly List<Tensor> samples;

    public FileCalibrationSource(Model model, IReadOnlyList<string> files, ImagePreprocessing preprocessing, int minimumSamples = 1)
    {
        var inputs = model.Graph.Inputs.Where(v => v.Initializer is null).ToList();
        if (inputs.Count != 1)
            throw new EdgeBuildException(DiagnosticCodes.CalibrationInputNotImage, inputs.Count == 0 ? "model" : inputs[1].Name,
                $"file calibration feeds one input, the model has {inputs.Count}");
        InputName = inputs[0].Name;
        Files = files;
        ImageInputSpec? image = null;
        samples = new List<Tensor>(files.Count);
        foreach (var file in files)
        {
            Tensor t;
            if (Path.GetExtension(file).Equals(".npy", StringComparison.OrdinalIgnoreCase))
            {
                t = NpyFile.Read(file);
                var expected = inputs[0].TensorType?.Shape;
                if (expected is not null && (expected.Rank != t.Rank || expected.Dims.Where((d, i) => d.Value is long v && v != t.Dims[i]).Any()))
                    throw new EdgeBuildException(DiagnosticCodes.CalibrationFileUnreadable, file, $"shape {t.Shape} does not fit input '{InputName}' {expected}");
            }
            else
            {
                image ??= ImageInputSpec.From(inputs[0], preprocessing.Layout, file);
                t = preprocessing.Load(file, image);
            }
            samples.Add(t);
        }
        if (samples.Count < minimumSamples)
            throw new EdgeBuildException(DiagnosticCodes.NotEnoughCalibrationSamples, string.Join(";", files.Take(3)) + (files.Count > 3 ? ";..." : ""),
                $"{samples.Count} calibration sample(s), at least {minimumSamples} needed");
    }

    public string InputName { get; }
    public IReadOnlyList<string> Files { get; }
    public int Count => samples.Count;

    public IEnumerable<IReadOnlyDictionary<string, Tensor>> Samples() =>
        samples.Select(t => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { [InputName] = t });
}
