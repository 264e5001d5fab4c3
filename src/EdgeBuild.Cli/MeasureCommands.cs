using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EdgeBuild.Measure;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Reports;
using EdgeBuild.Quantization;
using EdgeBuild.Session;

namespace EdgeBuild.Cli;

/// <summary>The measurement commands: <c>bench</c>, <c>baseline update</c>, <c>report</c> and <c>compare</c> (docs/measurement.md).</summary>
internal static class MeasureCommands
{
    /// <summary><c>edgebuild bench ARTIFACT</c>: the measurement a build makes, printed.</summary>
    public static Command Bench(TextWriter stdout, TextWriter stderr, Func<TextWriter, Func<int>, int> guard)
    {
        var artifact = new Argument<string>("artifact") { Description = "The ONNX artifact (a compiled model or any .onnx file)" };
        var provider = new Option<string>("--execution-provider") { Description = "Cpu, Cuda or TensorRT", DefaultValueFactory = _ => "Cpu" };
        var json = new Option<string?>("--json") { Description = "Also write the full result as JSON to this file" };
        var set = new MeasureOptionSet();
        var device = new Option<string[]>("--device") { Description = "Measure on this device (edgebuild device add; docs/devices.md) instead of this machine; repeat it (or separate names by ',') to measure several devices in parallel" };
        var runner = DeviceCommands.RunnerOption();
        var command = new Command("bench", "Measure an artifact: P50/P90/P99/max latency with 95 % intervals, fps, batched throughput, load time, memory, size, normalized figures")
            { artifact, provider, json, set.Seconds, set.Threads, set.BatchSize, device, runner };
        command.SetAction(parse => guard(stderr, () =>
        {
            string path = parse.GetValue(artifact)!;
            var ep = CompileOptions.ParseEnum<ExecutionProviderKind>("ExecutionProvider", parse.GetValue(provider)!).ToString();
            BenchResult r;
            if (parse.GetValue(device) is { Length: > 0 } devices)
                return DeviceCommands.Bench(devices.SelectMany(d => d.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct().ToList(),
                    path, parse.GetValue(runner), set.Bench(parse), ep, parse.GetValue(json), stdout, stderr);
            try
            {
                using var progress = ProgressOutput.Create(stderr, quiet: false);
                r = ModelBenchmark.Run(path, set.Bench(parse), ep, progress.Progress);
            }
            catch (MeasurementUnavailableException e)
            {
                throw new Diagnostics.EdgeBuildException(Diagnostics.DiagnosticCodes.MeasurementFailed, path, $"cannot be measured on this machine: {e.Message}");
            }
            Print(r, stdout);
            if (parse.GetValue(json) is { } jsonPath) Onnx.AtomicFile.WriteAllText(jsonPath, JsonSerializer.Serialize(r, MeasureJson.Options) + "\n");
            return 0;
        }));
        return command;
    }

    internal static void Print(BenchResult r, TextWriter o)
    {
        string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
        o.WriteLine(F($"artifact      {r.Artifact} ({Commands.Bytes(r.Bytes)}, sha256 {r.Sha256[..12]}…)"));
        o.WriteLine(F($"machine       {r.Machine.Describe()} (id {r.Machine.Id})"));
        o.WriteLine(F($"threads       {r.Threads} intra-op (fixed)"));
        o.WriteLine(F($"session load  {r.SessionLoadMs:F1} ms"));
        o.WriteLine(F($"runs          {r.Runs} in {r.Seconds:F1} s ({r.StopReason}), after {r.WarmupRuns} warm-up runs"));
        o.WriteLine(F($"P50           {r.P50Ms.Format(" ms")}"));
        o.WriteLine(F($"P90           {r.P90Ms.Format(" ms")}"));
        o.WriteLine(F($"P99           {r.P99Ms.Format(" ms")}"));
        o.WriteLine(F($"max           {r.MaxMs:F3} ms"));
        if (r.CpuP99Ms is { } cpu99)
            o.WriteLine(F($"CPU time      P50 {r.CpuP50Ms!.Format(" ms")}, P99 {cpu99.Format(" ms")} (this thread's CPU time: other processes' preemption excluded; budgets use it)"));
        o.WriteLine(F($"mean          {r.MeanMs.Format(" ms")}"));
        o.WriteLine(F($"fps           {r.Fps.Format(" single-stream", 1)}"));
        o.WriteLine(r.Batched.ItemsPerSecond is double ips
            ? F($"batched       {ips:F1} items/s at batch {r.Batched.BatchSize} (P50 {r.Batched.BatchP50Ms:F3} ms per batch){(r.Batched.Note is { } n ? "; " + n : "")}")
            : F($"batched       n/a: {r.Batched.Note}"));
        o.WriteLine(F($"memory        model {r.Memory.ModelMB:F1} MB, process peak {r.Memory.PeakRssMB:F1} MB ({r.Memory.Method})"));
        o.WriteLine(r.Memory.Arena is { } arena
            ? F($"arena         {arena.AllocatedMB:F2} MB reserved, {arena.MaxInUseMB:F2} MB at most in use, {arena.Allocations} allocations ({r.Memory.ArenaNote})")
            : F($"arena         n/a: {r.Memory.ArenaNote}"));
        if (r.Reference is { } refFig)
        {
            o.WriteLine(F($"reference     {refFig.Workload}: P50 {refFig.P50Ms.Format(" ms")} over {refFig.Runs} interleaved runs"));
            o.WriteLine(F($"normalized    P50 {r.NormalizedP50!.Format("", 3)}, P99 {r.NormalizedP99!.Format("", 3)} reference units"));
        }
    }

    /// <summary>
    /// <c>edgebuild baseline update MODEL [compile options]</c>: compiles and measures the model exactly as
    /// <c>compile</c> does with the same options, then writes <c>&lt;model&gt;.edgebaseline.json</c> beside it.
    /// </summary>
    public static Command Baseline(TextWriter stdout, TextWriter stderr, Func<string[], TextWriter, TextWriter, int> run)
    {
        var model = new Argument<string>("model") { Description = "The ONNX model whose baseline is written beside it" };
        var update = new Command("update", "Compile and measure the model (every compile option applies, e.g. --precision, --targets), then write <model>.edgebaseline.json beside it; commit that file")
        {
            model,
        };
        update.TreatUnmatchedTokensAsErrors = false;
        update.SetAction(parse =>
        {
            var rest = parse.UnmatchedTokens.ToList();
            string? temp = null;
            if (!rest.Contains("--out"))
            {
                temp = Directory.CreateTempSubdirectory("edgebuild-baseline-").FullName;
                rest.AddRange(["--out", temp]);
            }
            try
            {
                return run(["compile", parse.GetValue(model)!, "--update-baseline", .. rest], stdout, stderr);
            }
            finally
            {
                if (temp is not null) Directory.Delete(temp, recursive: true);
            }
        });
        return new Command("baseline", "Committed performance baselines (<model>.edgebaseline.json)") { update };
    }

    /// <summary><c>edgebuild report [FOLDER]</c>: where the reports are, and each one's status.</summary>
    public static Command Report(TextWriter stdout, TextWriter stderr, Func<TextWriter, Func<int>, int> guard)
    {
        var folder = new Argument<string>("folder") { Description = "A project, obj/ or output folder to search (default: the current folder)", DefaultValueFactory = _ => "." };
        var command = new Command("report", "Print where the measurement reports (report.html, report.md, report.json) of compiled models are") { folder };
        command.SetAction(parse => guard(stderr, () =>
        {
            string root = parse.GetValue(folder)!;
            if (!Directory.Exists(root))
                throw new Diagnostics.EdgeBuildException(Diagnostics.DiagnosticCodes.InvalidArgument, root, "folder does not exist");
            var found = Directory.EnumerateFiles(root, ModelReport.JsonName, SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
            if (found.Count == 0)
            {
                stdout.WriteLine($"no reports under {Path.GetFullPath(root)}: a build (or 'edgebuild compile' with measurement on) writes them beside each model's artifacts, in obj/<configuration>/<framework>/edgebuild/<Class>/");
                return 0;
            }
            foreach (var json in found)
            {
                string dir = Path.GetDirectoryName(Path.GetFullPath(json))!;
                var data = ModelReport.Read(json);
                string summary = data is null ? "unreadable report.json"
                    : $"{data.Status.ToUpperInvariant()}: {string.Join("; ", data.Artifacts.Where(a => a.Result is not null).Select(a => string.Create(CultureInfo.InvariantCulture, $"{a.Path} P99 {a.Result!.GateP99Ms.Value:F3} ms ({a.Result.GateClock}; {a.Result.Conditions})")))}";
                stdout.WriteLine($"{data?.Name ?? Path.GetFileName(dir)}: {summary}");
                foreach (var name in new[] { ModelReport.HtmlName, ModelReport.MarkdownName, ModelReport.JsonName })
                    if (File.Exists(Path.Combine(dir, name))) stdout.WriteLine($"  {Path.Combine(dir, name)}");
            }
            return 0;
        }));
        return command;
    }

    /// <summary><c>edgebuild compare A B [--images DIR]</c>: per-output error statistics of B against A on the same inputs.</summary>
    public static Command Compare(TextWriter stdout, TextWriter stderr, Func<TextWriter, Func<int>, int> guard)
    {
        var a = new Argument<string>("a") { Description = "The reference artifact (e.g. the FP32 model)" };
        var b = new Argument<string>("b") { Description = "The candidate artifact (e.g. the INT8 one)" };
        var images = new Option<string[]>("--images") { Description = "Photos or .npy files (files, folders, wildcards) fed to both through the preprocessing options; default: 8 seeded random inputs", AllowMultipleArgumentsPerToken = true };
        var samples = new Option<int>("--samples") { Description = "Random inputs when no --images are given", DefaultValueFactory = _ => 8 };
        var quant = new QuantizationOptionSet();
        var command = new Command("compare", "Run two artifacts on the same inputs and print per-output error statistics (max/mean abs, relative, cosine, argmax agreement, SQNR)")
            { a, b, images, samples };
        // The preprocessing options (and the rest of the set, which Apply reads; calibration files are not used here).
        foreach (var o in quant.All.Where(o => o != quant.Calibration && o != quant.Evaluation)) command.Options.Add(o);
        command.SetAction(parse => guard(stderr, () =>
        {
            var files = parse.GetValue(images) is { Length: > 0 } list ? CalibrationFiles.Expand(list) : null;
            var options = quant.Apply(new CompileOptions(), parse);
            int n = parse.GetValue(samples);
            if (n < 1) throw new Diagnostics.EdgeBuildException(Diagnostics.DiagnosticCodes.InvalidArgument, "--samples", $"{n} is not a positive count");
            var result = ArtifactComparison.Compare(parse.GetValue(a)!, parse.GetValue(b)!,
                files is null ? null : m => new FileCalibrationSource(m, files, options.Preprocessing), n);
            string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
            stdout.WriteLine(F($"{Path.GetFileName(parse.GetValue(b))} against {Path.GetFileName(parse.GetValue(a))} on {result.Samples} samples ({result.InputSource})"));
            stdout.WriteLine(F($"{"output",-24} {"elements",10} {"max abs",11} {"mean abs",11} {"max rel",11} {"mean rel",11} {"cosine",9} {"argmax",8} {"SQNR dB",8}"));
            foreach (var o in result.Outputs)
                stdout.WriteLine(F($"{o.Name,-24} {o.Elements,10} {o.MaxAbs,11:G4} {o.MeanAbs,11:G4} {o.MaxRelative,11:G4} {o.MeanRelative,11:G4} {o.Cosine,9:F6} {(o.ArgmaxAgreement is double g ? (g * 100).ToString("F1", CultureInfo.InvariantCulture) + " %" : "n/a"),8} {(double.IsPositiveInfinity(o.SqnrDb) ? "inf" : o.SqnrDb.ToString("F1", CultureInfo.InvariantCulture)),8}"));
            if (result.OnlyInA.Count > 0) stdout.WriteLine($"only in A: {string.Join(", ", result.OnlyInA)}");
            if (result.OnlyInB.Count > 0) stdout.WriteLine($"only in B: {string.Join(", ", result.OnlyInB)}");
            return 0;
        }));
        return command;
    }
}
