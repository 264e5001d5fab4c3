using System.CommandLine;
using EdgeBuild.Compile;
using EdgeBuild.Targets.Tflite;
using EdgeBuild.Session;

namespace EdgeBuild.Cli;

/// <summary>Options of <c>compile</c> and <c>convert</c> about fixed input shapes and the TFLite target (mirroring the EdgeModel metadata Shapes, TfliteLayout, TfliteInt8Io).</summary>
internal sealed class TargetOptionSet
{
    public Option<string[]> Shape { get; } = new("--shape") { Description = "Fix a dynamic input: NAME=1,3,480,640 (repeatable); TFLite needs every dim fixed", AllowMultipleArgumentsPerToken = true };
    public Option<string> TfliteLayout { get; } = new("--tflite-layout") { Description = "TFLite rank-4 inputs/outputs: Nhwc (default) or Nchw (as in the ONNX model)", DefaultValueFactory = _ => "Nhwc" };
    public Option<bool> TfliteInt8Io { get; } = new("--tflite-int8-io") { Description = "TFLite at Int8: int8 inputs and outputs instead of float" };

    public IEnumerable<Option> All => [Shape, TfliteLayout, TfliteInt8Io];

    public CompileOptions Apply(CompileOptions options, ParseResult parse) => options with
    {
        Shapes = CompileOptions.ParseShapes(parse.GetValue(Shape) ?? []),
        TfliteLayout = CompileOptions.ParseEnum<TfliteIoLayout>("TfliteLayout", parse.GetValue(TfliteLayout)!),
        TfliteInt8Io = parse.GetValue(TfliteInt8Io),
    };
}
