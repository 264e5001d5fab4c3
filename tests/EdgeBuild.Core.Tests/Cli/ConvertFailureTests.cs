using EdgeBuild.Cli;
using EdgeBuild.Onnx.Proto;
using Google.Protobuf;

namespace EdgeBuild.Tests.Cli;

/// <summary>A failing convert leaves nothing behind: not even the output folder it created.</summary>
public sealed class ConvertFailureTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-convert-fail-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>Relu over an input with a symbolic dim: fine for ONNX, EB4102 for TFLite.</summary>
    private string DynamicModel()
    {
        var g = new GraphProto { Name = "g" };
        var shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimParam = "n" }, new TensorShapeProto.Types.Dimension { DimValue = 4 } } };
        g.Input.Add(new ValueInfoProto { Name = "x", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } });
        g.Node.Add(new NodeProto { OpType = "Relu", Name = "relu", Input = { "x" }, Output = { "y" } });
        g.Output.Add(new ValueInfoProto { Name = "y", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape.Clone() } } });
        var m = new ModelProto { IrVersion = 8, Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        string path = Path.Combine(dir, "dynamic.onnx");
        File.WriteAllBytes(path, m.ToByteArray());
        return path;
    }

    [Fact]
    public void FailingConvertRemovesTheFolderItCreated()
    {
        string output = Path.Combine(dir, "out", "tflite");
        var stderr = new StringWriter();
        int exit = Commands.Run(["convert", DynamicModel(), "--target", "TFLite", "-o", output, "-q"], new StringWriter(), stderr);
        Assert.Equal(1, exit);
        Assert.StartsWith("error EB4102: ", stderr.ToString());
        Assert.False(Directory.Exists(output), "the output folder the failed convert created must be gone");
    }

    [Fact]
    public void FailingConvertKeepsAFolderThatWasThere()
    {
        string output = Directory.CreateDirectory(Path.Combine(dir, "existing")).FullName;
        File.WriteAllText(Path.Combine(output, "keep.txt"), "mine");
        int exit = Commands.Run(["convert", DynamicModel(), "--target", "TFLite", "-o", output, "-q"], new StringWriter(), new StringWriter());
        Assert.Equal(1, exit);
        Assert.True(File.Exists(Path.Combine(output, "keep.txt")));
    }
}
