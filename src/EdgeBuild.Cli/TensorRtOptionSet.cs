using System.CommandLine;
using EdgeBuild.Compile;
using EdgeBuild.Diagnostics;
using EdgeBuild.Targets.TensorRt;
using EdgeBuild.Session;

namespace EdgeBuild.Cli;

/// <summary>The TensorRT kit's options shared by <c>compile</c> and <c>convert</c> (mirroring the EdgeModel TensorRT* metadata).</summary>
internal sealed class TensorRtOptionSet
{
    public Option<string> Version { get; } = new("--trt-version") { Description = "TensorRT version on the device (8.x, 10.x, 11.x)", DefaultValueFactory = _ => new TensorRtSettings().Version };
    public Option<bool> Strict { get; } = new("--trt-strict") { Description = "A layer TensorRT does not support is an error (EB4201), not a warning" };
    public Option<int> WorkspaceMiB { get; } = new("--trt-workspace-mib") { Description = "Builder workspace in MiB", DefaultValueFactory = _ => new TensorRtSettings().WorkspaceMiB };
    public Option<string?> Profile { get; } = new("--trt-profile") { Description = "Shape profiles for dynamic dimensions, 'symbol=min:opt:max' or 'input[axis]=min:opt:max', separated by ';' (default 1:1:16)" };
    public Option<string> Compatibility { get; } = new("--trt-compatibility") { Description = "None, Version, Hardware or VersionAndHardware", DefaultValueFactory = _ => "None" };

    public IEnumerable<Option> All => [Version, Strict, WorkspaceMiB, Profile, Compatibility];

    public CompileOptions Apply(CompileOptions options, ParseResult parse) => options with
    {
        TensorRt = new TensorRtSettings
        {
            Version = parse.GetValue(Version)!,
            Strict = parse.GetValue(Strict),
            WorkspaceMiB = parse.GetValue(WorkspaceMiB),
            Profiles = (parse.GetValue(Profile) ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            Compatibility = ParseCompatibility(parse.GetValue(Compatibility)!),
        },
    };

    private static EnginePortability ParseCompatibility(string value)
    {
        if (Enum.TryParse<EnginePortability>(value.Trim(), ignoreCase: true, out var p) && Enum.IsDefined(p) && !int.TryParse(value, out _)) return p;
        throw new EdgeBuildException(DiagnosticCodes.InvalidTensorRtOption, "TensorRTCompatibility",
            $"'{value}' is not a valid TensorRTCompatibility (valid: {string.Join(", ", Enum.GetNames<EnginePortability>())})");
    }
}
