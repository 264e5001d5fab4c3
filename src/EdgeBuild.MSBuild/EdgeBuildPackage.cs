using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace EdgeBuild.MSBuild;

/// <summary>
/// Packages one compiled EdgeModel item (metadata <c>Package="true"</c>) by running <c>edgebuild package</c> out of
/// process: the signed, versioned <c>.edgepkg</c> of docs/lifecycle.md, with output statistics on the item's
/// <c>PackageHoldout</c> files. The targets call it after the compile, once per out-of-date package.
/// </summary>
public sealed class EdgeBuildPackage : EdgeBuildToolTask
{
    /// <summary>The compiled model's folder (its manifest and artifacts).</summary>
    [Required]
    public string ModelDirectory { get; set; } = "";

    /// <summary>The package file to write.</summary>
    [Required]
    public string PackagePath { get; set; } = "";

    /// <summary>The held-out files MSBuild expanded from PackageHoldout.</summary>
    public ITaskItem[] HoldoutFiles { get; set; } = [];

    public override bool Execute() => RunTool(FromProject(PackagePath), "package", "EdgeBuild package task");

    /// <summary>What the tool cannot say better: a missing version, a missing key, patterns that matched nothing.</summary>
    protected override bool ValidateParameters()
    {
        bool valid = true;
        void Fail(TaskDiagnostic d, string subject, string message)
        {
            LogItemError(d, subject, message);
            valid = false;
        }
        if (!ToolAssemblyExists()) valid = false;
        if (Meta(EdgeModelOptionTable.PackageVersion.Name).Length == 0)
            Fail(TaskDiagnostics.InvalidOption, EdgeModelOptionTable.PackageVersion.Name, "Package is true but no version is given (set PackageVersion, or the project's Version)");
        string key = Meta(EdgeModelOptionTable.PackageKey.Name);
        if (key.Length == 0)
            Fail(TaskDiagnostics.InvalidOption, EdgeModelOptionTable.PackageKey.Name, "Package is true but no signing key is given (a PEM file from edgebuild keygen)");
        else if (!File.Exists(FromProject(key)))
            Fail(TaskDiagnostics.InvalidOption, EdgeModelOptionTable.PackageKey.Name, $"the signing key {FromProject(key)} does not exist");
        if (Meta(EdgeModelOptionTable.PackageHoldout.Name).Length > 0 && HoldoutFiles.Length == 0)
            Fail(TaskDiagnostics.InvalidOption, EdgeModelOptionTable.PackageHoldout.Name, $"'{Meta(EdgeModelOptionTable.PackageHoldout.Name)}' matched no file");
        return valid;
    }

    /// <summary>A path from the project (relative to the project file's folder) as a full path, whatever the tool's working folder.</summary>
    private string FromProject(string path)
    {
        string projectDirectory = ProjectFile.Length > 0 ? Path.GetDirectoryName(Path.GetFullPath(ProjectFile)) ?? "" : Directory.GetCurrentDirectory();
        return Path.GetFullPath(Path.Combine(projectDirectory, path));
    }

    /// <summary><c>exec "edgebuild.dll" package "dir" --version V --key "key.pem" -o "out.edgepkg" [--min-runtime R] [--holdout f]...</c></summary>
    protected override string GenerateCommandLineCommands()
    {
        var b = new CommandLineBuilder(quoteHyphensOnCommandLine: false, useNewLineSeparator: false);
        b.AppendSwitch("exec");
        b.AppendFileNameIfNotNull(ToolAssembly);
        b.AppendSwitch("package");
        b.AppendFileNameIfNotNull(FromProject(ModelDirectory.TrimEnd('/', '\\')));
        b.AppendSwitchIfNotNull("--version ", Meta(EdgeModelOptionTable.PackageVersion.Name));
        b.AppendSwitchIfNotNull("--key ", FromProject(Meta(EdgeModelOptionTable.PackageKey.Name)));
        b.AppendSwitchIfNotNull("-o ", FromProject(PackagePath));
        string minRuntime = Meta(EdgeModelOptionTable.PackageMinRuntime.Name);
        if (minRuntime.Length > 0) b.AppendSwitchIfNotNull("--min-runtime ", minRuntime);
        foreach (var f in HoldoutFiles) b.AppendSwitchIfNotNull("--holdout ", f.GetMetadata("FullPath"));
        return b.ToString();
    }
}
