using System.Diagnostics;
using EdgeBuild.Compile;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Quantization;
using EdgeBuild.Targets;
using EdgeBuild.Targets.TensorRt;
using EdgeBuild.Targets.Tflite;
using EdgeBuild.Targets.Tflite.Schema;
using EdgeBuild.Session;

namespace EdgeBuild.Tests.Support.Fuzz;

/// <summary>What happened to one mutant.</summary>
public enum FuzzVerdict { Passed, Rejected, Crashed, Hung, MemoryExceeded }

/// <summary>One mutant's outcome: the deepest stage reached, the EB code if refused, the failure if any.</summary>
public sealed record FuzzOutcome(long Index, FuzzVerdict Verdict, string Stage, string? Code, string? Failure, string? FailureKey, TimeSpan Time, long PeakBytes);

/// <summary>
/// Runs mutants through import, every optimization pass, quantization (FP16, INT8 static on a tiny random calibration
/// set), the TFLite writer and the TensorRT kit writer. A mutant passes when it goes through or is refused with an
/// EdgeBuildException other than EB9001; any other exception is a crash, a mutant past <see cref="TimeLimit"/> hangs,
/// and one that makes the process's resident memory pass <see cref="MemoryLimitBytes"/> exceeds memory.
/// </summary>
public sealed class FuzzRunner : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("edgebuild-fuzz-").FullName;
    private readonly Thread watchdog;
    private volatile bool stopping;
    private long peakRss;
    private volatile string stage = "";

    public FuzzRunner()
    {
        // The external-data edits find a real file, a folder, and a link leading out of the model folder.
        File.WriteAllBytes(Path.Combine(folder, "w.bin"), new byte[64]);
        Directory.CreateDirectory(Path.Combine(folder, "dir"));
        if (!OperatingSystem.IsWindows()) Directory.CreateSymbolicLink(Path.Combine(folder, "link"), "/etc");
        Directory.CreateDirectory(Path.Combine(folder, "out"));
        watchdog = new Thread(Watch) { IsBackground = true, Name = "fuzz memory watchdog" };
        watchdog.Start();
    }

    public TimeSpan TimeLimit { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>In a hung mutant's failure text when its thread did not stop on cancellation (the campaign stops then).</summary>
    public const string LeftRunning = "did not stop when cancelled";
    public long MemoryLimitBytes { get; init; } = 2L << 30;

    /// <summary>Every how many mutants that pass the optimizer go on to quantization and the writers (1 = all).</summary>
    public int DeepEvery { get; init; } = 20;

    /// <summary>Of the deep mutants, every how many get INT8 static calibration (it runs ONNX Runtime).</summary>
    public int Int8Every { get; init; } = 3;

    public FuzzOutcome Run(long index, Mutant mutant)
    {
        long baseline = CurrentRss();
        Interlocked.Exchange(ref peakRss, baseline);
        var sw = Stopwatch.StartNew();
        using var cts = new CancellationTokenSource();
        string? code = null;
        Exception? failure = null;
        var worker = new Thread(() =>
        {
            try { code = Process(index, mutant, cts.Token); }
            catch (Exception e) { failure = e; }
        }, 64 << 20) { IsBackground = true, Name = $"fuzz mutant {index}" };
        worker.Start();
        bool finished = worker.Join(TimeLimit);
        sw.Stop();
        long peak = Interlocked.Read(ref peakRss) - baseline;
        if (!finished)
        {
            cts.Cancel();
            // Given a moment to stop at a cancellation point; a thread that does not is left behind (background).
            bool stopped = worker.Join(TimeSpan.FromSeconds(5));
            return new FuzzOutcome(index, FuzzVerdict.Hung, stage, null,
                $"still running after {TimeLimit.TotalSeconds:F0} s{(stopped ? "; stopped when cancelled" : "; " + LeftRunning)}", $"hang in {stage}", sw.Elapsed, peak);
        }
        if (peak > MemoryLimitBytes)
            return new FuzzOutcome(index, FuzzVerdict.MemoryExceeded, stage, code, $"resident memory grew by {peak >> 20} MiB", $"memory in {stage}", sw.Elapsed, peak);
        if (failure is EdgeBuildException eb)
        {
            if (IsInternal(eb) || eb.Subject.Length == 0 || eb.Format().Any(char.IsControl))
                return new FuzzOutcome(index, FuzzVerdict.Crashed, stage, eb.Code, eb.Format(), $"{stage}: {eb.Code} {(eb.Subject.Length == 0 ? "empty subject" : "bad line")}", sw.Elapsed, peak);
            return new FuzzOutcome(index, FuzzVerdict.Rejected, stage, eb.Code, null, null, sw.Elapsed, peak);
        }
        if (failure is not null)
            return new FuzzOutcome(index, FuzzVerdict.Crashed, stage, null, Describe(failure), $"{stage}: {failure.GetType().Name} at {TopFrame(failure)}", sw.Elapsed, peak);
        return new FuzzOutcome(index, FuzzVerdict.Passed, stage, code, null, null, sw.Elapsed, peak);
    }

    /// <summary>The stages; returns null when everything ran.</summary>
    private string? Process(long index, Mutant mutant, CancellationToken ct)
    {
        stage = "import";
        var model = OnnxImporter.Parse(mutant.Bytes, "mutant.onnx", folder);
        stage = "optimize";
        OptimizationPipeline.Run(model, new OptimizeOptions(), cancellationToken: ct);
        // Chosen by the mutant's index, not by a counter, so a repro (--only K) takes the same stages.
        uint pick = (uint)Mutator.MutantSeed(0x0dee9, index);
        if (pick % DeepEvery != 0) return null;
        stage = "deep";

        stage = "export";
        byte[] optimized = OnnxExporter.ToBytes(model);
        var copy = () => OnnxImporter.Parse(optimized, "mutant.onnx");

        stage = "tflite";
        Attempt(() => TflWriter.Write(TfliteConverter.Convert(copy(), new TfliteOptions(TflitePrecision.Fp32)).Model));
        stage = "tensorrt";
        Attempt(() =>
        {
            string outDir = Path.Combine(folder, "out");
            var context = new CompileSession("Mutant", outDir, new CompileOptions { Targets = [TargetKind.TensorRT] }, copy());
            new TensorRtTargetWriter().Write(context);
        });
        stage = "fp16";
        Attempt(() => ModelQuantizer.Quantize(copy(), new QuantizeOptions { Mode = QuantizationMode.Fp16 }, null, ct: ct));
        if (pick / DeepEvery % Int8Every == 0)
        {
            stage = "int8";
            Attempt(() =>
            {
                var m = copy();
                var data = RandomCalibration.For(m, samples: 2, seed: 17);
                if (data is null) return;
                ModelQuantizer.Quantize(m, new QuantizeOptions { Mode = QuantizationMode.Int8Static, Calibrator = CalibratorKind.MinMax }, data, ct: ct);
            });
        }
        return null;
    }

    /// <summary>A writer refusing a model (an EB error) is fine; the next writer still runs. Anything else propagates.</summary>
    private static void Attempt(Action action)
    {
        try { action(); }
        catch (EdgeBuildException e) when (!IsInternal(e) && e.Subject.Length > 0 && !e.Format().Any(char.IsControl)) { }
    }

    /// <summary>EB9001 (internal error) and EB2003 (graph invalid after a pass) are bugs, not refusals.</summary>
    private static bool IsInternal(EdgeBuildException e) => e.Code == DiagnosticCodes.InternalError.Code || e.Code == DiagnosticCodes.VerifierFailed.Code;

    private static string Describe(Exception e) => $"{e.GetType().Name}: {e.Message.Split('\n')[0]}\n{e.StackTrace}";

    private static string TopFrame(Exception e)
    {
        var frames = new StackTrace(e, false).GetFrames();
        var ours = frames.FirstOrDefault(f => f.GetMethod()?.DeclaringType?.Namespace?.StartsWith("EdgeBuild", StringComparison.Ordinal) == true
            && f.GetMethod()?.DeclaringType?.Namespace?.StartsWith("EdgeBuild.Tests", StringComparison.Ordinal) != true) ?? frames.FirstOrDefault();
        var method = ours?.GetMethod();
        return method is null ? "?" : $"{method.DeclaringType?.Name}.{method.Name}";
    }

    private void Watch()
    {
        while (!stopping)
        {
            long rss = CurrentRss();
            long seen;
            while (rss > (seen = Interlocked.Read(ref peakRss)) && Interlocked.CompareExchange(ref peakRss, rss, seen) != seen) { }
            Thread.Sleep(10);
        }
    }

    /// <summary>Resident set size from /proc/self/statm (cheap enough to sample every 10 ms); the working set elsewhere.</summary>
    private static long CurrentRss()
    {
        try
        {
            if (OperatingSystem.IsLinux())
            {
                var fields = File.ReadAllText("/proc/self/statm").Split(' ');
                return long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) * Environment.SystemPageSize;
            }
        }
        catch (IOException) { }
        using var p = System.Diagnostics.Process.GetCurrentProcess();
        return p.WorkingSet64;
    }

    public void Dispose()
    {
        stopping = true;
        watchdog.Join();
        try { Directory.Delete(folder, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>Random tensors for each model input, for INT8 calibration of mutants (symbolic dims taken as 1).</summary>
internal sealed class RandomCalibration(IReadOnlyList<IReadOnlyDictionary<string, Ir.Tensor>> samples) : ICalibrationDataSource
{
    /// <summary>Inputs larger than this are not calibrated by the fuzzer (the quantizer is not what would be tested).</summary>
    private const long MaxElements = 1 << 20;

    public int Count => samples.Count;
    public IEnumerable<IReadOnlyDictionary<string, Ir.Tensor>> Samples() => samples;

    public static RandomCalibration? For(Model model, int samples, int seed)
    {
        var r = new Random(seed);
        var list = new List<IReadOnlyDictionary<string, Ir.Tensor>>();
        for (int s = 0; s < samples; s++)
        {
            var sample = new Dictionary<string, Ir.Tensor>();
            foreach (var input in model.Graph.Inputs.Where(v => v.Initializer is null))
            {
                if (input.TensorType is not { Shape: { } shape } type || type.ElementType == DataType.String || !DataTypes.IsKnown(type.ElementType)) return null;
                long[] dims = shape.Dims.Select(d => d.Value is long v && v > 0 ? v : 1).ToArray();
                long count = Ir.Tensor.CountElements(dims);
                if (count > MaxElements) return null;
                if (type.ElementType == DataType.Float)
                {
                    var data = new float[count];
                    for (long i = 0; i < count; i++) data[i] = (float)(r.NextDouble() * 2 - 1);
                    sample[input.Name] = Ir.Tensor.FromFloats(dims, data);
                }
                else
                {
                    sample[input.Name] = Ir.Tensor.FromRaw(type.ElementType, dims, new byte[DataTypes.ByteCount(type.ElementType, count)]);
                }
            }
            list.Add(sample);
        }
        return new RandomCalibration(list);
    }
}
