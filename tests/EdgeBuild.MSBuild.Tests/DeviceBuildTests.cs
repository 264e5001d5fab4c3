using EdgeBuild.MSBuild.Tests.Support;

namespace EdgeBuild.MSBuild.Tests;

/// <summary>
/// The device in a real <c>dotnet build</c> (docs/devices.md): <c>EdgeBuildDevice</c> sets every item's <c>Device</c>,
/// an item's own <c>Device</c> wins, both reach the compiler as <c>--device</c>, and a device the user's list does not
/// have fails the build at the item (EB8002). Measuring on a real device is tested against sshd in the core tests.
/// </summary>
public class DeviceBuildTests
{
    [Fact]
    public void TheDevicePropertyAndMetadataReachTheCompilerAndAnUnknownDeviceFailsAtTheItem()
    {
        using var s = new Scenario("device");
        s.Model("models/face-detect.onnx");
        const string everyModel = "edgebuild-test-no-such-device";
        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" LatencyBudgetMs="1000" />""",
            s.MeasureProperties() + $"<EdgeBuildDevice>{everyModel}</EdgeBuildDevice>");
        var r = s.Build();
        Assert.True(r.ExitCode != 0, r.ToString());
        var (line, column) = s.LineOf("<EdgeModel");
        Assert.StartsWith($"{s.ProjectPath}({line},{column}): error EB8002: {everyModel}: no device of that name in ", Assert.Single(r.Errors), StringComparison.Ordinal);
        Assert.Contains($"--device {everyModel}", r.Log, StringComparison.Ordinal);

        const string thisModel = "edgebuild-test-other-device";
        s.WriteProject($"""<EdgeModel Include="models/face-detect.onnx" LatencyBudgetMs="1000" Device="{thisModel}" />""",
            s.MeasureProperties() + $"<EdgeBuildDevice>{everyModel}</EdgeBuildDevice>");
        r = s.Build();
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Contains($"error EB8002: {thisModel}: no device of that name in ", Assert.Single(r.Errors), StringComparison.Ordinal);

        // Several devices, ';'-separated as MSBuild lists are: the value reaches the compiler whole and is split there
        // (the first unknown name is the error; docs/devices.md, "Several devices in one build").
        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" LatencyBudgetMs="1000" Device="edgebuild-test-first;edgebuild-test-second" />""",
            s.MeasureProperties());
        r = s.Build();
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Contains("error EB8002: edgebuild-test-first: no device of that name in ", Assert.Single(r.Errors), StringComparison.Ordinal);
        Assert.Contains("edgebuild-test-first;edgebuild-test-second", r.Log, StringComparison.Ordinal);

        // Measurement off: no device is contacted or named.
        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" />""",
            s.MeasureProperties().Replace("<EdgeBuildMeasure>true</EdgeBuildMeasure>", "<EdgeBuildMeasure>false</EdgeBuildMeasure>") + $"<EdgeBuildDevice>{everyModel}</EdgeBuildDevice>");
        r = s.Build();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.DoesNotContain("--device", r.Log, StringComparison.Ordinal);
    }
}
