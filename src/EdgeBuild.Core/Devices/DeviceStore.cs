using System.Text.Json;
using EdgeBuild.Diagnostics;
using EdgeBuild.Onnx;

namespace EdgeBuild.Devices;

/// <summary>
/// The user's devices: one JSON file outside any repository (devices belong to a person's machine and network, not to
/// a project), <c>$EDGEBUILD_CONFIG_HOME/devices.json</c>, else <c>$XDG_CONFIG_HOME/edgebuild/devices.json</c>, else
/// <c>~/.config/edgebuild/devices.json</c>. Written through a temp file and a rename, so a reader never sees half a list.
/// </summary>
public sealed class DeviceStore
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        NewLine = "\n",
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public DeviceStore(string path) => Path = path;

    /// <summary>The devices.json this store reads and writes.</summary>
    public string Path { get; }

    /// <summary>The store at the place the environment names (see the class summary).</summary>
    public static DeviceStore ForUser()
    {
        string? home = Environment.GetEnvironmentVariable("EDGEBUILD_CONFIG_HOME");
        if (string.IsNullOrEmpty(home))
        {
            string? xdg = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
            string baseDir = !string.IsNullOrEmpty(xdg) ? xdg : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
            home = System.IO.Path.Combine(baseDir, "edgebuild");
        }
        return new DeviceStore(System.IO.Path.Combine(home, "devices.json"));
    }

    /// <summary>Every device, sorted by name; none when the file does not exist yet.</summary>
    public IReadOnlyList<Device> Load()
    {
        if (!File.Exists(Path)) return [];
        try
        {
            var file = JsonSerializer.Deserialize<DeviceFile>(File.ReadAllText(Path), Json);
            return (file?.Devices ?? []).OrderBy(d => d.Name, StringComparer.Ordinal).ToList();
        }
        catch (JsonException e)
        {
            throw new EdgeBuildException(DiagnosticCodes.DeviceConfigUnreadable, Path, $"not a device list ({e.Message})", e);
        }
    }

    public Device Get(string name) =>
        Load().FirstOrDefault(d => d.Name == name)
        ?? throw new EdgeBuildException(DiagnosticCodes.DeviceUnknown, name, $"no device of that name in {Path}");

    /// <summary>Adds or replaces the device of that name.</summary>
    public void Save(Device device) => Write([.. Load().Where(d => d.Name != device.Name), device]);

    /// <summary>Removes the device; false when there was none of that name.</summary>
    public bool Remove(string name)
    {
        var devices = Load();
        if (devices.All(d => d.Name != name)) return false;
        Write(devices.Where(d => d.Name != name).ToList());
        return true;
    }

    private void Write(IReadOnlyList<Device> devices)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!);
        var sorted = devices.OrderBy(d => d.Name, StringComparer.Ordinal).ToList();
        AtomicFile.WriteAllText(Path, JsonSerializer.Serialize(new DeviceFile(sorted), Json) + "\n");
    }

    private sealed record DeviceFile(IReadOnlyList<Device> Devices);
}
