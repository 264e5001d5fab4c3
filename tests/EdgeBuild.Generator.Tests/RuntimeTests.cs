using EdgeBuild.Generator.Tests.Models;
using EdgeBuild.Generator.Tests.Support;
using EdgeBuild.Runtime;
using Microsoft.ML.OnnxRuntime;

namespace EdgeBuild.Generator.Tests;

/// <summary>
/// The generated classes (Baselines/*.g.cs, which BaselineTests keep equal to the generator's output)
/// running real ONNX Runtime sessions over models built in code.
/// </summary>
public class RuntimeTests(ModelFolder models) : IClassFixture<ModelFolder>
{
    private EdgeModelOptions Options(ExecutionProvider? provider = null, List<string>? log = null) =>
        new() { ModelDirectory = models.Path, ExecutionProvider = provider, Log = log is null ? null : log.Add };

    private static float[] Ramp(int n, float scale = 0.1f) => Enumerable.Range(0, n).Select(i => (i - n / 2) * scale).ToArray();

    [Fact]
    public void TinyDetectorMatchesPlainOnnxRuntime()
    {
        var input = Ramp(TinyDetector.Input0Length);
        var image = Enumerable.Range(0, TinyDetector.ImageLength).Select(i => (byte)(i * 5)).ToArray();
        var softmax = new float[TinyDetector.Softmax0Tmp0Length];
        var boxes = new float[TinyDetector.BoxesLength];
        var count = new long[TinyDetector.CountLength];

        using (var model = TinyDetector.Create(Options()))
        {
            Assert.Equal(ExecutionProvider.Cpu, model.ExecutionProvider);
            model.Run(input, image, softmax, boxes, count);
        }

        using var x = OrtValue.CreateTensorValueFromMemory(input, TinyDetector.Input0Shape.ToArray());
        using var img = OrtValue.CreateTensorValueFromMemory(image, TinyDetector.ImageShape.ToArray());
        var expected = TestModels.RunPlain(Path.Combine(models.Path, "TinyDetector.onnx"), (TinyDetector.Input0Name, x), (TinyDetector.ImageName, img));
        try
        {
            Assert.Equal(expected[0].GetTensorDataAsSpan<float>().ToArray(), softmax);
            Assert.Equal(expected[1].GetTensorDataAsSpan<float>().ToArray(), boxes);
            Assert.Equal(expected[2].GetTensorDataAsSpan<long>().ToArray(), count);
            Assert.Equal(image.Sum(b => (long)b), count[0]);
        }
        finally
        {
            foreach (var e in expected) e.Dispose();
        }
    }

    [Fact]
    public void SymbolicDimensionsRebindWhenTheyChange()
    {
        using var model = SymbolicNet.Create(Options());
        foreach (int batch in new[] { 2, 5, 1, 5, 0 })
        {
            var x = Ramp(batch * 4);
            var y = new float[batch * 2];
            var flat = new float[batch * 4];
            model.Run(x, y, flat, batch, batch * 4);
            for (int b = 0; b < batch; b++)
            {
                // W = [[1,2],[3,4],[5,6],[7,8]]
                float y0 = x[b * 4] * 1 + x[b * 4 + 1] * 3 + x[b * 4 + 2] * 5 + x[b * 4 + 3] * 7;
                float y1 = x[b * 4] * 2 + x[b * 4 + 1] * 4 + x[b * 4 + 2] * 6 + x[b * 4 + 3] * 8;
                Assert.Equal(y0, y[b * 2], 5);
                Assert.Equal(y1, y[b * 2 + 1], 5);
            }
            Assert.Equal(x, flat);
        }
    }

    [Fact]
    public void HalfBoolAndDoubleTensorsRoundTrip()
    {
        var log = new List<string>();
        // The manifest asks for CUDA; this ONNX Runtime build has none.
        using var model = MixedTypes.Create(Options(log: log));
        Assert.Single(log);
        Assert.Equal(ExecutionProvider.Cpu, model.ExecutionProvider);
        var values = new[] { (Half)(-1.5f), (Half)0f, (Half)2.25f, (Half)1e-3f };
        var positive = new bool[values.Length];
        var wide = new double[values.Length];
        model.Run(values, positive, wide, values.Length);
        Assert.Equal([false, false, true, true], positive);
        Assert.Equal(values.Select(v => (double)v), wide);
    }

    [Fact]
    public void WrongSpanLengthNamesTheTensorAndTheShape()
    {
        using var model = TinyDetector.Create(Options());
        var ok = new float[48];
        var image = new byte[48];
        var count = new long[1];

        var e = Assert.Throws<ArgumentException>(() => model.Run(new float[100], image, ok, new float[48], count));
        Assert.Equal("input0", e.ParamName);
        Assert.StartsWith("input 'input:0' expects 48 float values (shape [1,3,4,4]), got 100", e.Message);

        e = Assert.Throws<ArgumentException>(() => model.Run(ok, image, ok, new float[47], count));
        Assert.Equal("boxes", e.ParamName);
        Assert.StartsWith("output 'boxes' expects 48 float values (shape [1,3,4,4]), got 47", e.Message);

        e = Assert.Throws<ArgumentException>(() => model.Run(ok, image, ok, new float[48], []));
        Assert.StartsWith("output 'count' expects 1 long values (shape []), got 0", e.Message);

        using var symbolic = SymbolicNet.Create(Options());
        e = Assert.Throws<ArgumentException>(() => symbolic.Run(new float[7], new float[4], new float[8], 2, 8));
        Assert.StartsWith("input 'x' expects 8 float values (shape [2,4] with batchSize=2), got 7", e.Message);
        e = Assert.Throws<ArgumentException>(() => symbolic.Run(new float[8], new float[4], new float[7], 2, 8));
        Assert.StartsWith("output 'flat' expects 8 float values (shape [8] with flatDim0=8), got 7", e.Message);
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => symbolic.Run(new float[8], new float[4], new float[8], -2, 8));
        Assert.Equal("batchSize", range.ParamName);

        // A failed call leaves the instance usable.
        symbolic.Run(new float[8], new float[4], new float[8], 2, 8);
        model.Run(ok, image, ok, new float[48], count);
    }

    [Fact]
    public void RunAllocatesNothingAfterWarmUp()
    {
        using var model = TinyDetector.Create(Options());
        var input = Ramp(TinyDetector.Input0Length);
        var image = new byte[TinyDetector.ImageLength];
        var softmax = new float[TinyDetector.Softmax0Tmp0Length];
        var boxes = new float[TinyDetector.BoxesLength];
        var count = new long[TinyDetector.CountLength];
        for (int i = 0; i < 200; i++) model.Run(input, image, softmax, boxes, count);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) model.Run(input, image, softmax, boxes, count);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void SymbolicRunAllocatesNothingWhileTheDimensionsStay()
    {
        using var model = SymbolicNet.Create(Options());
        var x = Ramp(12);
        var y = new float[6];
        var flat = new float[12];
        for (int i = 0; i < 200; i++) model.Run(x, y, flat, 3, 12);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) model.Run(x, y, flat, 3, 12);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void ShapeConstantsAllocateNothing()
    {
        long total = 0;
        // The first read runs the static constructors (the one allocation, of the arrays behind the spans).
        total -= TinyDetector.Input0Shape[3] + SymbolicNet.XShape[1] + TinyDetector.CountShape.Length;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) total += TinyDetector.Input0Shape[3] + SymbolicNet.XShape[1] + TinyDetector.CountShape.Length;
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(7992, total);
    }

    [Theory]
    [InlineData(ExecutionProvider.Cuda)]
    [InlineData(ExecutionProvider.TensorRT)]
    public void GpuProviderFallsBackToCpuWithOneLogLine(ExecutionProvider provider)
    {
        var log = new List<string>();
        using var model = TinyDetector.Create(Options(provider, log));
        Assert.Equal(ExecutionProvider.Cpu, model.ExecutionProvider);
        var line = Assert.Single(log);
        Assert.Contains($"{provider} execution provider unavailable", line);
        Assert.Contains("running on CPU", line);
        Assert.DoesNotContain('\n', line);

        var softmax = new float[48];
        model.Run(Ramp(48), new byte[48], softmax, new float[48], new long[1]);
        Assert.Equal(16f, softmax.Sum(), 3); // softmax over 3 channels at each of 16 positions
    }

    [Fact]
    public void CpuRequestLogsNothing()
    {
        var log = new List<string>();
        using var model = MixedTypes.Create(Options(ExecutionProvider.Cpu, log));
        Assert.Empty(log);
    }

    [Fact]
    public void MissingArtifactNamesThePathAndTheModel()
    {
        string empty = Directory.CreateTempSubdirectory("edgebuild-empty-").FullName;
        try
        {
            var e = Assert.Throws<FileNotFoundException>(() => TinyDetector.Create(new EdgeModelOptions { ModelDirectory = empty }));
            Assert.Equal(Path.Combine(empty, "TinyDetector.onnx"), e.FileName);
            Assert.Contains("model 'TinyDetector'", e.Message);
            Assert.Contains(e.FileName!, e.Message);
        }
        finally
        {
            Directory.Delete(empty, true);
        }
    }

    [Fact]
    public void StaleArtifactIsRefusedAtCreate()
    {
        string dir = Directory.CreateTempSubdirectory("edgebuild-stale-").FullName;
        try
        {
            // Another model's file where TinyDetector's artifact should be.
            File.Copy(Path.Combine(models.Path, "MixedTypes.onnx"), Path.Combine(dir, "TinyDetector.onnx"));
            var e = Assert.Throws<InvalidOperationException>(() => TinyDetector.Create(new EdgeModelOptions { ModelDirectory = dir }));
            Assert.Contains("does not match its manifest", e.Message);
            Assert.Contains("input 'input:0' is missing", e.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void RunAfterDisposeThrows()
    {
        var model = TinyDetector.Create(Options());
        model.Dispose();
        model.Dispose();
        Assert.Throws<ObjectDisposedException>(() => model.Run(new float[48], new byte[48], new float[48], new float[48], new long[1]));
    }

    [Fact]
    public void OneInstancePerThreadRunsConcurrently()
    {
        var input = Ramp(48);
        var expected = new float[48];
        using (var reference = TinyDetector.Create(Options()))
            reference.Run(input, new byte[48], expected, new float[48], new long[1]);

        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            using var model = TinyDetector.Create(Options());
            var softmax = new float[48];
            for (int i = 0; i < 200; i++)
            {
                model.Run(input, new byte[48], softmax, new float[48], new long[1]);
                Assert.Equal(expected, softmax);
            }
        });
    }

    [Fact]
    public void OptionsAreValidated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TinyDetector.Create(new EdgeModelOptions { ModelDirectory = models.Path, IntraOpThreads = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => TinyDetector.Create(new EdgeModelOptions { ModelDirectory = models.Path, ExecutionProvider = (ExecutionProvider)42 }));
        var configured = false;
        using var model = TinyDetector.Create(new EdgeModelOptions
        {
            ModelDirectory = models.Path,
            IntraOpThreads = 2,
            ParallelExecution = true,
            GraphOptimization = GraphOptimization.Disabled,
            ConfigureSessionOptions = o => configured = o.IntraOpNumThreads == 2,
        });
        Assert.True(configured);
    }
}
