using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgeBuild.Ir;
using EdgeBuild.Quantization;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.Support;

/// <summary>One calibration tensor of a kit: its input name, numpy dtype, shape and file inside the model's archive (raw little-endian).</summary>
public sealed record PeerKitTensor(string Name, string Dtype, long[] Shape, string File);

/// <summary>
/// One model of a kit: its archive (<c>model.onnx</c>, the optimized FP32 model, and <c>calibration/*.bin</c>), the
/// SHA-256 of that model and of its calibration tensors (which the peer run echoes, so the table can refuse a peer
/// model made from anything else), and its calibration samples, each a list of tensors.
/// </summary>
public sealed record PeerKitModel(string Id, string Task, string Archive, long ArchiveBytes, long Fp32Bytes, string Sha256, string CalibrationSha256,
    IReadOnlyList<IReadOnlyList<PeerKitTensor>> Calibration);

/// <summary>A model the kit does not hold, and why.</summary>
public sealed record PeerKitLeftOut(string Id, string Reason);

/// <summary>kit.json: the split it was made with, the size limit it was checked against, its models and the ones left out.</summary>
public sealed record PeerKitManifest(string Format, int HeldOut, int Calibration, long LimitBytes, IReadOnlyList<PeerKitModel> Models, IReadOnlyList<PeerKitLeftOut> LeftOut);

/// <summary>A kit or a peer run that cannot be used; the message names the file or model, what is wrong and what to do.</summary>
public sealed class PeerKitException(string message) : Exception(message);

/// <summary>
/// The peer kit (docs/quantization.md, "Peer table"): what a device machine without .NET needs to run ONNX Runtime's
/// <c>quantize_static</c> on the same models and calibration inputs our Int8 and Auto builds use. A folder with
/// <c>kit.json</c> and one <c>ID.tar.gz</c> per model (gzip: the photo tensors come from 8-bit pixels and pack to a
/// fraction of their float32 size; the reader, Python's tarfile, needs nothing installed). A device call carries the
/// repository and the kit, 64 MiB in all: a model whose archive alone exceeds what is left is left out with the
/// reason, and a kit whose models together exceed it is an error that names a split into kits that fit.
/// </summary>
public static class PeerKit
{
    public const string Format = "edgebuild-peer-kit/1";
    public const string ManifestFile = "kit.json";

    /// <summary>What one device call carries: the repository's files and the carried paths together (device README, Limits).</summary>
    public const long DeviceTravelBytes = 64L << 20;

    internal static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, WriteIndented = true };

    /// <summary>
    /// Writes the kit of <paramref name="models"/> (enumerated once, one model in memory at a time) into
    /// <paramref name="dir"/>, replacing an older kit there as a whole; nothing is left when it fails.
    /// </summary>
    public static PeerKitManifest Export(string dir, IEnumerable<BenchmarkModel> models, int heldOut, int calibration, long limitBytes, Action<string>? log = null)
    {
        string full = Path.GetFullPath(dir);
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any() && !File.Exists(Path.Combine(full, ManifestFile)))
            throw new PeerKitException($"{full}: the folder holds files but no {ManifestFile}, so it is not a kit this command may replace. Name a new or empty folder.");
        string staging = full + ".partial";
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        Directory.CreateDirectory(staging);
        try
        {
            var kept = new List<PeerKitModel>();
            var leftOut = new List<PeerKitLeftOut>();
            foreach (var model in models)
            {
                var entry = WriteArchive(staging, model);
                if (entry.ArchiveBytes > limitBytes)
                {
                    File.Delete(Path.Combine(staging, entry.Archive));
                    leftOut.Add(new(model.Id, string.Create(CultureInfo.InvariantCulture,
                        $"its FP32 model ({MiB(entry.Fp32Bytes)} MiB) and {entry.Calibration.Count} calibration inputs pack to {MiB(entry.ArchiveBytes)} MiB, over the {MiB(limitBytes)} MiB a device call carries beside the repository")));
                    log?.Invoke($"{model.Id}: left out, {leftOut[^1].Reason}");
                    continue;
                }
                kept.Add(entry);
                log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"{model.Id}: {MiB(entry.ArchiveBytes)} MiB ({entry.Calibration.Count} calibration inputs, FP32 {MiB(entry.Fp32Bytes)} MiB)"));
            }
            if (kept.Count == 0)
                throw new PeerKitException($"{full}: no model fits in {MiB(limitBytes)} MiB ({string.Join("; ", leftOut.Select(l => l.Id + ": " + l.Reason))}). Nothing to export.");
            var manifest = new PeerKitManifest(Format, heldOut, calibration, limitBytes, kept, leftOut);
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(manifest, Json);
            long total = kept.Sum(m => m.ArchiveBytes) + json.Length;
            if (total > limitBytes)
                throw new PeerKitException(string.Create(CultureInfo.InvariantCulture,
                    $"{full}: the kit would be {MiB(total)} MiB, over the {MiB(limitBytes)} MiB a device call carries beside the repository. Export it as {Split(kept, limitBytes - json.Length).Count} kits, one device call each: ") +
                    string.Join(" and ", Split(kept, limitBytes - json.Length).Select(g => "--models " + string.Join(",", g))) + ".");
            File.WriteAllBytes(Path.Combine(staging, ManifestFile), json);
            if (Directory.Exists(full)) Directory.Delete(full, recursive: true);
            Directory.Move(staging, full);
            return manifest;
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Reads <paramref name="dir"/>/kit.json.</summary>
    public static PeerKitManifest ReadManifest(string dir)
    {
        string path = Path.Combine(dir, ManifestFile);
        if (!File.Exists(path)) throw new PeerKitException($"{path}: not found. Export a kit with peer-table --export DIR first.");
        PeerKitManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<PeerKitManifest>(File.ReadAllBytes(path), Json);
        }
        catch (JsonException e)
        {
            throw new PeerKitException($"{path}: not a kit manifest ({e.Message}). Export the kit again.");
        }
        if (manifest is null) throw new PeerKitException($"{path}: empty. Export the kit again.");
        if (manifest.Format != Format) throw new PeerKitException($"{path}: format {manifest.Format}, this build reads {Format}. Export the kit again.");
        return manifest;
    }

    /// <summary>A kit model's FP32 model and calibration samples, read back from its archive.</summary>
    public static (byte[] Fp32, List<IReadOnlyDictionary<string, Tensor>> Calibration) ReadModel(string dir, PeerKitModel model)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using (var gzip = new GZipStream(File.OpenRead(Path.Combine(dir, model.Archive)), CompressionMode.Decompress))
        using (var tar = new TarReader(gzip))
        {
            while (tar.GetNextEntry() is { } entry)
            {
                if (entry.DataStream is null) continue;
                using var copy = new MemoryStream();
                entry.DataStream.CopyTo(copy);
                files[entry.Name] = copy.ToArray();
            }
        }
        byte[] Entry(string name) => files.TryGetValue(name, out var bytes) ? bytes
            : throw new PeerKitException($"{Path.Combine(dir, model.Archive)}: {name} is missing. Export the kit again.");
        var samples = model.Calibration.Select(sample => (IReadOnlyDictionary<string, Tensor>)sample.ToDictionary(
            t => t.Name, t => Tensor.FromRaw(FromDtype(t.Dtype), t.Shape, Entry(t.File)))).ToList();
        return (Entry("model.onnx"), samples);
    }

    /// <summary>SHA-256 of calibration samples: per sample, per input in name order, its name, type, shape and bytes.</summary>
    public static string CalibrationHash(IEnumerable<IReadOnlyDictionary<string, Tensor>> samples)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var sample in samples)
            foreach (var (name, tensor) in sample.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                hash.AppendData(Encoding.UTF8.GetBytes($"{name}|{Dtype(tensor.ElementType)}|{string.Join(",", tensor.Dims)}|"));
                hash.AppendData(tensor.Raw);
            }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>
    /// What the repository at <paramref name="root"/> sends on a device call besides carried paths: its tracked files
    /// and the untracked ones git does not ignore (device README: "tracked and untracked-not-ignored files").
    /// </summary>
    public static long RepositoryTravelBytes(string root)
    {
        var start = new ProcessStartInfo("git", ["-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var git = Process.Start(start) ?? throw new PeerKitException($"{root}: git did not start. Give the limit with --limit-mib.");
        string listing = git.StandardOutput.ReadToEnd();
        string error = git.StandardError.ReadToEnd();
        git.WaitForExit();
        if (git.ExitCode != 0) throw new PeerKitException($"{root}: git ls-files failed ({error.Trim()}). Give the limit with --limit-mib.");
        return listing.Split('\0', StringSplitOptions.RemoveEmptyEntries).Select(f => new FileInfo(Path.Combine(root, f))).Where(f => f.Exists).Sum(f => f.Length);
    }

    public static string MiB(long bytes) => (bytes / 1048576.0).ToString("F1", CultureInfo.InvariantCulture);

    private static PeerKitModel WriteArchive(string staging, BenchmarkModel model)
    {
        string archive = model.Id + ".tar.gz";
        var samples = model.Calibration.Samples().ToList();
        var described = new List<IReadOnlyList<PeerKitTensor>>();
        using (var file = System.IO.File.Create(Path.Combine(staging, archive)))
        using (var gzip = new GZipStream(file, CompressionLevel.Optimal))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Ustar))
        {
            Add(tar, "model.onnx", model.Fp32);
            for (int s = 0; s < samples.Count; s++)
            {
                var tensors = new List<PeerKitTensor>();
                int k = 0;
                foreach (var (name, tensor) in samples[s].OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    string path = string.Create(CultureInfo.InvariantCulture, $"calibration/{s:D3}-{k++}.bin");
                    Add(tar, path, tensor.Raw);
                    tensors.Add(new(name, Dtype(tensor.ElementType), tensor.Dims, path));
                }
                described.Add(tensors);
            }
        }
        return new PeerKitModel(model.Id, model.Task.ToString(), archive, new FileInfo(Path.Combine(staging, archive)).Length, model.Fp32.Length,
            Sha256(model.Fp32), CalibrationHash(samples), described);
    }

    private static void Add(TarWriter tar, string name, byte[] bytes)
    {
        using var data = new MemoryStream(bytes, writable: false);
        // Ustar with a fixed time (pax would add access and change times): the same kit packs to the same bytes.
        tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = data, ModificationTime = DateTimeOffset.UnixEpoch });
    }

    /// <summary>First-fit decreasing: groups of model ids whose archives each fit in <paramref name="capacity"/> bytes.</summary>
    private static List<List<string>> Split(IEnumerable<PeerKitModel> models, long capacity)
    {
        var groups = new List<(long Bytes, List<string> Ids)>();
        foreach (var m in models.OrderByDescending(m => m.ArchiveBytes))
        {
            int i = groups.FindIndex(g => g.Bytes + m.ArchiveBytes <= capacity);
            if (i < 0) groups.Add((m.ArchiveBytes, [m.Id]));
            else groups[i] = (groups[i].Bytes + m.ArchiveBytes, [.. groups[i].Ids, m.Id]);
        }
        return groups.Select(g => g.Ids).ToList();
    }

    /// <summary>numpy's name of an element type (the kit is read with numpy.fromfile).</summary>
    private static string Dtype(DataType type) => type switch
    {
        DataType.Float => "float32",
        DataType.Float16 => "float16",
        DataType.Double => "float64",
        DataType.Int64 => "int64",
        DataType.Int32 => "int32",
        DataType.Int16 => "int16",
        DataType.Int8 => "int8",
        DataType.UInt8 => "uint8",
        DataType.UInt16 => "uint16",
        DataType.Bool => "bool",
        _ => throw new PeerKitException($"a calibration input of type {type}: the kit carries numeric tensors only. Leave this model out (--models)."),
    };

    private static DataType FromDtype(string dtype) => dtype switch
    {
        "float32" => DataType.Float,
        "float16" => DataType.Float16,
        "float64" => DataType.Double,
        "int64" => DataType.Int64,
        "int32" => DataType.Int32,
        "int16" => DataType.Int16,
        "int8" => DataType.Int8,
        "uint8" => DataType.UInt8,
        "uint16" => DataType.UInt16,
        "bool" => DataType.Bool,
        _ => throw new PeerKitException($"{ManifestFile}: dtype {dtype} is not one this build writes. Export the kit again."),
    };
}
