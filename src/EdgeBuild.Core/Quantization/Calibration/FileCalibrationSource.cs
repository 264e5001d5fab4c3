using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Calibration;

/// <summary>
/// Calibration (or evaluation) samples from files: images through <see cref="ImagePreprocessing"/>, .npy arrays used
/// as they are (one-input models), or .npz archives with one array per input (any model, e.g. token ids, attention
/// mask and segment ids of a text encoder). Every file is decoded up front so a bad file fails before any work
/// (EB3007), and the count is checked against the minimum (EB3003).
/// </summary>
public sealed class FileCalibrationSource : ICalibrationDataSource
{
    private readonly List<IReadOnlyDictionary<string, Tensor>> samples;

    public FileCalibrationSource(Model model, IReadOnlyList<string> files, ImagePreprocessing preprocessing, int minimumSamples = 1)
    {
        var inputs = model.Graph.Inputs.Where(v => v.Initializer is null).ToList();
        if (inputs.Count == 0)
            throw new EdgeBuildException(DiagnosticCodes.CalibrationInputNotImage, "model", "the model has no input to feed");
        if (inputs.Count != 1 && files.FirstOrDefault(f => !IsNpz(f)) is { } single)
            throw new EdgeBuildException(DiagnosticCodes.CalibrationInputNotImage, single,
                $"an image or .npy file feeds one input, the model has {inputs.Count} ({string.Join(", ", inputs.Select(i => i.Name))}); give one .npz per sample with an array per input (numpy.savez(path, {string.Join(", ", inputs.Select(i => i.Name + "=..."))}))");
        InputName = inputs[0].Name;
        Files = files;
        // The image input's layout and size, read at the first image as before (EB3006 names that file), so a file that
        // failed first in the sequential order still fails first below.
        int firstImage = files.ToList().FindIndex(f => !IsNpz(f) && !IsNpy(f));
        ImageInputSpec? image = null;
        EdgeBuildException? imageError = null;
        if (firstImage >= 0)
        {
            try { image = ImageInputSpec.From(inputs[0], preprocessing.Layout, files[firstImage]); }
            catch (EdgeBuildException e) { imageError = e; }
        }
        // Files decode in parallel (PNG and JPEG decoding is most of the time before the first calibration run); the
        // samples keep the files' order, and the error reported is the first file's in that order, as a loop's would be.
        var decoded = new IReadOnlyDictionary<string, Tensor>?[files.Count];
        var errors = new Exception?[files.Count];
        Parallel.For(0, files.Count, i =>
        {
            try { decoded[i] = Read(files[i], inputs, preprocessing, imageError, image); }
            catch (Exception e) { errors[i] = e; }
        });
        if (errors.FirstOrDefault(e => e is not null) is { } first) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
        samples = new List<IReadOnlyDictionary<string, Tensor>>(decoded.Select(d => d!));
        if (samples.Count < minimumSamples)
            throw new EdgeBuildException(DiagnosticCodes.NotEnoughCalibrationSamples, string.Join(";", files.Take(3)) + (files.Count > 3 ? ";..." : ""),
                $"{samples.Count} calibration sample(s), at least {minimumSamples} needed");
    }

    private static bool IsNpz(string f) => Path.GetExtension(f).Equals(".npz", StringComparison.OrdinalIgnoreCase);
    private static bool IsNpy(string f) => Path.GetExtension(f).Equals(".npy", StringComparison.OrdinalIgnoreCase);

    /// <summary>One file as a sample; <paramref name="imageError"/> is the image input's own error, thrown for every image file (the first one's is reported).</summary>
    private static IReadOnlyDictionary<string, Tensor> Read(string file, IReadOnlyList<Value> inputs, ImagePreprocessing preprocessing, EdgeBuildException? imageError, ImageInputSpec? image)
    {
        if (IsNpz(file))
        {
            var arrays = NpzFile.Read(file);
            var missing = inputs.Where(i => !arrays.ContainsKey(i.Name)).Select(i => i.Name).ToList();
            var extra = arrays.Keys.Where(k => inputs.All(i => i.Name != k)).ToList();
            if (missing.Count > 0 || extra.Count > 0)
                throw new EdgeBuildException(DiagnosticCodes.CalibrationFileUnreadable, file,
                    $"its arrays ({string.Join(", ", arrays.Keys)}) do not match the model's inputs ({string.Join(", ", inputs.Select(i => i.Name))})" +
                    (missing.Count > 0 ? $": missing {string.Join(", ", missing)}" : "") + (extra.Count > 0 ? $"; not inputs: {string.Join(", ", extra)}" : ""));
            foreach (var input in inputs) CheckShape(file, input, arrays[input.Name]);
            return arrays;
        }
        Tensor t;
        if (IsNpy(file))
        {
            t = NpyFile.Read(file);
            CheckShape(file, inputs[0], t);
        }
        else
        {
            if (imageError is not null) throw imageError;
            t = preprocessing.Load(file, image!);
        }
        return new Dictionary<string, Tensor> { [inputs[0].Name] = t };
    }

    private static void CheckShape(string file, Value input, Tensor t)
    {
        var expected = input.TensorType?.Shape;
        if (expected is not null && (expected.Rank != t.Rank || expected.Dims.Where((d, i) => d.Value is long v && v != t.Dims[i]).Any()))
            throw new EdgeBuildException(DiagnosticCodes.CalibrationFileUnreadable, file, $"shape {t.Shape} does not fit input '{input.Name}' {expected}");
    }

    public string InputName { get; }
    public IReadOnlyList<string> Files { get; }
    public int Count => samples.Count;

    public IEnumerable<IReadOnlyDictionary<string, Tensor>> Samples() => samples;
}
