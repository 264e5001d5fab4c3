using System.Text.Json;
using EdgeBuild.MSBuild.Tests.Support;

namespace EdgeBuild.MSBuild.Tests;

/// <summary>Targets="Onnx;TensorRT" through the build: the kit is written, listed in the manifest, copied next to the app and cleaned.</summary>
public class TensorRtBuildTests
{
    private static readonly string[] KitSuffixes = [".onnx", ".trt.onnx", ".trt.fp32.onnx", ".calib.cache", ".trt.json", ".build-engine.sh"];

    [Fact]
    public void KitIsWrittenCopiedAndCleaned()
    {
        using var s = new Scenario("trt");
        s.Model("models/face-detect.onnx");
        s.WriteCalibrationNpy(12, seed: 12);
        s.WriteProject("""
            <EdgeModel Include="models/face-detect.onnx" Precision="Int8" Calibration="calib/*.npy" Targets="Onnx;TensorRT"
                       TensorRTVersion="8.6" TensorRTWorkspaceMiB="256" TensorRTCompatibility="version" />
            """);
        var r = s.Build();
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (var suffix in KitSuffixes)
        {
            Assert.True(File.Exists(Path.Combine(s.ObjEdgeBuild, "FaceDetect", "FaceDetect" + suffix)), suffix);
            Assert.True(File.Exists(Path.Combine(s.BinDir, "FaceDetect" + suffix)), "bin: " + suffix);
        }
        using (var json = JsonDocument.Parse(File.ReadAllText(s.Manifest("FaceDetect"))))
        {
            var artifacts = json.RootElement.GetProperty("artifacts").EnumerateArray().Select(a => (a.GetProperty("path").GetString(), a.GetProperty("target").GetString())).ToList();
            Assert.Equal(("FaceDetect.onnx", "Onnx"), artifacts[0]);
            Assert.Equal(("FaceDetect.trt.onnx", "TensorRT"), artifacts[1]);
            Assert.Equal(KitSuffixes.Length, artifacts.Count);
        }
        string script = File.ReadAllText(Path.Combine(s.BinDir, "FaceDetect.build-engine.sh"));
        Assert.Contains("'--memPoolSize=workspace:256'", script, StringComparison.Ordinal);
        Assert.Contains("'--versionCompatible'", script, StringComparison.Ordinal);
        Assert.StartsWith("TRT-8600-EntropyCalibration2\n", File.ReadAllText(Path.Combine(s.BinDir, "FaceDetect.calib.cache")), StringComparison.Ordinal);

        var clean = s.Dotnet(["clean", s.ProjectPath]);
        Assert.True(clean.ExitCode == 0, clean.ToString());
        Assert.All(KitSuffixes, suffix => Assert.False(File.Exists(Path.Combine(s.BinDir, "FaceDetect" + suffix)), suffix));
    }

    [Fact]
    public void BadTensorRtMetadataIsOneErrorEach()
    {
        using var s = new Scenario("trtbad");
        s.Model("models/face-detect.onnx");
        s.WriteProject("""<EdgeModel Include="models/face-detect.onnx" Targets="TensorRT" TensorRTStrict="maybe" TensorRTWorkspaceMiB="-1" />""");
        var r = s.Build();
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(r.Errors, e => e.Contains("error EB6001: TensorRTStrict: 'maybe' is not true or false", StringComparison.Ordinal));
        Assert.Contains(r.Errors, e => e.Contains("error EB6001: TensorRTWorkspaceMiB: '-1' is not a positive whole number of MiB", StringComparison.Ordinal));
    }
}
