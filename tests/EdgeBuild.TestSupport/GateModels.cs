using EdgeBuild.Ir;
using EdgeBuild.Onnx;

namespace EdgeBuild.MSBuild.Tests.Support;

/// <summary>
/// Models for the measurement gate, written by code: a small conv net (input 1x3x<c>size</c>x<c>size</c>, a stem conv,
/// <c>blocks</c> 3x3 convs of 32 channels, global average pool, a 10-way Gemm) and the same net with an extra heavy
/// layer (a 32 -> <c>extraWidth</c> 3x3 conv and a 1x1 conv back to 32) for the injected-slowdown checks.
/// The weights do not depend on <c>extraWidth</c>, so the two differ only by the added layer.
/// </summary>
public static class GateModels
{
    /// <param name="extraBlocks">More 3x3 convs of 32 channels after the <paramref name="blocks"/> (fine-grained slowdowns: each adds about 1 / blocks).</param>
    public static void WriteConvNet(string path, int size = 32, int blocks = 2, int extraWidth = 0, int extraBlocks = 0)
    {
        var model = new Model(new Graph("gate")) { IrVersion = 8, ProducerName = "edgebuild-gate-tests" };
        model.Opsets.Add(new OpsetId("", 13));
        var g = model.Graph;
        var random = new Random(11);
        var x = g.AddInput("input", new TensorType(DataType.Float, Shape.Of(1, 3, size, size)));
        var y = Conv(g, random, x, "stem", 3, 32, 3);
        for (int i = 0; i < blocks; i++) y = Conv(g, random, y, $"block{i}", 32, 32, 3);
        for (int i = 0; i < extraBlocks; i++) y = Conv(g, new Random(200 + i), y, $"extra{i}", 32, 32, 3);
        if (extraWidth > 0)
        {
            var heavy = Conv(g, new Random(99), y, "heavy", 32, extraWidth, 3);
            y = Conv(g, new Random(98), heavy, "heavy_back", extraWidth, 32, 1);
        }
        var pooled = g.AddNode("GlobalAveragePool", [y], ["pooled"], "", "pool").Output0;
        var flat = g.AddNode("Flatten", [pooled], ["flat"], "", "flatten").Output0;
        var w = g.AddInitializer("fc_W", Tensor.FromFloats([10, 32], Floats(random, 320, 0.1f)));
        var b = g.AddInitializer("fc_B", Tensor.FromFloats([10], Floats(random, 10, 0.1f)));
        var logits = g.AddNode("Gemm", [flat, w, b], ["logits"], "", "fc", [Ir.Attribute.Of("transB", 1L)]).Output0;
        g.AddOutput(logits);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllBytes(path, OnnxExporter.ToBytes(model));
    }

    private static Value Conv(Graph g, Random random, Value x, string name, int inChannels, int outChannels, int kernel)
    {
        var w = g.AddInitializer(name + "_W", Tensor.FromFloats([outChannels, inChannels, kernel, kernel], Floats(random, outChannels * inChannels * kernel * kernel, 0.2f)));
        var b = g.AddInitializer(name + "_B", Tensor.FromFloats([outChannels], Floats(random, outChannels, 0.1f)));
        long pad = kernel / 2;
        var conv = g.AddNode("Conv", [x, w, b], [name], "", name + "_conv",
            [Ir.Attribute.Of("kernel_shape", [(long)kernel, kernel]), Ir.Attribute.Of("pads", [pad, pad, pad, pad])]).Output0;
        return g.AddNode("Relu", [conv], [name + "_relu"], "", name + "_relu").Output0;
    }

    private static float[] Floats(Random random, int n, float scale)
    {
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = (float)(random.NextDouble() - 0.5) * scale;
        return data;
    }
}
