using System.Diagnostics;
using EdgeBuild.Cli;
using EdgeBuild.MSBuild.Tests.Support;
using EdgeBuild.Tests.Support;
using SkiaSharp;

namespace EdgeBuild.Tests.Reports;

/// <summary>
/// report.html in headless Chromium (Debian's <c>chromium</c>; .ci/run installs it): the page's script runs to its end
/// without errors, and a screenshot shows the plots (pixels of the histogram's colour). The screenshot is kept in
/// TestResults/report-screenshot.png. Skipped when chromium is missing, except under CI=true.
/// </summary>
public sealed class ReportRenderTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-render-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static string? Chromium() =>
        new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }.FirstOrDefault(File.Exists);

    [SkippableFact]
    public void ReportRendersInHeadlessChromiumWithItsPlotsAndNoScriptErrors()
    {
        string? chromium = Chromium();
        if (chromium is null && Environment.GetEnvironmentVariable("CI") == "true")
            Assert.Fail("chromium is missing under CI=true: .ci/run installs Debian's chromium (apt-get install chromium)");
        Skip.If(chromium is null, "headless Chromium not installed (apt-get install chromium); the render test is skipped outside CI");

        string model = Path.Combine(dir, "net.onnx");
        GateModels.WriteConvNet(model, 16, 1);
        var stderrText = new StringWriter();
        int exit = Commands.Run(["compile", model, "--out", Path.Combine(dir, "out"), "--measure-cache", Path.Combine(dir, "cache"), "--latency-budget-ms", "1000", "-q"],
            new StringWriter(), stderrText);
        Assert.True(exit == 0, stderrText.ToString());
        string html = Path.Combine(dir, "out", "report.html");
        string url = new Uri(html).AbsoluteUri;

        var (domExit, dom, log) = Run(chromium!, "--enable-logging=stderr", "--v=0", "--dump-dom", url);
        Assert.True(domExit == 0, log);
        Assert.Contains("data-rendered=\"3 plots\"", dom);
        Assert.DoesNotContain("Uncaught", log);

        string screenshot = Path.Combine(dir, "report.png");
        var (shotExit, _, shotLog) = Run(chromium!, $"--screenshot={screenshot}", "--window-size=1280,1600", url);
        Assert.True(shotExit == 0 && File.Exists(screenshot), shotLog);
        using (var bitmap = SKBitmap.Decode(screenshot))
        {
            Assert.NotNull(bitmap);
            // The histogram's bars are #1f77b4: a drawn plot has many such pixels, a blank or broken page none.
            int bars = 0;
            for (int y = 0; y < bitmap.Height; y += 2)
                for (int x = 0; x < bitmap.Width; x += 2)
                    if (bitmap.GetPixel(x, y) is { Red: 31, Green: 119, Blue: 180 }) bars++;
            Assert.True(bars > 200, $"{bars} histogram pixels in the screenshot");
        }
        string keep = Path.Combine(TestData.RepoRoot, "TestResults");
        Directory.CreateDirectory(keep);
        File.Copy(screenshot, Path.Combine(keep, "report-screenshot.png"), overwrite: true);
    }

    private (int Exit, string Stdout, string Stderr) Run(string chromium, params string[] args)
    {
        var psi = new ProcessStartInfo(chromium) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // Root in a container needs --no-sandbox; a private profile keeps runs independent.
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", $"--user-data-dir={Path.Combine(dir, "profile")}" }.Concat(args))
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("chromium ran longer than 90 s");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
