using System.Globalization;
using System.Text;
using EdgeBuild.Devices;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Tests.Support;
using Xunit.Abstractions;
using Attribute = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Tests.Devices;

/// <summary>
/// Which layers each profile's runtime leaves to the CPU (docs/devices.md, "Device profiles"), checked against the
/// published operator lists: XNNPACK's README, the Edge TPU compiler's operation table and rules, the Hexagon delegate's
/// README and the TensorRT kit's table; and an offload report for every model of the test data on every profile.
/// </summary>
public sealed class OffloadAnalysisTests(ITestOutputHelper output)
{
    private static DeviceProfile Named(string part) => DeviceProfiles.All.Single(p => p.Name.Contains(part, StringComparison.Ordinal));

    private static OffloadResult Row(Model model, string device, string runtime, string precision)
    {
        ShapeInference.Infer(model);
        return OffloadAnalysis.Analyze(model, [Named(device)]).Single(r => r.Runtime == runtime && r.Precision == precision);
    }

    /// <summary>Conv (filter static) -> Relu -> Exp: XNNPACK's float list has CONV_2D and RELU but no EXP.</summary>
    private static Model ConvReluExp()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 3, 16, 16);
        var c = b.Conv(x, "conv", 8, 3);
        var r = b.Op("Relu", [c], "relu");
        b.Output(b.Op("Exp", [r], "exp"));
        return b.Model;
    }

    [Fact]
    public void AnOpXnnpackDoesNotListFallsBackToTflitesKernels()
    {
        var row = Row(ConvReluExp(), "Raspberry Pi 5", "xnnpack", "Fp32");
        Assert.Null(row.NotJudged);
        Assert.Equal(3, row.Layers);
        var layer = Assert.Single(row.FallBack);
        Assert.Equal(("exp_node", "Exp", "EXP"), (layer.Node, layer.Op, layer.Builtins));
        Assert.Equal("EXP is not in TFLite XNNPACK delegate's Fp32 operator list", layer.Reason);
        Assert.Equal("TFLite's built-in CPU kernels", row.FallsBackTo);
        Assert.NotNull(row.Estimate);

        // The same graph at INT8: the README's quantized list has CONV_2D but neither RELU nor EXP.
        var int8 = Row(ConvReluExp(), "Raspberry Pi 5", "xnnpack", "Int8");
        Assert.Equal(["relu_node", "exp_node"], int8.FallBack.Select(l => l.Node));
        // The GPU delegate on a Jetson lists EXP: nothing falls back there.
        Assert.Empty(Row(ConvReluExp(), "AGX Orin", "tflite-gpu", "Fp32").FallBack);
    }

    /// <summary>XNNPACK's MEAN: spatial axes of a 4-D tensor with keep_dims only (README); a mean over channels falls back.</summary>
    [Fact]
    public void XnnpackTakesSpatialMeansOnly()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 8, 4, 4);
        var spatial = b.Op("GlobalAveragePool", [x], "gap");
        var channels = b.Op("ReduceMean", [x], "channel_mean", Attribute.Of("axes", [1L]), Attribute.Of("keepdims", 1L));
        b.Output(spatial, channels);
        var row = Row(b.Model, "Raspberry Pi 5", "xnnpack", "Fp32");
        var layer = Assert.Single(row.FallBack);
        Assert.Equal("channel_mean_node", layer.Node);
        Assert.Equal("mean over axes [1]: only the spatial axes (height, width) are taken", layer.Reason);
    }

    /// <summary>
    /// Edge TPU: INT8 only (no float row at all), and one delegated subgraph: Conv runs on the TPU, Exp is not in the
    /// compiler's table, and the Conv after it runs on the CPU although the table has CONV_2D.
    /// </summary>
    [Fact]
    public void EdgeTpuCutsTheGraphAtTheFirstOpItLacks()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 3, 16, 16);
        var c0 = b.Conv(x, "conv0", 8, 3);
        var e = b.Op("Exp", [c0], "exp");
        b.Output(b.Conv(e, "conv1", 8, 8));
        var model = b.Model;
        ShapeInference.Infer(model);
        var rows = OffloadAnalysis.Analyze(model, [Named("Edge TPU")]);
        Assert.Equal(["Int8"], rows.Select(r => r.Precision));
        var row = rows.Single();
        Assert.Equal(["exp_node", "conv1_node"], row.FallBack.Select(l => l.Node));
        Assert.Equal("EXP is not in Edge TPU compiler's Int8 operator list", row.FallBack[0].Reason);
        Assert.StartsWith("after exp_node (Exp), the first layer that falls back: Edge TPU compiler delegates one subgraph", row.FallBack[1].Reason, StringComparison.Ordinal);
    }

    /// <summary>The Edge TPU compiler's model rules: sizes known at compile time, and only the 3 innermost dims larger than 1.</summary>
    [Fact]
    public void EdgeTpuNeedsFixedSizesAndThreeInnermostDimensions()
    {
        var b = new ModelBuilder();
        var x = b.InputSymbolic("x", "batch", "3", "16", "16");
        b.Output(b.Conv(x, "conv", 8, 3));
        var dynamic = Assert.Single(Row(b.Model, "Edge TPU", "edgetpu", "Int8").FallBack);
        Assert.Equal("tensor 'x' has no fixed size: Edge TPU compiler needs every size known when it compiles", dynamic.Reason);

        b = new ModelBuilder();
        x = b.Input("x", 2, 3, 16, 16);
        b.Output(b.Conv(x, "conv", 8, 3));
        var batched = Assert.Single(Row(b.Model, "Edge TPU", "edgetpu", "Int8").FallBack);
        Assert.StartsWith("tensor 'x' [2,3,16,16]: only the 3 innermost dimensions may be larger than 1", batched.Reason, StringComparison.Ordinal);
    }

    /// <summary>
    /// Coral's table: Softmax takes a one-dimensional input of at most 16,000 elements; StridedSlice only steps of 1.
    /// A softmax over the last axis of [1,4,10] and a slice with step 2 fall back; a [1,1000] softmax does not.
    /// </summary>
    [Fact]
    public void EdgeTpuAppliesSoftmaxAndStridedSliceLimits()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 1000);
        b.Output(b.Op("Softmax", [x], "flat_softmax", Attribute.Of("axis", -1L)));
        Assert.Empty(Row(b.Model, "Edge TPU", "edgetpu", "Int8").FallBack);

        b = new ModelBuilder();
        x = b.Input("x", 1, 4, 10);
        b.Output(b.Op("Softmax", [x], "grid_softmax", Attribute.Of("axis", -1L)));
        var grid = Assert.Single(Row(b.Model, "Edge TPU", "edgetpu", "Int8").FallBack);
        Assert.Equal("SOFTMAX input of shape [1,4,10]: the Edge TPU takes one-dimensional tensors only", grid.Reason);

        b = new ModelBuilder();
        x = b.Input("x", 1, 20000);
        b.Output(b.Op("Softmax", [x], "wide_softmax", Attribute.Of("axis", -1L)));
        var wide = Assert.Single(Row(b.Model, "Edge TPU", "edgetpu", "Int8").FallBack);
        Assert.Equal("SOFTMAX input of 20000 elements: the Edge TPU takes at most 16000", wide.Reason);

        b = new ModelBuilder();
        x = b.Input("x", 1, 8, 16);
        var sliced = b.Op("Slice", [x, b.ConstInts("starts", 0), b.ConstInts("ends", 16), b.ConstInts("axes", 2), b.ConstInts("steps", 2)], "strided");
        b.Output(sliced);
        var slice = Assert.Single(Row(b.Model, "Edge TPU", "edgetpu", "Int8").FallBack);
        Assert.Equal(("strided_node", "slice steps [2]: the Edge TPU takes step 1 only"), (slice.Node, slice.Reason));
    }

    /// <summary>The Hexagon delegate's README: depthwise filters of width 3 only, strides up to 3, tensors up to 4-D, INT8 only.</summary>
    [Fact]
    public void HexagonAppliesItsPublishedConstraints()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 8, 16, 16);
        var dw3 = b.Conv(x, "dw3", 8, 8, kernel: 3, group: 8);
        var dw5 = b.Conv(dw3, "dw5", 8, 8, kernel: 5, group: 8, pad: 2);
        b.Output(dw5);
        var rows = OffloadAnalysis.Analyze(Infer(b.Model), [Named("Hexagon")]);
        var row = Assert.Single(rows);
        Assert.Equal("Int8", row.Precision);
        var layer = Assert.Single(row.FallBack);
        Assert.Equal(("dw5_node", "DEPTHWISE_CONV_2D", "filter width 5: the Hexagon delegate takes width 3 only"), (layer.Node, layer.Builtins, layer.Reason));
    }

    /// <summary>TensorRT on the Jetsons is judged by the kit's table at JetPack 6's TensorRT 10.3: Mish is imported from 10.15 on only.</summary>
    [Fact]
    public void TensorRtOnJetsonUsesTheKitsOperatorTable()
    {
        var b = new ModelBuilder(opset: 18);
        var x = b.Input("x", 1, 3, 16, 16);
        b.Output(b.Op("Mish", [b.Conv(x, "conv", 8, 3)], "mish"));
        foreach (var device in new[] { "AGX Orin", "Orin Nano" })
            foreach (var precision in new[] { "Fp32", "Fp16", "Int8" })
            {
                var row = Row(b.Model, device, "tensorrt", precision);
                var layer = Assert.Single(row.FallBack);
                Assert.Equal("mish_node", layer.Node);
                Assert.Equal("Mish is not in TensorRT 10.x's ONNX operator table", layer.Reason);
            }
    }

    /// <summary>The x86 profile runs ONNX Runtime's CPU provider: nothing falls back. The Intel NPU has no operator list loaded: not judged, but estimated.</summary>
    [Fact]
    public void TheCpuTakesEverythingAndANpuWithoutAListIsNotJudged()
    {
        Assert.All(OffloadAnalysis.Analyze(Infer(ConvReluExp()), [Named("AVX-512 VNNI")]), r => { Assert.Null(r.NotJudged); Assert.Empty(r.FallBack); });
        var npu = OffloadAnalysis.Analyze(Infer(ConvReluExp()), [Named("Intel NPU")]);
        Assert.Equal(["Int8", "Fp16"], npu.Select(r => r.Precision));
        Assert.All(npu, r =>
        {
            Assert.StartsWith("no per-operator list for the NPU plugin", r.NotJudged, StringComparison.Ordinal);
            Assert.NotNull(r.Estimate);
        });
    }

    /// <summary>
    /// Acceptance (issue 17): an offload report for every model of the test data (MODELS.md and MODELS-zoo.md) on every
    /// profile, each row with its roofline estimate, and each verdict consistent with the published lists: a layer a
    /// TFLite runtime takes has every builtin it becomes in that runtime's list, and one it refuses for a missing
    /// operator names a builtin the list lacks.
    /// </summary>
    [Fact]
    public void EveryTestModelHasAnOffloadReportOnEveryProfile()
    {
        var files = Directory.GetFiles(Path.Combine(TestData.Require(), "models"), "*.onnx").Order(StringComparer.Ordinal).ToList();
        Assert.True(files.Count >= 19, $"expected the 19 models of MODELS.md and MODELS-zoo.md, found {files.Count}");
        int expectedRows = DeviceProfiles.All.Sum(p => p.Runtimes.Count * p.Precisions.Count);
        var table = new StringBuilder("model | " + string.Join(" | ", DeviceProfiles.All.SelectMany(p => p.Runtimes.SelectMany(r => p.Precisions.Select(q => $"{Short(p.Name)}/{r}/{q.Precision}")))) + "\n");
        foreach (var file in files)
        {
            var model = OnnxImporter.Load(file);
            OptimizationPipeline.Run(model, new OptimizeOptions());
            ShapeInference.Infer(model);
            var rows = OffloadAnalysis.Analyze(model);
            Assert.Equal(expectedRows, rows.Count);
            var byName = model.Graph.Nodes.Where(n => n.Inputs.Any(i => i is not null && i.ConstantValue is null)).GroupBy(n => n.Name.Length > 0 ? n.Name : n.Output0.Name).ToDictionary(g => g.Key, g => g.First());
            foreach (var row in rows)
            {
                Assert.NotNull(row.Estimate);
                Assert.True(row.Layers > 0, $"{Path.GetFileName(file)} on {row.Device}: no layers");
                if (row.NotJudged is not null || DeviceProfiles.Runtime(row.Runtime).Ops is not { } ops) continue;
                var list = ops[row.Precision];
                var refused = row.FallBack.Select(l => l.Node).ToHashSet(StringComparer.Ordinal);
                foreach (var layer in row.FallBack.Where(l => l.Reason.Contains(" operator list", StringComparison.Ordinal)))
                    Assert.Contains(layer.Builtins.Split('+'), b => !list.Contains(b));
                foreach (var (name, node) in byName.Where(kv => !refused.Contains(kv.Key)))
                    if (TfliteBuiltins.Of(node) is { } builtins)
                        Assert.All(builtins, b => Assert.Contains(b, list));
            }
            Assert.All(rows.Where(r => r.Runtime == "onnxruntime-cpu"), r => Assert.Empty(r.FallBack));
            table.Append(Path.GetFileNameWithoutExtension(file)).Append(" | ")
                .Append(string.Join(" | ", rows.Select(r => r.NotJudged is not null ? "n/j" : string.Create(CultureInfo.InvariantCulture, $"{r.FallBack.Count}/{r.Layers}"))))
                .Append('\n');
        }
        output.WriteLine("layers falling back to the CPU / layers, per model and device/runtime/precision (n/j: not judged):");
        output.WriteLine(table.ToString());
    }

    private static string Short(string device) => device.Split(' ', '(')[0] switch { "NVIDIA" => device.Contains("Nano", StringComparison.Ordinal) ? "OrinNano" : "AGXOrin", var s => s };

    private static Model Infer(Model model)
    {
        ShapeInference.Infer(model);
        return model;
    }
}
