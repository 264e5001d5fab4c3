using System.IO.Compression;
using EdgeBuild.Compile;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Measure;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Tests.Support;
using EdgeBuild.Quantization;
using EdgeBuild.Session;

namespace EdgeBuild.Tests.Quantization;

/// <summary>
/// .npz samples (numpy.savez: one NAME.npy member per input) calibrate models with several inputs, which images and
/// single .npy files cannot feed; a bad archive is one EB3007 naming the file, never a crash.
/// </summary>
public sealed class NpzCalibrationTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-npz-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>Two inputs: a feature map and a per-channel gate, multiplied, then a convolution.</summary>
    private static Model TwoInputModel()
    {
        var b = new ModelBuilder(seed: 9);
        var x = b.Input("x", 1, 8, 12, 12);
        var gate = b.Input("gate", 1, 8, 1, 1);
        b.Output(b.Conv(b.Op("Mul", [x, gate], "gated"), "conv", 8, 8));
        return b.Model;
    }

    private List<string> Samples(int count, Func<int, Dictionary<string, Tensor>>? make = null) => Enumerable.Range(0, count).Select(i =>
    {
        string path = Path.Combine(dir, $"s{i:D2}.npz");
        NpzFile.Write(path, make?.Invoke(i) ?? new Dictionary<string, Tensor>
        {
            ["x"] = ModelBuilder.RandomInput([1, 8, 12, 12], 10 + i),
            ["gate"] = ModelBuilder.RandomInput([1, 8, 1, 1], 500 + i),
        });
        return path;
    }).ToList();

    [Fact]
    public void ATwoInputModelCalibratesAndIsJudgedFromNpzSamples()
    {
        var files = Samples(40);
        Assert.Equal(files, CalibrationFiles.Expand([dir]));
        var source = new FileCalibrationSource(TwoInputModel(), files, new ImagePreprocessing());
        var first = source.Samples().First();
        Assert.Equal(["gate", "x"], first.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(ModelBuilder.RandomInput([1, 8, 12, 12], 10).ToFloats(), first["x"].ToFloats());

        var result = QuantizeStep.Run(TwoInputModel(), new CompileOptions
        {
            Precision = Precision.Int8,
            Calibration = files.Take(10).ToList(),
            Evaluation = files.Skip(10).ToList(),
            Task = TaskKind.Embedding,
            MaxAccuracyLoss = 1,
        });
        Assert.Equal(30, result.Accuracy!.Samples);
        Assert.Contains(result.Report.Layers, l => l.Precision == "Int8");
        Assert.True(result.Judgement!.AcceptableForSearch, result.Accuracy.Summary);
    }

    [Fact]
    public void AnImageOrNpyFileForAModelWithSeveralInputsSaysToUseNpz()
    {
        string npy = Path.Combine(dir, "one.npy");
        NpyFile.Write(npy, ModelBuilder.RandomInput([1, 8, 12, 12]));
        var e = Assert.Throws<EdgeBuildException>(() => new FileCalibrationSource(TwoInputModel(), [npy], new ImagePreprocessing()));
        Assert.Equal("EB3006", e.Descriptor.Code);
        Assert.Contains("numpy.savez(path, x=..., gate=...)", e.Message);
    }

    [Fact]
    public void AnArchiveMissingAnInputNamesIt()
    {
        var files = Samples(1, _ => new Dictionary<string, Tensor> { ["x"] = ModelBuilder.RandomInput([1, 8, 12, 12]), ["mask"] = ModelBuilder.RandomInput([1, 8]) });
        var e = Assert.Throws<EdgeBuildException>(() => new FileCalibrationSource(TwoInputModel(), files, new ImagePreprocessing()));
        Assert.Equal("EB3007", e.Descriptor.Code);
        Assert.Contains("missing gate", e.Message);
        Assert.Contains("not inputs: mask", e.Message);
    }

    [Fact]
    public void AnArrayOfTheWrongShapeIsRefused()
    {
        var files = Samples(1, _ => new Dictionary<string, Tensor> { ["x"] = ModelBuilder.RandomInput([1, 8, 12, 12]), ["gate"] = ModelBuilder.RandomInput([1, 8, 2, 2]) });
        var e = Assert.Throws<EdgeBuildException>(() => new FileCalibrationSource(TwoInputModel(), files, new ImagePreprocessing()));
        Assert.Equal("EB3007", e.Descriptor.Code);
        Assert.Contains("does not fit input 'gate'", e.Message);
    }

    [Fact]
    public void BrokenArchivesAreOneClearError()
    {
        // Not a zip; a zip with a member that is not .npy; a truncated zip; a member whose .npy is cut short.
        string notZip = Path.Combine(dir, "text.npz");
        File.WriteAllText(notZip, "hello");
        string wrongMember = Path.Combine(dir, "member.npz");
        using (var archive = ZipFile.Open(wrongMember, ZipArchiveMode.Create))
            using (var w = new StreamWriter(archive.CreateEntry("readme.txt").Open())) w.Write("x");
        var good = Samples(1)[0];
        string truncated = Path.Combine(dir, "truncated.npz");
        File.WriteAllBytes(truncated, File.ReadAllBytes(good)[..^40]);
        string shortArray = Path.Combine(dir, "short.npz");
        using (var archive = ZipFile.Open(shortArray, ZipArchiveMode.Create))
            using (var m = archive.CreateEntry("x.npy").Open()) m.Write(NpyFile.ToBytes(ModelBuilder.RandomInput([1, 8, 12, 12]))[..^8]);
        foreach (var file in new[] { notZip, wrongMember, truncated, shortArray })
        {
            var e = Assert.Throws<EdgeBuildException>(() => NpzFile.Read(file));
            Assert.Equal("EB3007", e.Descriptor.Code);
            Assert.StartsWith(file, e.Subject);
        }
    }
}
