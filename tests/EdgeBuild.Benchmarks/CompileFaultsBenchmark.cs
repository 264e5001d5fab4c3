using System.Diagnostics;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Benchmarks;

/// <summary>The long runs of the compile fault experiments (the suite runs a handful: OutputFaultTests).</summary>
public static class CompileFaultsBenchmark
{
    public static int Run(int kills, int overlaps, int seed, string? cli, bool recover)
    {
        string dir = Directory.CreateTempSubdirectory("edgebuild-compile-faults-").FullName;
        try
        {
            var clock = Stopwatch.StartNew();
            Console.WriteLine($"edgebuild: {cli ?? "the one beside this benchmark"}; {Environment.ProcessorCount} cores; seed {seed}");
            int bad = 0;
            if (kills > 0)
            {
                var k = new CompileFaults(Path.Combine(dir, "kills"), cli);
                Directory.CreateDirectory(Path.Combine(dir, "kills"));
                var counts = k.Kills(kills, seed, "fp32-onnx-tflite-tensorrt", "int8-onnx-tflite", recover, Console.WriteLine);
                Console.WriteLine($"SIGKILL during an Int8 ONNX + TFLite compile over an Fp32 ONNX + TFLite + TensorRT set: {counts.Kills} kills -> " +
                    $"old set {counts.Old}, new set {counts.New}, no manifest with a committed stage {counts.ApplyPending}, inconsistent {counts.Inconsistent}" +
                    (recover ? $"; after the next compile's recovery: inconsistent {counts.RecoveredInconsistent}" : "") + $" ({clock.Elapsed.TotalSeconds:F0} s)");
                foreach (var p in counts.Problems.Take(20)) Console.WriteLine("  " + p);
                bad += counts.Inconsistent + counts.RecoveredInconsistent;
            }
            if (overlaps > 0)
            {
                clock.Restart();
                Directory.CreateDirectory(Path.Combine(dir, "overlaps"));
                var o = new CompileFaults(Path.Combine(dir, "overlaps"), cli);
                var counts = o.Overlaps(overlaps, seed, "int8-onnx-tflite", "fp32-onnx-tflite-tensorrt", Console.WriteLine);
                Console.WriteLine($"overlapping compiles (Int8 ONNX + TFLite, then Fp32 ONNX + TFLite + TensorRT after 0-600 ms) into one folder: {counts.Rounds} rounds -> " +
                    $"ended with the Int8 set {counts.EndedFirstSetting}, with the Fp32 set {counts.EndedSecondSetting}, mixed {counts.Mixed}, a non-zero exit {counts.FailedExits} ({clock.Elapsed.TotalSeconds:F0} s)");
                foreach (var p in counts.Problems.Take(20)) Console.WriteLine("  " + p);
                bad += counts.Mixed + counts.FailedExits;
            }
            return bad == 0 ? 0 : 1;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
