using EdgeBuild.Compile;
using EdgeBuild.Diagnostics;
using EdgeBuild.Targets.Tflite.Schema;
using EdgeBuild.Session;

namespace EdgeBuild.Targets.Tflite;

/// <summary>
/// The TFLite artifact (<c>Name.tflite</c>): the optimized float model converted by <see cref="TfliteConverter"/> at
/// Fp32, Fp16 (float16 weights behind DEQUANTIZE) or Int8 (full-integer, from the build's shared calibration), and
/// written by <see cref="TflWriter"/>. The manifest lists its inputs and outputs with their TFLite layout.
/// </summary>
public sealed class TfliteTargetWriter : ITargetWriter
{
    public TargetKind Kind => TargetKind.TFLite;
    public IReadOnlyList<string> FileSuffixes { get; } = [".tflite"];

    public static TflitePrecision PrecisionOf(Precision precision) => precision switch
    {
        Precision.Fp32 => TflitePrecision.Fp32,
        Precision.Fp16 => TflitePrecision.Fp16,
        Precision.Int8 or Precision.Mixed => TflitePrecision.Int8,
        _ => throw new EdgeBuildException(DiagnosticCodes.TflitePrecisionNotSupported, "Precision",
            $"the TFLite target writes Fp32, Fp16, Int8 or Mixed, not {precision}"),
    };

    public void Check(CompileSession context)
    {
        var precision = PrecisionOf(context.Options.Precision);
        TfliteConverter.Check(context.CloneFloatModel(), new TfliteOptions(precision, context.Options.TfliteLayout, Ranges: new Dictionary<string, Quantization.Calibration.TensorRange>()));
    }

    public void Write(CompileSession context)
    {
        var precision = PrecisionOf(context.Options.Precision);
        var model = context.CloneFloatModel();
        var ranges = precision == TflitePrecision.Int8 ? context.Calibration(symmetric: false).Ranges : null;
        var floatNodes = precision == TflitePrecision.Int8 ? FloatNodes(context, model) : null;
        context.Progress($"converting to TFLite {precision}" + (floatNodes is { Count: > 0 } ? $" ({floatNodes.Count} node(s) in float)" : ""));
        var result = TfliteConverter.Convert(model, new TfliteOptions(precision, context.Options.TfliteLayout, context.Options.TfliteInt8Io, ranges,
            $"EdgeBuild {EdgeBuildVersion.Current}", floatNodes));
        byte[] bytes = TflWriter.Write(result.Model);
        var io = result.Io.Select(t => new ManifestArtifactTensor(t.Name, t.IsInput ? "input" : "output", t.ElementType, t.Shape, t.Layout, t.Perm, t.Scale, t.ZeroPoint)).ToList();
        context.WriteArtifact(context.Name + ".tflite", bytes, context.Options.Precision.ToString(), ArtifactRuntime.TfliteInterpreter, io: io);
    }

    /// <summary>
    /// The nodes an Int8 file runs in float: those KeepFp32 / KeepFp16 name, and the layers the build's accuracy search
    /// returned to FP32 for the ONNX artifact (MaxAccuracyLoss), so both artifacts keep the same layers out of int8. At
    /// Precision=Mixed also every node the ONNX INT8 artifact computes in float (<see cref="Quantization.QdqFloatNodes"/>:
    /// a Softmax on dequantized logits, a box decoder), so the budget the build measured on that artifact holds for
    /// the .tflite file too; Int8 stays full-integer.
    /// </summary>
    public static IReadOnlySet<string> FloatNodes(CompileSession context, Ir.Model floatModel)
    {
        var keep = new Quantization.NodePatterns(context.Options.KeepFp32.Concat(context.Options.KeepFp16)
            .Concat(context.FloatLayers.Select(k => k.Node)));
        var nodes = floatModel.Graph.Nodes.Where(keep.Matches).Select(Quantization.NodePatterns.NameOf).ToHashSet(StringComparer.Ordinal);
        if (context.Options.Precision == Precision.Mixed && context.Quantization is { } onnx) nodes.UnionWith(Quantization.QdqFloatNodes.Of(onnx.Model));
        return nodes;
    }
}
