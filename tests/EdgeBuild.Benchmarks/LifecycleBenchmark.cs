using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Security.Cryptography;
using EdgeBuild.Benchmarks.Models;
using EdgeBuild.Packaging;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Runtime;
using EdgeBuild.Runtime.Updates;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Benchmarks;

/// <summary>
/// <c>lifecycle [--blocks N] [--block 100] [--shadow-every 100]</c>: the cost of monitoring and routing on eye-state's generated Run.
/// plain = EyeState without an updater, the meter not listened to; monitored = EyeState running a signed package with
/// output statistics (drift histogram on every run) under a ModelUpdater with a rollback policy (health ring, MaxPsi) and
/// a MeterListener taking every measurement; routed = the same, installed through a 50 % staged rollout, with a shadow
/// candidate (canary) run on every Nth call; plain2 = a second plain instance (A/A noise floor). Blocks of calls
/// interleaved, order rotated each round; the listener is switched on only around the monitored and routed blocks.
/// </summary>
internal static class LifecycleBenchmark
{
    public static int Run(string[] args, string data)
    {
        string? Arg(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        int blocks = int.Parse(Arg("--blocks") ?? "300", CultureInfo.InvariantCulture);
        int block = int.Parse(Arg("--block") ?? "100", CultureInfo.InvariantCulture);
        int shadowEvery = int.Parse(Arg("--shadow-every") ?? "100", CultureInfo.InvariantCulture);
        var spec = RealModelSpec.Get("eye-state");
        var photos = spec.Photos(data, 41);
        float[] input = spec.Load(photos[0]).ToFloats();
        var options = new EdgeModelOptions { ModelDirectory = Path.Combine(data, "models") };
        string root = Directory.CreateTempSubdirectory("edgebuild-lifecycle-bench-").FullName;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        // The compiled eye-state folder as a build leaves it, packaged with statistics on 40 held-out photos.
        string build = Directory.CreateDirectory(Path.Combine(root, "build")).FullName;
        string onnx = Path.Combine(build, "eye-state.onnx");
        File.Copy(Path.Combine(data, "models", "eye-state.onnx"), onnx);
        string sha = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(onnx))).ToLowerInvariant();
        File.WriteAllText(Path.Combine(build, "EyeState.edgemodel.json"), $$"""
            { "schemaVersion": 1, "name": "EyeState", "namespace": "EdgeBuild.Benchmarks.Models", "tool": { "name": "edgebuild", "version": "0.1.0" },
              "inputs": [ { "name": "input", "csharpName": "input", "elementType": "float32", "shape": [1, 1, 24, 24] } ],
              "outputs": [ { "name": "output", "csharpName": "output", "elementType": "float32", "shape": [1, 2] } ],
              "artifacts": [ { "path": "eye-state.onnx", "target": "Onnx", "precision": "Fp32", "sha256": "{{sha}}", "bytes": {{new FileInfo(onnx).Length}} } ],
              "metrics": {} }
            """);
        string holdout = Directory.CreateDirectory(Path.Combine(root, "holdout")).FullName;
        var holdoutFiles = photos.Skip(1).Select((photo, i) =>
        {
            string file = Path.Combine(holdout, $"eye{i:D2}.npy");
            NpyFile.Write(file, spec.Load(photo));
            return file;
        }).ToList();
        string site = Directory.CreateDirectory(Path.Combine(root, "site")).FullName;
        string v1 = Path.Combine(site, "EyeState-1.0.0.edgepkg");
        ModelPackager.Package(build, "1.0.0", key, v1, holdout: holdoutFiles);
        string canary = Path.Combine(site, "EyeState-1.0.1.edgepkg");
        ModelPackager.Package(build, "1.0.1", key, canary, holdout: holdoutFiles);
        ModelPackager.Publish(v1, "stable", rollback: false, key: key);
        ModelPackager.Publish(v1, "rollout", rollback: false, rolloutPercent: 50, key: key);
        ModelPackager.Publish(canary, "canary", rollback: false, key: key);

        ModelUpdater Updater(string channel, string? deviceId = null, Uri? shadow = null) => new(EyeState.ModelDescription, new ModelUpdaterOptions
        {
            Channel = new Uri(Path.Combine(site, channel + ".json")), TrustedKeys = [key], StateDirectory = Directory.CreateTempSubdirectory("edgebuild-lifecycle-device-").FullName,
            ModelOptions = options, Rollback = new RollbackPolicy { MaxPsi = 0.25 }, Log = _ => { }, RequireSignedChannel = true,
            DeviceId = deviceId, ShadowChannel = shadow, ShadowSampleEvery = shadowEvery,
        });
        // A device inside the 50 % cohort of 1.0.0: the first id whose sticky bucket is below 50.
        string inCohort = Enumerable.Range(0, 100).Select(i => "bench-device-" + i).First(id => ModelUpdater.RolloutBucket("EyeState", "1.0.0", id) < 50);
        using var monitoredUpdater = Updater("stable");
        using var routedUpdater = Updater("rollout", inCohort, new Uri(Path.Combine(site, "canary.json")));
        foreach (var (u, what) in new[] { (monitoredUpdater, "stable"), (routedUpdater, "rollout") })
        {
            var result = u.CheckAsync().GetAwaiter().GetResult();
            if (result.Outcome != UpdateOutcome.Installed) throw new InvalidOperationException($"{what}: {result.Message}");
        }
        var shadowResult = routedUpdater.CheckShadowAsync().GetAwaiter().GetResult();
        if (shadowResult.Outcome != UpdateOutcome.Installed) throw new InvalidOperationException($"canary: {shadowResult.Message}");

        using var plain = EyeState.Create(options);
        using var plain2 = EyeState.Create(options);
        using var monitored = EyeState.Create(new EdgeModelOptions { ModelDirectory = options.ModelDirectory, Updates = monitoredUpdater });
        using var routed = EyeState.Create(new EdgeModelOptions { ModelDirectory = options.ModelDirectory, Updates = routedUpdater });
        var output = new float[EyeState.OutputLength];

        double sink = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) => { if (instrument.Meter.Name == EdgeRuntimeMetrics.MeterName) l.EnableMeasurementEvents(instrument); };
        listener.SetMeasurementEventCallback<double>((_, value, _, _) => sink += value);
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => sink += value);
        listener.Start();
        Instrument[] ours = [EdgeRuntimeMetrics.Duration, EdgeRuntimeMetrics.Count, EdgeRuntimeMetrics.Errors, EdgeRuntimeMetrics.ShadowRuns];
        void Listen(bool on)
        {
            foreach (var i in ours)
                if (on) listener.EnableMeasurementEvents(i);
                else listener.DisableMeasurementEvents(i);
        }

        string[] names = ["plain", "monitored", "routed", "plain2"];
        Action[] variants = [() => plain.Run(input, output), () => monitored.Run(input, output), () => routed.Run(input, output), () => plain2.Run(input, output)];
        for (int w = 0; w < 200; w++) foreach (var v in variants) v();
        var times = variants.Select(_ => new List<double>(blocks * block)).ToArray();
        for (int r = 0; r < blocks; r++)
        {
            for (int k = 0; k < variants.Length; k++)
            {
                int v = (r + k) % variants.Length;
                Listen(v is 1 or 2);
                for (int c = 0; c < block; c++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    variants[v]();
                    times[v].Add((Stopwatch.GetTimestamp() - t0) * 1e9 / Stopwatch.Frequency);
                }
            }
        }
        Listen(true);
        double BytesPerCall(Action run)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int c = 0; c < 2000; c++) run();
            return (GC.GetAllocatedBytesForCurrentThread() - before) / 2000.0;
        }
        double monitoredBytes = BytesPerCall(variants[1]), routedBytes = BytesPerCall(variants[2]);

        static double Median(List<double> xs)
        {
            var s = xs.Order().ToList();
            return s[s.Count / 2];
        }
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores; eye-state, ONNX Runtime 1 intra-op thread; {blocks} rounds x {block} calls per variant, interleaved by block");
        Console.WriteLine($"routed: installed through a 50 % rollout (device '{inCohort}'), shadow candidate 1.0.1 run on every {shadowEvery}th call (a second inference on that call)");
        Console.WriteLine($"{"variant",-10} {"p50 ns",10} {"mean ns",10} {"p50/plain",10} {"mean/plain",10}");
        for (int v = 0; v < variants.Length; v++)
            Console.WriteLine(string.Create(inv, $"{names[v],-10} {Median(times[v]),10:F0} {times[v].Average(),10:F0} {Median(times[v]) / Median(times[0]),10:F4} {times[v].Average() / times[0].Average(),10:F4}"));
        var drift = monitoredUpdater.Drift!.Read().Single();
        Console.WriteLine(string.Create(inv, $"bytes per call with the listener on: monitored {monitoredBytes:F1}, routed {routedBytes:F1}; shadow runs {routedUpdater.ShadowAgreement.Runs} ({routedUpdater.ShadowAgreement.Agreed} agreed)"));
        Console.WriteLine(string.Create(inv, $"drift of output '{drift.Output}' over {drift.Runs} runs of one photo: PSI {drift.Psi:F2} against 40 held-out photos (mean {drift.Mean:G4} vs {drift.Recorded.Mean:G4}); health ring saw {monitoredUpdater.Health.Snapshot().Runs} runs (sink {sink:E1})"));
        Directory.Delete(root, recursive: true);
        return 0;
    }
}
