using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Session;
using EdgeBuild.Targets.Tflite;
using EdgeBuild.Tests.Support;
using Xunit.Abstractions;

namespace EdgeBuild.Tests.Tflite;

public class TfliteFamilyExplore(ITestOutputHelper output)
{
    [Theory]
    [InlineData("vad-silero-v4", "input=1,1536;h=2,1,64;c=2,1,64")]
    [InlineData("vad-silero-v5", "input=1,576;state=2,1,128")]
    [InlineData("kws-oww-melspec", "input=1,1280")]
    [InlineData("kws-oww-embedding", "input_1=1,76,32,1")]
    [InlineData("text-minilm-l6", "input_ids=1,8;attention_mask=1,8;token_type_ids=1,8")]
    [InlineData("mlsd-tiny-320", "")]
    [InlineData("mlsd-large-320", "")]
    [InlineData("face-age-ssrnet", "input=1,3,64,64")]
    [InlineData("face-liveness", "input=1,3,128,128")]
    public void Explore(string id, string shapes)
    {
        var model = OnnxImporter.Load(TestData.Model(id));
        foreach (var v in model.Graph.Inputs.Where(v => v.Initializer is null)) output.WriteLine($"in {v.Name} {v.TensorType?.ElementType} {v.TensorType?.Shape}");
        foreach (var v in model.Graph.Outputs) output.WriteLine($"out {v.Name} {v.TensorType?.ElementType} {v.TensorType?.Shape}");
        var dict = shapes.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(s => s.Split('=')).ToDictionary(p => p[0], p => p[1].Split(',').Select(long.Parse).ToArray());
        InputShapes.Apply(model, dict);
        OptimizationPipeline.Run(model, new OptimizeOptions());
        output.WriteLine("ops: " + string.Join(", ", model.Graph.Nodes.GroupBy(n => n.OpType).Select(g => $"{g.Key} {g.Count()}")));
        foreach (var n in model.Graph.AllNodes().Where(n => n.HasSubgraphs))
            foreach (var g in n.Subgraphs)
                output.WriteLine($"  {n.OpType} {n.Name} body {g.Name}: " + string.Join(", ", g.Nodes.GroupBy(x => x.OpType).Select(x => $"{x.Key} {x.Count()}")));
        foreach (var n in model.Graph.AllNodes().Where(n => n.OpType is "LSTM" or "If" or "Gather" or "Clip" or "Conv" && (n.OpType != "Conv" || n.Input(0)?.TensorType?.Shape?.Rank == 3)))
            output.WriteLine($"  node {n.OpType} {n.Name}: in {string.Join(" | ", n.Inputs.Select(v => v is null ? "-" : $"{v.Name}{(v.Initializer is null ? "" : "(const)")}{(v.Producer is { } p ? "<" + p.OpType : "")} {v.TensorType?.Shape}"))} out {string.Join(" | ", n.Outputs.Select(v => v is null ? "-" : $"{v.Name} {v.TensorType?.Shape}"))} attrs {string.Join(",", n.Attributes.Where(a => a.Kind != AttributeKind.Graph).Select(a => a.Name + "=" + (a.Kind == AttributeKind.Int ? a.Int.ToString() : a.Kind == AttributeKind.Ints ? string.Join(" ", a.Ints) : a.Kind.ToString())))}");
        try
        {
            TfliteConverter.Check(model, new TfliteOptions());
            output.WriteLine("check ok");
            var r = TfliteConverter.Convert(model, new TfliteOptions());
            output.WriteLine($"converted: {r.Model.Operators.Count} ops");
        }
        catch (Exception e) { output.WriteLine(e.GetType().Name + ": " + e.Message); }
    }
}
