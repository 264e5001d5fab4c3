using EdgeBuild.Compile;
using EdgeBuild.Session;

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

    /// <summary>The writer for <paramref name="kind"/>, or null when this build of EdgeBuild has none.</summary>
    public static ITargetWriter? For(TargetKind kind) => All.FirstOrDefault(w => w.Kind == kind);
}
