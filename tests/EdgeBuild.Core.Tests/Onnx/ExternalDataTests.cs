using EdgeBuild.Cli;
using EdgeBuild.Diagnostics;
using EdgeBuild.Onnx;
using EdgeBuild.Onnx.Proto;
using Google.Protobuf;

namespace EdgeBuild.Tests.Onnx;

/// <summary>
/// External data is resolved to its real path (every symbolic link followed) and read only from inside the
/// model folder's real path; its location, offset and length are checked before any byte is read.
/// </summary>
public sealed class ExternalDataTests : IDisposable
{
    private static readonly float[] Weights = [1, 2, 3, 4];
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-extdata-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static byte[] WeightBytes => System.Runtime.InteropServices.MemoryMarshal.AsBytes(Weights.AsSpan()).ToArray();

    /// <summary>Relu(x) * w, where w (float[4]) lives in external data described by <paramref name="entries"/>.</summary>
    private static byte[] ModelWithExternal(params (string Key, string Value)[] entries)
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(ValueInfo("x"));
        var t = new TensorProto { Name = "w", DataType = 1, Dims = { 4 }, DataLocation = TensorProto.Types.DataLocation.External };
        foreach (var (key, value) in entries) t.ExternalData.Add(new StringStringEntryProto { Key = key, Value = value });
        g.Initializer.Add(t);
        g.Node.Add(new NodeProto { OpType = "Mul", Name = "mul", Input = { "x", "w" }, Output = { "y" } });
        g.Output.Add(ValueInfo("y"));
        var m = new ModelProto { IrVersion = 8, Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return m.ToByteArray();
    }

    private static ValueInfoProto ValueInfo(string name) => new()
    {
        Name = name,
        Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimValue = 4 } } } } },
    };

    private string WriteModel(byte[] bytes, string folder = "")
    {
        string modelDir = Path.Combine(dir, folder);
        Directory.CreateDirectory(modelDir);
        string path = Path.Combine(modelDir, "model.onnx");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static EdgeBuildException LoadFails(string path) => Assert.Throws<EdgeBuildException>(() => OnnxImporter.Load(path));

    [SkippableFact]
    public void DirectoryLinkToEtcIsRefused()
    {
        // The repro: link_dir -> /etc inside the model folder, location link_dir/hostname.
        Skip.If(OperatingSystem.IsWindows(), "symbolic links to /etc are a Unix case");
        string etcFile = File.Exists("/etc/hostname") ? "hostname" : "passwd";
        long size = new FileInfo(Path.Combine("/etc", etcFile)).Length;
        string path = WriteModel(ModelWithExternal(("location", $"link_dir/{etcFile}"), ("length", size.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        Directory.CreateSymbolicLink(Path.Combine(dir, "link_dir"), "/etc");
        var e = LoadFails(path);
        Assert.Equal("EB1007", e.Code);
        Assert.Contains($"link_dir/{etcFile}", e.Message);
        Assert.Contains("outside", e.Message);
    }

    [SkippableFact]
    public void CliRefusesTheEscapeAndWritesNothing()
    {
        Skip.If(OperatingSystem.IsWindows(), "symbolic links to /etc are a Unix case");
        string path = WriteModel(ModelWithExternal(("location", "link_dir/passwd"), ("length", "16")));
        Directory.CreateSymbolicLink(Path.Combine(dir, "link_dir"), "/etc");
        string output = Path.Combine(dir, "out.onnx");
        var stderr = new StringWriter();
        int exit = Commands.Run(["optimize", path, "-o", output, "-q"], new StringWriter(), stderr);
        Assert.Equal(1, exit);
        Assert.StartsWith("error EB1007: ", stderr.ToString());
        Assert.False(File.Exists(output));
    }

    [SkippableFact]
    public void LinkThenDotDotIsResolvedAfterTheLink()
    {
        // inner -> a folder outside; "inner/../x" is outside/../x for the kernel, not x in the model folder.
        Skip.If(OperatingSystem.IsWindows(), "symbolic links");
        string outside = Directory.CreateDirectory(Path.Combine(dir, "outside", "deep")).FullName;
        File.WriteAllBytes(Path.Combine(dir, "outside", "weights.bin"), WeightBytes);
        Directory.CreateDirectory(Path.Combine(dir, "models"));
        File.WriteAllBytes(Path.Combine(dir, "models", "weights.bin"), WeightBytes);
        string path = WriteModel(ModelWithExternal(("location", "inner/../weights.bin")), "models");
        Directory.CreateSymbolicLink(Path.Combine(dir, "models", "inner"), outside);
        Assert.Equal("EB1007", LoadFails(path).Code);
    }

    [SkippableFact]
    public void FileLinkInsideTheFolderIsReadThroughItsTarget()
    {
        Skip.If(OperatingSystem.IsWindows(), "symbolic links");
        // The target is larger than the link's own path: the size must be the target's.
        Directory.CreateDirectory(Path.Combine(dir, "data"));
        File.WriteAllBytes(Path.Combine(dir, "data", "real-weights-with-a-long-name.bin"), [.. new byte[64], .. WeightBytes]);
        File.CreateSymbolicLink(Path.Combine(dir, "weights.bin"), "data/real-weights-with-a-long-name.bin");
        string path = WriteModel(ModelWithExternal(("location", "weights.bin"), ("offset", "64")));
        var model = OnnxImporter.Load(path);
        Assert.Equal(Weights, model.Graph.LookupLocal("w")!.Initializer!.ToFloats());
    }

    [SkippableFact]
    public void ModelFolderReachedThroughALinkStillReadsItsOwnData()
    {
        Skip.If(OperatingSystem.IsWindows(), "symbolic links");
        string real = Directory.CreateDirectory(Path.Combine(dir, "real")).FullName;
        File.WriteAllBytes(Path.Combine(real, "weights.bin"), WeightBytes);
        File.WriteAllBytes(Path.Combine(real, "model.onnx"), ModelWithExternal(("location", "weights.bin")));
        Directory.CreateSymbolicLink(Path.Combine(dir, "alias"), real);
        var model = OnnxImporter.Load(Path.Combine(dir, "alias", "model.onnx"));
        Assert.Equal(Weights, model.Graph.LookupLocal("w")!.Initializer!.ToFloats());
    }

    [SkippableFact]
    public void FileLinkLeadingOutsideIsRefused()
    {
        Skip.If(OperatingSystem.IsWindows(), "symbolic links");
        File.WriteAllBytes(Path.Combine(dir, "secret.bin"), WeightBytes);
        string path = WriteModel(ModelWithExternal(("location", "weights.bin")), "models");
        File.CreateSymbolicLink(Path.Combine(dir, "models", "weights.bin"), "../secret.bin");
        Assert.Equal("EB1007", LoadFails(path).Code);
    }

    [SkippableFact]
    public void LinkLoopIsAnErrorNotAHang()
    {
        Skip.If(OperatingSystem.IsWindows(), "symbolic links");
        string path = WriteModel(ModelWithExternal(("location", "a/weights.bin")));
        Directory.CreateSymbolicLink(Path.Combine(dir, "a"), "b");
        Directory.CreateSymbolicLink(Path.Combine(dir, "b"), "a");
        Assert.StartsWith("EB100", LoadFails(path).Code);
    }

    [Theory]
    [InlineData("weights\0.bin")]
    [InlineData("weights.bin\0../../etc/passwd")]
    [InlineData("wei\nghts.bin")]
    [InlineData("wei\u001bghts.bin")]
    [InlineData("C:weights.bin")]
    [InlineData("sub\\weights.bin")]
    public void BadCharactersInLocationAreRefused(string location)
    {
        File.WriteAllBytes(Path.Combine(dir, "weights.bin"), WeightBytes);
        var e = LoadFails(WriteModel(ModelWithExternal(("location", location))));
        Assert.Equal("EB1007", e.Code);
        Assert.DoesNotContain('\0', e.Format());
        Assert.DoesNotContain('\n', e.Format());
        Assert.DoesNotContain('\u001b', e.Format());
    }

    [Theory]
    [InlineData("offset", "eight")]
    [InlineData("offset", "-8")]
    [InlineData("offset", "99999999999999999999999")]
    [InlineData("offset", "9223372036854775807")]
    [InlineData("length", "16x")]
    [InlineData("length", "-16")]
    [InlineData("length", "")]
    [InlineData("length", "9223372036854775807")]
    public void OffsetsAndLengthsThatDoNotParseOrOverflowAreRefused(string key, string value)
    {
        File.WriteAllBytes(Path.Combine(dir, "weights.bin"), WeightBytes);
        var e = LoadFails(WriteModel(ModelWithExternal(("location", "weights.bin"), (key, value))));
        Assert.StartsWith("EB10", e.Code);
        Assert.Contains("model.onnx", e.Format());
        Assert.Contains("initializer 'w'", e.Message);
    }

    [Fact]
    public void OffsetPlusLengthPastTheFileIsRefused()
    {
        File.WriteAllBytes(Path.Combine(dir, "weights.bin"), WeightBytes);
        var e = LoadFails(WriteModel(ModelWithExternal(("location", "weights.bin"), ("offset", "4"), ("length", "16"))));
        Assert.Equal("EB1008", e.Code);
    }

    [Fact]
    public void LocationThatIsAFolderIsRefused()
    {
        Directory.CreateDirectory(Path.Combine(dir, "weights.bin"));
        Assert.Equal("EB1008", LoadFails(WriteModel(ModelWithExternal(("location", "weights.bin")))).Code);
    }

    [Fact]
    public void PlainFileInASubfolderIsRead()
    {
        Directory.CreateDirectory(Path.Combine(dir, "data"));
        File.WriteAllBytes(Path.Combine(dir, "data", "weights.bin"), [.. new byte[8], .. WeightBytes]);
        var model = OnnxImporter.Load(WriteModel(ModelWithExternal(("location", "./data/weights.bin"), ("offset", "8"), ("length", "16"))));
        Assert.Equal(Weights, model.Graph.LookupLocal("w")!.Initializer!.ToFloats());
    }
}
