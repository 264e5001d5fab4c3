using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeBuild.Analysis;
using EdgeBuild.Compile;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Session;

namespace EdgeBuild.Cli;

/// <summary>
/// The command tree of <c>edgebuild</c>. A thin shell: every command parses its options, calls the core,
/// and prints. A user's mistake ends in one <c>error EBnnnn:</c> line and exit code 1, never a stack trace.
/// </summary>
public static class Commands
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("edgebuild: compile ONNX models for edge deployment") { Compile(stdout, stderr), Convert(stdout, stderr), Quantize(stdout, stderr), Inspect(stdout, stderr), Optimize(stdout, stderr),
            MeasureCommands.Bench(stdout, stderr, Guard), MeasureCommands.Baseline(stdout, stderr, Run), MeasureCommands.Report(stdout, stderr, Guard), MeasureCommands.Compare(stdout, stderr, Guard),
            PackageCommands.Keygen(stdout, stderr, Guard), PackageCommands.Package(stdout, stderr, Guard), PackageCommands.Verify(stdout, stderr, Guard), PackageCommands.Publish(stdout, stderr, Guard),
            DeviceCommands.Device(stdout, stderr, Guard), DeviceCommands.Machine(stdout, stderr, Guard) };
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is not null && !(args.Contains("--help") || args.Contains("-h")))
        {
            foreach (var e in parse.Errors)
                stderr.WriteLine($"error {DiagnosticCodes.InvalidArgument.Code}: edgebuild: {e.Message} {DiagnosticCodes.InvalidArgument.Help}");
            return 1;
        }
        return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
    }

    /// <summary>Runs a command body, turning EdgeBuild failures into one diagnostic line.</summary>
    private static int Guard(TextWriter stderr, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (EdgeBuildException e)
        {
            stderr.WriteLine(e.Format());
            return 1;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("EDGEBUILD_DEBUG") != "1")
        {
            var d = DiagnosticCodes.InternalError;
            stderr.WriteLine($"error {d.Code}: edgebuild: {e.GetType().Name}: {e.Message.Split('\n')[0].Trim()}. {d.Help}");
            return 1;
        }
    }

    /// <summary>The build step: the options mirror the EdgeModel item's metadata (EdgeModelOptionTable; CliOptionTableTests keeps them equal).</summary>
    internal static Command Compile(TextWriter stdout, TextWriter stderr)
    {
        var model = new Argument<string>("model") { Description = "The ONNX model file" };
        var outDir = new Option<string>("--out") { Description = "Folder for the artifacts and <Name>.edgemodel.json", Required = true };
        var name = new Option<string?>("--name") { Description = "Class name (default: the file name in PascalCase)" };
        var ns = new Option<string?>("--namespace") { Description = "Namespace of the generated class" };
        var precision = new Option<string>("--precision") { Description = "Fp32, Fp16, Int8, Int8Dynamic, Mixed or Auto (per layer INT8 or FP32 by measured latency under MaxAccuracyLoss, default 1 %)", DefaultValueFactory = _ => "Fp32" };
        var targets = new Option<string>("--targets") { Description = "Artifact formats, separated by ';' or ',': Onnx, TensorRT, TFLite", DefaultValueFactory = _ => "Onnx" };
        var provider = new Option<string>("--execution-provider") { Description = "Cpu, Cuda or TensorRT", DefaultValueFactory = _ => "Cpu" };
        var quant = new QuantizationOptionSet();
        var trt = new TensorRtOptionSet();
        var latency = new Option<double?>("--latency-budget-ms") { Description = "P99 latency budget in milliseconds" };
        var accuracy = new Option<double?>("--max-accuracy-loss") { Description = "Largest accuracy loss against FP32, in percent" };
        var opset = new Option<long?>("--target-opset") { Description = "Convert to this ai.onnx opset first" };
        var passes = new Option<string?>("--passes") { Description = "Comma-separated passes to run (default: all)" };
        var skip = new Option<string?>("--skip") { Description = "Comma-separated passes to leave out" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress lines on stderr" };
        var verbose = VerboseOption();
        var lockTimeout = LockTimeoutOption();
        var target = new TargetOptionSet();
        var command = new Command("compile", "Compile a model: optimized artifacts for the targets and the manifest the source generator reads")
            { model, outDir, name, ns, precision, targets, provider, latency, accuracy, opset, passes, skip, quiet, verbose, lockTimeout };
        foreach (var o in quant.All.Concat(trt.All)) command.Options.Add(o);
        var measure = new MeasureOptionSet();
        foreach (var o in measure.All) command.Options.Add(o);
        foreach (var o in target.All) command.Options.Add(o);
        command.SetAction(parse => Guard(stderr, () =>
        {
            string input = parse.GetValue(model)!;
            bool silent = parse.GetValue(quiet);
            static IReadOnlyList<string> Split(string? s) => s is null ? [] : s.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var options = new CompileOptions
            {
                Name = parse.GetValue(name),
                Namespace = parse.GetValue(ns) ?? "",
                Precision = CompileOptions.ParseEnum<Precision>("Precision", parse.GetValue(precision)!),
                Targets = Split(parse.GetValue(targets)).Select(t => CompileOptions.ParseEnum<TargetKind>("Targets", t)).ToList(),
                ExecutionProvider = CompileOptions.ParseEnum<ExecutionProviderKind>("ExecutionProvider", parse.GetValue(provider)!),
                LatencyBudgetMs = parse.GetValue(latency),
                MaxAccuracyLoss = parse.GetValue(accuracy),
                TargetOpset = parse.GetValue(opset),
                Passes = parse.GetValue(passes) is { } p ? Split(p) : null,
                SkipPasses = Split(parse.GetValue(skip)),
            };
            options = measure.Apply(target.Apply(trt.Apply(quant.Apply(options, parse), parse), parse), parse);
            // Measurement warnings arrive as whole "warning EBnnnn: ..." lines (their code reaches MSBuild); others get the file.
            CompileResult result;
            using (var progress = ProgressOutput.Create(stderr, silent))
                result = ModelCompiler.Compile(input, parse.GetValue(outDir)!, options,
                    silent ? null : progress.Progress, w => progress.Message(w.StartsWith("warning EB", StringComparison.Ordinal) ? w : $"warning: {input}: {w}"),
                    lockTimeout: LockTimeout(parse.GetValue(lockTimeout)), passDetail: PassDetail(parse.GetValue(verbose) && !silent, progress));
            var m = result.Manifest;
            // Quantized: sizes, accuracy against FP32 and the least robust layers appear in the build log.
            if (m.Quantization is { } q) QuantizationPrinter.Print(q, q.Report.BytesBefore, m.Artifacts.FirstOrDefault()?.Bytes ?? 0, stdout);
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{Path.GetFileName(input)} -> {m.Name}: {m.NodesBefore} -> {m.NodesAfter} nodes, {string.Join(", ", m.Artifacts.Select(a => $"{a.Path} ({Bytes(a.Bytes)})"))}, {result.ManifestPath}"));
            if (m.Measurement is { } measured) MeasurePrinter.Print(measured, parse.GetValue(outDir)!, stdout);
            stdout.WriteLine(Reports.BuildSummary.Prefix + Reports.BuildSummary.Line(m));
            return 0;
        }));
        return command;
    }

    private static Option<bool> VerboseOption() =>
        new("--verbose", "-v") { Description = "Also print each optimization pass of each round" };

    /// <summary>Where the per-pass lines go: stderr with --verbose, nowhere without.</summary>
    private static Action<string>? PassDetail(bool verbose, ProgressOutput progress) =>
        verbose ? progress.Detail : null;

    private static Option<double?> LockTimeoutOption() =>
        new("--lock-timeout") { Description = "Seconds to wait for another edgebuild process writing the same output folder (default 600)" };

    private static TimeSpan? LockTimeout(double? seconds) => seconds switch
    {
        null => null,
        >= 0 and <= 86400 => TimeSpan.FromSeconds(seconds.Value),
        _ => throw new EdgeBuildException(DiagnosticCodes.InvalidCompileOption, "--lock-timeout", $"{seconds} is not a number of seconds between 0 and 86400"),
    };

    /// <summary>One target's artifacts without the manifest: the same step as a compile with that single target.</summary>
    private static Command Convert(TextWriter stdout, TextWriter stderr)
    {
        var model = new Argument<string>("model") { Description = "The ONNX model file" };
        var target = new Option<string>("--target") { Description = "Onnx, TensorRT or TFLite", Required = true };
        var output = new Option<string>("--output", "-o")
        {
            Description = "Folder for the artifacts (named after the model, or --name); a path ending in the target's extension (.onnx, .tflite) is the file itself",
            Required = true,
        };
        var name = new Option<string?>("--name") { Description = "Base name of the artifacts (default: the file name in PascalCase)" };
        var precision = new Option<string>("--precision") { Description = "Fp32, Fp16, Int8, Int8Dynamic, Mixed or Auto (per layer INT8 or FP32 by measured latency under MaxAccuracyLoss, default 1 %)", DefaultValueFactory = _ => "Fp32" };
        var accuracy = new Option<double?>("--max-accuracy-loss") { Description = "Largest accuracy loss against FP32 on the held-out photos, in percent" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress lines on stderr" };
        var verbose = VerboseOption();
        var lockTimeout = LockTimeoutOption();
        var quant = new QuantizationOptionSet();
        var trt = new TensorRtOptionSet();
        var command = new Command("convert", "Write one target's artifacts (ONNX, TensorRT kit, TFLite) at a precision, without a manifest")
            { model, target, output, name, precision, accuracy, quiet, verbose, lockTimeout };
        foreach (var o in quant.All.Concat(trt.All)) command.Options.Add(o);
        var targetOptions = new TargetOptionSet();
        foreach (var o in targetOptions.All) command.Options.Add(o);
        command.SetAction(parse => Guard(stderr, () =>
        {
            string input = parse.GetValue(model)!;
            bool silent = parse.GetValue(quiet);
            var targetKind = CompileOptions.ParseEnum<TargetKind>("Target", parse.GetValue(target)!);
            string outputPath = parse.GetValue(output)!;
            string? outputFile = ConvertOutput.FileFor(input, outputPath, targetKind);
            var options = trt.Apply(quant.Apply(new CompileOptions
            {
                Name = outputFile is null ? parse.GetValue(name) : ConvertOutput.NameFor(outputFile, parse.GetValue(name)),
                Precision = CompileOptions.ParseEnum<Precision>("Precision", parse.GetValue(precision)!),
                Targets = [targetKind],
                MaxAccuracyLoss = parse.GetValue(accuracy),
            }, parse), parse);
            options = targetOptions.Apply(options, parse);
            // A file: the artifact is written in a folder of its own, then copied to that name (a class name need not be a file name).
            string outputDir = outputFile is null ? outputPath : Directory.CreateTempSubdirectory("edgebuild-convert-").FullName;
            bool outputExisted = Directory.Exists(outputDir);
            try
            {
                CompileResult result;
                try
                {
                    using var progress = ProgressOutput.Create(stderr, silent);
                    result = ModelCompiler.Compile(input, outputDir, options,
                        silent ? null : progress.Progress, w => progress.Message(w.StartsWith("warning EB", StringComparison.Ordinal) ? w : $"warning: {input}: {w}"), writeManifest: false,
                        lockTimeout: LockTimeout(parse.GetValue(lockTimeout)), passDetail: PassDetail(parse.GetValue(verbose) && !silent, progress));
                }
                catch when (!outputExisted)
                {
                    // A failed convert leaves no trace: the folder it made for its output goes when nothing is in it.
                    RemoveIfEmpty(outputDir);
                    throw;
                }
                var m = result.Manifest;
                if (m.Quantization is { } q) QuantizationPrinter.Print(q, q.Report.BytesBefore, m.Artifacts.FirstOrDefault()?.Bytes ?? 0, stdout);
                foreach (var a in m.Artifacts)
                {
                    string written = Path.Combine(outputDir, a.Path);
                    if (outputFile is not null)
                    {
                        ConvertOutput.Place(written, outputFile);
                        written = outputFile;
                    }
                    stdout.WriteLine($"{written} ({a.Target}, {a.Precision}, {Bytes(a.Bytes)})");
                }
                return 0;
            }
            finally
            {
                if (outputFile is not null) RemoveFolder(outputDir);
            }
        }));
        return command;
    }

    private static void RemoveFolder(string folder)
    {
        try { Directory.Delete(folder, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static void RemoveIfEmpty(string folder)
    {
        try
        {
            if (Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any()) Directory.Delete(folder);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>The quantization step on its own: the same engine and options as a compile with Precision set.</summary>
    private static Command Quantize(TextWriter stdout, TextWriter stderr)
    {
        var model = new Argument<string>("model") { Description = "The ONNX model file (FP32)" };
        var output = new Option<string>("--output", "-o") { Description = "Where to write the quantized model", Required = true };
        var precision = new Option<string>("--precision") { Description = "Fp16, Int8Dynamic, Int8, Mixed or Auto (per layer INT8 or FP32 by measured latency under MaxAccuracyLoss, default 1 %)", Required = true };
        var accuracy = new Option<double?>("--max-accuracy-loss") { Description = "Largest accuracy loss against FP32 on the held-out photos, in percent" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress lines on stderr" };
        var verbose = VerboseOption();
        var quant = new QuantizationOptionSet();
        var command = new Command("quantize", "Optimize and quantize a model (FP16, INT8 dynamic, INT8 static with calibration, mixed), and measure it against FP32")
            { model, output, precision, accuracy, quiet, verbose };
        foreach (var o in quant.All) command.Options.Add(o);
        command.SetAction(parse => Guard(stderr, () =>
        {
            string input = parse.GetValue(model)!;
            bool silent = parse.GetValue(quiet);
            var options = quant.Apply(new CompileOptions
            {
                Precision = CompileOptions.ParseEnum<Precision>("Precision", parse.GetValue(precision)!),
                MaxAccuracyLoss = parse.GetValue(accuracy),
            }, parse);
            if (options.Precision == Precision.Fp32)
                throw new EdgeBuildException(DiagnosticCodes.InvalidCompileOption, "Precision", "Fp32 is not a quantization; use 'edgebuild optimize'");
            var m = OnnxImporter.Load(input);
            SourcePrecision.Require(m, options.Precision, input);
            long before;
            QuantizeStepResult result;
            string outPath = parse.GetValue(output)!;
            using (var progress = ProgressOutput.Create(stderr, silent))
            {
                OptimizationPipeline.Run(m, new OptimizeOptions(), progress: PassDetail(parse.GetValue(verbose) && !silent, progress), info: progress.Progress);
                before = OnnxExporter.ToBytes(m).LongLength;
                result = QuantizeStep.Run(m, options, progress.Progress, progress.Message, input);
                OnnxExporter.Save(result.Model, outPath);
            }
            QuantizationPrinter.Print(result, before, new FileInfo(outPath).Length, stdout);
            return 0;
        }));
        return command;
    }

    private static Command Inspect(TextWriter stdout, TextWriter stderr)
    {
        var model = new Argument<string>("model") { Description = "The ONNX model file" };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table" };
        var command = new Command("inspect", "Show a model's inputs, outputs, opsets, operators, parameters and MACs") { model, json };
        command.SetAction(parse => Guard(stderr, () =>
        {
            string path = parse.GetValue(model)!;
            var m = OnnxImporter.Load(path);
            var summary = ModelSummary.Create(m, Path.GetFileName(path), new FileInfo(path).Length);
            if (parse.GetValue(json)) stdout.WriteLine(JsonSerializer.Serialize(summary, Json));
            else SummaryPrinter.Print(summary, stdout);
            return 0;
        }));
        return command;
    }

    private static Command Optimize(TextWriter stdout, TextWriter stderr)
    {
        var model = new Argument<string>("model") { Description = "The ONNX model file" };
        var output = new Option<string>("--output", "-o") { Description = "Where to write the optimized model", Required = true };
        var passes = new Option<string?>("--passes") { Description = "Comma-separated passes to run (default: all): " + string.Join(", ", OptimizationPipeline.PassNames) };
        var skip = new Option<string?>("--skip") { Description = "Comma-separated passes to leave out" };
        var opset = new Option<long?>("--target-opset") { Description = "Convert the model to this ai.onnx opset first" };
        var report = new Option<bool>("--report") { Description = "Print the pass table (pass, time, nodes before/after, changes)" };
        var reportJson = new Option<string?>("--report-json") { Description = "Also write the pass table as JSON to this file" };
        var dump = new Option<string?>("--dump") { Description = "Write the optimized graph as text to this file" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress lines on stderr" };
        var verbose = VerboseOption();
        var command = new Command("optimize", "Run the graph optimization pipeline and write the optimized model")
            { model, output, passes, skip, opset, report, reportJson, dump, quiet, verbose };
        command.SetAction(parse => Guard(stderr, () =>
        {
            string input = parse.GetValue(model)!;
            string outPath = parse.GetValue(output)!;
            bool silent = parse.GetValue(quiet);
            // No bars here (the passes take milliseconds): the plain lines.
            var progress = ProgressOutput.Plain(stderr, silent);
            void Progress(string line) => progress.Progress(line);

            var selected = OptimizationPipeline.DefaultPasses;
            if (parse.GetValue(passes) is { } list) selected = OptimizationPipeline.Select(list.Split(','));
            if (parse.GetValue(skip) is { } skipList)
            {
                var skipped = OptimizationPipeline.Select(skipList.Split(','), "--skip").Select(p => p.Name).ToHashSet();
                selected = selected.Where(p => !skipped.Contains(p.Name)).ToList();
            }
            var options = new OptimizeOptions { TargetOpset = parse.GetValue(opset) };

            var clock = Stopwatch.StartNew();
            long size = File.Exists(input) ? new FileInfo(input).Length : 0;
            Progress($"reading {input} ({Bytes(size)})");
            var m = OnnxImporter.Load(input);
            var readTime = clock.Elapsed;
            var result = OptimizationPipeline.Run(m, options, selected, progress: PassDetail(parse.GetValue(verbose) && !silent, progress),
                warn: w => stderr.WriteLine($"warning: {input}: {w}"), info: Progress);
            Progress($"writing {outPath}");
            var writeClock = Stopwatch.StartNew();
            OnnxExporter.Save(m, outPath);
            var writeTime = writeClock.Elapsed;
            if (parse.GetValue(dump) is { } dumpPath) AtomicFile.WriteAllText(dumpPath, GraphPrinter.Print(m));
            if (parse.GetValue(reportJson) is { } jsonPath)
                AtomicFile.WriteAllText(jsonPath, JsonSerializer.Serialize(ReportJson(result, readTime, writeTime), Json));

            if (parse.GetValue(report)) PassTable.Print(result, stdout);
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{Path.GetFileName(input)}: {result.NodesBefore} -> {result.NodesAfter} nodes, {result.InitializersBefore} -> {result.InitializersAfter} initializers, {Bytes(size)} -> {Bytes(new FileInfo(outPath).Length)}, {clock.Elapsed.TotalMilliseconds:F0} ms (read {readTime.TotalMilliseconds:F0}, passes {result.Total.TotalMilliseconds:F0}, write {writeTime.TotalMilliseconds:F0})"));
            return 0;
        }));
        return command;
    }

    private static object ReportJson(OptimizationReport r, TimeSpan read, TimeSpan write) => new
    {
        r.NodesBefore,
        r.NodesAfter,
        r.InitializersBefore,
        r.InitializersAfter,
        r.Rounds,
        ReadMs = read.TotalMilliseconds,
        PassesMs = r.Total.TotalMilliseconds,
        WriteMs = write.TotalMilliseconds,
        Passes = r.Passes.Select(p => new { p.Name, TimeMs = p.Time.TotalMilliseconds, p.NodesBefore, p.NodesAfter, p.Rounds, Counters = p.Counters.ToDictionary(c => c.Key, c => c.Value) }),
    };

    internal static string Bytes(long n) => n switch
    {
        >= 1 << 20 => string.Create(CultureInfo.InvariantCulture, $"{n / 1048576.0:F1} MiB"),
        >= 1 << 10 => string.Create(CultureInfo.InvariantCulture, $"{n / 1024.0:F1} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{n} B"),
    };
}
