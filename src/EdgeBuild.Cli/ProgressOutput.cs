using System.Globalization;
using System.Text.RegularExpressions;
using Spectre.Console;

namespace EdgeBuild.Cli;

/// <summary>How the CLI shows progress: plain <c>edgebuild: ...</c> lines, or live bars on a terminal.</summary>
internal enum ProgressStyle { Plain, Live }

/// <summary>
/// Where a command's progress, pass details and warnings go while it works (stderr). Plain: one line each, exactly the
/// lines the MSBuild task parses (<c>edgebuild: ...</c> progress, <c>warning ...</c>), which is what every redirected
/// run gets, the task's included. Live (a terminal, not CI): bars for calibration, the precision search and
/// measurement, with the other lines printed above them. Dispose it before printing results on stdout, so the bars
/// are finished and no result line lands inside them.
/// </summary>
internal sealed partial class ProgressOutput : IDisposable
{
    private readonly TextWriter stderr;
    private readonly bool quiet;
    private readonly LiveBars? live;

    private ProgressOutput(TextWriter stderr, bool quiet, LiveBars? live)
    {
        this.stderr = stderr;
        this.quiet = quiet;
        this.live = live;
    }

    public ProgressStyle Style => live is null ? ProgressStyle.Plain : ProgressStyle.Live;

    /// <summary>The style for this process: live bars only on a terminal's stderr outside CI.</summary>
    public static ProgressOutput Create(TextWriter stderr, bool quiet)
    {
        bool terminal = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
        var style = Decide(terminal, Environment.GetEnvironmentVariable);
        return style == ProgressStyle.Live && !quiet ? new ProgressOutput(stderr, quiet, new LiveBars(stderr, asTerminal: false)) : new ProgressOutput(stderr, quiet, null);
    }

    /// <summary>Bars on <paramref name="stderr"/> as if it were a terminal (tests read the frames Spectre.Console draws).</summary>
    internal static ProgressOutput Live(TextWriter stderr) => new(stderr, false, new LiveBars(stderr, asTerminal: true));

    /// <summary>A plain one for tests and callers that must have the task's line format.</summary>
    public static ProgressOutput Plain(TextWriter stderr, bool quiet = false) => new(stderr, quiet, null);

    /// <summary>
    /// Live bars need a terminal to redraw: a redirected stderr (a file, a pipe, the MSBuild task) gets plain lines, and
    /// so does CI (CI or TF_BUILD set to anything but false/0; CI logs keep every carriage-return redraw as a line)
    /// and a terminal that says it cannot move the cursor (TERM=dumb). EDGEBUILD_PROGRESS=plain asks for plain lines.
    /// </summary>
    public static ProgressStyle Decide(bool stderrIsTerminal, Func<string, string?> environment)
    {
        if (!stderrIsTerminal) return ProgressStyle.Plain;
        static bool IsSet(string? v) => !string.IsNullOrWhiteSpace(v) && v.Trim() is not ("0" or "false" or "False" or "FALSE");
        if (IsSet(environment("CI")) || IsSet(environment("TF_BUILD"))) return ProgressStyle.Plain;
        if (string.Equals(environment("TERM"), "dumb", StringComparison.Ordinal)) return ProgressStyle.Plain;
        if (string.Equals(environment("EDGEBUILD_PROGRESS"), "plain", StringComparison.OrdinalIgnoreCase)) return ProgressStyle.Plain;
        return ProgressStyle.Live;
    }

    /// <summary>A progress line from the core (calibration counts, search steps, measurement starts...).</summary>
    public void Progress(string line)
    {
        if (quiet) return;
        if (live is not null) live.Progress(line);
        else stderr.WriteLine($"edgebuild: {line}");
    }

    /// <summary>The per-pass lines (--verbose): the same form as progress lines, never a bar.</summary>
    public void Detail(string line)
    {
        if (quiet) return;
        if (live is not null) live.Above($"edgebuild: {line}");
        else stderr.WriteLine($"edgebuild: {line}");
    }

    /// <summary>A whole line (a warning) written as it is, also under --quiet.</summary>
    public void Message(string line)
    {
        if (live is not null) live.Above(line);
        else stderr.WriteLine(line);
    }

    public void Dispose() => live?.Dispose();

    // The core reports progress as text; these are the lines that carry a count or a time to draw a bar from.
    [GeneratedRegex(@"^calibrating (?<done>\d+)/(?<total>\d+)$", RegexOptions.CultureInvariant)]
    private static partial Regex CalibrationStep();

    [GeneratedRegex(@"^sensitivity (?<done>\d+)/(?<total>\d+): ", RegexOptions.CultureInvariant)]
    private static partial Regex SensitivityStep();

    [GeneratedRegex(@"^measuring (?<what>.+) \(.*up to (?<seconds>[0-9.]+) s\)$", RegexOptions.CultureInvariant)]
    private static partial Regex MeasurementStart();

    /// <summary>What one progress line means for the bars.</summary>
    internal readonly record struct BarUpdate(string Bar, string Description, double Value, double Max, bool TimeBased)
    {
        public static BarUpdate? Of(string line)
        {
            var m = CalibrationStep().Match(line);
            if (m.Success)
                return new BarUpdate("calibration", "calibration", double.Parse(m.Groups["done"].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups["total"].Value, CultureInfo.InvariantCulture), false);
            m = SensitivityStep().Match(line);
            if (m.Success)
                return new BarUpdate("search", "precision search: layer sensitivity", double.Parse(m.Groups["done"].Value, CultureInfo.InvariantCulture) - 1, double.Parse(m.Groups["total"].Value, CultureInfo.InvariantCulture), false);
            if (line.StartsWith("auto: ", StringComparison.Ordinal))
                return new BarUpdate("search", "precision search: " + line["auto: ".Length..], 0, 0, false);
            m = MeasurementStart().Match(line);
            if (m.Success)
                return new BarUpdate("measurement", "measuring " + m.Groups["what"].Value, 0, double.Parse(m.Groups["seconds"].Value, CultureInfo.InvariantCulture), true);
            return null;
        }
    }

    /// <summary>Spectre.Console's progress display on stderr, run on its own thread for the command's lifetime.</summary>
    private sealed class LiveBars : IDisposable
    {
        private readonly object gate = new();
        private readonly IAnsiConsole console;
        private readonly Dictionary<string, (ProgressTask Task, BarUpdate Last, DateTime Started)> bars = new(StringComparer.Ordinal);
        private readonly TaskCompletionSource finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Task display;
        private readonly Timer clock;
        private ProgressContext? context;

        public LiveBars(TextWriter stderr, bool asTerminal)
        {
            var settings = new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stderr) };
            if (asTerminal)
            {
                settings.Ansi = AnsiSupport.Yes;
                settings.Interactive = InteractionSupport.Yes;
                settings.ColorSystem = ColorSystemSupport.NoColors;
            }
            console = AnsiConsole.Create(settings);
            using var ready = new ManualResetEventSlim();
            display = Task.Run(() => console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async ctx =>
                {
                    context = ctx;
                    ready.Set();
                    await finished.Task.ConfigureAwait(false);
                }));
            ready.Wait();
            // A measurement reports its start and its time cap only: its bar follows the clock up to the cap.
            clock = new Timer(_ => Tick(), null, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100));
        }

        public void Progress(string line)
        {
            if (BarUpdate.Of(line) is not { } update)
            {
                Above($"edgebuild: {line}");
                return;
            }
            lock (gate)
            {
                // A new measurement or phase finishes the bar it follows.
                if (update.TimeBased || update.Max == 0)
                    foreach (var (key, bar) in bars.Where(b => b.Value.Last.TimeBased || b.Key == update.Bar).ToList())
                        Finish(key, bar.Task);
                if (!bars.TryGetValue(update.Bar, out var entry) || entry.Task.IsFinished)
                {
                    var task = context!.AddTask(Markup.Escape(update.Description), autoStart: true, maxValue: Math.Max(update.Max, 1));
                    entry = (task, update, DateTime.UtcNow);
                }
                entry.Task.Description = Markup.Escape(update.Description);
                entry.Task.IsIndeterminate = update.Max == 0;
                if (update.Max > 0) entry.Task.MaxValue = update.Max;
                if (!update.TimeBased) entry.Task.Value = update.Value;
                bars[update.Bar] = (entry.Task, update, entry.Started);
            }
        }

        public void Above(string line)
        {
            lock (gate) console.WriteLine(line);
        }

        private void Tick()
        {
            lock (gate)
                foreach (var (_, bar) in bars)
                    if (bar.Last.TimeBased && !bar.Task.IsFinished)
                        bar.Task.Value = Math.Min((DateTime.UtcNow - bar.Started).TotalSeconds, bar.Task.MaxValue * 0.99);
        }

        private void Finish(string key, ProgressTask task)
        {
            if (task.IsFinished) return;
            task.IsIndeterminate = false;
            task.Value = task.MaxValue;
            task.StopTask();
            bars.Remove(key);
        }

        public void Dispose()
        {
            clock.Dispose();
            lock (gate)
                foreach (var (key, bar) in bars.ToList()) Finish(key, bar.Task);
            finished.TrySetResult();
            display.GetAwaiter().GetResult();
        }
    }
}
