using System.Text.Json;
using EdgeBuild.Compile;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Tests.Support;
using Xunit.Abstractions;
using EdgeBuild.Quantization;
using EdgeBuild.Session;

namespace EdgeBuild.Tests.Compile;

/// <summary>
/// Precision=Auto through the compile road: the manifest records what Auto chose, the race and every layer's reason; the
/// artifacts are labelled with the precision they really have (never "Auto"), and the TFLite file takes the ONNX choice.
/// </summary>
public class AutoCompileTests(ITestOutputHelper output)
{
    [Fact]
    public void AnAutoBuildRecordsItsChoiceAndLabelsEveryArtifactWithWhatItIs()
    {
        var b = new ModelBuilder(seed: 5);
        var x = b.Input("x", 1, 16, 32, 32);
        var h = b.Op("Relu", [b.Conv(x, "c1", 32, 16)], "r1");
        b.Output(b.Conv(h, "c2", 32, 32));
        string dir = Directory.CreateTempSubdirectory("edgebuild-auto-compile-").FullName;
        try
        {
            string modelPath = Path.Combine(dir, "net.onnx");
            OnnxExporter.Save(b.Model, modelPath);
            var files = RandomSamples(dir, [1, 16, 32, 32], seed: 300);
            var lines = new List<string>();
            var options = new CompileOptions
            {
                Precision = Precision.Auto,
                Targets = [TargetKind.Onnx, TargetKind.TFLite],
                Calibration = files.Take(10).ToList(),
                Evaluation = files.Skip(10).ToList(),
                Task = TaskKind.Embedding,
                Measurement = new MeasureSettings { Enabled = false },
            };
            var result = ModelCompiler.Compile(modelPath, Path.Combine(dir, "out"), options, lines.Add);
            var summary = lines.Single(l => l.StartsWith("Auto: ", StringComparison.Ordinal));
            output.WriteLine(summary);

            using var manifest = JsonDocument.Parse(File.ReadAllText(result.ManifestPath));
            var root = manifest.RootElement;
            var auto = root.GetProperty("quantization").GetProperty("auto");
            string chosen = auto.GetProperty("chosen").GetString()!;
            Assert.Contains(chosen, new[] { "Fp32", "Int8", "Mixed" });
            Assert.Equal(summary, auto.GetProperty("summary").GetString());
            Assert.Equal(2, auto.GetProperty("layers").GetArrayLength());
            Assert.All(auto.GetProperty("layers").EnumerateArray(), l => Assert.False(string.IsNullOrEmpty(l.GetProperty("reason").GetString())));
            Assert.StartsWith("FP32", auto.GetProperty("candidates")[0].GetProperty("name").GetString());

            var artifacts = root.GetProperty("artifacts").EnumerateArray().ToDictionary(a => a.GetProperty("target").GetString()!, a => a.GetProperty("precision").GetString()!);
            Assert.Equal(chosen, artifacts["Onnx"]);
            // The .tflite file follows the ONNX choice: float where Auto shipped FP32, INT8 where it shipped INT8 layers.
            Assert.Equal(chosen == "Fp32" ? "Fp32" : chosen, artifacts["TFLite"]);
            var onnx = OnnxImporter.Load(Path.Combine(dir, "out", "Net.onnx"));
            Assert.Equal(chosen != "Fp32", onnx.Graph.Nodes.Any(n => n.OpType == "QuantizeLinear"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void AnAutoBuildsReportShowsTheChoiceBesideFp32AndEveryLayersReason()
    {
        var b = new ModelBuilder(seed: 6);
        var x = b.Input("x", 1, 8, 16, 16);
        b.Output(b.Conv(b.Op("Relu", [b.Conv(x, "c1", 8, 8)], "r1"), "c2", 8, 8));
        string dir = Directory.CreateTempSubdirectory("edgebuild-auto-report-").FullName;
        try
        {
            string modelPath = Path.Combine(dir, "small.onnx");
            OnnxExporter.Save(b.Model, modelPath);
            var files = RandomSamples(dir, [1, 8, 16, 16], seed: 700);
            var options = new CompileOptions
            {
                Precision = Precision.Auto,
                Calibration = files.Take(10).ToList(),
                Evaluation = files.Skip(10).ToList(),
                Task = TaskKind.Embedding,
                Measurement = new MeasureSettings { Bench = new BenchOptions { TimeCapSeconds = 1, WarmupSeconds = 0.1, BatchSize = 0 }, CacheDirectory = Path.Combine(dir, "cache") },
            };
            ModelCompiler.Compile(modelPath, Path.Combine(dir, "out"), options);
            string html = File.ReadAllText(Path.Combine(dir, "out", "report.html"));
            Assert.Contains("Precision choice (Auto)", html);
            Assert.Contains("<th>FP32 µs</th><th>INT8 µs</th><th>why</th>", html);
            using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "out", "report.json")));
            var auto = report.RootElement.GetProperty("auto");
            Assert.StartsWith("FP32", auto.GetProperty("race")[0].GetProperty("name").GetString());
            Assert.StartsWith("Auto ", report.RootElement.GetProperty("precision").GetString());
            Assert.All(report.RootElement.GetProperty("layers").EnumerateArray(), l => Assert.False(string.IsNullOrEmpty(l.GetProperty("why").GetString())));
            string md = File.ReadAllText(Path.Combine(dir, "out", "report.md"));
            Assert.Contains("- Auto: ", md);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>40 seeded random inputs as .npy files: 10 to calibrate, 30 held out.</summary>
    private static List<string> RandomSamples(string dir, long[] dims, int seed) => Enumerable.Range(0, 40).Select(i =>
    {
        string path = Path.Combine(dir, $"s{i:D2}.npy");
        NpyFile.Write(path, ModelBuilder.RandomInput(dims, seed + i));
        return path;
    }).ToList();
}
