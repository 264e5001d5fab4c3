using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Tflite;

/// <summary>
/// The TFLite reference interpreter for tests (the project's build/tflite-runner, or $TFLITE_REF): skips with the
/// reason when it cannot run here (e.g. no Node.js: the reason names what to install), except under CI=true, where
/// that is a failure (a green run must have judged every .tflite file with Google's interpreter).
/// </summary>
internal static class TfliteTool
{
    public static string Require()
    {
        var (tool, problem) = TfliteRef.Ready(TestData.RepoRoot);
        if (problem is null) return tool;
        if (TestData.IsCi) Assert.Fail($"TFLite reference interpreter unavailable under CI: {problem}");
        Skip.If(true, $"TFLite reference interpreter unavailable: {problem}");
        return "";
    }
}
