using System.Text.Json;

namespace EdgeBuild.Runtime.Updates;

/// <summary>
/// A channel file (<c>stable.json</c>, <c>canary.json</c>) beside the packages: which version the channel offers and the
/// package's relative URL, sha256 and size. It says what is current; the package's own signature says it is intact.
/// <see cref="Rollback"/> lets a publisher move a channel back to an older version, which updaters otherwise refuse.
/// <see cref="RolloutPercent"/> offers the version to that share of devices only, each device's place fixed by a hash of
/// its id (a staged rollout, an A/B split across the fleet).
/// </summary>
public sealed record ChannelManifest(string Channel, string Model, SemanticVersion Version, string Package, string Sha256, long Bytes, bool Rollback,
    double RolloutPercent = 100)
{
    public const int CurrentSchemaVersion = 1;

    /// <summary>A channel's name: lower-case letters, digits and '-', as it is also the file name.</summary>
    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-') && name[0] != '-';

    /// <summary>A rollout share: 0 (paused) to 100 (every device).</summary>
    public static bool IsValidPercent(double percent) => percent is >= 0 and <= 100;

    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("schemaVersion", CurrentSchemaVersion);
            w.WriteString("channel", Channel);
            w.WriteString("model", Model);
            w.WriteString("version", Version.ToString());
            w.WriteString("package", Package);
            w.WriteString("sha256", Sha256);
            w.WriteNumber("bytes", Bytes);
            w.WriteBoolean("rollback", Rollback);
            w.WriteNumber("rolloutPercent", RolloutPercent);
            w.WriteEndObject();
        }
        string text = System.Text.Encoding.UTF8.GetString(buffer.ToArray()).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
        return System.Text.Encoding.UTF8.GetBytes(text);
    }

    /// <exception cref="ModelUpdateException"><see cref="UpdateFailure.Malformed"/>.</exception>
    public static ChannelManifest Parse(ReadOnlySpan<byte> json, string where)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            var r = doc.RootElement;
            int schema = r.GetProperty("schemaVersion").GetInt32();
            if (schema != CurrentSchemaVersion) throw new FormatException($"schemaVersion {schema} is not {CurrentSchemaVersion}");
            string package = PackageManifest.SafePath(r.GetProperty("package").GetString()!);
            string sha = r.GetProperty("sha256").GetString()!;
            if (sha.Length != 64 || !sha.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'))) throw new FormatException("sha256 is not 64 lower-case hex digits");
            long bytes = r.GetProperty("bytes").GetInt64();
            if (bytes <= 0) throw new FormatException("bytes must be positive");
            double percent = r.TryGetProperty("rolloutPercent", out var rp) ? rp.GetDouble() : 100;
            if (!IsValidPercent(percent)) throw new FormatException($"rolloutPercent {percent} is not between 0 and 100");
            return new ChannelManifest(r.GetProperty("channel").GetString()!, r.GetProperty("model").GetString()!,
                SemanticVersion.Parse(r.GetProperty("version").GetString()!), package, sha, bytes,
                r.TryGetProperty("rollback", out var rb) && rb.GetBoolean(), percent);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ModelUpdateException)
        {
            throw new ModelUpdateException(UpdateFailure.Malformed, $"{where}: not a channel file ({e.Message})", e);
        }
    }
}
