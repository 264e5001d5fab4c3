using System.Buffers.Binary;
using EdgeBuild.Targets.Tflite;
using EdgeBuild.Targets.Tflite.Schema;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Tflite;

/// <summary>
/// The FlatBuffer facts of what TflWriter writes, read back from the raw bytes (field ids of the TFLite schema) and by
/// LiteRT: file identifier, schema version, both operator code fields, SignatureDef, metadata, 16-byte aligned buffers.
/// </summary>
public class TfliteSchemaTests
{
    /// <summary>Minimal FlatBuffer reading: tables by field id, as the schema numbers them.</summary>
    private sealed class Fb(byte[] b)
    {
        public int Root => (int)BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(0));
        public int Field(int table, int id)
        {
            int vtable = table - BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(table));
            int size = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(vtable));
            int slot = 4 + 2 * id;
            if (slot >= size) return 0;
            int off = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(vtable + slot));
            return off == 0 ? 0 : table + off;
        }
        public int Deref(int at) => at + (int)BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));
        public int Table(int table, int id) => Field(table, id) is int f and > 0 ? Deref(f) : 0;
        public (int Start, int Length) Vector(int table, int id)
        {
            int v = Table(table, id);
            return v == 0 ? (0, 0) : (v + 4, (int)BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(v)));
        }
        public int TableAt(int vectorStart, int i) => Deref(vectorStart + 4 * i);
        public int Int(int table, int id, int fallback) => Field(table, id) is int f and > 0 ? BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(f)) : fallback;
        public sbyte SByte(int table, int id) => Field(table, id) is int f and > 0 ? (sbyte)b[f] : (sbyte)0;
        public string? String(int table, int id)
        {
            int s = Table(table, id);
            return s == 0 ? null : System.Text.Encoding.UTF8.GetString(b, s + 4, (int)BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(s)));
        }
    }

    internal static TflModel GeluModel()
    {
        var m = new TflModel { Description = "EdgeBuild schema test" };
        m.Tensors.Add(new TflTensor { Name = "x", Shape = [1, 4], Type = EdgeBuild.Targets.Tflite.Schema.TensorType.FLOAT32 });
        m.Tensors.Add(new TflTensor { Name = "bias", Shape = [1, 4], Type = EdgeBuild.Targets.Tflite.Schema.TensorType.FLOAT32, Buffer = m.AddBuffer(TflConverter.FloatBytes([0.5f, -1f, 2f, 0f])) });
        m.Tensors.Add(new TflTensor { Name = "sum", Shape = [1, 4], Type = EdgeBuild.Targets.Tflite.Schema.TensorType.FLOAT32 });
        m.Tensors.Add(new TflTensor { Name = "y", Shape = [1, 4], Type = EdgeBuild.Targets.Tflite.Schema.TensorType.FLOAT32 });
        m.Operators.Add(new TflOperator { OpcodeIndex = m.OperatorCodeIndex(BuiltinOperator.ADD, 1), Inputs = [0, 1], Outputs = [2], Options = new ArithmeticOptions(BuiltinOptionsType.AddOptions, ActivationFunctionType.NONE) });
        // GELU is code 150: past the old byte field, which then holds PLACEHOLDER_FOR_GREATER_OP_CODES (127).
        m.Operators.Add(new TflOperator { OpcodeIndex = m.OperatorCodeIndex(BuiltinOperator.GELU, 1), Inputs = [2], Outputs = [3] });
        m.Inputs.Add(0);
        m.Outputs.Add(3);
        m.Signatures.Add(new TflSignature("serving_default", [("input_x", 0)], [("output_y", 3)]));
        m.Metadata.Add(("min_runtime_version", m.AddBuffer("2.9.0\0\0\0\0\0\0\0\0\0\0\0"u8.ToArray())));
        return m;
    }

    [Fact]
    public void TablesCarryTheSchemaFieldIds()
    {
        byte[] bytes = TflWriter.Write(GeluModel());
        Assert.Equal(bytes, TflWriter.Write(GeluModel()));
        Assert.Equal("TFL3", System.Text.Encoding.ASCII.GetString(bytes, 4, 4));
        var fb = new Fb(bytes);
        int root = fb.Root;
        Assert.Equal(3, fb.Int(root, 0, 0));
        Assert.Equal("EdgeBuild schema test", fb.String(root, 3));
        var (codes, codeCount) = fb.Vector(root, 1);
        Assert.Equal(2, codeCount);
        int gelu = fb.TableAt(codes, 1);
        Assert.Equal(127, fb.SByte(gelu, 0));
        Assert.Equal(150, fb.Int(gelu, 3, 0));
        int add = fb.TableAt(codes, 0);
        Assert.Equal(0, fb.SByte(add, 0));
        var (buffers, bufferCount) = fb.Vector(root, 4);
        Assert.Equal(3, bufferCount);
        Assert.Equal(0, fb.Vector(fb.TableAt(buffers, 0), 0).Length); // the empty sentinel
        for (int i = 1; i < bufferCount; i++)
        {
            var (start, length) = fb.Vector(fb.TableAt(buffers, i), 0);
            Assert.True(length > 0);
            Assert.Equal(0, start % 16);
        }
        var (signatures, signatureCount) = fb.Vector(root, 7);
        Assert.Equal(1, signatureCount);
        Assert.Equal("serving_default", fb.String(fb.TableAt(signatures, 0), 2));
        var (metadata, _) = fb.Vector(root, 6);
        Assert.Equal("min_runtime_version", fb.String(fb.TableAt(metadata, 0), 0));
    }

    [SkippableFact]
    public void GoogleInterpreterReadsAndRunsIt()
    {
        string tool = TfliteTool.Require();
        string dir = Directory.CreateTempSubdirectory("edgebuild-tflite-schema-").FullName;
        try
        {
            string file = Path.Combine(dir, "gelu.tflite");
            File.WriteAllBytes(file, TflWriter.Write(GeluModel()));
            using var info = TfliteRef.Info(tool, file);
            var root = info.RootElement;
            Assert.True(root.GetProperty("runtime").GetProperty("model_ok").GetBoolean());
            Assert.Equal("input_x", root.GetProperty("inputs")[0].GetProperty("name").GetString());
            Assert.Equal(["ADD", "GELU"], root.GetProperty("operators").GetProperty("codes").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
            var y = TfliteRef.Run(tool, file, new Dictionary<string, Ir.Tensor> { ["input_x"] = Ir.Tensor.FromFloats([1, 4], [0f, 1f, -1f, 0.5f]) }, dir)["output_y"].ToFloats();
            float[] sum = [0.5f, 0f, 1f, 0.5f];
            for (int i = 0; i < 4; i++)
            {
                double gelu = 0.5 * sum[i] * (1 + Erf(sum[i] / Math.Sqrt(2)));
                Assert.True(Math.Abs(y[i] - gelu) < 1e-3, $"y[{i}] = {y[i]}, GELU({sum[i]}) = {gelu}");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Abramowitz-Stegun 7.1.26 (error below 1.5e-7).</summary>
    private static double Erf(double x)
    {
        double t = 1 / (1 + 0.3275911 * Math.Abs(x));
        double y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.Exp(-x * x);
        return Math.Sign(x) * y;
    }
}
