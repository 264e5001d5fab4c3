using System.Text;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Targets;

/// <summary>Models and calibration files for the TensorRT kit tests, all made here.</summary>
internal static class TensorRtKitSupport
{
    public static readonly long[] ImageDims = [1, 3, 8, 8];

    /// <summary>
    /// x -> conv1 -> relu1 -> conv2 -> add(conv2, relu1) -> relu2 -> maxpool -> conv3 -> gap -> flatten -> gemm (transB) -> matmul -> y:
    /// a residual join, a pool, both Gemm layouts and a MatMul.
    /// </summary>
    public static ModelBuilder ResidualNet(string? extraOp = null)
    {
        var b = new ModelBuilder();
        var x = b.Input("x", ImageDims);
        var c1 = b.Conv(x, "conv1", 8, 3);
        var r1 = b.Op("Relu", [c1], "relu1");
        var c2 = b.Conv(r1, "conv2", 8, 8);
        var add = b.Op("Add", [c2, r1], "residual");
        var r2 = b.Op("Relu", [add], "relu2");
        var pool = b.Op("MaxPool", [r2], "pool", Ir.Attribute.Of("kernel_shape", [2L, 2L]), Ir.Attribute.Of("strides", [2L, 2L]));
        var c3 = b.Conv(pool, "conv3", 4, 8);
        var gap = b.Op("GlobalAveragePool", [c3], "gap");
        var flat = b.Op("Flatten", [gap], "flat");
        var gemm = b.Op("Gemm", [flat, b.Weight("gemm_B", [6, 4]), b.Weight("gemm_C", [6])], "gemm", Ir.Attribute.Of("transB", 1L));
        Value y = b.Op("MatMul", [gemm, b.Weight("mm_B", [6, 5])], "matmul");
        if (extraOp is not null) y = b.Op(extraOp, [y], "extra");
        b.Output(y);
        ShapeInference.Infer(b.Model);
        foreach (var o in b.Graph.Outputs) o.TypeInferred = false;
        return b;
    }

    public static string Save(ModelBuilder b, string dir, string file = "res-net.onnx")
    {
        string path = Path.Combine(dir, file);
        OnnxExporter.Save(b.Model, path);
        return path;
    }

    /// <summary>Writes <paramref name="count"/> random float32 .npy samples shaped <see cref="ImageDims"/> (seeds from <paramref name="seed"/>); returns their paths.</summary>
    public static List<string> CalibrationFiles(string dir, int count = 12, int seed = 300)
    {
        Directory.CreateDirectory(dir);
        var paths = new List<string>();
        for (int i = 0; i < count; i++)
        {
            var t = ModelBuilder.RandomInput(ImageDims, seed + i);
            string path = Path.Combine(dir, $"sample{i:D2}.npy");
            WriteNpy(path, ImageDims, t.ToFloats());
            paths.Add(path);
        }
        return paths;
    }

    public static void WriteNpy(string path, long[] dims, float[] data)
    {
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({string.Join(", ", dims)}{(dims.Length == 1 ? "," : "")}), }}";
        header = header.PadRight(117) + "\n"; // 10 + 118 bytes: the data starts at 128, a multiple of 64 as the format asks
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 };
        bytes.AddRange(BitConverter.GetBytes((ushort)header.Length));
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        foreach (var v in data) bytes.AddRange(BitConverter.GetBytes(v));
        File.WriteAllBytes(path, bytes.ToArray());
    }

    /// <summary>Reads a random-sample .npy written by <see cref="WriteNpy"/> (header of 128 bytes).</summary>
    public static Tensor ReadNpy(string path, long[] dims)
    {
        var bytes = File.ReadAllBytes(path);
        var data = new float[(bytes.Length - 128) / 4];
        Buffer.BlockCopy(bytes, 128, data, 0, data.Length * 4);
        return Tensor.FromFloats(dims, data);
    }

    /// <summary>Distance in units in the last place between two positive floats.</summary>
    public static long Ulps(float a, float b) => Math.Abs((long)BitConverter.SingleToInt32Bits(a) - BitConverter.SingleToInt32Bits(b));
}
