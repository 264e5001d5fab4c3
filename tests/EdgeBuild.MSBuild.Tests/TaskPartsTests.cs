using EdgeBuild.Diagnostics;
using EdgeBuild.MSBuild.Tests.Support;
using EdgeBuild.Session;

namespace EdgeBuild.MSBuild.Tests;

/// <summary>The task's pieces that need no build: output patterns, item locations, globs, its copy of the diagnostics table.</summary>
public class TaskPartsTests
{
    [Theory]
    [InlineData("error EB1002: /m/x.onnx: cannot be decoded as ONNX. Re-export it.", "Error", "EB1002", "", "/m/x.onnx: cannot be decoded as ONNX. Re-export it.")]
    [InlineData("/m/x.onnx(3,7): error EB1006: node 'a' reads 'ghost'", "Error", "EB1006", "/m/x.onnx(3,7)", "node 'a' reads 'ghost'")]
    [InlineData("C:\\m\\x (1).onnx(3): warning EB2001: odd", "Warning", "EB2001", "C:\\m\\x (1).onnx(3)", "odd")]
    [InlineData("warning: /m/x.onnx: opset 9 is old", "Warning", "", "", "/m/x.onnx: opset 9 is old")]
    [InlineData("edgebuild: reading /m/x.onnx", "Progress", "", "", "reading /m/x.onnx")]
    [InlineData("   at EdgeBuild.Onnx.OnnxImporter.Load(String path)", "StackTrace", "", "", "")]
    [InlineData("Unhandled exception. System.InvalidOperationException: boom", "StackTrace", "", "", "")]
    [InlineData("x.onnx -> X: 5 -> 3 nodes, X.onnx (1.2 KiB), /o/X.edgemodel.json", "Other", "", "", "")]
    public void OutputLinesAreClassified(string line, string kindName, string code, string origin, string message)
    {
        var kind = Enum.Parse<ToolLineKind>(kindName);
        var c = ToolOutput.Classify(line);
        Assert.Equal(kind, c.Kind);
        Assert.Equal(code, c.Code);
        Assert.Equal(origin, c.Origin);
        if (kind is ToolLineKind.Error or ToolLineKind.Warning or ToolLineKind.Progress) Assert.Equal(message, c.Message);
    }

    [Fact]
    public void ItemLocatorFindsTheIncludeElement()
    {
        using var s = new Scenario("locator");
        string project = s.Write("p.csproj", """
            <Project>
              <ItemGroup>
                <EdgeModel Include="models/a.onnx" />
                  <EdgeModel Include="models/b@x%3B1.onnx;models\c.onnx"
                             Precision="Fp16" />
                <EdgeModel Include="globbed/**/*.onnx" />
                <EdgeModel Update="models/a.onnx" Precision="Int8" />
              </ItemGroup>
            </Project>
            """);
        Assert.Equal((3, 5), At(project, "models/a.onnx"));
        Assert.Equal((4, 7), At(project, "models/b@x%3B1.onnx"));
        Assert.Equal((4, 7), At(project, "models/c.onnx"));
        Assert.Equal((6, 5), At(project, "globbed/x/y/z.onnx"));
        Assert.Equal((0, 0), At(project, "elsewhere/z.onnx"));
        Assert.Equal((0, 0), At(Path.Combine(s.Directory, "missing.csproj"), "models/a.onnx"));

        string single = s.Write("single.csproj", """
            <Project>
              <ItemGroup>
                <EdgeModel Include="$(ModelDir)a.onnx" />
              </ItemGroup>
            </Project>
            """);
        Assert.Equal((3, 5), At(single, "/abs/models/a.onnx"));
    }

    [Theory]
    [InlineData("calib/*.jpg", "calib/a.jpg", true)]
    [InlineData("calib/*.jpg", "calib/sub/a.jpg", false)]
    [InlineData("calib/**/*.jpg", "calib/sub/deep/a.jpg", true)]
    [InlineData("calib/**/*.jpg", "calib/a.jpg", true)]
    [InlineData("calib/img?.png", "calib/img1.png", true)]
    [InlineData("calib/img?.png", "calib/img10.png", false)]
    [InlineData("my dir@1;2/(x)+[y]/*.jpg", "my dir@1;2/(x)+[y]/a.jpg", true)]
    public void GlobsMatchLikeMSBuild(string pattern, string path, bool expected) =>
        Assert.Equal(expected, Glob.IsMatch(pattern, path));

    [Fact]
    public void TaskDiagnosticsAreRowsOfTheSharedTable()
    {
        var shared = DiagnosticCodes.All.ToDictionary(d => d.Code);
        foreach (var d in TaskDiagnostics.All)
        {
            Assert.True(shared.TryGetValue(d.Code, out var row), $"{d.Code} is not in DiagnosticCodes");
            Assert.Equal(row!.Title, d.Title);
            Assert.Equal(row.Help, d.Help);
        }
        // EB6005 and EB6007 are raised by the targets themselves, with the same help text.
        string targets = File.ReadAllText(Path.Combine(Scenario.RepoRoot, "build", "EdgeBuild.targets"));
        Assert.Contains(TaskDiagnostics.DuplicateClassName.Help, targets, StringComparison.Ordinal);
        Assert.Contains(TaskDiagnostics.RuntimeNotReferenced.Help, targets, StringComparison.Ordinal);
        // EB6008 and EB6009 by the runtime package's targets.
        string runtimeTargets = File.ReadAllText(Path.Combine(Scenario.RepoRoot, "build", "EdgeBuild.Runtime.targets"));
        Assert.Contains(TaskDiagnostics.PortableAppWithoutOnnxRuntimeNative.Help, runtimeTargets, StringComparison.Ordinal);
        Assert.Contains(TaskDiagnostics.NoOnnxRuntimeNativeForRid.Help, runtimeTargets, StringComparison.Ordinal);
        // EB6009 names exactly the platforms the native packages are packed for.
        string rids = System.Xml.Linq.XDocument.Load(Path.Combine(Scenario.RepoRoot, "Directory.Packages.props")).Descendants("EdgeBuildOnnxRuntimeNativeRids").Single().Value;
        var named = System.Text.RegularExpressions.Regex.Matches(TaskDiagnostics.NoOnnxRuntimeNativeForRid.Help, @"\b(?:win|linux|osx)-[a-z0-9]+\b").Select(m => m.Value);
        Assert.Equal(rids.Split(';').Order(), named.Order());
    }

    [Fact]
    public void UserDocsExplainEveryMSBuildCode()
    {
        string docs = File.ReadAllText(Path.Combine(Scenario.RepoRoot, "docs", "msbuild.md"));
        foreach (var d in TaskDiagnostics.All) Assert.Contains(d.Code, docs, StringComparison.Ordinal);
    }

    /// <summary>
    /// The targets' suffix table names every target and the suffixes its writer writes, no more and no fewer, so a
    /// failed model's cleanup and the copy to bin/ cover exactly the writer's files.
    /// </summary>
    [Fact]
    public void TargetsSuffixTableMatchesTheWriters()
    {
        var targets = System.Xml.Linq.XDocument.Load(Path.Combine(Scenario.RepoRoot, "build", "EdgeBuild.targets"));
        var rows = targets.Descendants().Where(e => e.Name.LocalName == "_EdgeBuildTargetSuffixes" && e.Attribute("Include") is not null)
            .ToDictionary(e => e.Attribute("Include")!.Value, e => (Suffixes: e.Attribute("Suffixes")!.Value.Split(';'), Required: e.Attribute("Required")!.Value));
        Assert.Equal(Enum.GetValues<TargetKind>().Select(k => k.ToString().ToLowerInvariant()).Order(), rows.Keys.Order());
        foreach (var writer in EdgeBuild.Targets.TargetWriters.All)
        {
            var row = rows[writer.Kind.ToString().ToLowerInvariant()];
            Assert.Equal(writer.FileSuffixes.Order(), row.Suffixes.Order());
            Assert.Contains(row.Required, row.Suffixes);
        }
    }

    private static (int, int) At(string project, string escapedSpec)
    {
        var l = ItemLocator.Find(project, "EdgeModel", escapedSpec);
        return (l.Line, l.Column);
    }
}
