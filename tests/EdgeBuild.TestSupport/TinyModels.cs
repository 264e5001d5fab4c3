using EdgeBuild.Ir;
using EdgeBuild.Onnx;

namespace EdgeBuild.MSBuild.Tests.Support;

/// <summary>Small models written by code (no binary fixtures): Conv -> Relu on a 1x3x8x8 input.</summary>
public static class TinyModels
{
    /// <summary>Writes a Conv/Relu model; <paramref name="seed"/> varies the weights (and so the bytes).</summary>
    /// <param name="dynamic">Batch, height and width as symbolic dims (N, H, W): a model the TFLite target needs Shapes for.</param>
    public static void WriteConvRelu(string path, int seed = 1, bool dynamic = false)
    {
        var model = new Model(new Graph("tiny")) { IrVersion = 8, ProducerName = "edgebuild-msbuild-tests" };
        model.Opsets.Add(new OpsetId("", 13));
        var g = model.Graph;
        var random = new Random(seed);
        var x = g.AddInput("input", new TensorType(DataType.Float, dynamic
            ? new Shape([Dim.Symbolic("N"), Dim.Of(3), Dim.Symbolic("H"), Dim.Symbolic("W")])
            : Shape.Of(1, 3, 8, 8)));
        var w = g.AddInitializer("conv_W", Tensor.FromFloats([4, 3, 3, 3], Floats(random, 4 * 3 * 3 * 3)));
        var b = g.AddInitializer("conv_B", Tensor.FromFloats([4], Floats(random, 4)));
        var conv = g.AddNode("Conv", [x, w, b], ["conv"], "", "conv_node",
            [Ir.Attribute.Of("kernel_shape", [3L, 3L]), Ir.Attribute.Of("pads", [1L, 1L, 1L, 1L])]).Output0;
        var relu = g.AddNode("Relu", [conv], ["output"], "", "relu_node").Output0;
        g.AddOutput(relu);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, OnnxExporter.ToBytes(model));
    }

    /// <summary>Bytes that are not an ONNX ModelProto (a truncated protobuf field), like a bad download.</summary>
    public static void WriteCorrupt(string path)
    {
        var bytes = new byte[300];
        new Random(42).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
    }

    private static float[] Floats(Random random, int n)
    {
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = (float)(random.NextDouble() - 0.5);
        return data;
    }
}
