using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Targets.Tflite.Schema;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Tflite;

/// <summary>
/// The project's own TFLite reference runner (build/tflite-runner): its runtime pinned by version and integrity, the
/// line it prints where Node.js is missing, and its refusals (a file that is not .tflite, an input of the wrong type).
/// </summary>
public partial class TfliteRunnerTests
{
    private static string RunnerDir => Path.Combine(TestData.RepoRoot, "build", "tflite-runner");

    [GeneratedRegex(@"^\d+\.\d+\.\d+$")]
    private static partial Regex ExactVersion();

    [Fact]
    public void RuntimeIsPinnedByExactVersionAndIntegrity()
    {
        using var package = JsonDocument.Parse(File.ReadAllText(Path.Combine(RunnerDir, "package.json")));
        using var lockFile = JsonDocument.Parse(File.ReadAllText(Path.Combine(RunnerDir, "package-lock.json")));
        var dependencies = package.RootElement.GetProperty("dependencies").EnumerateObject().ToList();
        Assert.Contains(dependencies, d => d.Name == "@litertjs/core");
        var locked = lockFile.RootElement.GetProperty("packages");
        foreach (var dependency in dependencies)
        {
            string version = dependency.Value.GetString()!;
            Assert.Matches(ExactVersion(), version);
            var entry = locked.GetProperty("node_modules/" + dependency.Name);
            Assert.Equal(version, entry.GetProperty("version").GetString());
        }
        // Every package npm ci installs, the runtime's own dependencies included, is checked against a sha512.
        var installed = locked.EnumerateObject().Where(p => p.Name.Length > 0).ToList();
        Assert.NotEmpty(installed);
        Assert.All(installed, p => Assert.StartsWith("sha512-", p.Value.GetProperty("integrity").GetString()));
    }

    [SkippableFact]
    public void WithoutNodeTheErrorNamesWhatToInstall()
    {
        string? bash = new[] { "/bin/bash", "/usr/bin/bash" }.FirstOrDefault(File.Exists);
        Skip.If(bash is null || OperatingSystem.IsWindows(), "needs bash at /bin/bash or /usr/bin/bash");
        // A PATH with only what the script needs before it looks for Node: bash, dirname, readlink.
        string bin = Directory.CreateTempSubdirectory("edgebuild-no-node-").FullName;
        try
        {
            File.CreateSymbolicLink(Path.Combine(bin, "bash"), bash!);
            foreach (var tool in new[] { "dirname", "readlink" })
                File.CreateSymbolicLink(Path.Combine(bin, tool), new[] { "/usr/bin/" + tool, "/bin/" + tool }.First(File.Exists));
            var psi = new ProcessStartInfo(bash!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(Path.Combine(RunnerDir, "tflite-runner"));
            psi.ArgumentList.Add("install");
            psi.Environment["PATH"] = bin;
            psi.Environment["EDGEBUILD_TFLITE_RUNNER_CACHE"] = Path.Combine(bin, "cache");
            using var p = Process.Start(psi)!;
            string stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.Equal(5, p.ExitCode);
            Assert.Contains("Node.js 18 or newer with npm is needed", stderr, StringComparison.Ordinal);
            Assert.Contains("apt-get install nodejs npm", stderr, StringComparison.Ordinal);
            Assert.False(Directory.Exists(Path.Combine(bin, "cache")), "nothing is installed without Node");
        }
        finally
        {
            Directory.Delete(bin, recursive: true);
        }
    }

    [SkippableFact]
    public void RefusesWhatItCannotJudge()
    {
        string tool = TfliteTool.Require();
        string dir = Directory.CreateTempSubdirectory("edgebuild-tflite-runner-").FullName;
        try
        {
            string model = Path.Combine(dir, "gelu.tflite");
            File.WriteAllBytes(model, TflWriter.Write(TfliteSchemaTests.GeluModel()));

            // Not a .tflite file: a bad model (3), named.
            string notModel = Path.Combine(dir, "input.npy");
            NpyFile.Write(notModel, Ir.Tensor.FromFloats([1, 4], [0f, 1f, 2f, 3f]));
            var (exit, _, stderr) = TfliteRef.Exec(tool, ["info", notModel]);
            Assert.True(exit == 3, $"exit {exit}: {stderr}");
            Assert.Contains("not a TFLite FlatBuffer", stderr, StringComparison.Ordinal);

            // An input of another type than the model's: refused (2), no silent cast.
            string int32Input = Path.Combine(dir, "int32.npy");
            NpyFile.Write(int32Input, Ir.Tensor.FromSpan<int>(Ir.DataType.Int32, [1, 4], [0, 1, 2, 3]));
            (exit, _, stderr) = TfliteRef.Exec(tool, ["run", model, "--input", $"input_x={int32Input}", "--out", Path.Combine(dir, "out")]);
            Assert.True(exit == 2, $"exit {exit}: {stderr}");
            Assert.Contains("takes float32", stderr, StringComparison.Ordinal);

            // The right input runs, and the same bytes give the same bytes.
            var first = TfliteRef.Run(tool, model, new Dictionary<string, Ir.Tensor> { ["input_x"] = Ir.Tensor.FromFloats([1, 4], [0f, 1f, -1f, 0.5f]) }, Path.Combine(dir, "a"));
            var second = TfliteRef.Run(tool, model, new Dictionary<string, Ir.Tensor> { ["input_x"] = Ir.Tensor.FromFloats([1, 4], [0f, 1f, -1f, 0.5f]) }, Path.Combine(dir, "b"));
            Assert.Equal(first["output_y"].ToFloats(), second["output_y"].ToFloats());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
