using System.Text.Json;
using EdgeBuild.Compile;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Session;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Compile;

/// <summary>
/// An explicit Int8 build is raced against the optimized FP32 model on this machine, and an artifact slower beyond the
/// A/A band is EB5024 (wave 1 shipped INT8 models up to 2x slower than FP32 under a passing build). The race is cached
/// like a measurement; the tests set the cached race's figures, so the verdict does not hang on this machine's timing.
/// </summary>
public sealed class QuantizedAgainstFp32Tests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-vsfp32-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private (List<string> Progress, List<string> Warnings) Compile(Precision precision)
    {
        string modelPath = Path.Combine(dir, "net.onnx");
        var b = new ModelBuilder(seed: 11);
        var x = b.Input("x", 1, 8, 16, 16);
        b.Output(b.Conv(b.Op("Relu", [b.Conv(x, "c1", 8, 8)], "r1"), "c2", 8, 8));
        OnnxExporter.Save(b.Model, modelPath);
        var files = Enumerable.Range(0, 16).Select(i =>
        {
            string path = Path.Combine(dir, $"s{i:D2}.npy");
            NpyFile.Write(path, ModelBuilder.RandomInput([1, 8, 16, 16], 900 + i));
            return path;
        }).ToList();
        var options = new CompileOptions
        {
            Precision = precision,
            Calibration = precision == Precision.Fp32 ? [] : files,
            Measurement = new MeasureSettings { CacheDirectory = Path.Combine(dir, "cache"), Bench = new BenchOptions { TimeCapSeconds = 0.3, BatchSize = 0 } },
        };
        var progress = new List<string>();
        var warnings = new List<string>();
        ModelCompiler.Compile(modelPath, Path.Combine(dir, "out"), options, progress.Add, warnings.Add);
        return (progress, warnings);
    }

    /// <summary>The cache entry that holds a race (the measurement entries hold no A/A band).</summary>
    private string RaceEntry() => Directory.GetFiles(Path.Combine(dir, "cache"), "*.json").Single(f => File.ReadAllText(f).Contains("\"noiseLow\"", StringComparison.Ordinal));

    private void SetRace(double ratio, double low, double high)
    {
        string path = RaceEntry();
        var race = JsonSerializer.Deserialize<RaceReport>(File.ReadAllText(path), MeasureJson.Options)!;
        var faked = race with { Results = [race.Results[0], race.Results[1] with { Ratio = ratio, RatioLow = low, RatioHigh = high }], NoiseLow = 0.99, NoiseHigh = 1.01 };
        File.WriteAllText(path, JsonSerializer.Serialize(faked, MeasureJson.Options));
    }

    [Fact]
    public void AnInt8ArtifactSlowerThanFp32BeyondTheNoiseIsAWarningThatSaysByHowMuch()
    {
        var (first, _) = Compile(Precision.Int8);
        Assert.Contains(first, l => l.StartsWith("racing the Int8 artifact against the optimized FP32 model", StringComparison.Ordinal));

        SetRace(1.8, 1.7, 1.9);
        var (again, warnings) = Compile(Precision.Int8);
        Assert.DoesNotContain(again, l => l.StartsWith("racing", StringComparison.Ordinal));
        var slower = Assert.Single(warnings, w => w.Contains("EB5024", StringComparison.Ordinal));
        Assert.Contains("Net.onnx (Int8) runs 1.800x the optimized FP32 model's P50 [95 % CI 1.700, 1.900]", slower);
        Assert.Contains("A/A band [0.990, 1.010]", slower);
        Assert.Contains("its whole interval is over 1.010x", slower);

        // Within the band's mirror (1.01): said in the progress line, no warning.
        SetRace(1.02, 1.005, 1.03);
        var (within, quiet) = Compile(Precision.Int8);
        Assert.DoesNotContain(quiet, w => w.Contains("EB5024", StringComparison.Ordinal));
        Assert.Contains(within, l => l.Contains("runs 1.020x the optimized FP32 model's P50", StringComparison.Ordinal));
    }

    [Fact]
    public void AnFp32BuildRacesNothing()
    {
        var (progress, warnings) = Compile(Precision.Fp32);
        Assert.DoesNotContain(progress, l => l.StartsWith("racing", StringComparison.Ordinal));
        Assert.DoesNotContain(warnings, w => w.Contains("EB5024", StringComparison.Ordinal));
    }
}
