using EdgeBuild.Compile;
using EdgeBuild.Session;
using EdgeBuild.Quantization;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;

namespace EdgeBuild.Targets;

/// <summary>The target writers, in one place: the compile step looks a target up here.</summary>
public static class TargetWriters
{
    public static IReadOnlyList<ITargetWriter> All { get; } =
    [
        new OnnxTargetWriter(),
        new TensorRt.TensorRtTargetWriter(),
        new Tflite.TfliteTargetWriter(),
    ];

    /// <summary>Whether <paramref name="artifact"/> of the model <paramref name="name"/> is a model file a runtime loads (not a recipe, script or cache).</summary>
    public static bool IsModel(string name, ManifestArtifact artifact) =>
        Enum.TryParse<TargetKind>(artifact.Target, out var kind) && For(kind) is { } w && w.ModelSuffixes.Any(s => artifact.Path == name + s);

    /// <summary>The writer for <paramref name="kind"/>, or null when this build of EdgeBuild has none.</summary>
    public static ITargetWriter? For(TargetKind kind) => All.FirstOrDefault(w => w.Kind == kind);
}
