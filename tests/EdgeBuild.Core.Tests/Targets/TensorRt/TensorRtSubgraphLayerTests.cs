using System.Text.Json;
using EdgeBuild.Compile;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Session;
using EdgeBuild.Targets.TensorRt;
using EdgeBuild.Tests.Support;
using Xunit.Abstractions;
using Attr = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Tests.Targets;

/// <summary>
/// The TensorRT kit's layer report for models with control flow (issue 19): TensorRT imports the nodes of If and Loop
/// bodies as layers, so the report lists them, each with the layer and branch that holds it, named uniquely with the
/// main graph's layers, and an operator TensorRT lacks inside a branch is a warning (an error with TensorRTStrict)
/// that says where it is.
/// </summary>
public sealed class TensorRtSubgraphLayerTests(ITestOutputHelper output) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-trt-subgraph-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private (JsonDocument Recipe, List<string> Warnings, string Network) Kit(string model, string version, string outName, bool strict = false)
    {
        var warnings = new List<string>();
        var options = new CompileOptions
        {
            Targets = [TargetKind.TensorRT],
            Measurement = new() { Enabled = false },
            TensorRt = new TensorRtSettings { Version = version, Strict = strict },
        };
        var result = ModelCompiler.Compile(model, Path.Combine(dir, outName), options, warn: warnings.Add);
        string json = Directory.GetFiles(Path.Combine(dir, outName), "*.trt.json").Single();
        string network = Directory.GetFiles(Path.Combine(dir, outName), "*.trt.onnx").Single();
        return (JsonDocument.Parse(File.ReadAllText(json)), warnings, network);
    }

    /// <summary>Silero VAD v4 (two LSTMs in each branch of an If) and v5 (Ifs nested inside the branches): every node of every body is a row, with its scope.</summary>
    [SkippableTheory]
    [InlineData("vad-silero-v4", "10.3")]
    [InlineData("vad-silero-v5", "8.6")]
    public void VoiceActivityKitsListTheLayersOfEveryBranch(string id, string version)
    {
        var (recipe, warnings, network) = Kit(TestData.Model(id), version, id);
        using (recipe)
        {
            var layers = recipe.RootElement.GetProperty("layers").EnumerateArray().ToList();
            var nodes = OnnxImporter.Load(network).Graph.AllNodes().ToList();
            output.WriteLine($"{id}, TensorRT {version}: {layers.Count} layers ({layers.Count(l => l.TryGetProperty("scope", out _))} inside bodies), {recipe.RootElement.GetProperty("unsupportedLayers").GetInt32()} unsupported; {warnings.Count} warning(s)");
            foreach (var w in warnings) output.WriteLine("  warning: " + w);
            // One row per layer TensorRT builds, named as the node in the kit's network is.
            Assert.Equal(nodes.Select(n => n.Name).Order(StringComparer.Ordinal), layers.Select(l => l.GetProperty("name").GetString()!).Order(StringComparer.Ordinal));
            Assert.Equal(layers.Count, layers.Select(l => l.GetProperty("name").GetString()).Distinct().Count());
            var lstms = layers.Where(l => l.GetProperty("op").GetString() == "LSTM").ToList();
            Assert.NotEmpty(lstms);
            Assert.All(lstms, l => Assert.Matches("/(then|else)_branch$", l.GetProperty("scope").GetString()!));
            Assert.Contains(layers, l => l.TryGetProperty("scope", out var s) && s.GetString()!.EndsWith("/then_branch", StringComparison.Ordinal));
            Assert.Contains(layers, l => l.TryGetProperty("scope", out var s) && s.GetString()!.EndsWith("/else_branch", StringComparison.Ordinal));
            if (id == "vad-silero-v5") Assert.Contains(layers, l => l.TryGetProperty("scope", out var s) && s.GetString()!.Contains(" > ", StringComparison.Ordinal));
        }
    }

    /// <summary>x -> If(mean(x) > 0) then Hardmax(x) else Relu(x): Hardmax is in TensorRT 10's table, not in 8's.</summary>
    private string IfWithHardmaxInThenBranch()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 5);
        var cond = b.Op("Greater", [b.Op("ReduceMean", [x], "mean", Attr.Of("keepdims", 0L)), b.Const("zero", [], 0f)], "cond");
        var then = new Graph("then", b.Graph);
        then.AddOutput(then.AddNode("Hardmax", [x], ["t_out"], "", "hardmax_in_branch").Output0);
        var otherwise = new Graph("else", b.Graph);
        otherwise.AddOutput(otherwise.AddNode("Relu", [x], ["e_out"], "", "relu_in_branch").Output0);
        b.Output(b.Graph.AddNode("If", [cond], ["y"], "", "gate",
            [new Attr("then_branch", AttributeKind.Graph) { Graph = then }, new Attr("else_branch", AttributeKind.Graph) { Graph = otherwise }]).Output0);
        ShapeInference.Infer(b.Model);
        string path = Path.Combine(dir, "gate.onnx");
        OnnxExporter.Save(b.Model, path);
        return path;
    }

    [Fact]
    public void AnOperatorTensorRtLacksInsideABranchIsNamedWithWhereItIs()
    {
        string model = IfWithHardmaxInThenBranch();
        var (recipe, warnings, _) = Kit(model, "8.6", "v8");
        using (recipe)
        {
            var warning = Assert.Single(warnings);
            Assert.Contains("does not support 1 layer(s): hardmax_in_branch (Hardmax inside gate/then_branch: Hardmax is not in TensorRT 8.x's ONNX operator table)", warning, StringComparison.Ordinal);
            var row = recipe.RootElement.GetProperty("layers").EnumerateArray().Single(l => l.GetProperty("name").GetString() == "hardmax_in_branch");
            Assert.False(row.GetProperty("supported").GetBoolean());
            Assert.Equal("gate/then_branch", row.GetProperty("scope").GetString());
        }
        var (recipe10, warnings10, _) = Kit(model, "10.3", "v10");
        recipe10.Dispose();
        Assert.Empty(warnings10);
        var e = Assert.Throws<EdgeBuildException>(() => Kit(model, "8.6", "strict", strict: true));
        Assert.Equal("EB4201", e.Code);
        Assert.Contains("hardmax_in_branch (Hardmax inside gate/then_branch", e.Message, StringComparison.Ordinal);
    }

    /// <summary>onnx-tensorrt's restriction on If: the branches' outputs need different names, and the same rank (10.15) or broadcastable shapes (before).</summary>
    [Fact]
    public void IfBranchesOfDifferentRankOrTheSameOutputAreReported()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 2, 5);
        var cond = b.Op("Greater", [b.Op("ReduceMean", [x], "mean", Attr.Of("keepdims", 0L)), b.Const("zero", [], 0f)], "cond");
        var then = new Graph("then", b.Graph);
        then.AddOutput(then.AddNode("Relu", [x], ["t_out"], "", "t").Output0);
        var otherwise = new Graph("else", b.Graph);
        otherwise.AddOutput(otherwise.AddNode("Unsqueeze", [x, b.ConstInts("axes", 0)], ["e_out"], "", "e").Output0);
        var ranks = b.Graph.AddNode("If", [cond], ["y"], "", "ranks",
            [new Attr("then_branch", AttributeKind.Graph) { Graph = then }, new Attr("else_branch", AttributeKind.Graph) { Graph = otherwise }]);
        var shared = b.Op("Sigmoid", [x], "shared");
        var then2 = new Graph("then2", b.Graph);
        then2.AddOutput(shared);
        var else2 = new Graph("else2", b.Graph);
        else2.AddOutput(shared);
        var same = b.Graph.AddNode("If", [cond], ["z"], "", "same",
            [new Attr("then_branch", AttributeKind.Graph) { Graph = then2 }, new Attr("else_branch", AttributeKind.Graph) { Graph = else2 }]);
        b.Output(ranks.Output0, same.Output0);
        ShapeInference.Infer(b.Model);
        var report = LayerSupportReport.Build(b.Model, TensorRtVersion.Parse("10.15"), "Fp32", new HashSet<string>());
        var r = report.Single(l => l.Layer == "ranks");
        Assert.False(r.Supported);
        Assert.Contains("rank 2 in then_branch and 3 in else_branch", r.Reason, StringComparison.Ordinal);
        // Before 10.15 the table asks only for broadcastable shapes: [2,5] and [1,2,5] broadcast.
        Assert.True(LayerSupportReport.Build(b.Model, TensorRtVersion.Parse("8.6"), "Fp32", new HashSet<string>()).Single(l => l.Layer == "ranks").Supported);
        var s = report.Single(l => l.Layer == "same");
        Assert.False(s.Supported);
        Assert.Contains("both branches return the same tensor 'shared'", s.Reason, StringComparison.Ordinal);
        Assert.Equal("ranks/else_branch", report.Single(l => l.Layer == "e").Scope);
        Assert.Null(report.Single(l => l.Layer == "cond_node").Scope);
    }
}
