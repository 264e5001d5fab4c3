using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgeBuild.Onnx;

namespace EdgeBuild.Measure;

/// <summary>
/// Measurements kept by (artifact hash, machine fingerprint, measurement options, tool version): an unchanged artifact
/// on the same machine is not measured again, so a rebuild costs nothing and two compiles of the same model write the
/// same manifest bytes. One JSON file per key; an unreadable entry is measured again and replaced.
/// </summary>
public sealed class MeasurementCache(string directory)
{
    /// <summary><c>$EDGEBUILD_MEASURE_CACHE</c>, else <c>$XDG_CACHE_HOME/edgebuild/measurements</c>, else the user's cache folder.</summary>
    public static string DefaultDirectory
    {
        get
        {
            if (Environment.GetEnvironmentVariable("EDGEBUILD_MEASURE_CACHE") is { Length: > 0 } explicitDir) return explicitDir;
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string root = xdg is { Length: > 0 } ? xdg
                : OperatingSystem.IsWindows() ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData)
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "edgebuild", "measurements");
        }
    }

    public string Directory { get; } = directory;

    /// <summary>Changes whenever <see cref="BenchResult"/> gains a figure, so older entries are measured again rather than read without it.</summary>
    private const string Format = "bench-result-2";

    /// <summary>The cache key of one measurement.</summary>
    public static string Key(string artifactSha256, MachineFingerprint machine, BenchOptions options, string toolVersion) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Join("\n", Format, artifactSha256, machine.Id, machine.ExecutionProvider, options.CacheKey(), toolVersion, ReferenceWorkload.Name))))[..32].ToLowerInvariant();

    /// <summary>
    /// The cache key of a race of an artifact against its float reference (MeasureStep's EB5024 check): cached like a
    /// measurement, so a rebuild writes the same reports and costs no race.
    /// </summary>
    public static string RaceKey(string referenceSha256, string artifactSha256, MachineFingerprint machine, string toolVersion) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Join("\n", "race-1", referenceSha256, artifactSha256, machine.Id, machine.ExecutionProvider, toolVersion))))[..32].ToLowerInvariant();

    public BenchResult? Get(string key) => Read<BenchResult>(key);

    public void Put(string key, BenchResult result) => Write(key, result);

    public RaceReport? GetRace(string key) => Read<RaceReport>(key);

    public void PutRace(string key, RaceReport race) => Write(key, race);

    private T? Read<T>(string key) where T : class
    {
        string path = Path.Combine(Directory, key + ".json");
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), MeasureJson.Options);
        }
        catch (Exception e) when (e is JsonException or IOException or NotSupportedException or InvalidOperationException)
        {
            return null;
        }
    }

    private void Write<T>(string key, T result)
    {
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            AtomicFile.WriteAllText(Path.Combine(Directory, key + ".json"), JsonSerializer.Serialize(result, MeasureJson.Options));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Diagnostics.EdgeBuildException)
        {
            // A read-only cache only costs the next build a measurement.
        }
    }
}

/// <summary>One JSON setting for measurements, caches, baselines and reports: camelCase, indented, invariant.</summary>
public static class MeasureJson
{
    public static JsonSerializerOptions Options { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        NewLine = "\n",
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
