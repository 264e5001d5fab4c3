using System.Diagnostics;
using System.Text;

namespace EdgeBuild.Tests.Support;

/// <summary>
/// The reference ONNX checker: Debian's python3-onnx (<c>onnx.checker.check_model</c>, full_check=False)
/// run through /usr/bin/python3. One Python process checks a whole batch of files, because starting
/// Python and importing onnx costs far more than checking a small model.
/// </summary>
public static class OnnxChecker
{
    public const string Python = "/usr/bin/python3";

    private const string Script = """
        import sys
        try:
            import onnx
            import onnx.checker
        except Exception as e:
            print("NOONNX " + " ".join(str(e).split()))
            sys.exit(3)
        for line in sys.stdin:
            path = line.rstrip("\n")
            if not path:
                continue
            try:
                onnx.checker.check_model(onnx.load(path), full_check=False)
                print("OK " + path)
            except Exception as e:
                message = " ".join(str(e).split()) or type(e).__name__
                print("FAIL " + path + ": " + message)
        """;

    private static readonly Lazy<string?> Problem = new(Probe, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Null when /usr/bin/python3 can import onnx; otherwise why not.</summary>
    public static string? UnavailableReason => Problem.Value;

    public static bool IsAvailable => Problem.Value is null;

    /// <summary>Skips the test (fails it under CI=true) when the checker cannot run.</summary>
    public static void Require()
    {
        if (Problem.Value is not { } problem) return;
        if (TestData.IsCi) Assert.Fail($"python3-onnx is required under CI ({problem}): apt-get install python3-onnx");
        Skip.If(true, "python3-onnx not installed: apt-get install python3-onnx");
    }

    /// <summary>
    /// Checks every file in one Python process. The result maps each path to null (the checker accepts
    /// the model) or the checker's message, on one line.
    /// </summary>
    public static Dictionary<string, string?> CheckMany(IEnumerable<string> paths, TimeSpan? timeout = null)
    {
        var list = paths.Select(Path.GetFullPath).Distinct(StringComparer.Ordinal).ToList();
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (list.Count == 0) return result;
        if (list.Any(p => p.Contains('\n', StringComparison.Ordinal) || p.Contains('\r', StringComparison.Ordinal)))
            throw new ArgumentException("paths with line breaks cannot be checked", nameof(paths));

        string script = Path.Combine(Path.GetTempPath(), $"edgebuild-onnx-check-{Environment.ProcessId}-{Guid.NewGuid():N}.py");
        File.WriteAllText(script, Script);
        try
        {
            var (exit, stdout, stderr) = RunPython([script], string.Join('\n', list) + "\n", timeout ?? TimeSpan.FromMinutes(10));
            var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
            if (exit != 0 || lines.Count != list.Count)
                throw new InvalidOperationException(
                    $"onnx checker failed (exit {exit}, {lines.Count} results for {list.Count} files): {FirstLines(stderr + "\n" + stdout)}");
            for (int i = 0; i < list.Count; i++)
            {
                string path = list[i], line = lines[i];
                if (line == "OK " + path) result[path] = null;
                else if (line.StartsWith("FAIL " + path + ": ", StringComparison.Ordinal)) result[path] = line[("FAIL " + path + ": ").Length..];
                else throw new InvalidOperationException($"onnx checker: unexpected line for {path}: {line}");
            }
            return result;
        }
        finally
        {
            try { File.Delete(script); }
            catch (IOException) { }
        }
    }

    private static string? Probe()
    {
        if (!File.Exists(Python)) return $"{Python} does not exist";
        try
        {
            var (exit, stdout, stderr) = RunPython(["-c", "import onnx, onnx.checker; print(onnx.__version__)"], "", TimeSpan.FromMinutes(1));
            return exit == 0 ? null : $"{Python} cannot import onnx: {FirstLines(stderr + stdout)}";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or TimeoutException)
        {
            return $"cannot run {Python}: {e.Message}";
        }
    }

    private static (int Exit, string Stdout, string Stderr) RunPython(string[] args, string stdin, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(Python, args)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        psi.Environment["PYTHONIOENCODING"] = "utf-8";
        psi.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {Python}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(true);
            throw new TimeoutException($"{Python} did not finish within {timeout.TotalSeconds:0} s");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static string FirstLines(string text) =>
        string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Take(5));
}
