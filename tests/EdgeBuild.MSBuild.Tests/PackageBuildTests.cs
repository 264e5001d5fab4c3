using EdgeBuild.MSBuild.Tests.Support;
using EdgeBuild.Packaging;
using EdgeBuild.Runtime.Updates;

namespace EdgeBuild.MSBuild.Tests;

/// <summary>
/// Packaging on build (EdgeModel <c>Package="true"</c>): a real <c>dotnet build</c> writes the signed package with the
/// held-out statistics after the compile, skips it when nothing changed, and names a missing key at the item.
/// </summary>
public class PackageBuildTests
{
    [Fact]
    public void PackageTrueWritesASignedPackageWithHeldOutStatisticsAfterTheCompile()
    {
        using var s = new Scenario("package");
        s.Model("models/face-detect.onnx");
        s.WriteCalibrationNpy(6, seed: 3);
        ModelPackager.Keygen(Path.Combine(s.Root, "signing.pem"), Path.Combine(s.Root, "signing.pub"));
        s.WriteProject($"""
            <EdgeModel Include="models/face-detect.onnx" Package="true" PackageVersion="1.2.3" PackageKey="{Path.Combine(s.Root, "signing.pem")}"
                       PackageHoldout="calib/*.npy" />
            """);
        var r = s.Build();
        Assert.True(r.ExitCode == 0, r.ToString());
        string package = Path.Combine(s.BinDir, "edgepkg", "FaceDetect-1.2.3.edgepkg");
        Assert.True(File.Exists(package), r.ToString());
        Assert.Contains("--holdout ", r.Log, StringComparison.Ordinal);

        using var key = PackageSignature.ReadKey(File.ReadAllText(Path.Combine(s.Root, "signing.pub")));
        var verified = ModelPackage.Verify(package, [key]);
        Assert.Equal(("FaceDetect", "1.2.3"), (verified.Manifest.Model, verified.Manifest.Version.ToString()));
        var stats = verified.Manifest.OutputStatistics;
        Assert.NotNull(stats);
        Assert.Equal(6, stats.Samples);
        // The tiny model's one output, [1,4,8,8] per sample, over the six held-out samples.
        var output = Assert.Single(stats.Outputs);
        Assert.Equal(6 * 4 * 8 * 8, output.Count);
        Assert.Contains(verified.Manifest.Files, f => f.Path == "FaceDetect.onnx");

        // Nothing changed: neither compile nor package runs again.
        var written = File.GetLastWriteTimeUtc(package);
        r = s.Build();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(0, r.CompilerRuns);
        Assert.Equal(written, File.GetLastWriteTimeUtc(package));

        var clean = s.Dotnet(["clean", s.ProjectPath]);
        Assert.True(clean.ExitCode == 0, clean.ToString());
        Assert.False(File.Exists(package), "dotnet clean removes the package");
    }

    [Fact]
    public void PackageWithoutAKeyOrWithABadVersionIsOneErrorAtTheItem()
    {
        using var s = new Scenario("packagebad");
        s.Model("models/face-detect.onnx");
        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" Package="yes" />""");
        var r = s.Build();
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(r.Errors, e => e.Contains("error EB6001: Package: 'yes' is not true or false", StringComparison.Ordinal));

        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" Package="true" />""");
        r = s.Build();
        Assert.NotEqual(0, r.ExitCode);
        var (line, column) = s.LineOf("<EdgeModel");
        Assert.Contains(r.Errors, e => e.StartsWith($"{s.ProjectPath}({line},{column}): error EB6001: PackageKey: Package is true but no signing key is given", StringComparison.Ordinal));

        ModelPackager.Keygen(Path.Combine(s.Root, "k.pem"), Path.Combine(s.Root, "k.pub"));
        s.WriteProject($"""<EdgeModel Include="models/face-detect.onnx" Package="true" PackageVersion="1.2" PackageKey="{Path.Combine(s.Root, "k.pem")}" />""");
        r = s.Build();
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(r.Errors, e => e.Contains("error EB7002: 1.2", StringComparison.Ordinal));
        Assert.False(r.HasStackTrace, r.ToString());
    }
}
