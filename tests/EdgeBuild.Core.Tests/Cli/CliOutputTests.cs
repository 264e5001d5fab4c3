using EdgeBuild.Cli;
using EdgeBuild.Onnx;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Cli;

/// <summary>
/// What the CLI writes and prints: `-o` ending in the artifact's extension is that file, every table has a header,
/// and the per-pass lines appear only with --verbose.
/// </summary>
public sealed class CliOutputTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-cli-output-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string SmallConv()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 3, 8, 8);
        b.Output(b.BatchNorm(b.Conv(x, "conv", 4, 3), "bn", 4));
        string path = Path.Combine(dir, "small-conv.onnx");
        OnnxExporter.Save(b.Model, path);
        return path;
    }

    [Theory]
    [InlineData("Onnx", "out/small.int8.onnx")]
    [InlineData("TFLite", "out/small-conv.tflite")]
    public void OutputEndingInTheArtifactsExtensionIsAFile(string target, string relative)
    {
        string model = SmallConv();
        string file = Path.Combine(dir, relative);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.True(Commands.Run(["convert", model, "--target", target, "-o", file, "-q"], stdout, stderr) == 0, stderr.ToString());
        Assert.True(File.Exists(file), $"{file} is not a file");
        Assert.False(Directory.Exists(file));
        // Only that file: no other artifact name beside it, no leftovers of the folder it was written in.
        Assert.Equal([Path.GetFileName(file)], Directory.GetFileSystemEntries(Path.GetDirectoryName(file)!).Select(Path.GetFileName));
        byte[] bytes = File.ReadAllBytes(file);
        if (target == "TFLite") Assert.Equal("TFL3", System.Text.Encoding.ASCII.GetString(bytes, 4, 4));
        else Assert.Single(OnnxImporter.Load(file).Graph.Nodes); // Conv + BatchNormalization folded into one Conv
        Assert.Contains(file, stdout.ToString(), StringComparison.Ordinal);

        // A folder stays a folder: the artifact inside, named after the model.
        string folder = Path.Combine(dir, "folder");
        Assert.Equal(0, Commands.Run(["convert", model, "--target", target, "-o", folder, "-q"], new StringWriter(), new StringWriter()));
        Assert.True(File.Exists(Path.Combine(folder, "SmallConv" + (target == "TFLite" ? ".tflite" : ".onnx"))));
    }

    [Fact]
    public void OutputThatIsTheModelItselfIsRefused()
    {
        string model = SmallConv();
        byte[] before = File.ReadAllBytes(model);
        var stderr = new StringWriter();
        Assert.Equal(1, Commands.Run(["convert", model, "--target", "Onnx", "-o", model, "-q"], new StringWriter(), stderr));
        Assert.StartsWith("error EB9002: -o:", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("is the model being converted", stderr.ToString(), StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(model));
    }

    [Fact]
    public void InspectTablesHaveAHeaderOnEveryColumn()
    {
        var stdout = new StringWriter();
        Assert.Equal(0, Commands.Run(["inspect", SmallConv()], stdout, new StringWriter()));
        var lines = stdout.ToString().Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        // Each table is a header line, then a rule of dashes under every column.
        var rules = Enumerable.Range(1, lines.Count - 1).Where(i => lines[i].Length > 0 && lines[i].All(c => c is '-' or ' ')).ToList();
        Assert.Equal(2, rules.Count);
        foreach (int i in rules)
        {
            var columns = lines[i].Split("  ", StringSplitOptions.RemoveEmptyEntries);
            var header = lines[i - 1].Split("  ", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Equal(columns.Length, header.Length);
        }
        Assert.StartsWith("io ", lines[rules[0] - 1], StringComparison.Ordinal);
    }

    [Fact]
    public void PassDetailsOnlyWithVerbose()
    {
        string model = SmallConv();
        var quiet = new StringWriter();
        Assert.Equal(0, Commands.Run(["optimize", model, "-o", Path.Combine(dir, "a.onnx")], new StringWriter(), quiet));
        Assert.DoesNotContain("round 1: batchnorm-folding", quiet.ToString(), StringComparison.Ordinal);
        Assert.Contains("edgebuild: reading", quiet.ToString(), StringComparison.Ordinal);

        var verbose = new StringWriter();
        Assert.Equal(0, Commands.Run(["optimize", model, "-o", Path.Combine(dir, "b.onnx"), "--verbose"], new StringWriter(), verbose));
        Assert.Contains("edgebuild: round 1: batchnorm-folding", verbose.ToString(), StringComparison.Ordinal);

        var compile = new StringWriter();
        Assert.Equal(0, Commands.Run(["convert", model, "--target", "Onnx", "-o", Path.Combine(dir, "c.onnx")], new StringWriter(), compile));
        Assert.DoesNotContain("round 1:", compile.ToString(), StringComparison.Ordinal);
        Assert.Contains("edgebuild: optimizing", compile.ToString(), StringComparison.Ordinal);
        var compileVerbose = new StringWriter();
        Assert.Equal(0, Commands.Run(["convert", model, "--target", "Onnx", "-o", Path.Combine(dir, "d.onnx"), "-v"], new StringWriter(), compileVerbose));
        Assert.Contains("edgebuild: round 1: batchnorm-folding", compileVerbose.ToString(), StringComparison.Ordinal);
    }
}
