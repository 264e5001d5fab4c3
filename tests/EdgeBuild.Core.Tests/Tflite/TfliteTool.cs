using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Tflite;

/// <summary>
/// tflite-ref for tests: skips with the reason when it is not there, except under CI=true, where a missing tool
/// is a failure (a green run must have judged every .tflite file with Google's interpreter).
/// </summary>
internal static class TfliteTool
{
    public static string Require()
    {
        string? tool = TfliteRef.Tool(TestData.RepoRoot);
        if (tool is not null) return tool;
        string why = $"tflite-ref not found at {Path.GetFullPath(Path.Combine(TestData.RepoRoot, "..", "shared", "tools", "tflite-ref", "tflite-ref"))} (set TFLITE_REF)";
        if (TestData.IsCi) Assert.Fail(why);
        Skip.If(true, why);
        return "";
    }
}
