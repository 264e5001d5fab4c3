using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Security.Cryptography;
using EdgeBuild.Benchmarks.Models;
using EdgeBuild.Runtime;
using EdgeBuild.Runtime.Updates;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Benchmarks;

/// <summary>
/// <c>lifecycle [--blocks N] [--block 100]</c>: the cost of monitoring and updates on eye-state's generated Run.
/// plain = EyeState without an updater, the meter not listened to; full = EyeState with a ModelUpdater and a rollback
/// policy attached (generation check per run, health ring) and a MeterListener taking every measurement; plain2 = a
/// second plain instance (A/A noise floor). Blocks of calls interleaved, order rotated each round; the listener is
/// switched on only around full's blocks.
/// </summary>
internal static class LifecycleBenchmark
{
    public static int Run(string[] args, string data)
    {
        string? Arg(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        int blocks = int.Parse(Arg("--blocks") ?? "300", CultureInfo.InvariantCulture);
        int block = int.Parse(Arg("--block") ?? "100", CultureInfo.InvariantCulture);
        var spec = RealModelSpec.Get("eye-state");
        float[] input = spec.Load(spec.Photos(data, 1)[0]).ToFloats();
        var options = new EdgeModelOptions { ModelDirectory = Path.Combine(data, "models") };
        string state = Directory.CreateTempSubdirectory("edgebuild-lifecycle-bench-").FullName;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var updater = new ModelUpdater(EyeState.ModelDescription, new ModelUpdaterOptions
        {
            Channel = new Uri(Path.Combine(state, "stable.json")), TrustedKeys = [key], StateDirectory = state,
            ModelOptions = options, Rollback = new RollbackPolicy(), Log = _ => { },
        });
        using var plain = EyeState.Create(options);
        using var plain2 = EyeState.Create(options);
        using var full = EyeState.Create(new EdgeModelOptions { ModelDirectory = options.ModelDirectory, Updates = updater });
        var output = new float[EyeState.OutputLength];

        double sink = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) => { if (instrument.Meter.Name == EdgeRuntimeMetrics.MeterName) l.EnableMeasurementEvents(instrument); };
        listener.SetMeasurementEventCallback<double>((_, value, _, _) => sink += value);
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => sink += value);
        listener.Start();
        Instrument[] ours = [EdgeRuntimeMetrics.Duration, EdgeRuntimeMetrics.Count, EdgeRuntimeMetrics.Errors];
        void Listen(bool on)
        {
            foreach (var i in ours)
                if (on) listener.EnableMeasurementEvents(i);
                else listener.DisableMeasurementEvents(i);
        }

        Action[] variants = [() => plain.Run(input, output), () => full.Run(input, output), () => plain2.Run(input, output)];
        for (int w = 0; w < 200; w++) foreach (var v in variants) v();
        var times = variants.Select(_ => new List<double>(blocks * block)).ToArray();
        for (int r = 0; r < blocks; r++)
        {
            for (int k = 0; k < 3; k++)
            {
                int v = (r + k) % 3;
                Listen(v == 1);
                for (int c = 0; c < block; c++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    variants[v]();
                    times[v].Add((Stopwatch.GetTimestamp() - t0) * 1e9 / Stopwatch.Frequency);
                }
            }
        }
        Listen(true);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int c = 0; c < 2000; c++) variants[1]();
        double bytesPerCall = (GC.GetAllocatedBytesForCurrentThread() - before) / 2000.0;

        static double Median(List<double> xs)
        {
            var s = xs.Order().ToList();
            return s[s.Count / 2];
        }
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores; eye-state, ONNX Runtime 1 intra-op thread; {blocks} rounds x {block} calls per variant, interleaved by block");
        Console.WriteLine($"{"variant",-8} {"p50 ns",10} {"mean ns",10}");
        string[] names = ["plain", "full", "plain2"];
        for (int v = 0; v < 3; v++) Console.WriteLine(string.Create(inv, $"{names[v],-8} {Median(times[v]),10:F0} {times[v].Average(),10:F0}"));
        Console.WriteLine(string.Create(inv, $"full/plain p50 {Median(times[1]) / Median(times[0]):F4}, mean {times[1].Average() / times[0].Average():F4}; A/A plain2/plain p50 {Median(times[2]) / Median(times[0]):F4}, mean {times[2].Average() / times[0].Average():F4}"));
        Console.WriteLine(string.Create(inv, $"full: {bytesPerCall:F1} managed bytes per call with the listener on; health ring saw {updater.Health.Snapshot().Runs} runs (sink {sink:E1})"));
        Directory.Delete(state, recursive: true);
        return 0;
    }
}
