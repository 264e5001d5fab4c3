using System.Globalization;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace EdgeBuild.MSBuild;

/// <summary>
/// What the EdgeBuild tasks share: they run <c>edgebuild.dll</c> under the SDK's <c>dotnet</c> for one EdgeModel item, turn
/// each EBnnnn line it prints into one MSBuild error at the item's element in the project file, and report a crash
/// without an EB line as one EB6004 line instead of a stack trace.
/// </summary>
public abstract class EdgeBuildToolTask : ToolTask
{
    private ItemLocation? location;
    private string? firstUnparsedError;
    private bool loggedToolDiagnostic;

    /// <summary>The EdgeModel item, with its metadata resolved by the targets (ClassName filled in).</summary>
    [Required]
    public ITaskItem Model { get; set; } = null!;

    /// <summary>Path of edgebuild.dll (EdgeBuildToolPath).</summary>
    [Required]
    public string ToolAssembly { get; set; } = "";

    /// <summary>The project file (where errors go when the item's defining file is unknown).</summary>
    public string ProjectFile { get; set; } = "";

    protected override string ToolName => Path.DirectorySeparatorChar == '\\' ? "dotnet.exe" : "dotnet";

    protected override Encoding StandardOutputEncoding => Encoding.UTF8;
    protected override Encoding StandardErrorEncoding => Encoding.UTF8;

    /// <summary>The item's metadata <paramref name="name"/>, trimmed ("" when unset).</summary>
    protected string Meta(string name) => Model.GetMetadata(name)?.Trim() ?? "";

    /// <summary>The host that runs edgebuild.dll: the SDK's dotnet (DOTNET_HOST_PATH), else dotnet from PATH.</summary>
    protected override string GenerateFullPathToTool()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host)) return host!;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            try
            {
                string candidate = Path.Combine(dir.Trim('"'), ToolName);
                if (dir.Length > 0 && File.Exists(candidate)) return candidate;
            }
            catch (ArgumentException)
            {
                // A malformed PATH entry is skipped.
            }
        }
        return ToolName;
    }

    /// <summary>Maps each output line through <see cref="ToolOutput"/>: diagnostics to the item's location, the rest to messages.</summary>
    protected override void LogEventsFromTextOutput(string singleLine, MessageImportance messageImportance)
    {
        var line = ToolOutput.Classify(singleLine);
        switch (line.Kind)
        {
            case ToolLineKind.Error:
            case ToolLineKind.Warning:
            {
                var at = Location();
                string message = line.Origin.Length > 0 ? line.Origin + ": " + line.Message : line.Message;
                string? code = line.Code.Length > 0 ? line.Code : null;
                if (line.Kind == ToolLineKind.Error)
                {
                    loggedToolDiagnostic = true;
                    Log.LogError(null, code, code, at.File, at.Line, at.Column, 0, 0, "{0}", message);
                }
                else Log.LogWarning(null, code, code, at.File, at.Line, at.Column, 0, 0, "{0}", message);
                break;
            }
            case ToolLineKind.Progress:
                Log.LogMessage(MessageImportance.Low, "{0}", singleLine);
                break;
            case ToolLineKind.Summary:
                // The one line per model a plain `dotnet build` shows: what was deployed, measured and judged.
                Log.LogMessage(MessageImportance.High, "EdgeBuild: {0}", line.Message);
                break;
            case ToolLineKind.StackTrace:
                // Kept for -v:diag; a crash is reported as one EB6004 line at the item instead.
                firstUnparsedError ??= singleLine.Trim();
                Log.LogMessage(MessageImportance.Low, "{0}", singleLine);
                break;
            default:
                // The first line a crashing process prints (e.g. the host's "A fatal error was encountered") explains EB6004.
                if (singleLine.Trim().Length > 0) firstUnparsedError ??= singleLine.Trim();
                Log.LogMessage(messageImportance, "{0}", singleLine);
                break;
        }
    }

    /// <summary>Replaces ToolTask's MSB6006 ("exited with code 1"): the compiler's own EB line already said what is wrong.</summary>
    protected override bool HandleTaskExecutionErrors()
    {
        if (!loggedToolDiagnostic && !Log.HasLoggedErrors)
        {
            string detail = firstUnparsedError is null ? "" : $": {firstUnparsedError.TrimEnd('.')}";
            LogItemError(TaskDiagnostics.ToolFailed, Meta("ClassName"), $"edgebuild exited with code {ExitCode.ToString(CultureInfo.InvariantCulture)}{detail}");
        }
        return false;
    }

    /// <summary>
    /// Runs the tool; success also needs <paramref name="expectedFile"/> written. Any exception of the task itself ends in
    /// one EB line at the item (a bug here must not leave a trace in the build log instead).
    /// </summary>
    private protected bool RunTool(string expectedFile, string whatFile, string taskName)
    {
        try
        {
            bool ok = base.Execute() && !Log.HasLoggedErrors;
            if (ok && !File.Exists(expectedFile))
            {
                LogItemError(TaskDiagnostics.ToolFailed, Meta("ClassName"), $"edgebuild reported success but wrote no {whatFile} at {expectedFile}");
                ok = false;
            }
            return ok;
        }
        catch (Exception e) when (e is not (OutOfMemoryException or StackOverflowException))
        {
            LogItemError(TaskDiagnostics.ToolFailed, Meta("ClassName"), $"the {taskName} failed: {e.GetType().Name}: {FirstLine(e.Message)}");
            return false;
        }
    }

    /// <summary>Shared by every task: edgebuild.dll (EdgeBuildToolPath) must exist; logs and returns false otherwise.</summary>
    private protected bool ToolAssemblyExists()
    {
        if (File.Exists(ToolAssembly)) return true;
        LogItemError(TaskDiagnostics.ToolNotFound, ToolAssembly, "edgebuild.dll does not exist (EdgeBuildToolPath)");
        return false;
    }

    private protected void LogItemError(TaskDiagnostic d, string subject, string message)
    {
        var at = Location();
        Log.LogError(null, d.Code, d.Code, at.File, at.Line, at.Column, 0, 0, "{0}", $"{subject}: {message}. {d.Help}");
    }

    private protected ItemLocation Location()
    {
        if (location is { } known) return known;
        string definingProject = Model.GetMetadata("EdgeBuildDefiningProject");
        if (string.IsNullOrEmpty(definingProject)) definingProject = ProjectFile;
        string spec = Model is ITaskItem2 escaped ? escaped.EvaluatedIncludeEscaped : Model.ItemSpec;
        var found = ItemLocator.Find(definingProject, "EdgeModel", spec);
        location = found.File.Length > 0 ? found : new ItemLocation(ProjectFile, 0, 0);
        return location.Value;
    }

    protected static string FirstLine(string s)
    {
        int i = s.IndexOf('\n');
        return (i < 0 ? s : s.Substring(0, i)).Trim();
    }
}
