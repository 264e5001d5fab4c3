using System.Text.Json;

namespace EdgeBuild.Runtime.Updates;

/// <summary>
/// What survives a restart (<c>state.json</c> in the state folder): the active version, the versions before it (for
/// rollback), versions rolled back with their reasons, the channel's last ETag, and the last sequence of each signed channel. Replaced whole by a write to a
/// temp file and a rename, so a kill at any moment leaves the old state or the new one, never a mix.
/// </summary>
internal sealed class UpdateState
{
    public string? Active { get; set; }
    public List<string> History { get; set; } = [];
    public Dictionary<string, string> RolledBack { get; set; } = new(StringComparer.Ordinal);
    public string? ETag { get; set; }
    public string? DeviceId { get; set; }

    /// <summary>Per channel name, the highest sequence of a signed channel file accepted; a channel here must stay signed.</summary>
    public Dictionary<string, long> ChannelSequences { get; set; } = new(StringComparer.Ordinal);

    public static UpdateState Read(string path, Action<string> log)
    {
        if (!File.Exists(path)) return new UpdateState();
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var r = doc.RootElement;
            var state = new UpdateState
            {
                Active = r.TryGetProperty("active", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null,
                ETag = r.TryGetProperty("etag", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null,
                DeviceId = r.TryGetProperty("deviceId", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null,
            };
            if (r.TryGetProperty("channelSequences", out var cs) && cs.ValueKind == JsonValueKind.Object)
                foreach (var x in cs.EnumerateObject()) state.ChannelSequences[x.Name] = x.Value.GetInt64();
            if (r.TryGetProperty("history", out var h)) state.History.AddRange(h.EnumerateArray().Select(x => x.GetString()!));
            if (r.TryGetProperty("rolledBack", out var rb))
                foreach (var x in rb.EnumerateArray()) state.RolledBack[x.GetProperty("version").GetString()!] = x.GetProperty("reason").GetString()!;
            return state;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            // Only a hand edit gets here (writes are atomic): start over from the bundled version rather than not at all.
            log($"EdgeBuild: {path} cannot be read ({ex.Message}); starting from the bundled model.");
            return new UpdateState();
        }
    }

    public void Write(string path)
    {
        string temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                w.WriteNumber("schemaVersion", 1);
                if (Active is null) w.WriteNull("active");
                else w.WriteString("active", Active);
                w.WriteStartArray("history");
                foreach (var v in History) w.WriteStringValue(v);
                w.WriteEndArray();
                w.WriteStartArray("rolledBack");
                foreach (var (v, reason) in RolledBack.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    w.WriteStartObject();
                    w.WriteString("version", v);
                    w.WriteString("reason", reason);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                if (ETag is null) w.WriteNull("etag");
                else w.WriteString("etag", ETag);
                if (DeviceId is not null) w.WriteString("deviceId", DeviceId);
                if (ChannelSequences.Count > 0)
                {
                    w.WriteStartObject("channelSequences");
                    foreach (var (name, sequence) in ChannelSequences.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteNumber(name, sequence);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }
}
