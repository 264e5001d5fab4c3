using EdgeBuild.Ir;
using EdgeBuild.Onnx;

namespace EdgeBuild.Measure;

/// <summary>
/// The fixed workload every measurement runs interleaved with the artifact: four 32x256 · 256x256 MatMul + Relu
/// layers (8.4 M MACs, float32, fixed weights). Machine load and clock changes slow both alike, so
/// artifact / reference latency ("reference units") moves much less between runs and machines than milliseconds do.
/// Never change it: baselines store figures in its units (a change needs a new <see cref="Name"/>).
/// </summary>
public static class ReferenceWorkload
{
    /// <summary>Recorded with every normalized figure.</summary>
    public const string Name = "matmul4x256-v1";

    private static readonly Lazy<byte[]> Bytes = new(Build);

    /// <summary>The serialized ONNX model.</summary>
    public static byte[] Model => Bytes.Value;

    private static byte[] Build()
    {
        var model = new Model(new Graph("edgebuild-reference")) { IrVersion = 8, ProducerName = "edgebuild" };
        model.Opsets.Add(new OpsetId("", 13));
        var g = model.Graph;
        var random = new Random(20240601);
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(32, 256)));
        for (int layer = 0; layer < 4; layer++)
        {
            var data = new float[256 * 256];
            for (int i = 0; i < data.Length; i++) data[i] = (float)(random.NextDouble() - 0.5) / 16f;
            var w = g.AddInitializer($"w{layer}", Tensor.FromFloats([256, 256], data));
            var mm = g.AddNode("MatMul", [x, w], [$"mm{layer}"], "", $"matmul{layer}").Output0;
            x = g.AddNode("Relu", [mm], [layer == 3 ? "y" : $"relu{layer}"], "", $"relu{layer}").Output0;
        }
        g.AddOutput(x);
        return OnnxExporter.ToBytes(model);
    }
}
