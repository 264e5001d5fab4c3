using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgeBuild.Diagnostics;

namespace EdgeBuild.Devices;

/// <summary>
/// The program that measures on a device: the edgebuild CLI itself (its <c>bench</c> command writes the same JSON a
/// local measurement gives), cut down to the files one architecture needs, identified by the hash of those files so a
/// device keeps one copy per version. Two shapes are accepted (docs/devices.md):
/// <list type="bullet">
/// <item>framework-dependent (the CLI's own build output, or <c>dotnet publish</c> without <c>-r</c>): the managed
/// assemblies plus <c>runtimes/&lt;rid&gt;/</c> for the device; runs as <c>dotnet edgebuild.dll</c>, so the device
/// needs the .NET 10 runtime, and one folder serves linux-x64 and linux-arm64;</item>
/// <item>self-contained (<c>dotnet publish -r linux-arm64 --self-contained</c>): everything, for exactly the RID it
/// was published for; runs as <c>./edgebuild</c> with nothing installed on the device.</item>
/// </list>
/// </summary>
public sealed record MeasuringRunner(string Rid, string SourceDir, bool SelfContained, IReadOnlyList<RunnerFile> Files, string Sha256)
{
    public long Bytes => Files.Sum(f => f.Bytes);

    /// <summary>The .NET runtime identifier of a <c>uname -m</c> answer; null for an architecture ONNX Runtime ships no Linux library for.</summary>
    public static string? RidOf(string unameMachine) => unameMachine.Trim() switch
    {
        "x86_64" or "amd64" => "linux-x64",
        "aarch64" or "arm64" or "armv8l" => "linux-arm64",
        _ => null,
    };

    /// <summary>The runner for <paramref name="rid"/> from <paramref name="sourceDir"/>, or EB8006 naming what is missing.</summary>
    public static MeasuringRunner Resolve(string device, string sourceDir, string? rid, string unameMachine)
    {
        if (rid is null)
            throw NoRunner(device, $"the device's architecture '{unameMachine}' has no measuring runner (ONNX Runtime ships Linux libraries for x86_64 and aarch64 only)");
        string dir = Path.GetFullPath(sourceDir);
        if (!File.Exists(Path.Combine(dir, "edgebuild.dll")))
            throw NoRunner(device, $"runner folder {dir} holds no edgebuild.dll (give the folder of an edgebuild build or publish)");
        bool selfContained = File.Exists(Path.Combine(dir, "libcoreclr.so"));
        List<string> chosen;
        if (selfContained)
        {
            string published = PublishedRid(dir) ?? "unknown";
            if (published != rid)
                throw NoRunner(device, $"the device is {rid} ('{unameMachine}') but the self-contained runner in {dir} was published for {published}");
            chosen = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Where(Wanted).ToList();
        }
        else
        {
            string native = Path.Combine(dir, "runtimes", rid, "native");
            if (!File.Exists(Path.Combine(native, "libonnxruntime.so")))
                throw NoRunner(device, $"the device is {rid} ('{unameMachine}') but the runner in {dir} has no runtimes/{rid}/native/libonnxruntime.so");
            // The top level (managed assemblies, deps.json, runtimeconfig.json) and this RID's native libraries: the
            // other RIDs' libraries are most of the folder's size and useless on the device.
            chosen = Directory.EnumerateFiles(dir, "*", SearchOption.TopDirectoryOnly)
                .Where(f => Wanted(f) && Path.GetFileName(f) != "edgebuild")
                .Concat(Directory.EnumerateFiles(Path.Combine(dir, "runtimes", rid), "*", SearchOption.AllDirectories))
                .ToList();
        }
        var files = chosen.Select(f => new RunnerFile(Path.GetRelativePath(dir, f).Replace('\\', '/'), f, new FileInfo(f).Length))
            .OrderBy(f => f.RelativePath, StringComparer.Ordinal).ToList();
        return new MeasuringRunner(rid, dir, selfContained, files, Hash(files, selfContained));
    }

    private static bool Wanted(string path) =>
        !path.EndsWith(".pdb", StringComparison.Ordinal) && !path.EndsWith(".xml", StringComparison.Ordinal);

    /// <summary>The RID a self-contained publish was made for, from its deps.json (<c>runtimeTarget.name</c> ends in "/rid").</summary>
    private static string? PublishedRid(string dir)
    {
        string deps = Path.Combine(dir, "edgebuild.deps.json");
        if (!File.Exists(deps)) return null;
        using var doc = JsonDocument.Parse(File.ReadAllBytes(deps));
        return doc.RootElement.TryGetProperty("runtimeTarget", out var target) && target.TryGetProperty("name", out var name)
            && name.GetString() is { } n && n.LastIndexOf('/') is int slash and >= 0 ? n[(slash + 1)..] : null;
    }

    /// <summary>SHA-256 over every file's relative path, size and bytes, in path order: equal hashes mean the same runner.</summary>
    private static string Hash(IReadOnlyList<RunnerFile> files, bool selfContained)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes(selfContained ? "self-contained\n" : "framework-dependent\n"));
        var buffer = new byte[1 << 20];
        foreach (var f in files)
        {
            sha.AppendData(Encoding.UTF8.GetBytes($"{f.RelativePath}\0{f.Bytes}\0"));
            using var stream = File.OpenRead(f.FullPath);
            int n;
            while ((n = stream.Read(buffer)) > 0) sha.AppendData(buffer, 0, n);
        }
        return Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
    }

    private static EdgeBuildException NoRunner(string device, string message) => new(DiagnosticCodes.DeviceNoRunner, device, message);
}

/// <summary>One file of a runner: where it goes under the runner's folder on the device, and where it is here.</summary>
public sealed record RunnerFile(string RelativePath, string FullPath, long Bytes);
