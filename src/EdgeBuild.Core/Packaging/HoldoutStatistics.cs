using System.Text.Json;
using EdgeBuild.Diagnostics;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Runtime.Updates;
using Microsoft.ML.OnnxRuntime;

namespace EdgeBuild.Packaging;

/// <summary>
/// The output statistics a package carries (<c>edgebuild package --holdout</c>): the package's own ONNX artifact, the
/// one devices run, on held-out files prepared as the build prepared its calibration images (the model manifest's
/// <c>options.preprocessing</c>), each float32, integer or bool output's values pooled into <see cref="OutputStatistics"/>
/// (integer ones by value when they take few, <see cref="OutputStatistics.ComputeIntegers"/>).
/// </summary>
public static class HoldoutStatistics
{
    /// <summary>Runs the ONNX artifact of the compiled model in <paramref name="folder"/> on <paramref name="files"/>.</summary>
    /// <exception cref="EdgeBuildException">EB7008 (no ONNX artifact, no float, integer or bool output, no file), or the calibration file errors (EB3007...).</exception>
    public static PackageOutputStatistics Compute(string folder, string modelManifestPath, IReadOnlyList<string> files)
    {
        if (files.Count == 0) throw new EdgeBuildException(DiagnosticCodes.HoldoutUnusable, modelManifestPath, "--holdout matched no file");
        string? artifact = null;
        var outputs = new List<(string Name, bool IsFloat)>();
        ImagePreprocessing preprocessing;
        using (var doc = JsonDocument.Parse(File.ReadAllBytes(modelManifestPath)))
        {
            var root = doc.RootElement;
            foreach (var a in root.GetProperty("artifacts").EnumerateArray())
                if (a.GetProperty("target").GetString() == "Onnx") artifact ??= a.GetProperty("path").GetString();
            foreach (var o in root.GetProperty("outputs").EnumerateArray())
            {
                string type = o.GetProperty("elementType").GetString()!;
                if (type == "float32" || IntegerTypes.Contains(type)) outputs.Add((o.GetProperty("name").GetString()!, type == "float32"));
            }
            preprocessing = Preprocessing(root);
        }
        if (artifact is null)
            throw new EdgeBuildException(DiagnosticCodes.HoldoutUnusable, modelManifestPath, "lists no ONNX artifact (target Onnx) to run the held-out files through; compile with the Onnx target");
        if (outputs.Count == 0)
            throw new EdgeBuildException(DiagnosticCodes.HoldoutUnusable, modelManifestPath,
                "the model has no float32, integer or bool output; drift statistics are taken of those only");
        string artifactPath = Path.Combine(folder, artifact.Replace('/', Path.DirectorySeparatorChar));
        var source = new FileCalibrationSource(OnnxImporter.Load(artifactPath), files, preprocessing);

        var floats = outputs.Where(o => o.IsFloat).ToDictionary(o => o.Name, _ => new List<float>(), StringComparer.Ordinal);
        var integers = outputs.Where(o => !o.IsFloat).ToDictionary(o => o.Name, _ => new List<long>(), StringComparer.Ordinal);
        using (var options = OrtSessions.ForEvaluation())
        using (var session = new InferenceSession(artifactPath, options))
        {
            string[] names = [.. outputs.Select(o => o.Name)];
            foreach (var sample in source.Samples())
            {
                var inputNames = sample.Keys.ToArray();
                var inputs = inputNames.Select(n => OrtTensors.ToOrtValue(sample[n])).ToArray();
                try
                {
                    using var runOptions = new RunOptions(); // held in a local: an inline RunOptions can be finalized mid-Run
                    using var results = session.Run(runOptions, inputNames, inputs, names);
                    for (int i = 0; i < names.Length; i++)
                    {
                        var tensor = OrtTensors.ToTensor(results[i])!;
                        if (floats.TryGetValue(names[i], out var f)) f.AddRange(tensor.ToFloats());
                        else integers[names[i]].AddRange(tensor.ToInt64s());
                    }
                }
                finally
                {
                    foreach (var v in inputs) v.Dispose();
                }
            }
        }
        var stats = new List<OutputStatistics>();
        foreach (var (name, isFloat) in outputs)
        {
            if (isFloat ? !floats[name].Any(float.IsFinite) : integers[name].Count == 0)
                throw new EdgeBuildException(DiagnosticCodes.HoldoutUnusable, string.Join(";", files.Take(3)), $"output '{name}' gave no finite value on the held-out files");
            stats.Add(isFloat ? OutputStatistics.Compute(name, floats[name]) : OutputStatistics.ComputeIntegers(name, integers[name]));
        }
        return new PackageOutputStatistics(source.Count, stats);
    }

    /// <summary>The manifest's spelling (docs/manifest.md) of the element types whose values drift is counted on as integers.</summary>
    private static readonly HashSet<string> IntegerTypes = new(StringComparer.Ordinal) { "int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64", "bool" };

    /// <summary>The manifest's <c>options.preprocessing</c> (docs/manifest.md), defaults where absent.</summary>
    private static ImagePreprocessing Preprocessing(JsonElement root)
    {
        var p = new ImagePreprocessing();
        if (!root.TryGetProperty("options", out var options) || !options.TryGetProperty("preprocessing", out var pre) || pre.ValueKind != JsonValueKind.Object)
            return p;
        static float[] Floats(JsonElement e) => e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().Select(x => x.GetSingle()).ToArray() : [e.GetSingle()];
        return p with
        {
            Scale = pre.TryGetProperty("scale", out var s) ? s.GetSingle() : p.Scale,
            Mean = pre.TryGetProperty("mean", out var m) ? Floats(m) : p.Mean,
            Std = pre.TryGetProperty("std", out var d) ? Floats(d) : p.Std,
            ChannelOrder = pre.TryGetProperty("channelOrder", out var c) ? Enum.Parse<ChannelOrder>(c.GetString()!, ignoreCase: true) : p.ChannelOrder,
            Resize = pre.TryGetProperty("resize", out var r) ? Enum.Parse<ResizePolicy>(r.GetString()!, ignoreCase: true) : p.Resize,
            Layout = pre.TryGetProperty("layout", out var l) ? Enum.Parse<ImageLayout>(l.GetString()!, ignoreCase: true) : p.Layout,
        };
    }
}
