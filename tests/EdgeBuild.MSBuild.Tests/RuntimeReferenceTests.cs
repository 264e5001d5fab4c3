using EdgeBuild.MSBuild.Tests.Support;

namespace EdgeBuild.MSBuild.Tests;

/// <summary>
/// The build-time package and the runtime package are separate (docs/packaging.md): a project whose EdgeModel classes
/// the generator writes, without EdgeBuild.Runtime, stops at one EB6007 line instead of the C# compiler's missing types;
/// a project with the runtime, or one without the generator (it only compiles models), does not.
/// </summary>
public class RuntimeReferenceTests
{
    private const string Item = """<EdgeModel Include="models/net.onnx" />""";

    // Only the file name matters to the check: the analyzer is not loaded by ResolveAssemblyReferences.
    private static readonly string Generator = $"""<Analyzer Include="{Scenario.RepoRoot}/src/EdgeBuild.Generator/bin/{Scenario.Configuration}/netstandard2.0/EdgeBuild.Generator.dll" />""";
    private static readonly string Runtime = $"""<Reference Include="{Scenario.RepoRoot}/src/EdgeBuild.Runtime/bin/{Scenario.Configuration}/net8.0/EdgeBuild.Runtime.dll" />""";

    private static BuildResult Resolve(Scenario s) => s.Dotnet(["msbuild", s.ProjectPath, "-restore", "-t:ResolveAssemblyReferences", "-nodeReuse:false"]);

    [Fact]
    public void GeneratorWithoutTheRuntimeIsEB6007()
    {
        using var s = new Scenario("no-runtime");
        s.WriteProject(Item + "\n" + Generator);
        var r = Resolve(s);
        Assert.NotEqual(0, r.ExitCode);
        string error = Assert.Single(r.Errors);
        Assert.Contains("error EB6007: ", error, StringComparison.Ordinal);
        Assert.Contains("add a PackageReference to EdgeBuild.Runtime", error, StringComparison.Ordinal);
        Assert.StartsWith(s.ProjectPath, error.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public void GeneratorWithTheRuntimeOrNoGeneratorBuilds()
    {
        using var s = new Scenario("with-runtime");
        s.WriteProject(Item + "\n" + Generator + "\n" + Runtime);
        var r = Resolve(s);
        Assert.True(r.ExitCode == 0, r.ToString());
        s.WriteProject(Item);
        r = Resolve(s);
        Assert.True(r.ExitCode == 0, r.ToString());
    }
}
