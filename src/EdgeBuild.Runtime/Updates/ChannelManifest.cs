using System.Text.Json;

namespace EdgeBuild.Runtime.Updates;

/// <summary>
/// A channel file (<c>stable.json</c>, <c>canary.json</c>) beside the packages: which version the channel offers and the
/// package's relative URL, sha256 and size. It says what is current; the package's own signature says it is intact.
/// <see cref="Rollback"/> lets a publisher move a channel back to an older version, which updaters otherwise refuse.
/// <see cref="RolloutPercent"/> offers the version to that share of devices only, each device's place fixed by a hash of
/// its id (a staged rollout, an A/B split across the fleet). A signed channel file (<c>edgebuild publish --key</c>) also
/// carries these fields as a COSE_Sign1 message with the JSON embedded, and a <see cref="Sequence"/> that only grows, so
/// a server can neither point devices elsewhere nor serve them an older channel file again.
/// </summary>
public sealed record ChannelManifest(string Channel, string Model, SemanticVersion Version, string Package, string Sha256, long Bytes, bool Rollback,
    double RolloutPercent = 100, long Sequence = 0)
{
    public const int CurrentSchemaVersion = 1;

    /// <summary>The key id (hex) whose signature verified, or <see langword="null"/> for an unsigned (or unchecked) channel file.</summary>
    public string? SignedBy { get; init; }

    /// <summary>Whether the file carried a signature (verified when it was parsed with trusted keys).</summary>
    public bool IsSigned { get; init; }

    /// <summary>The channel's name from its file name (<c>…/stable.json</c> is <c>stable</c>), which a signed file must repeat.</summary>
    public static string NameFromUri(Uri channel)
    {
        string path = channel.IsAbsoluteUri ? channel.AbsolutePath : channel.OriginalString;
        string file = Uri.UnescapeDataString(path.Replace('\\', '/').Split('/')[^1]);
        return file.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? file[..^5] : file;
    }

    /// <summary>A channel's name: lower-case letters, digits and '-', as it is also the file name.</summary>
    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-') && name[0] != '-';

    /// <summary>A rollout share: 0 (paused) to 100 (every device).</summary>
    public static bool IsValidPercent(double percent) => percent is >= 0 and <= 100;

    /// <summary>The unsigned channel file.</summary>
    public byte[] ToJson() => Write(null);

    /// <summary>The signed channel file: the same fields, readable, plus <c>signature</c>, a COSE_Sign1 message (base64) carrying them.</summary>
    public byte[] ToSignedJson(System.Security.Cryptography.ECDsa key) => Write(PackageSignature.SignChannel(Write(null), key));

    private byte[] Write(byte[]? signature)
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
            if (Sequence > 0) w.WriteNumber("sequence", Sequence);
            if (signature is not null) w.WriteString("signature", Convert.ToBase64String(signature));
            w.WriteEndObject();
        }
        string text = System.Text.Encoding.UTF8.GetString(buffer.ToArray()).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
        return System.Text.Encoding.UTF8.GetBytes(text);
    }

    /// <summary>
    /// Reads a channel file. With <paramref name="trustedKeys"/>, a signed one is verified and its signed fields returned
    /// (the readable ones must equal them); without, a signature is not checked (the publisher reading its last sequence).
    /// </summary>
    /// <exception cref="ModelUpdateException"><see cref="UpdateFailure.Malformed"/>, <see cref="UpdateFailure.BadSignature"/>, <see cref="UpdateFailure.UntrustedKey"/>.</exception>
    public static ChannelManifest Parse(ReadOnlySpan<byte> json, string where, IReadOnlyList<System.Security.Cryptography.ECDsa>? trustedKeys = null)
    {
        var (outer, signature) = ParseFields(json, where);
        if (signature is null) return outer;
        if (trustedKeys is null) return outer with { IsSigned = true };
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(signature);
        }
        catch (FormatException e)
        {
            throw new ModelUpdateException(UpdateFailure.BadSignature, $"{where}: the signature is not base64", e);
        }
        ModelUpdateException Bad(string what) => new(UpdateFailure.BadSignature, $"{where}: {what}");
        var (payload, signedBy) = PackageSignature.VerifyChannel(bytes, trustedKeys);
        var (signed, inner) = ParseFields(payload, where + " (signed part)");
        if (inner is not null) throw Bad("the signed part carries a signature of its own");
        // Whoever edits the readable fields without the key must not change what a reader of the file believes.
        if (signed != outer) throw Bad("its readable fields differ from the signed ones: the file was edited after signing");
        return signed with { IsSigned = true, SignedBy = signedBy };
    }

    private static (ChannelManifest Channel, string? Signature) ParseFields(ReadOnlySpan<byte> json, string where)
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
            long sequence = r.TryGetProperty("sequence", out var sq) ? sq.GetInt64() : 0;
            if (sequence < 0) throw new FormatException("sequence must not be negative");
            string? signature = r.TryGetProperty("signature", out var sg) ? sg.GetString() ?? throw new FormatException("signature is not a string") : null;
            return (new ChannelManifest(r.GetProperty("channel").GetString()!, r.GetProperty("model").GetString()!,
                SemanticVersion.Parse(r.GetProperty("version").GetString()!), package, sha, bytes,
                r.TryGetProperty("rollback", out var rb) && rb.GetBoolean(), percent, sequence), signature);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ModelUpdateException)
        {
            throw new ModelUpdateException(UpdateFailure.Malformed, $"{where}: not a channel file ({e.Message})", e);
        }
    }
}
