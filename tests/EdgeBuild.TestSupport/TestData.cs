using System.Diagnostics;

namespace EdgeBuild.Tests.Support;

/// <summary>
/// Finds the real test data (models, photos, ONNX backend cases). The project restores it itself with
/// build/fetch-testdata.sh into the git-ignored .testdata-cache (or $EDGEBUILD_TESTDATA). When the data
/// cannot be had, tests skip saying why, except under CI=true, where missing data is a failure.
/// </summary>
public static class TestData
{
    private static readonly Lazy<(string? Dir, string? Problem)> Restored = new(Restore, LazyThreadSafetyMode.ExecutionAndPublication);

    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string CacheDir =>
        Environment.GetEnvironmentVariable("EDGEBUILD_TESTDATA") is { Length: > 0 } d ? Path.GetFullPath(d) : Path.Combine(RepoRoot, ".testdata-cache");

    /// <summary>The test data folder, restoring it on first use; skips (or fails under CI) when it cannot be had.</summary>
    public static string Require()
    {
        var (dir, problem) = Restored.Value;
        if (dir is not null) return dir;
        if (IsCi) Assert.Fail($"test data missing under CI: {problem}");
        Skip.If(true, $"test data not available: {problem}");
        return "";
    }

    /// <summary>
    /// One file of the test data by its path under the folder (models/x.onnx, audio/x.wav), restoring it when it is
    /// missing: a folder restored before the file was pinned gets it from one more (idempotent) run of the script.
    /// Skips (or fails under CI) when it cannot be had.
    /// </summary>
    public static string RequireFile(string relativePath)
    {
        string path = Path.Combine(Require(), relativePath);
        if (File.Exists(path)) return path;
        var (_, problem) = Refreshed.Value;
        if (File.Exists(path)) return path;
        string why = $"{relativePath} is not in {CacheDir}" + (problem is null ? " after build/fetch-testdata.sh ran" : $": {problem}");
        if (IsCi) Assert.Fail($"test data missing under CI: {why}");
        Skip.If(true, $"test data not available: {why}");
        return "";
    }

    public static string Model(string id) => RequireFile(Path.Combine("models", id + ".onnx"));

    public static string Photos(string group) => Path.Combine(Require(), "photos", group);

    /// <summary>A recording of audio/ (Debian alsa-utils: Front_Center ... Side_Right speech, Noise).</summary>
    public static string Audio(string name) => RequireFile(Path.Combine("audio", name + ".wav"));

    // Runs the script once more for a folder that has SHA256SUMS but lacks a file pinned since.
    private static readonly Lazy<(string? Dir, string? Problem)> Refreshed = new(() => RunScript(CacheDir), LazyThreadSafetyMode.ExecutionAndPublication);

    private static (string?, string?) Restore()
    {
        string dir = CacheDir;
        if (File.Exists(Path.Combine(dir, "SHA256SUMS")) && Directory.Exists(Path.Combine(dir, "onnx-backend-tests")))
            return (dir, null);
        return RunScript(dir);
    }

    private static (string?, string?) RunScript(string dir)
    {
        string script = Path.Combine(RepoRoot, "build", "fetch-testdata.sh");
        if (!File.Exists(script)) return (null, $"{script} is missing");
        try
        {
            var psi = new ProcessStartInfo("bash", [script, dir])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromMinutes(10))) { p.Kill(true); return (null, "build/fetch-testdata.sh timed out after 10 minutes"); }
            if (p.ExitCode != 0) return (null, $"build/fetch-testdata.sh failed (exit {p.ExitCode}): {stderr.Result.Trim()}");
            return (dir, null);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (null, $"cannot run bash: {e.Message}");
        }
    }

    private static string FindRepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "EdgeBuild.sln"))) return d.FullName;
        throw new InvalidOperationException("cannot find EdgeBuild.sln above " + AppContext.BaseDirectory);
    }
}
