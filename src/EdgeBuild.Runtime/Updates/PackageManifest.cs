using System.Globalization;
using System.Text.Json;

namespace EdgeBuild.Runtime.Updates;

/// <summary>
/// The signed part of a model package (<c>package.json</c>, docs/lifecycle.md): which model and version, the interface
/// the generated class must have, the runtime it needs, every file with its sha256, and the build's measured figures.
/// Written with a fixed property order and '\n' line ends so equal inputs give equal bytes.
/// </summary>
public sealed class PackageManifest
{
    /// <summary>The format version this runtime reads and writes.</summary>
    public const int CurrentSchemaVersion = 1;

    /// <summary>The package's own kind marker, so a random JSON file is not taken for one.</summary>
    public const string Kind = "edgebuild-model-package";

    public required string Model { get; init; }
    public required SemanticVersion Version { get; init; }
    public required SemanticVersion MinRuntimeVersion { get; init; }
    public required IReadOnlyList<PackageTensor> Inputs { get; init; }
    public required IReadOnlyList<PackageTensor> Outputs { get; init; }

    /// <summary>The model's <c>.edgemodel.json</c>, one of <see cref="Files"/>.</summary>
    public required string ModelManifest { get; init; }

    /// <summary>Every file under <c>model/</c> in the archive, ordered by path (ordinal).</summary>
    public required IReadOnlyList<PackageFile> Files { get; init; }

    /// <summary>The build's measurement of the ONNX artifact, when the build measured it.</summary>
    public PackageMeasurement? Measured { get; init; }

    /// <summary>
    /// The float outputs' statistics on the build's held-out data (<c>edgebuild package --holdout</c>), which devices
    /// measure output drift against; <see langword="null"/> when the package was made without held-out data.
    /// </summary>
    public PackageOutputStatistics? OutputStatistics { get; init; }

    /// <summary>The UTF-8 bytes of <c>package.json</c>.</summary>
    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("schemaVersion", CurrentSchemaVersion);
            w.WriteString("kind", Kind);
            w.WriteString("model", Model);
            w.WriteString("version", Version.ToString());
            w.WriteString("minRuntimeVersion", MinRuntimeVersion.ToString());
            w.WriteStartObject("interface");
            WriteTensors(w, "inputs", Inputs);
            WriteTensors(w, "outputs", Outputs);
            w.WriteEndObject();
            w.WriteString("modelManifest", ModelManifest);
            w.WriteStartArray("files");
            foreach (var f in Files)
            {
                w.WriteStartObject();
                w.WriteString("path", f.Path);
                w.WriteString("sha256", f.Sha256);
                w.WriteNumber("bytes", f.Bytes);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (Measured is { } m)
            {
                w.WriteStartObject("measured");
                w.WriteString("artifact", m.Artifact);
                w.WriteNumber("p50Ms", m.P50Ms);
                w.WriteNumber("p99Ms", m.P99Ms);
                w.WriteString("machine", m.Machine);
                w.WriteEndObject();
            }
            else w.WriteNull("measured");
            if (OutputStatistics is { } stats)
            {
                w.WriteStartObject("outputStatistics");
                w.WriteNumber("samples", stats.Samples);
                w.WriteStartArray("outputs");
                foreach (var o in stats.Outputs)
                {
                    w.WriteStartObject();
                    w.WriteString("name", o.Output);
                    w.WriteNumber("count", o.Count);
                    w.WriteNumber("mean", o.Mean);
                    w.WriteNumber("std", o.Std);
                    // Only integer outputs binned by value carry it, so a float-only package's bytes are what they were.
                    if (o.Categories is { } categories)
                    {
                        w.WriteStartArray("categories");
                        foreach (long c in categories) w.WriteNumberValue(c);
                        w.WriteEndArray();
                    }
                    w.WriteStartArray("binEdges");
                    foreach (double e in o.BinEdges) w.WriteNumberValue(e);
                    w.WriteEndArray();
                    w.WriteStartArray("binFractions");
                    foreach (double f in o.BinFractions) w.WriteNumberValue(f);
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            else w.WriteNull("outputStatistics");
            w.WriteEndObject();
        }
        // Utf8JsonWriter indents with the platform's new line; the format says '\n'.
        string text = System.Text.Encoding.UTF8.GetString(buffer.ToArray()).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
        return System.Text.Encoding.UTF8.GetBytes(text);
    }

    private static void WriteTensors(Utf8JsonWriter w, string name, IReadOnlyList<PackageTensor> tensors)
    {
        w.WriteStartArray(name);
        foreach (var t in tensors)
        {
            w.WriteStartObject();
            w.WriteString("name", t.Name);
            w.WriteString("elementType", t.ElementType);
            w.WriteStartArray("shape");
            foreach (var d in t.Shape)
            {
                if (d.Size is { } size) w.WriteNumberValue(size);
                else if (d.Symbol is { } symbol) w.WriteStringValue(symbol);
                else w.WriteNullValue();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>Reads <c>package.json</c>.</summary>
    /// <exception cref="ModelUpdateException">Not a package manifest of a schema this runtime reads (<see cref="UpdateFailure.Malformed"/>).</exception>
    public static PackageManifest Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || Str(root, "kind") != Kind)
                throw Bad("it is not an EdgeBuild model package manifest (kind is not '" + Kind + "')");
            int schema = root.GetProperty("schemaVersion").GetInt32();
            if (schema != CurrentSchemaVersion)
                throw Bad($"schemaVersion {schema} is not one this runtime reads ({CurrentSchemaVersion}); update the application");
            var iface = root.GetProperty("interface");
            var files = root.GetProperty("files").EnumerateArray().Select(f => new PackageFile(
                SafePath(Str(f, "path")), Str(f, "sha256"), f.GetProperty("bytes").GetInt64())).ToList();
            foreach (var f in files)
                if (f.Sha256.Length != 64 || !f.Sha256.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f')) || f.Bytes < 0)
                    throw Bad($"file '{f.Path}' has no valid sha256 or size");
            PackageMeasurement? measured = null;
            if (root.TryGetProperty("measured", out var m) && m.ValueKind == JsonValueKind.Object)
                measured = new PackageMeasurement(Str(m, "artifact"), m.GetProperty("p50Ms").GetDouble(), m.GetProperty("p99Ms").GetDouble(), Str(m, "machine"));
            PackageOutputStatistics? statistics = null;
            if (root.TryGetProperty("outputStatistics", out var st) && st.ValueKind == JsonValueKind.Object)
            {
                var outputs = st.GetProperty("outputs").EnumerateArray().Select(o => new OutputStatistics(Str(o, "name"), o.GetProperty("count").GetInt64(),
                    o.GetProperty("mean").GetDouble(), o.GetProperty("std").GetDouble(),
                    o.GetProperty("binEdges").EnumerateArray().Select(e => e.GetDouble()).ToArray(),
                    o.GetProperty("binFractions").EnumerateArray().Select(f => f.GetDouble()).ToArray())
                {
                    Categories = o.TryGetProperty("categories", out var c) && c.ValueKind == JsonValueKind.Array ? c.EnumerateArray().Select(v => v.GetInt64()).ToArray() : null,
                }).ToList();
                foreach (var o in outputs) o.Validate();
                statistics = new PackageOutputStatistics(st.GetProperty("samples").GetInt32(), outputs);
            }
            string modelManifest = SafePath(Str(root, "modelManifest"));
            if (!files.Any(f => f.Path == modelManifest)) throw Bad($"modelManifest '{modelManifest}' is not among its files");
            return new PackageManifest
            {
                Model = Str(root, "model"),
                Version = ParseVersion(Str(root, "version"), "version"),
                MinRuntimeVersion = ParseVersion(Str(root, "minRuntimeVersion"), "minRuntimeVersion"),
                Inputs = Tensors(iface.GetProperty("inputs")),
                Outputs = Tensors(iface.GetProperty("outputs")),
                ModelManifest = modelManifest,
                Files = files,
                Measured = measured,
                OutputStatistics = statistics,
            };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw Bad($"it cannot be read ({e.Message})");
        }
    }

    private static SemanticVersion ParseVersion(string text, string field) =>
        SemanticVersion.TryParse(text, out var v) ? v : throw Bad($"{field} '{text}' is not MAJOR.MINOR.PATCH");

    private static List<PackageTensor> Tensors(JsonElement array) => array.EnumerateArray().Select(t => new PackageTensor(
        Str(t, "name"), Str(t, "elementType"),
        t.GetProperty("shape").EnumerateArray().Select(d => d.ValueKind switch
        {
            JsonValueKind.Number => new PackageDim(d.GetInt64(), null),
            JsonValueKind.String => new PackageDim(null, d.GetString()),
            _ => new PackageDim(null, null),
        }).ToList())).ToList();

    private static string Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : throw new KeyNotFoundException($"'{name}' is missing or not a string");

    /// <summary>A relative path inside the package: forward slashes, no '..', no root (an archive must not write outside its folder).</summary>
    /// <exception cref="ModelUpdateException">The path is not a plain relative one (<see cref="UpdateFailure.Malformed"/>).</exception>
    public static string SafePath(string path)
    {
        if (path.Length == 0 || path.StartsWith('/') || path.Contains('\\') || path.Contains(':')
            || path.Split('/').Any(s => s is "" or "." or ".."))
            throw Bad($"the path '{path}' leaves the package folder or is not a plain relative path");
        return path;
    }

    private static ModelUpdateException Bad(string what) => new(UpdateFailure.Malformed, "package.json: " + what);

    /// <summary>The interface as one line: <c>x float32 [batch,4] -&gt; y float32 [batch,2]</c>.</summary>
    public string InterfaceText() => string.Join(", ", Inputs) + " -> " + string.Join(", ", Outputs);
}

/// <summary>One dimension: a size, a named symbolic one, or an unknown one (both null).</summary>
public sealed record PackageDim(long? Size, string? Symbol)
{
    public override string ToString() => Size?.ToString(CultureInfo.InvariantCulture) ?? Symbol ?? "?";
}

/// <summary>One input or output of the packaged model: its ONNX name, element type (manifest spelling) and shape.</summary>
public sealed record PackageTensor(string Name, string ElementType, IReadOnlyList<PackageDim> Shape)
{
    public override string ToString() => $"{Name} {ElementType} [{string.Join(",", Shape)}]";
}

/// <summary>One file of the package, relative to <c>model/</c>.</summary>
public sealed record PackageFile(string Path, string Sha256, long Bytes);

/// <summary>The held-out data's size (files) and each float output's statistics on it.</summary>
public sealed record PackageOutputStatistics(int Samples, IReadOnlyList<OutputStatistics> Outputs);

/// <summary>The build's measurement of the ONNX artifact (milliseconds, on the build's machine).</summary>
public sealed record PackageMeasurement(string Artifact, double P50Ms, double P99Ms, string Machine);
