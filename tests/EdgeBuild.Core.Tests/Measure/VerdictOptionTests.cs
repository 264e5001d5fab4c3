using System.Text.Json.Nodes;
using EdgeBuild.MSBuild.Tests.Support;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Session;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Measure;

/// <summary>
/// No silent skip (issue 15): every option of <c>edgebuild compile</c> (the EdgeModel option table and the CLI-only
/// switches) is either a verdict, with a case below that shows a violating build failing with the option named and a
/// build where it cannot be checked printing a diagnostic that names it, or listed as no verdict with the reason. A new
/// option in the table or the CLI fails <see cref="EveryCompileOptionIsAVerdictWithACaseOrSaysWhyNot"/> until it is one
/// of the two.
/// </summary>
public sealed class VerdictOptionTests : IDisposable
{
    /// <summary>How one verdict option is violated and how it is left uncheckable; <c>Setup</c> prepares the folder (a baseline).</summary>
    /// <param name="Violate">Arguments of a compile that breaks the option.</param>
    /// <param name="ViolationCode">The error that build fails with.</param>
    /// <param name="Unchecked">Arguments of a compile where the option cannot be checked.</param>
    /// <param name="UncheckedLine">The start of the diagnostic that build prints ("warning EB5018" or "error EB3010").</param>
    /// <param name="Named">What both lines must contain: the option's metadata name and value.</param>
    public sealed record Case(string[] Violate, string ViolationCode, string[] Unchecked, string UncheckedLine, string Named,
        Action<VerdictOptionTests>? SetupViolation = null, Action<VerdictOptionTests>? SetupUnchecked = null);

    /// <summary>Floors isolated from each other: the other floor is set where nothing can miss it.</summary>
    private static readonly string[] Int8WithHeldOut = ["--precision", "Int8", "--calibration", "{calib}/*.npy", "--eval", "{eval}/*.npy"];

    public static readonly IReadOnlyDictionary<string, Case> Verdicts = new Dictionary<string, Case>
    {
        ["--latency-budget-ms"] = new(["--latency-budget-ms", "0.00001"], "EB5002",
            ["--latency-budget-ms", "0.00001", "--no-measure"], "warning EB5018", "LatencyBudgetMs=1E-05"),
        ["--min-fps"] = new(["--min-fps", "1000000000"], "EB5003",
            ["--min-fps", "1000000000", "--no-measure"], "warning EB5018", "MinFps=1000000000"),
        ["--max-memory-mb"] = new(["--max-memory-mb", "0.000001"], "EB5004",
            ["--max-memory-mb", "0.000001", "--no-measure"], "warning EB5018", "MaxMemoryMB=1E-06"),
        ["--max-size-mb"] = new(["--max-size-mb", "0.000001"], "EB5005",
            ["--max-size-mb", "0.000001", "--no-measure"], "warning EB5018", "MaxSizeMB=1E-06"),
        // FP16 against FP32 on a continuous metric: a loss above zero, far above a budget of 1e-9 %.
        ["--max-accuracy-loss"] = new(["--precision", "Fp16", "--task", "Regression", "--eval", "{eval}/*.npy", "--max-accuracy-loss", "0.000000001"], "EB3009",
            ["--precision", "Fp16", "--max-accuracy-loss", "0.000000001"], "error EB3010", "MaxAccuracyLoss=1E-09"),
        ["--min-sqnr-db"] = new([.. Int8WithHeldOut, "--min-cosine", "-1", "--min-sqnr-db", "500"], "EB3012",
            ["--precision", "Fp16", "--min-sqnr-db", "500"], "warning EB5022", "MinSqnrDb=500"),
        ["--min-cosine"] = new([.. Int8WithHeldOut, "--min-sqnr-db", "-1000", "--min-cosine", "1"], "EB3012",
            ["--precision", "Fp16", "--min-cosine", "1"], "warning EB5022", "MinCosine=1"),
        // The baseline is the net; the violating build compiles a wider net (slower and larger) under the same file.
        ["--latency-tolerance"] = new(["--latency-tolerance", "1"], "EB5012",
            ["--latency-tolerance", "1"], "warning EB5021", "LatencyTolerancePercent",
            SetupViolation: t => t.BaselineThenWider(extraWidth: 128)),
        ["--size-tolerance"] = new(["--size-tolerance", "0"], "EB5012",
            ["--size-tolerance", "0"], "warning EB5021", "SizeTolerancePercent",
            SetupViolation: t => t.BaselineThenWider(extraWidth: 8)),
        // The baseline records an Int8 loss of 0; this build's Int8 loss on a continuous metric is above it.
        ["--accuracy-tolerance"] = new([.. Int8WithHeldOut, "--task", "Regression", "--min-sqnr-db", "-1000", "--min-cosine", "-1", "--accuracy-tolerance", "0"], "EB5012",
            ["--accuracy-tolerance", "0"], "warning EB5023", "AccuracyTolerancePoints",
            SetupViolation: t => t.BaselineWithZeroLoss(), SetupUnchecked: t => t.Baseline()),
    };

    /// <summary>Options that judge nothing about the artifact, each with the reason.</summary>
    public static readonly IReadOnlyDictionary<string, string> NotVerdicts = new Dictionary<string, string>
    {
        ["--name"] = "names the class", ["--namespace"] = "names the namespace", ["--precision"] = "what is built",
        ["--targets"] = "what is built", ["--shape"] = "what is built (free dims with a budget are EB5008)",
        ["--tflite-layout"] = "what is built", ["--tflite-int8-io"] = "what is built", ["--execution-provider"] = "where it is measured (a provider missing here is EB5007 for its budgets)",
        ["--calibration"] = "data", ["--eval"] = "data", ["--calibrator"] = "how it is built", ["--percentile"] = "how it is built",
        ["--moving-average"] = "how it is built", ["--keep-fp16"] = "how it is built", ["--keep-fp32"] = "how it is built",
        ["--task"] = "which metric MaxAccuracyLoss judges", ["--min-calibration"] = "an input check on the data (EB3003), not a verdict on the artifact",
        ["--mean"] = "preprocessing", ["--std"] = "preprocessing", ["--scale"] = "preprocessing", ["--channel-order"] = "preprocessing",
        ["--resize"] = "preprocessing", ["--layout"] = "preprocessing",
        ["--trt-version"] = "what is built", ["--trt-strict"] = "turns the kit writer's unsupported-layer warning into EB4201 at write time (TensorRtTargetTests); nothing is measured or skipped",
        ["--trt-workspace-mib"] = "what is built", ["--trt-profile"] = "what is built", ["--trt-compatibility"] = "what is built",
        ["--device"] = "where the budgets are judged", ["--runner"] = "where the budgets are judged",
        ["--target-opset"] = "what is built", ["--passes"] = "what is built", ["--skip"] = "what is built",
        ["--out"] = "where", ["--quiet"] = "output", ["--verbose"] = "output", ["--lock-timeout"] = "how long to wait",
        ["--baseline"] = "the file the tolerances are judged against (their cases: no baseline is EB5021)",
        ["--batch-size"] = "measurement setting", ["--no-measure"] = "switches the measured verdicts off: EB5018 names them (the cases)",
        ["--update-baseline"] = "writes the baseline instead of comparing", ["--remeasure"] = "measurement setting",
        ["--measure-seconds"] = "measurement setting", ["--threads"] = "measurement setting", ["--measure-cache"] = "measurement setting",
    };

    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-verdicts-").FullName;

    public VerdictOptionTests()
    {
        GateModels.WriteConvNet(ModelPath, size: 16, blocks: 1);
        WriteSamples("calib", 8, seed: 100);
        WriteSamples("eval", 30, seed: 200);
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string ModelPath => Path.Combine(dir, "net.onnx");
    private string Cache => Path.Combine(dir, "cache");
    private string BaselinePath => Path.Combine(dir, "net.edgebaseline.json");

    private void WriteSamples(string folder, int count, int seed)
    {
        Directory.CreateDirectory(Path.Combine(dir, folder));
        for (int i = 0; i < count; i++) NpyFile.Write(Path.Combine(dir, folder, $"s{i:D2}.npy"), ModelBuilder.RandomInput([1, 3, 16, 16], seed + i));
    }

    private (int Exit, string Stdout, string Stderr) Compile(string outDir, IEnumerable<string> args) =>
        CliRunner.Run(["compile", ModelPath, "--out", Path.Combine(dir, outDir), "--measure-cache", Cache, "--measure-seconds", "0.5", "-q",
            .. args.Select(a => a.Replace("{calib}", Path.Combine(dir, "calib"), StringComparison.Ordinal).Replace("{eval}", Path.Combine(dir, "eval"), StringComparison.Ordinal))]);

    private void Baseline()
    {
        var (exit, _, stderr) = CliRunner.Run("baseline", "update", ModelPath, "--measure-cache", Cache, "--measure-seconds", "2", "-q");
        Assert.True(exit == 0, stderr);
    }

    private void BaselineThenWider(int extraWidth)
    {
        Baseline();
        GateModels.WriteConvNet(ModelPath, size: 16, blocks: 1, extraWidth: extraWidth);
    }

    private void BaselineWithZeroLoss()
    {
        var (exit, _, stderr) = Compile("baseline", [.. Int8WithHeldOut, "--task", "Regression", "--min-sqnr-db", "-1000", "--min-cosine", "-1", "--update-baseline"]);
        Assert.True(exit == 0, stderr);
        var json = JsonNode.Parse(File.ReadAllText(BaselinePath))!;
        foreach (var artifact in json["artifacts"]!.AsArray()) artifact!["accuracyLossPercent"] = 0.0;
        File.WriteAllText(BaselinePath, json.ToJsonString());
    }

    private static string[] Lines(string stderr, string start) =>
        stderr.Split('\n').Where(l => l.StartsWith(start, StringComparison.Ordinal)).ToArray();

    [Fact]
    public void EveryCompileOptionIsAVerdictWithACaseOrSaysWhyNot()
    {
        var switches = global::EdgeBuild.Cli.Commands.Compile(TextWriter.Null, TextWriter.Null).Options.Select(o => o.Name).ToList();
        // The table's rows reach the compiler by their switch (CliOptionTableTests); those without one are copy rules
        // (MSBuild copies the files) and the packaging options (the EdgeBuildPackage task after the compile): neither
        // judges the model, so a new row without a switch that is neither must come here with its verdict.
        Assert.All(EdgeModelOptionTable.All.Where(o => o.Switch is null),
            o => Assert.True(o.Name.StartsWith("CopyTo", StringComparison.Ordinal) || o.Name.StartsWith("Package", StringComparison.Ordinal),
                $"{o.Name} has no compile switch and is neither a copy rule nor a packaging option"));
        var neither = switches.Where(s => !Verdicts.ContainsKey(s) && !NotVerdicts.ContainsKey(s)).ToList();
        Assert.True(neither.Count == 0, "compile options with no verdict case and no reason: " + string.Join(", ", neither));
        Assert.DoesNotContain(switches, s => Verdicts.ContainsKey(s) && NotVerdicts.ContainsKey(s));
        var stale = Verdicts.Keys.Concat(NotVerdicts.Keys).Where(k => !switches.Contains(k)).ToList();
        Assert.True(stale.Count == 0, "listed but not an option of compile: " + string.Join(", ", stale));
    }

    public static TheoryData<string> VerdictSwitches() => new(Verdicts.Keys);

    [Theory]
    [MemberData(nameof(VerdictSwitches))]
    public void VerdictFailsWhenViolatedAndIsNamedWhenItCannotBeChecked(string option)
    {
        var c = Verdicts[option];
        c.SetupViolation?.Invoke(this);
        var (exit, _, stderr) = Compile("violated", c.Violate);
        Assert.True(exit == 1, $"{option}: the violating build passed\n{stderr}");
        var errors = Lines(stderr, "error EB");
        Assert.True(errors.Length == 1, stderr);
        Assert.StartsWith($"error {c.ViolationCode}: ", errors[0], StringComparison.Ordinal);
        Assert.Contains(c.Named, errors[0], StringComparison.Ordinal);

        if (File.Exists(BaselinePath)) File.Delete(BaselinePath);
        GateModels.WriteConvNet(ModelPath, size: 16, blocks: 1);
        c.SetupUnchecked?.Invoke(this);
        (exit, _, stderr) = Compile("unchecked", c.Unchecked);
        var lines = Lines(stderr, c.UncheckedLine);
        Assert.True(lines.Length == 1, $"{option}: no '{c.UncheckedLine}' when it cannot be checked\n{stderr}");
        Assert.Contains(c.Named, lines[0], StringComparison.Ordinal);
        Assert.Equal(c.UncheckedLine.StartsWith("error", StringComparison.Ordinal) ? 1 : 0, exit);
    }
}
