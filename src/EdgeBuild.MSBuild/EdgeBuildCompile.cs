using System.Globalization;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace EdgeBuild.MSBuild;

/// <summary>
/// Compiles one EdgeModel item by running <c>edgebuild compile</c> out of process (<c>dotnet exec edgebuild.dll</c>):
/// the compiler and ONNX Runtime never load into MSBuild. Every problem the task or the compiler finds becomes one
/// MSBuild error at the item's element in the project file; no stack trace reaches the build output. On failure the
/// model's outputs (manifest, artifacts, their copies in the output folder) are deleted, so no stale file looks fresh.
/// The targets (build/EdgeBuild.targets) call it once per out-of-date model; see implementation_notes.md.
/// </summary>
public sealed class EdgeBuildCompile : EdgeBuildToolTask
{
    /// <summary>This model's folder for the artifacts and the manifest.</summary>
    [Required]
    public string OutputDirectory { get; set; } = "";

    /// <summary>The calibration files MSBuild expanded from the Calibration metadata (for Calibration patterns the check that each matched something).</summary>
    public ITaskItem[] CalibrationFiles { get; set; } = [];

    /// <summary>Files deleted when the compile fails: the manifest, the artifacts and their copies in the output folder.</summary>
    public ITaskItem[] FilesToRemoveOnFailure { get; set; } = [];

    /// <summary>EdgeBuildMeasure: false passes --no-measure (no latency, fps, memory or size budgets, no baseline check).</summary>
    public bool Measure { get; set; } = true;

    /// <summary>EdgeBuildUpdateBaseline: true writes each model's baseline beside it (--update-baseline) instead of comparing.</summary>
    public bool UpdateBaseline { get; set; }

    /// <summary>EdgeBuildRemeasure: true measures again even when the measurement cache has the artifact.</summary>
    public bool Remeasure { get; set; }

    /// <summary>EdgeBuildMeasureSeconds: the time cap of each artifact's latency phase (empty: the compiler's default).</summary>
    public string MeasureSeconds { get; set; } = "";

    /// <summary>EdgeBuildMeasureThreads: ONNX Runtime threads while measuring (empty: the compiler's default, 1).</summary>
    public string MeasureThreads { get; set; } = "";

    /// <summary>EdgeBuildMeasureCache: the measurement cache folder (empty: the compiler's default).</summary>
    public string MeasureCache { get; set; } = "";

    public override bool Execute()
    {
        bool ok = RunTool(Path.Combine(OutputDirectory, Meta("ClassName") + ".edgemodel.json"), "manifest", "EdgeBuild task");
        if (!ok) RemoveOutputs();
        return ok;
    }

    /// <summary>Checks everything that can be checked without the compiler and logs every problem, not just the first.</summary>
    protected override bool ValidateParameters()
    {
        bool valid = true;
        void Fail(TaskDiagnostic d, string subject, string message)
        {
            LogItemError(d, subject, message);
            valid = false;
        }

        if (!ToolAssemblyExists()) valid = false;

        string modelPath = Meta("FullPath");
        if (!File.Exists(modelPath))
            Fail(TaskDiagnostics.ModelNotFound, Model.ItemSpec, $"model file does not exist (looked for {modelPath})");

        string className = Meta("ClassName");
        if (!Identifiers.IsIdentifier(className))
            Fail(TaskDiagnostics.InvalidOption, "ClassName", $"'{className}' is not a valid C# class name");

        // Every metadata value the option table says the task checks (EdgeModelOptionTable; OptionArguments.Problems).
        foreach (var (option, message) in OptionArguments.Problems(Meta))
            Fail(TaskDiagnostics.InvalidOption, option, message);
        if (MeasureThreads.Trim().Length > 0 && !int.TryParse(MeasureThreads.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            Fail(TaskDiagnostics.InvalidOption, "EdgeBuildMeasureThreads", $"'{MeasureThreads}' is not a thread count");
        if (MeasureSeconds.Trim().Length > 0 && !double.TryParse(MeasureSeconds, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            Fail(TaskDiagnostics.InvalidOption, "EdgeBuildMeasureSeconds", $"'{MeasureSeconds}' is not a number of seconds (use '.' as the decimal point)");

        CheckCalibration(Fail);
        return valid;
    }

    /// <summary>
    /// A Calibration entry without wildcards names a file that must exist; an entry with wildcards must have matched
    /// at least one file in MSBuild's expansion. The entries are read escaped, so a path with a literal ';' (%3B) stays one entry.
    /// </summary>
    private void CheckCalibration(Action<TaskDiagnostic, string, string> fail)
    {
        string spec = Model is ITaskItem2 escaped ? escaped.GetMetadataValueEscaped("Calibration") : Model.GetMetadata("Calibration");
        if (string.IsNullOrWhiteSpace(spec)) return;
        string projectDirectory = ProjectFile.Length > 0 ? Path.GetDirectoryName(Path.GetFullPath(ProjectFile)) ?? "" : Directory.GetCurrentDirectory();
        var expanded = CalibrationFiles.Select(f => f.GetMetadata("FullPath").Replace('\\', '/')).ToList();
        foreach (var part in spec.Split(';'))
        {
            string entry = ItemLocator.Unescape(part.Trim());
            if (entry.Length == 0) continue;
            if (entry.IndexOf('*') >= 0 || entry.IndexOf('?') >= 0)
            {
                string pattern = Path.IsPathRooted(entry) ? entry : projectDirectory.Replace('\\', '/').TrimEnd('/') + "/" + entry;
                var regex = Glob.ToRegex(CollapseDots(pattern));
                if (!expanded.Any(f => regex.IsMatch(f)))
                    fail(TaskDiagnostics.CalibrationMatchedNothing, entry, "Calibration pattern matched no files");
            }
            else if (!File.Exists(Path.Combine(projectDirectory, entry)))
                fail(TaskDiagnostics.CalibrationFileMissing, entry, "calibration file does not exist");
        }
    }

    /// <summary>Removes "./" and "dir/../" from a '/' path whose wildcards Path.GetFullPath would reject on Windows.</summary>
    private static string CollapseDots(string path)
    {
        var parts = new List<string>();
        foreach (var p in path.Replace('\\', '/').Split('/'))
        {
            if (p == ".") continue;
            if (p == ".." && parts.Count > 0 && parts[parts.Count - 1] != ".." && parts[parts.Count - 1].Length > 0) parts.RemoveAt(parts.Count - 1);
            else parts.Add(p);
        }
        return string.Join("/", parts);
    }

    /// <summary>
    /// <c>exec "edgebuild.dll" compile "model" --out "dir" --name C ... --verbose</c>, quoted by CommandLineBuilder so the
    /// logged line can be pasted into a shell. Values are passed in their canonical spelling.
    /// </summary>
    protected override string GenerateCommandLineCommands()
    {
        var b = new CommandLineBuilder(quoteHyphensOnCommandLine: false, useNewLineSeparator: false);
        b.AppendSwitch("exec");
        b.AppendFileNameIfNotNull(ToolAssembly);
        b.AppendSwitch("compile");
        b.AppendFileNameIfNotNull(Meta("FullPath"));
        b.AppendSwitchIfNotNull("--out ", OutputDirectory.TrimEnd('/', '\\'));
        // The item's options, as the option table spells them (EdgeModelOptionTable; OptionArguments.For).
        foreach (var (option, value) in OptionArguments.For(Meta, CalibrationFiles.Select(f => f.GetMetadata("FullPath")), Measure))
        {
            if (value is null) b.AppendSwitch(option);
            else b.AppendSwitchIfNotNull(option + " ", value);
        }
        // The build-wide measurement switches (properties, not item metadata; docs/measurement.md).
        if (!Measure) b.AppendSwitch("--no-measure");
        if (Measure && UpdateBaseline) b.AppendSwitch("--update-baseline");
        if (Measure && Remeasure) b.AppendSwitch("--remeasure");
        if (MeasureSeconds.Trim().Length > 0) b.AppendSwitchIfNotNull("--measure-seconds ", MeasureSeconds.Trim());
        if (MeasureThreads.Trim().Length > 0) b.AppendSwitchIfNotNull("--threads ", MeasureThreads.Trim());
        if (MeasureCache.Trim().Length > 0) b.AppendSwitchIfNotNull("--measure-cache ", MeasureCache.Trim());
        // Every pass of every round and each progress line, logged at low importance: shown by -v:d, not by a plain build.
        b.AppendSwitch("--verbose");
        return b.ToString();
    }

    private void RemoveOutputs()
    {
        foreach (var f in FilesToRemoveOnFailure)
        {
            string path = f.GetMetadata("FullPath");
            try
            {
                if (File.Exists(path)) File.Delete(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.LogMessage(MessageImportance.Normal, "EdgeBuild: could not remove {0}: {1}", path, e.Message);
            }
        }
    }
}
