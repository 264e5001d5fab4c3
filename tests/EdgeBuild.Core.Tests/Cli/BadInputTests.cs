using EdgeBuild.Cli;
using EdgeBuild.Onnx.Proto;
using Google.Protobuf;

namespace EdgeBuild.Tests.Cli;

/// <summary>
/// Every kind of broken input gives exactly one EB error line, exit code 1, no stack trace, and no
/// output file (not even a partial one).
/// </summary>
public sealed class BadInputTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-bad-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static ModelProto Valid(Action<GraphProto>? edit = null, int opset = 13)
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(ValueInfo("x"));
        g.Node.Add(new NodeProto { OpType = "Relu", Name = "relu", Input = { "x" }, Output = { "y" } });
        g.Output.Add(ValueInfo("y"));
        edit?.Invoke(g);
        var m = new ModelProto { IrVersion = 8, Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return m;
    }

    private static ValueInfoProto ValueInfo(string name) => new()
    {
        Name = name,
        Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimValue = 4 } } } } },
    };

    private (int Exit, string Stdout, string Stderr, string Output) Optimize(byte[] model, string name = "model.onnx")
    {
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, model);
        string output = Path.Combine(dir, "out.onnx");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = Commands.Run(["optimize", path, "-o", output, "-q"], stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString(), output);
    }

    private void AssertOneError(byte[] model, string code, string? fragment = null, string name = "model.onnx")
    {
        var (exit, _, stderr, output) = Optimize(model, name);
        Assert.Equal(1, exit);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var errors = lines.Where(l => l.StartsWith("error EB", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 1, $"expected one EB error, got:\n{stderr}");
        Assert.StartsWith($"error {code}: ", errors[0]);
        Assert.Contains(name, errors[0]);
        if (fragment is not null) Assert.Contains(fragment, errors[0]);
        Assert.DoesNotContain("   at ", stderr);
        Assert.False(File.Exists(output), "no output file may be written");
        Assert.Empty(Directory.GetFiles(dir, "*.tmp", SearchOption.AllDirectories).Concat(Directory.GetFiles(dir, ".*")));
    }

    [Fact] public void EmptyFile() => AssertOneError([], "EB1001");

    [Fact]
    public void RandomBytes()
    {
        var bytes = new byte[4096];
        new Random(42).NextBytes(bytes);
        AssertOneError(bytes, "EB1002");
    }

    [Fact]
    public void TruncatedProtobuf()
    {
        var bytes = Valid(g => g.Initializer.Add(new TensorProto { Name = "w", DataType = 1, Dims = { 64 }, RawData = ByteString.CopyFrom(new byte[256]) })).ToByteArray();
        AssertOneError(bytes[..(bytes.Length - 100)], "EB1002");
    }

    [Fact]
    public void GraphWithCycle() => AssertOneError(Valid(g =>
    {
        g.Node.Clear();
        g.Node.Add(new NodeProto { OpType = "Add", Name = "a", Input = { "x", "b_out" }, Output = { "a_out" } });
        g.Node.Add(new NodeProto { OpType = "Relu", Name = "b", Input = { "a_out" }, Output = { "b_out" } });
        g.Node.Add(new NodeProto { OpType = "Relu", Name = "c", Input = { "a_out" }, Output = { "y" } });
    }).ToByteArray(), "EB1005", "cycle");

    [Fact]
    public void InputThatNothingProduces() => AssertOneError(Valid(g =>
        g.Node.Add(new NodeProto { OpType = "Relu", Name = "orphan", Input = { "ghost" }, Output = { "z" } })).ToByteArray(), "EB1006", "ghost");

    [Fact]
    public void ExternalDataOutsideTheModelFolder() => AssertOneError(Valid(g =>
    {
        var t = new TensorProto { Name = "w", DataType = 1, Dims = { 4 }, DataLocation = TensorProto.Types.DataLocation.External };
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "../secret.bin" });
        g.Initializer.Add(t);
    }).ToByteArray(), "EB1007", "../secret.bin");

    [Fact]
    public void ExternalDataAbsolutePath() => AssertOneError(Valid(g =>
    {
        var t = new TensorProto { Name = "w", DataType = 1, Dims = { 4 }, DataLocation = TensorProto.Types.DataLocation.External };
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "/etc/passwd" });
        g.Initializer.Add(t);
    }).ToByteArray(), "EB1007");

    [Fact]
    public void ExternalDataFileMissing() => AssertOneError(Valid(g =>
    {
        var t = new TensorProto { Name = "w", DataType = 1, Dims = { 4 }, DataLocation = TensorProto.Types.DataLocation.External };
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
        g.Initializer.Add(t);
    }).ToByteArray(), "EB1008", "weights.bin");

    [Fact]
    public void TensorDeclaringTwoToTheFortyElements() => AssertOneError(Valid(g =>
        g.Initializer.Add(new TensorProto { Name = "huge", DataType = 1, Dims = { 1 << 20, 1 << 20 }, RawData = ByteString.CopyFrom(new byte[16]) })).ToByteArray(), "EB1009", "huge");

    [Fact]
    public void TensorDataShorterThanItsDims() => AssertOneError(Valid(g =>
        g.Initializer.Add(new TensorProto { Name = "short", DataType = 1, Dims = { 100 }, RawData = ByteString.CopyFrom(new byte[16]) })).ToByteArray(), "EB1009", "short");

    [Fact]
    public void UnknownOpDomain() => AssertOneError(Valid(g =>
        g.Node.Add(new NodeProto { OpType = "Magic", Domain = "com.example.unknown", Name = "m", Input = { "y" }, Output = { "z" } })).ToByteArray(), "EB1010", "com.example.unknown");

    [Fact]
    public void MissingFile()
    {
        var stderr = new StringWriter();
        int exit = Commands.Run(["inspect", Path.Combine(dir, "nope.onnx")], new StringWriter(), stderr);
        Assert.Equal(1, exit);
        Assert.StartsWith("error EB1000: ", stderr.ToString());
    }

    [Fact]
    public void UnknownPassName()
    {
        var (exit, _, stderr, output) = OptimizeWith(Valid().ToByteArray(), "--passes", "constant-folding,warp-drive");
        Assert.Equal(1, exit);
        Assert.StartsWith("error EB2001: ", stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void ValidModelWritesOutputAndExternalDataIsRead()
    {
        var weights = new float[] { 1, 2, 3, 4 };
        File.WriteAllBytes(Path.Combine(dir, "weights.bin"), [.. new byte[8], .. System.Runtime.InteropServices.MemoryMarshal.AsBytes(weights.AsSpan())]);
        var model = Valid(g =>
        {
            var t = new TensorProto { Name = "w", DataType = 1, Dims = { 4 }, DataLocation = TensorProto.Types.DataLocation.External };
            t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
            t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "8" });
            t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = "16" });
            g.Initializer.Add(t);
            g.Node.Add(new NodeProto { OpType = "Mul", Name = "mul", Input = { "y", "w" }, Output = { "z" } });
            g.Output.Add(ValueInfo("z"));
        });
        var (exit, stdout, stderr, output) = Optimize(model.ToByteArray());
        Assert.True(exit == 0, stderr);
        Assert.Contains("nodes", stdout);
        var written = EdgeBuild.Onnx.OnnxImporter.Load(output);
        Assert.Equal(weights, written.Graph.LookupLocal("w")!.Initializer!.ToFloats());
    }

    private (int, string, string, string) OptimizeWith(byte[] model, params string[] extra)
    {
        string path = Path.Combine(dir, "model.onnx");
        File.WriteAllBytes(path, model);
        string output = Path.Combine(dir, "out.onnx");
        var stderr = new StringWriter();
        int exit = Commands.Run(["optimize", path, "-o", output, "-q", .. extra], new StringWriter(), stderr);
        return (exit, "", stderr.ToString(), output);
    }
}
