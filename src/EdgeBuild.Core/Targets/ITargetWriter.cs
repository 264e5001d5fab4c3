using EdgeBuild.Compile;
using EdgeBuild.Session;

namespace EdgeBuild.Targets;

/// <summary>
/// Writes one deployment format from the optimized model. One implementation per format, listed in
/// <see cref="TargetWriters"/>; the compile step calls <see cref="Write"/> once per requested target, after
/// optimization and quantization, and before the manifest.
/// </summary>
public interface ITargetWriter
{
    TargetKind Kind { get; }

    /// <summary>Every file name suffix this writer may produce after the model's name (".onnx", ".tflite", ...): what a failed build removes.</summary>
    IReadOnlyList<string> FileSuffixes { get; }

    /// <summary>
    /// Writes this target's files through <see cref="CompileSession.WriteArtifact"/> (atomic, recorded for the
    /// manifest and for clean-up on failure). Throws <see cref="Diagnostics.EdgeBuildException"/> for a model this
    /// format cannot express, before anything is written where it can be checked first.
    /// </summary>
    void Write(CompileSession context);

    /// <summary>What can be checked before any target writes a file (unsupported ops, options); throws like <see cref="Write"/>.</summary>
    void Check(CompileSession context) { }
}
