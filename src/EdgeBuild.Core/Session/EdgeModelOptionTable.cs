// The one table of EdgeModel item options. This file is compiled into the core (EdgeBuild.Session) and, as a linked
// source file, into the MSBuild task (EdgeBuild.MSBuild, netstandard2.0, which references no other project: the task
// only starts the compiler). Keep it to what netstandard2.0 compiles: no records, no init, no ranges.
using System;
using System.Collections.Generic;
using System.Linq;

#if EDGEBUILD_TASK
namespace EdgeBuild.MSBuild;
#else
namespace EdgeBuild.Session;
#endif

/// <summary>How an option's value is written in the item and handed to <c>edgebuild compile</c>.</summary>
public enum EdgeModelOptionKind
{
    /// <summary>Passed as written.</summary>
    Text,
    /// <summary>A decimal number, '.' as the decimal point; passed as written.</summary>
    Number,
    /// <summary>A whole number; passed as written.</summary>
    WholeNumber,
    /// <summary>One of <see cref="EdgeModelOption.Values"/> in any case; passed in its canonical spelling.</summary>
    Choice,
    /// <summary>Several of <see cref="EdgeModelOption.Values"/>, separated by ';' or ','; passed canonical, joined by ';'.</summary>
    ChoiceList,
    /// <summary>'true' (any case) passes the switch alone; anything else passes nothing.</summary>
    Flag,
    /// <summary>Names separated by ';' or ','; passed joined by ','.</summary>
    NameList,
    /// <summary>Entries separated by ';', passed as one value (the stamp escapes the ';').</summary>
    Entries,
    /// <summary>Entries separated by ';', each passed with its own switch.</summary>
    EachEntry,
    /// <summary>Files and wildcards MSBuild expands; each file passed with its own switch.</summary>
    Files,
}

/// <summary>What the task checks before the compiler starts (EB6001); the compiler checks the rest itself.</summary>
public enum EdgeModelOptionCheck
{
    /// <summary>Left to the compiler.</summary>
    None,
    /// <summary>One of the values (a <see cref="EdgeModelOptionKind.ChoiceList"/>: each of them, at least one).</summary>
    OneOf,
    /// <summary>A decimal number.</summary>
    Number,
    /// <summary>A whole number, 0 or more.</summary>
    WholeNumber,
    /// <summary>A whole number above 0.</summary>
    PositiveWholeNumber,
    /// <summary><c>true</c> or <c>false</c>.</summary>
    TrueOrFalse,
}

/// <summary>
/// One EdgeModel option: its metadata name, how its value is written, its default, its <c>edgebuild compile</c>
/// switch and its line in docs/msbuild.md. <see cref="EdgeModelOptionTable.All"/> is the table; build/EdgeBuild.props,
/// the options stamp in build/EdgeBuild.targets, the task's command line, the CLI and docs/msbuild.md follow it
/// (tests/EdgeBuild.MSBuild.Tests/OptionTableTests.cs and tests/EdgeBuild.Core.Tests/Cli/CliOptionTableTests.cs).
/// </summary>
public sealed class EdgeModelOption
{
    public EdgeModelOption(string name, EdgeModelOptionKind kind, string? cliSwitch, string doc, string? defaultValue = null,
        string? docDefault = null, string props = "", string[]? values = null, EdgeModelOptionCheck check = EdgeModelOptionCheck.None,
        string? checkNoun = null, bool onlyWhenMeasuring = false)
    {
        Name = name;
        Kind = kind;
        Switch = cliSwitch;
        Doc = doc;
        Default = defaultValue;
        DocDefault = docDefault ?? (defaultValue is null ? "(none)" : "`" + defaultValue + "`");
        Props = props;
        Values = values ?? [];
        Check = check;
        CheckNoun = checkNoun ?? check switch
        {
            EdgeModelOptionCheck.Number => "a number (use '.' as the decimal point)",
            EdgeModelOptionCheck.TrueOrFalse => "true or false",
            EdgeModelOptionCheck.WholeNumber => "a whole number",
            EdgeModelOptionCheck.PositiveWholeNumber => "a positive whole number",
            _ => "",
        };
        OnlyWhenMeasuring = onlyWhenMeasuring;
    }

    /// <summary>The item metadata name, as written in the project file.</summary>
    public string Name { get; }
    public EdgeModelOptionKind Kind { get; }
    /// <summary>The <c>edgebuild compile</c> switch; null for metadata the build uses itself (copy rules).</summary>
    public string? Switch { get; }
    /// <summary>The meaning, for docs/msbuild.md (markdown, one table cell).</summary>
    public string Doc { get; }
    /// <summary>The value the compiler uses when the metadata is empty, as <c>edgebuild compile</c> shows it; null: none.</summary>
    public string? Default { get; }
    /// <summary>The default column of docs/msbuild.md (markdown).</summary>
    public string DocDefault { get; }
    /// <summary>The value in build/EdgeBuild.props' ItemDefinitionGroup (empty: the compiler's default).</summary>
    public string Props { get; }
    /// <summary>The canonical spellings of a <see cref="EdgeModelOptionKind.Choice"/> or <see cref="EdgeModelOptionKind.ChoiceList"/>.</summary>
    public IReadOnlyList<string> Values { get; }
    public EdgeModelOptionCheck Check { get; }
    /// <summary>What a valid value is, for the task's EB6001 message ("'x' is not {CheckNoun}").</summary>
    public string CheckNoun { get; }
    /// <summary>Passed only when the build measures (EdgeBuildMeasure).</summary>
    public bool OnlyWhenMeasuring { get; }

    /// <summary>Whether a value can hold ';' (the options stamp escapes it so the stamp stays one line per option).</summary>
    public bool MayHoldSemicolons => Kind is EdgeModelOptionKind.Entries or EdgeModelOptionKind.EachEntry or EdgeModelOptionKind.Files;

    /// <summary>A value the task requires: a checked choice with a default in the props (Precision, Targets, ExecutionProvider).</summary>
    public bool Required => Check == EdgeModelOptionCheck.OneOf && Props.Length > 0;

    /// <summary>The canonical spelling of <paramref name="value"/> among <see cref="Values"/>, or null.</summary>
    public string? Canonical(string value) =>
        Values.FirstOrDefault(v => string.Equals(v, value.Trim(), StringComparison.OrdinalIgnoreCase));

    public override string ToString() => Name;
}

/// <summary>
/// Every EdgeModel option, once, in the order of docs/msbuild.md. Adding one: a row here, then what the tests name
/// (docs/architecture.md, "An EdgeModel option").
/// </summary>
public static class EdgeModelOptionTable
{
    private static readonly string[] Precisions = ["Fp32", "Fp16", "Int8", "Int8Dynamic", "Mixed", "Auto"];
    private static readonly string[] TargetKinds = ["Onnx", "TensorRT", "TFLite"];
    private static readonly string[] ExecutionProviders = ["Cpu", "Cuda", "TensorRT"];
    private static readonly string[] CopyRules = ["Never", "PreserveNewest", "Always"];

    public static readonly EdgeModelOption ClassName = new("ClassName", EdgeModelOptionKind.Text, "--name",
        "The generated class, the manifest's `name`, and the artifact's file name.",
        docDefault: "the file name in PascalCase (`face-detect-rfb320.onnx` -> `FaceDetectRfb320`; a leading digit gets `Model`)");
    public static readonly EdgeModelOption Namespace = new("Namespace", EdgeModelOptionKind.Text, "--namespace",
        "Namespace of the generated class; empty: the global namespace.", docDefault: "`$(RootNamespace)`", props: "$(RootNamespace)");
    public static readonly EdgeModelOption Precision = new("Precision", EdgeModelOptionKind.Choice, "--precision",
        "`Fp32`, `Fp16`, `Int8` (static, calibrated), `Int8Dynamic`, `Mixed` (INT8 with layers returned to FP32 until `MaxAccuracyLoss` holds, or as `KeepFp16`/`KeepFp32` say), `Auto` (each layer INT8 or FP32 by its kernel time measured in ONNX Runtime, under `MaxAccuracyLoss`, default 1 %; never slower than FP32: where INT8 gains nothing the artifact is FP32 and the build says so). See docs/quantization.md.",
        defaultValue: "Fp32", props: "Fp32", values: Precisions, check: EdgeModelOptionCheck.OneOf);
    public static readonly EdgeModelOption Targets = new("Targets", EdgeModelOptionKind.ChoiceList, "--targets",
        "Artifact formats, separated by `;` or `,`: `Onnx`, `TensorRT` (the engine kit, docs/tensorrt.md), `TFLite`. The generated class runs the `Onnx` artifact (or the kit's `.trt.onnx`), so keep `Onnx` in the list; `TFLite` adds `<Class>.tflite` next to the app.",
        defaultValue: "Onnx", props: "Onnx", values: TargetKinds, check: EdgeModelOptionCheck.OneOf);
    public static readonly EdgeModelOption Shapes = new("Shapes", EdgeModelOptionKind.EachEntry, "--shape",
        "Fixed shapes for inputs with dynamic dims, `name=1,3,480,640`, separated by `;` (one `--shape` each). TFLite needs every dim fixed (EB4102).");
    public static readonly EdgeModelOption TfliteLayout = new("TfliteLayout", EdgeModelOptionKind.Text, "--tflite-layout",
        "Rank-4 inputs and outputs of the `.tflite` file: `Nhwc` or `Nchw` (as in the ONNX model).", defaultValue: "Nhwc");
    public static readonly EdgeModelOption TfliteInt8Io = new("TfliteInt8Io", EdgeModelOptionKind.Flag, "--tflite-int8-io",
        "`true`: an `Int8` `.tflite` file takes and gives int8 tensors instead of float.", docDefault: "`false`");
    public static readonly EdgeModelOption ExecutionProvider = new("ExecutionProvider", EdgeModelOptionKind.Choice, "--execution-provider",
        "`Cpu`, `Cuda`, `TensorRT`.", defaultValue: "Cpu", props: "Cpu", values: ExecutionProviders, check: EdgeModelOptionCheck.OneOf);
    public static readonly EdgeModelOption Calibration = new("Calibration", EdgeModelOptionKind.Files, "--calibration",
        "Calibration images: files and wildcards (`calib/**/*.jpg`), separated by `;`, relative to the project file (one `--calibration` per file). A wildcard that matches nothing is an error (EB6003).");
    public static readonly EdgeModelOption Calibrator = new("Calibrator", EdgeModelOptionKind.Text, "--calibrator",
        "`MinMax`, `Percentile`, `Entropy`.", defaultValue: "Percentile");
    public static readonly EdgeModelOption Percentile = new("Percentile", EdgeModelOptionKind.Number, "--percentile",
        "The Percentile calibrator's percentile.", defaultValue: "99.999");
    public static readonly EdgeModelOption MovingAverage = new("MovingAverage", EdgeModelOptionKind.Flag, "--moving-average",
        "`true`: the MinMax calibrator averages each sample's extremes (constant 0.01) instead of taking the overall ones.", docDefault: "`false`");
    public static readonly EdgeModelOption KeepFp16 = new("KeepFp16", EdgeModelOptionKind.Entries, "--keep-fp16",
        "Node-name patterns with `*` and `?`, separated by `;`, kept in FP16 (out of INT8).");
    public static readonly EdgeModelOption KeepFp32 = new("KeepFp32", EdgeModelOptionKind.Entries, "--keep-fp32",
        "Node-name patterns with `*` and `?`, separated by `;`, kept in FP32 (out of INT8).");
    public static readonly EdgeModelOption Task = new("Task", EdgeModelOptionKind.Text, "--task",
        "`Classification`, `Detection`, `Regression`, `Embedding`, `Generic`: the accuracy metric.", defaultValue: "Auto");
    public static readonly EdgeModelOption MinCalibrationSamples = new("MinCalibrationSamples", EdgeModelOptionKind.WholeNumber, "--min-calibration",
        "Fewest calibration files accepted (EB3003 below it).", defaultValue: "8");
    public static readonly EdgeModelOption Mean = new("Mean", EdgeModelOptionKind.Text, "--mean",
        "Calibration photos become `(pixel * Scale - Mean[c]) / Std[c]`; one value or three (`127.5,127.5,127.5`).", docDefault: "`0`");
    public static readonly EdgeModelOption Std = new("Std", EdgeModelOptionKind.Text, "--std",
        "The divisor of that formula; one value or three.", docDefault: "`1`");
    public static readonly EdgeModelOption Scale = new("Scale", EdgeModelOptionKind.Number, "--scale",
        "The factor applied to 0..255 pixels first.", defaultValue: "1");
    public static readonly EdgeModelOption ChannelOrder = new("ChannelOrder", EdgeModelOptionKind.Text, "--channel-order",
        "`Rgb`, `Bgr`, `Gray`.", defaultValue: "Rgb");
    public static readonly EdgeModelOption Resize = new("Resize", EdgeModelOptionKind.Text, "--resize",
        "`Stretch`, `Letterbox`, `CenterCrop`.", defaultValue: "Stretch");
    public static readonly EdgeModelOption Layout = new("Layout", EdgeModelOptionKind.Text, "--layout",
        "`Auto` (from the input's shape), `Nchw`, `Nhwc`.", defaultValue: "Auto");
    public static readonly EdgeModelOption TensorRTVersion = new("TensorRTVersion", EdgeModelOptionKind.Text, "--trt-version",
        "TensorRT on the device, `8.x`, `10.x`, `11.x`: the operator table, the calibration cache header, the trtexec flags. See docs/tensorrt.md.",
        defaultValue: "10.3.0");
    public static readonly EdgeModelOption TensorRTStrict = new("TensorRTStrict", EdgeModelOptionKind.Flag, "--trt-strict",
        "`true`: a layer the TensorRT version does not support is an error (EB4201) instead of a warning.", docDefault: "`false`",
        check: EdgeModelOptionCheck.TrueOrFalse);
    public static readonly EdgeModelOption TensorRTWorkspaceMiB = new("TensorRTWorkspaceMiB", EdgeModelOptionKind.WholeNumber, "--trt-workspace-mib",
        "The engine builder's workspace in MiB.", defaultValue: "1024", check: EdgeModelOptionCheck.PositiveWholeNumber,
        checkNoun: "a positive whole number of MiB");
    public static readonly EdgeModelOption TensorRTProfile = new("TensorRTProfile", EdgeModelOptionKind.Entries, "--trt-profile",
        "Shape profiles for dynamic input dimensions, `symbol=min:opt:max` or `input[axis]=min:opt:max`, separated by `;`; a guessed axis other than the first is a warning.",
        docDefault: "each dynamic dimension `1:1:16`");
    public static readonly EdgeModelOption TensorRTCompatibility = new("TensorRTCompatibility", EdgeModelOptionKind.Choice, "--trt-compatibility",
        "`Version`, `Hardware` or `VersionAndHardware`: the engine's portability (TensorRT 8.6+).", defaultValue: "None",
        values: ["None", "Version", "Hardware", "VersionAndHardware"], check: EdgeModelOptionCheck.OneOf);
    public static readonly EdgeModelOption LatencyBudgetMs = new("LatencyBudgetMs", EdgeModelOptionKind.Number, "--latency-budget-ms",
        "P99 latency budget in milliseconds, `.` as the decimal point; checked by measurement (docs/measurement.md).", check: EdgeModelOptionCheck.Number);
    public static readonly EdgeModelOption MaxAccuracyLoss = new("MaxAccuracyLoss", EdgeModelOptionKind.Number, "--max-accuracy-loss",
        "Largest accuracy loss against FP32, in percent, judged by its 95 % interval on at least 30 held-out samples (docs/quantization.md, \"The accuracy gate\").",
        check: EdgeModelOptionCheck.Number);
    public static readonly EdgeModelOption MinSqnrDb = new("MinSqnrDb", EdgeModelOptionKind.Number, "--min-sqnr-db",
        "Lowest output SQNR against FP32 (dB) every quantized artifact is held to on the held-out samples.", defaultValue: "20",
        check: EdgeModelOptionCheck.Number);
    public static readonly EdgeModelOption MinCosine = new("MinCosine", EdgeModelOptionKind.Number, "--min-cosine",
        "Lowest mean output cosine against FP32 every quantized artifact is held to.", defaultValue: "0.99", check: EdgeModelOptionCheck.Number);
    public static readonly EdgeModelOption MinFps = new("MinFps", EdgeModelOptionKind.Number, "--min-fps",
        "Fewest single-stream frames per second; docs/measurement.md.", check: EdgeModelOptionCheck.Number);
    public static readonly EdgeModelOption MaxMemoryMB = new("MaxMemoryMB", EdgeModelOptionKind.Number, "--max-memory-mb",
        "Most memory the model may need while running, in MB.", check: EdgeModelOptionCheck.Number);
    public static readonly EdgeModelOption MaxSizeMB = new("MaxSizeMB", EdgeModelOptionKind.Number, "--max-size-mb",
        "Largest artifact, in MB.", check: EdgeModelOptionCheck.Number);
    public static readonly EdgeModelOption Device = new("Device", EdgeModelOptionKind.Text, "--device",
        "Measure on this target device and judge the budgets there (a name from `edgebuild device add`, docs/devices.md); several names, `;`-separated, are measured in parallel and each judged; passed only when the build measures.",
        docDefault: "`$(EdgeBuildDevice)`", props: "$(EdgeBuildDevice)", onlyWhenMeasuring: true);
    public static readonly EdgeModelOption LatencyTolerancePercent = new("LatencyTolerancePercent", EdgeModelOptionKind.Number, "--latency-tolerance",
        "How much the normalized P99 may grow against the committed baseline, percent.", docDefault: "(the baseline file's: 10)",
        check: EdgeModelOptionCheck.Number);
    public static readonly EdgeModelOption AccuracyTolerancePoints = new("AccuracyTolerancePoints", EdgeModelOptionKind.Number, "--accuracy-tolerance",
        "How much accuracy may drop against the committed baseline, points.", docDefault: "(the baseline file's: 0.2)",
        check: EdgeModelOptionCheck.Number);
    public static readonly EdgeModelOption SizeTolerancePercent = new("SizeTolerancePercent", EdgeModelOptionKind.Number, "--size-tolerance",
        "How much the artifact may grow against the committed baseline, percent.", docDefault: "(the baseline file's: 1)",
        check: EdgeModelOptionCheck.Number);
    public static readonly EdgeModelOption TargetOpset = new("TargetOpset", EdgeModelOptionKind.WholeNumber, "--target-opset",
        "Convert to this `ai.onnx` opset first.", check: EdgeModelOptionCheck.WholeNumber, checkNoun: "an opset number");
    public static readonly EdgeModelOption Passes = new("Passes", EdgeModelOptionKind.NameList, "--passes",
        "Passes to run, separated by `,` or `;`.", docDefault: "(all)");
    public static readonly EdgeModelOption SkipPasses = new("SkipPasses", EdgeModelOptionKind.NameList, "--skip",
        "Passes to leave out, separated by `,` or `;`.");
    public static readonly EdgeModelOption CopyToOutputDirectory = new("CopyToOutputDirectory", EdgeModelOptionKind.Choice, null,
        "Whether the artifacts are copied to the output folder (`Never`, `PreserveNewest`, `Always`).", defaultValue: "PreserveNewest",
        props: "PreserveNewest", values: CopyRules);
    public static readonly EdgeModelOption CopyToPublishDirectory = new("CopyToPublishDirectory", EdgeModelOptionKind.Choice, null,
        "The same for `dotnet publish`.", defaultValue: "PreserveNewest", props: "PreserveNewest", values: CopyRules);
    public static readonly EdgeModelOption Package = new("Package", EdgeModelOptionKind.Flag, null,
        "`true`: after the model compiles, `edgebuild package` writes a signed package `<Class>-<PackageVersion>.edgepkg` into `$(EdgeBuildPackageOutputPath)` (default `$(OutDir)edgepkg/`); docs/lifecycle.md.",
        docDefault: "`false`", check: EdgeModelOptionCheck.TrueOrFalse);
    public static readonly EdgeModelOption PackageVersion = new("PackageVersion", EdgeModelOptionKind.Text, null,
        "The package's version, `MAJOR.MINOR.PATCH` (EB7002 otherwise).", docDefault: "`$(Version)`", props: "$(Version)");
    public static readonly EdgeModelOption PackageKey = new("PackageKey", EdgeModelOptionKind.Text, null,
        "The private signing key (PEM from `edgebuild keygen`), relative to the project file; required with `Package`. Keep it out of the repository (an environment-specific property, e.g. `$(ModelSigningKey)`).");
    public static readonly EdgeModelOption PackageHoldout = new("PackageHoldout", EdgeModelOptionKind.Files, null,
        "Held-out images or `.npy`/`.npz` samples (files and wildcards, `;`-separated, relative to the project file): the package records each float output's statistics on them for drift monitoring (`--holdout`).");
    public static readonly EdgeModelOption PackageMinRuntime = new("PackageMinRuntime", EdgeModelOptionKind.Text, null,
        "The oldest EdgeBuild runtime that may load the package (`--min-runtime`).", docDefault: "the tool's version");

    /// <summary>The table, in the order of docs/msbuild.md (and of the options stamp and the command line).</summary>
    public static readonly IReadOnlyList<EdgeModelOption> All =
    [
        ClassName, Namespace, Precision, Targets, Shapes, TfliteLayout, TfliteInt8Io, ExecutionProvider, Calibration, Calibrator,
        Percentile, MovingAverage, KeepFp16, KeepFp32, Task, MinCalibrationSamples, Mean, Std, Scale, ChannelOrder, Resize, Layout,
        TensorRTVersion, TensorRTStrict, TensorRTWorkspaceMiB, TensorRTProfile, TensorRTCompatibility, LatencyBudgetMs,
        MaxAccuracyLoss, MinSqnrDb, MinCosine, MinFps, MaxMemoryMB, MaxSizeMB, Device, LatencyTolerancePercent,
        AccuracyTolerancePoints, SizeTolerancePercent, TargetOpset, Passes, SkipPasses, CopyToOutputDirectory, CopyToPublishDirectory,
        Package, PackageVersion, PackageKey, PackageHoldout, PackageMinRuntime,
    ];

    /// <summary>The options passed to <c>edgebuild compile</c> (all but the copy rules and the packaging options, which the build uses itself).</summary>
    public static IEnumerable<EdgeModelOption> Compiler => All.Where(o => o.Switch is not null);

    /// <summary>The row of a metadata name (case-insensitive, as MSBuild reads metadata), or null.</summary>
    public static EdgeModelOption? Find(string name) =>
        All.FirstOrDefault(o => string.Equals(o.Name, name, StringComparison.OrdinalIgnoreCase));
}
