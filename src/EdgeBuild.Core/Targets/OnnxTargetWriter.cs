using EdgeBuild.Compile;
using EdgeBuild.Onnx;
using EdgeBuild.Session;

namespace EdgeBuild.Targets;

/// <summary>The ONNX Runtime artifact: the optimized model at the requested precision (<c>Name.onnx</c>).</summary>
public sealed class OnnxTargetWriter : ITargetWriter
{
    public TargetKind Kind => TargetKind.Onnx;
    public IReadOnlyList<string> FileSuffixes { get; } = [".onnx"];

    public void Write(CompileSession context) =>
        context.WriteArtifact(context.Name + ".onnx", OnnxExporter.ToBytes(context.DeployedModel), context.Options.Precision.ToString(), ArtifactRuntime.OnnxRuntime);
}
