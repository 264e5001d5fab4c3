using System.Security;
using System.Text.Json;
using EdgeBuild.Compile;
using EdgeBuild.MSBuild.Tests.Support;
using EdgeBuild.Session;

namespace EdgeBuild.MSBuild.Tests;

/// <summary>The targets derive ClassName in MSBuild (no task may run in a no-op build); it must equal the CLI's rule.</summary>
public class ClassNameTests
{
    private static readonly string[] FileNames =
    [
        "face-detect-rfb320", "face_detect rfb@v1;2", "ABCDef99x", "mobilenetV2_1.0", "123model", "my.model.v2", "---",
        "résumé", "yolo11nPose", "ultra__light   fast", "HTTPServer", "x",
    ];

    [Fact]
    public void DefaultClassNameMatchesCSharpNamesTypeName()
    {
        using var s = new Scenario("names");
        var items = string.Join("\n", FileNames.Select(n =>
            $"""    <EdgeModel Include="models/{SecurityElement.Escape(n.Replace(";", "%3B", StringComparison.Ordinal))}.onnx" />"""));
        s.WriteProject(items);
        // Resolving needs no model file and no compiler: it is evaluation plus intrinsic item and property functions.
        var r = s.Dotnet(["msbuild", s.ProjectPath, "-t:_EdgeBuildResolveModels", "-getItem:_EdgeBuildModel"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        using var json = JsonDocument.Parse(r.Output[r.Output.IndexOf('{', StringComparison.Ordinal)..]);
        var resolved = json.RootElement.GetProperty("Items").GetProperty("_EdgeBuildModel").EnumerateArray()
            .ToDictionary(i => i.GetProperty("Filename").GetString()!, i => i.GetProperty("ClassName").GetString());
        foreach (var name in FileNames)
            Assert.True(CSharpNames.TypeName(name) == resolved[name], $"{name}: CLI {CSharpNames.TypeName(name)}, MSBuild {resolved[name]}");
    }

    /// <summary>
    /// The task's copy of the identifier rule (it references no project) accepts what CSharpNames accepts, and rejects
    /// nothing else but C# keywords, which it leaves to the compiler.
    /// </summary>
    [Fact]
    public void TaskIdentifierRuleIsCSharpNamesWithoutKeywords()
    {
        string[] probes =
        [
            "", "x", "X1", "_", "_x", "1x", "x-y", "x.y", "x y", "@x", "@class", "Class", "class", "int", "var", "async", "x$",
            "naïve", "日本", "x\u0301", "\u0301x", "Ⅻ", "x٣", "٣x", "face-detect-rfb320", "FaceDetectRfb320", "__arglist",
        ];
        foreach (var s in probes)
        {
            bool core = CSharpNames.IsValidIdentifier(s), task = Identifiers.IsIdentifier(s);
            if (core) Assert.True(task, $"CSharpNames accepts '{s}', the task does not");
            if (task && !core) Assert.True(CSharpNames.IsKeyword(s), $"the task accepts '{s}', the core rejects it, and it is no keyword");
        }
    }

    [Fact]
    public void TwoItemsWithTheSameClassNameFail()
    {
        using var s = new Scenario("duplicate");
        s.WriteProject("""
                <EdgeModel Include="models/a.onnx" ClassName="Detector" />
                <EdgeModel Include="models/b.onnx" ClassName="Detector" />
            """);
        var r = s.Dotnet(["msbuild", s.ProjectPath, "-t:_EdgeBuildResolveModels"]);
        Assert.NotEqual(0, r.ExitCode);
        string error = Assert.Single(r.Errors);
        Assert.Contains("error EB6005: EdgeModel: models/a.onnx -> Detector, models/b.onnx -> Detector: two items have the same ClassName.", error, StringComparison.Ordinal);
    }
}
