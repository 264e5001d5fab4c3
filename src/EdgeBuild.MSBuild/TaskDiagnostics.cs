namespace EdgeBuild.MSBuild;

/// <summary>One row of the diagnostics table as the task needs it (code, title, help).</summary>
internal sealed class TaskDiagnostic
{
    public TaskDiagnostic(string code, string title, string help)
    {
        Code = code;
        Title = title;
        Help = help;
    }

    public string Code { get; }
    public string Title { get; }
    public string Help { get; }
}

/// <summary>
/// The diagnostics the task reports itself. The task cannot reference EdgeBuild.Core (netstandard2.0, and
/// it must stay free of ONNX Runtime), so it keeps this copy of its rows; a test in EdgeBuild.MSBuild.Tests
/// checks every row against <c>EdgeBuild.Diagnostics.DiagnosticCodes</c>, which stays the one table
/// (docs/diagnostics.md). Everything the compiler itself reports arrives as text and is passed through.
/// </summary>
internal static class TaskDiagnostics
{
    public static readonly TaskDiagnostic CalibrationFileMissing = new("EB3002", "Calibration file not found",
        "Each calibration file must exist; check the Calibration glob or list.");

    public static readonly TaskDiagnostic InvalidOption = new("EB6001", "Invalid EdgeModel option",
        "Check the EdgeModel item's metadata (or the edgebuild compile option) against docs/msbuild.md.");

    public static readonly TaskDiagnostic ModelNotFound = new("EB6002", "EdgeModel file not found",
        "The Include path of an EdgeModel item is taken relative to the project file; check the path and that the model file is present.");

    public static readonly TaskDiagnostic CalibrationMatchedNothing = new("EB6003", "Calibration pattern matched no files",
        "A wildcard in the Calibration metadata (relative to the project file) matched no file; check the pattern and that the calibration images are present.");

    public static readonly TaskDiagnostic ToolFailed = new("EB6004", "edgebuild failed without a diagnostic",
        "The compiler process failed but printed no EBnnnn line; build with -v:d to see its output, and report it with the model.");

    public static readonly TaskDiagnostic DuplicateClassName = new("EB6005", "Two EdgeModel items have the same ClassName",
        "Each EdgeModel item compiles to its own class and artifact file; give one of them another ClassName.");

    public static readonly TaskDiagnostic ToolNotFound = new("EB6006", "edgebuild compiler not found",
        "Restore the EdgeBuild package, or point EdgeBuildToolPath at edgebuild.dll (in this repository: build src/EdgeBuild.Cli first).");

    /// <summary>Raised by the targets themselves (_EdgeBuildCheckRuntimeReference), with this help text.</summary>
    public static readonly TaskDiagnostic RuntimeNotReferenced = new("EB6007", "EdgeBuild.Runtime not referenced",
        "The classes the EdgeBuild source generator writes call EdgeBuild.Runtime; add a PackageReference to EdgeBuild.Runtime (the same version as EdgeBuild) to the project.");

    /// <summary>Raised by the runtime package's targets (build/EdgeBuild.Runtime.targets), with this help text.</summary>
    public static readonly TaskDiagnostic PortableAppWithoutOnnxRuntimeNative = new("EB6008", "Portable app without an ONNX Runtime native library",
        "EdgeBuild.Runtime brings ONNX Runtime's library per RuntimeIdentifier; set RuntimeIdentifier, add the EdgeBuild package (it gives a portable app its copies), or reference Microsoft.ML.OnnxRuntime.");

    /// <summary>Raised by the runtime package's targets (build/EdgeBuild.Runtime.targets), with this help text.</summary>
    public static readonly TaskDiagnostic NoOnnxRuntimeNativeForRid = new("EB6009", "No ONNX Runtime native library for the RuntimeIdentifier",
        "EdgeBuild.Runtime carries ONNX Runtime's CPU library for win-x64, win-arm64, linux-x64, linux-arm64 and osx-arm64; build for one of those, or reference an ONNX Runtime package that has a library for the platform.");

    /// <summary>Every row (the consistency test reads this).</summary>
    public static IReadOnlyList<TaskDiagnostic> All { get; } =
    [
        CalibrationFileMissing, InvalidOption, ModelNotFound, CalibrationMatchedNothing, ToolFailed, DuplicateClassName, ToolNotFound,
        RuntimeNotReferenced, PortableAppWithoutOnnxRuntimeNative, NoOnnxRuntimeNativeForRid,
    ];
}
