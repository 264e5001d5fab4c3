using System.Diagnostics;
using System.Text.RegularExpressions;
using EdgeBuild.Cli;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.MSBuild.Tests.Support;

namespace EdgeBuild.Tests.Cli;

/// <summary>
/// Progress: bars only on a terminal outside CI; everywhere else (redirected, CI, the MSBuild task) the plain lines the
/// task parses, without a single ANSI escape.
/// </summary>
public sealed class ProgressOutputTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-progress-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Theory]
    [InlineData(false, null, null, null, "Plain")]   // redirected: a file, a pipe, the MSBuild task
    [InlineData(false, "false", null, null, "Plain")]
    [InlineData(true, null, null, null, "Live")]     // a terminal
    [InlineData(true, "true", null, null, "Plain")]  // CI (GitHub Actions, GitLab...)
    [InlineData(true, "1", null, null, "Plain")]
    [InlineData(true, "false", null, null, "Live")]  // CI explicitly off
    [InlineData(true, "0", null, null, "Live")]
    [InlineData(true, null, "True", null, "Plain")]  // Azure Pipelines
    [InlineData(true, null, null, "dumb", "Plain")]  // a terminal without cursor movement
    [InlineData(true, null, null, "xterm-256color", "Live")]
    public void BarsOnlyOnATerminalOutsideCi(bool terminal, string? ci, string? tfBuild, string? term, string expected)
    {
        var env = new Dictionary<string, string?> { ["CI"] = ci, ["TF_BUILD"] = tfBuild, ["TERM"] = term };
        Assert.Equal(Enum.Parse<ProgressStyle>(expected), ProgressOutput.Decide(terminal, name => env.GetValueOrDefault(name)));
    }

    [Fact]
    public void EdgebuildProgressPlainTurnsTheBarsOff() =>
        Assert.Equal(ProgressStyle.Plain, ProgressOutput.Decide(true, name => name == "EDGEBUILD_PROGRESS" ? "plain" : null));

    [Fact]
    public void AWriterThatIsNotTheConsoleGetsPlainLines()
    {
        var stderr = new StringWriter();
        using (var progress = ProgressOutput.Create(stderr, quiet: false))
        {
            Assert.Equal(ProgressStyle.Plain, progress.Style);
            progress.Progress("calibrating 1/2");
            progress.Message("warning: m.onnx: something");
        }
        Assert.Equal("edgebuild: calibrating 1/2\nwarning: m.onnx: something\n", stderr.ToString().ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData("calibrating 3/16", "calibration", 3, 16, false)]
    [InlineData("sensitivity 2/10: conv_1", "search", 1, 10, false)]
    [InlineData("measuring Net.onnx (1 thread(s), up to 6 s)", "measurement", 0, 6, true)]
    [InlineData("measuring Net.int8.onnx (2 thread(s), up to 0.5 s)", "measurement", 0, 0.5, true)]
    [InlineData("auto: racing FP32 against 2 quantized candidate(s)", "search", 0, 0, false)]
    public void LinesWithACountOrATimeCapBecomeBars(string line, string bar, double value, double max, bool timeBased)
    {
        var update = ProgressOutput.BarUpdate.Of(line);
        Assert.NotNull(update);
        Assert.Equal((bar, value, max, timeBased), (update.Value.Bar, update.Value.Value, update.Value.Max, update.Value.TimeBased));
    }

    [Theory]
    [InlineData("writing Net.onnx")]
    [InlineData("calibrating 12 tensors with MinMax")]
    [InlineData("bias correction: 3 layer(s)")]
    public void OtherLinesStayLines(string line) => Assert.Null(ProgressOutput.BarUpdate.Of(line));

    /// <summary>
    /// The bars themselves: calibration counts up to its total, a measurement ends at 100 % when the next one starts,
    /// and the other lines (progress without a count, warnings) still appear. Spectre.Console draws on a writer that is
    /// no terminal as it would for a log, which is enough to read the bars' states from.
    /// </summary>
    [Fact]
    public void LiveBarsFollowTheCountsAndKeepTheOtherLines()
    {
        var stderr = new StringWriter();
        using (var progress = ProgressOutput.Live(stderr))
        {
            Assert.Equal(ProgressStyle.Live, progress.Style);
            progress.Progress("calibrating 12 tensors with MinMax");
            for (int i = 1; i <= 4; i++) progress.Progress($"calibrating {i}/4");
            progress.Progress("measuring Net.onnx (1 thread(s), up to 0.2 s)");
            progress.Message("warning: net.onnx: a warning");
            progress.Progress("measuring Net.int8.onnx (1 thread(s), up to 0.2 s)");
        }
        string text = stderr.ToString();
        Assert.Contains("edgebuild: calibrating 12 tensors with MinMax", text, StringComparison.Ordinal);
        Assert.Contains("warning: net.onnx: a warning", text, StringComparison.Ordinal);
        foreach (var bar in new[] { "calibration", "measuring Net.onnx", "measuring Net.int8.onnx" })
            Assert.True(Regex.IsMatch(text, Regex.Escape(bar) + @".*100\s*%"), text);
        Assert.DoesNotContain("edgebuild: calibrating 1/4", text, StringComparison.Ordinal); // counts are bars, not lines
    }

    /// <summary>
    /// The real process with its output redirected, as the MSBuild task runs it (with --verbose): an INT8 compile with
    /// calibration and measurement, the phases that draw bars on a terminal. Every stderr line is one the task's
    /// patterns classify (progress, warning), the calibration and measurement lines the bars come from are there as
    /// lines, the summary line is on stdout, and no byte is an ANSI escape.
    /// </summary>
    [Fact]
    public async Task RedirectedOutputIsPlainLinesTheTaskParses()
    {
        string model = Path.Combine(dir, "net.onnx");
        GateModels.WriteConvNet(model, size: 16, blocks: 1);
        string calibration = Path.Combine(dir, "calibration");
        Directory.CreateDirectory(calibration);
        var random = new Random(7);
        for (int i = 0; i < 12; i++)
        {
            var data = new float[3 * 16 * 16];
            for (int j = 0; j < data.Length; j++) data[j] = (float)random.NextDouble();
            NpyFile.Write(Path.Combine(calibration, $"s{i:D2}.npy"), Ir.Tensor.FromFloats([1, 3, 16, 16], data));
        }
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = dir,
        };
        foreach (var a in new[] { "exec", Path.Combine(AppContext.BaseDirectory, "edgebuild.dll"), "compile", model, "--out", Path.Combine(dir, "out"),
                     "--precision", "Int8", "--calibration", Path.Combine(calibration, "*.npy"), "--measure-seconds", "0.3", "--measure-cache", Path.Combine(dir, "cache"), "--verbose" })
            psi.ArgumentList.Add(a);
        // A terminal-like environment apart from the redirection: the redirection alone must turn the bars off.
        psi.Environment.Remove("CI");
        psi.Environment.Remove("TF_BUILD");
        psi.Environment["TERM"] = "xterm-256color";
        using var p = Process.Start(psi)!;
        var stdoutTask = p.StandardOutput.ReadToEndAsync();
        string stderr = await p.StandardError.ReadToEndAsync();
        string stdout = await stdoutTask;
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(5)));
        Assert.True(p.ExitCode == 0, stderr);

        Assert.DoesNotContain('\u001b', stdout + stderr);
        var lines = stderr.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // The task's patterns (src/EdgeBuild.MSBuild/ToolOutput.cs): anything else would reach the build log unclassified.
        var taskPattern = new Regex(@"^(edgebuild: .+|\s*warning\s*:.*|\s*warning\s+EB[0-9A-Z]+\s*:.*)$");
        Assert.All(lines, l => Assert.Matches(taskPattern, l));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^edgebuild: calibrating \d+/\d+$"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^edgebuild: measuring .+ \(.*up to [0-9.]+ s\)$"));
        Assert.Contains(stdout.ReplaceLineEndings("\n").Split('\n'), l => l.StartsWith("summary: ", StringComparison.Ordinal));
    }
}
