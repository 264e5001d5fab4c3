using System.Globalization;
using EdgeBuild.Compile;
using EdgeBuild.Diagnostics;
using EdgeBuild.Measure;
using EdgeBuild.MSBuild.Tests.Support;
using EdgeBuild.Session;

namespace EdgeBuild.Benchmarks;

/// <summary>
/// The regression gate's acceptance experiment (docs/measurement.md): record a baseline for a conv net, rebuild the
/// unchanged model N times with fresh measurements (false alarms: EB5012 errors), then build variants with an extra
/// heavy layer of growing width K times each (detections). Every compile measures again (no cache), as a CI
/// machine without a warm cache would.
///
///   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- gate [--rebuilds 20] [--repeats 5] [--size 64] [--blocks 4] [--widths 2,4,8,16,32] [--extra-blocks 1,2,3]
/// </summary>
internal static class GateExperiment
{
    public static int Run(string[] args)
    {
        string? Arg(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        int rebuilds = int.Parse(Arg("--rebuilds") ?? "20", CultureInfo.InvariantCulture);
        int repeats = int.Parse(Arg("--repeats") ?? "5", CultureInfo.InvariantCulture);
        int size = int.Parse(Arg("--size") ?? "64", CultureInfo.InvariantCulture);
        int blocks = int.Parse(Arg("--blocks") ?? "4", CultureInfo.InvariantCulture);
        var widths = (Arg("--widths") ?? "2,4,8,16,32").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(w => int.Parse(w, CultureInfo.InvariantCulture)).ToArray();
        // Extra 3x3 blocks (each about 1 / blocks slower) as a second, finer kind of injected slowdown.
        var extraBlocks = (Arg("--extra-blocks") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(w => int.Parse(w, CultureInfo.InvariantCulture)).ToArray();

        string dir = Directory.CreateTempSubdirectory("edgebuild-gate-").FullName;
        try
        {
            string model = Path.Combine(dir, "gate.onnx");
            GateModels.WriteConvNet(model, size, blocks);
            string baseline = BaselineFile.PathFor(model);
            var settings = new MeasureSettings { Remeasure = true, CacheDirectory = Path.Combine(dir, "cache"), BaselinePath = baseline };
            Console.WriteLine($"machine: {MachineFingerprint.Current().Describe()}");
            Console.WriteLine($"model: conv net 1x3x{size}x{size}, {blocks} blocks; measurement defaults ({new BenchOptions().CacheKey()})");

            var recorded = ModelCompiler.Compile(model, Path.Combine(dir, "out"), new CompileOptions { Measurement = settings with { UpdateBaseline = true } });
            var b = recorded.Manifest.Measurement!.Artifacts[0].Result!;
            Console.WriteLine(F($"baseline: P99 wall {b.P99Ms.Value:F3} ms, CPU {b.CpuP99Ms?.Value:F3} ms, normalized P99 {b.NormalizedP99!.Value:F3} [{b.NormalizedP99.Low:F3}, {b.NormalizedP99.High:F3}], normalized P50 {b.NormalizedP50!.Value:F3}, {b.Runs} runs, {b.Seconds:F1} s"));

            Console.WriteLine();
            Console.WriteLine($"{rebuilds} rebuilds of the unchanged model:");
            Console.WriteLine($"{"#",3} {"wall P99",9} {"CPU P99",9} {"norm P99",9} {"CI low",8} {"ratio",7} {"runs",6} {"s",5} outcome");
            int falseAlarms = 0, warnings = 0;
            var ratios = new List<double>();
            for (int i = 1; i <= rebuilds; i++)
            {
                var (outcome, r) = Build(model, dir, settings);
                if (outcome == "error") falseAlarms++;
                if (outcome == "warning") warnings++;
                double ratio = r is null ? double.NaN : r.NormalizedP99!.Value / b.NormalizedP99.Value;
                ratios.Add(ratio);
                Console.WriteLine(F($"{i,3} {r?.P99Ms.Value,9:F3} {r?.CpuP99Ms?.Value,9:F3} {r?.NormalizedP99?.Value,9:F3} {r?.NormalizedP99?.Low,8:F3} {ratio,7:F3} {r?.Runs,6} {r?.Seconds,5:F1} {outcome}"));
            }
            if (rebuilds > 0)
                Console.WriteLine(F($"false alarms: {falseAlarms}/{rebuilds} (EB5016 warnings: {warnings}); normalized P99 ratio to baseline: min {ratios.Min():F3}, median {Median(ratios):F3}, max {ratios.Max():F3}"));

            Console.WriteLine();
            // The variants carry extra weights; the size gate (+1 %) would catch them for that alone, so only latency counts here.
            var latencyOnly = settings with { SizeTolerancePercent = 1e6 };
            Console.WriteLine($"injected slowdowns, {repeats} builds each (size tolerance off: only the latency gate):");
            Console.WriteLine($"{"extra layer",14} {"slowdown P50",12} {"slowdown P99",12} {"caught",7} {"warned",7}");
            foreach (var (w, k) in widths.Select(w => (w, 0)).Concat(extraBlocks.Select(k => (0, k))))
            {
                string slowDir = Path.Combine(dir, $"w{w}k{k}");
                string slow = Path.Combine(slowDir, "gate.onnx");
                GateModels.WriteConvNet(slow, size, blocks, extraWidth: w, extraBlocks: k);
                int caught = 0, warned = 0;
                var p50 = new List<double>();
                var p99 = new List<double>();
                for (int i = 0; i < repeats; i++)
                {
                    var (outcome, r) = Build(slow, slowDir, latencyOnly);
                    if (outcome == "error") caught++;
                    if (outcome == "warning") warned++;
                    if (r is not null)
                    {
                        p50.Add(r.NormalizedP50!.Value / b.NormalizedP50.Value);
                        p99.Add(r.NormalizedP99!.Value / b.NormalizedP99.Value);
                    }
                }
                string label = w > 0 ? $"width {w}" : $"{k} block(s)";
                Console.WriteLine(F($"{label,14} {(Median(p50) - 1) * 100,11:+0.0}% {(Median(p99) - 1) * 100,11:+0.0}% {caught,4}/{repeats} {warned,4}/{repeats}"));
            }
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>One compile against the baseline: "error" (EB5012), "warning" (EB5016) or "pass", with the measurement.</summary>
    private static (string Outcome, BenchResult? Result) Build(string model, string dir, MeasureSettings settings)
    {
        var warnings = new List<string>();
        BenchResult? result = null;
        try
        {
            var compiled = ModelCompiler.Compile(model, Path.Combine(dir, "out"), new CompileOptions { Measurement = settings }, warn: warnings.Add);
            result = compiled.Manifest.Measurement!.Artifacts[0].Result;
        }
        catch (EdgeBuildException e) when (e.Descriptor == DiagnosticCodes.Regression && e.Message.StartsWith("slower", StringComparison.Ordinal))
        {
            var report = Reports.ModelReport.Read(Path.Combine(dir, "out", Reports.ModelReport.JsonName));
            return ("error", report?.Artifacts[0].Result);
        }
        return (warnings.Any(w => w.Contains(DiagnosticCodes.PossibleRegression.Code, StringComparison.Ordinal)) ? "warning" : "pass", result);
    }

    private static double Median(List<double> values)
    {
        var v = values.Where(x => !double.IsNaN(x)).Order().ToList();
        return v.Count == 0 ? double.NaN : v[v.Count / 2];
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
