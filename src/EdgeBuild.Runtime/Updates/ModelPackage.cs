using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;

namespace EdgeBuild.Runtime.Updates;

/// <summary>
/// A verified <c>.edgepkg</c> (docs/lifecycle.md): a ZIP archive holding <c>package.json</c>, its COSE_Sign1 signature
/// <c>package.sig.cose</c> and the model's files under <c>model/</c>. Verifying checks the signature against pinned keys,
/// then every file against the sha256 and size the signed manifest records, and that nothing unlisted is in the archive.
/// </summary>
public sealed class ModelPackage
{
    public const string ManifestEntry = "package.json";
    public const string SignatureEntry = "package.sig.cose";
    public const string ModelFolder = "model/";

    /// <summary>package.json is small; a larger one is not a package (and is not read into memory whole).</summary>
    private const long MaxManifestBytes = 4 << 20;

    private readonly string path;

    private ModelPackage(string path, PackageManifest manifest, string signedBy, byte[] manifestBytes, byte[] signature)
    {
        this.path = path;
        Manifest = manifest;
        SignedBy = signedBy;
        ManifestBytes = manifestBytes;
        Signature = signature;
    }

    /// <summary>The signed package manifest.</summary>
    public PackageManifest Manifest { get; }

    /// <summary>The id (hex) of the trusted key whose signature verified.</summary>
    public string SignedBy { get; }

    internal byte[] ManifestBytes { get; }

    internal byte[] Signature { get; }

    /// <summary>Opens and verifies a package file.</summary>
    /// <exception cref="ModelUpdateException">A check failed; <see cref="ModelUpdateException.Reason"/> says which.</exception>
    public static ModelPackage Verify(string path, IReadOnlyList<ECDsa> trustedKeys)
    {
        using var archive = Open(path);
        var entries = Entries(archive);
        byte[] manifestBytes = ReadSmall(Required(entries, ManifestEntry));
        byte[] signature = ReadSmall(Required(entries, SignatureEntry));
        string signedBy = PackageSignature.Verify(signature, manifestBytes, trustedKeys);
        var manifest = PackageManifest.Parse(manifestBytes);
        var listed = manifest.Files.ToDictionary(f => ModelFolder + f.Path, StringComparer.Ordinal);
        foreach (var name in entries.Keys)
            if (name is not ManifestEntry and not SignatureEntry && !listed.ContainsKey(name))
                throw new ModelUpdateException(UpdateFailure.HashMismatch, $"{path}: '{name}' is in the archive but not in the signed package.json");
        foreach (var (name, file) in listed)
        {
            if (!entries.TryGetValue(name, out var entry))
                throw new ModelUpdateException(UpdateFailure.HashMismatch, $"{path}: '{name}' is listed in package.json but missing from the archive");
            using var stream = entry.Open();
            CheckStream(stream, file, name, path, null);
        }
        return new ModelPackage(path, manifest, signedBy, manifestBytes, signature);
    }

    /// <summary>
    /// Writes the package's files under <paramref name="directory"/> (<c>package.json</c>, the signature, and <c>model/…</c>),
    /// hashing each again as it is written, so what lands on disk is exactly what was verified.
    /// </summary>
    public void ExtractTo(string directory)
    {
        Directory.CreateDirectory(Path.Combine(directory, "model"));
        File.WriteAllBytes(Path.Combine(directory, ManifestEntry), ManifestBytes);
        File.WriteAllBytes(Path.Combine(directory, SignatureEntry), Signature);
        using var archive = Open(path);
        var entries = Entries(archive);
        foreach (var file in Manifest.Files)
        {
            string target = Path.Combine(directory, "model", file.Path.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            using var source = Required(entries, ModelFolder + file.Path).Open();
            using var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            CheckStream(source, file, ModelFolder + file.Path, path, output);
            output.Flush(flushToDisk: true);
        }
    }

    /// <summary>
    /// Verifies a folder <see cref="ExtractTo"/> wrote (at every start, before the version serves again): the signature,
    /// and every file's sha256 and size.
    /// </summary>
    public static PackageManifest VerifyExtracted(string directory, IReadOnlyList<ECDsa> trustedKeys)
    {
        byte[] manifestBytes, signature;
        try
        {
            manifestBytes = File.ReadAllBytes(Path.Combine(directory, ManifestEntry));
            signature = File.ReadAllBytes(Path.Combine(directory, SignatureEntry));
        }
        catch (IOException e)
        {
            throw new ModelUpdateException(UpdateFailure.Malformed, $"{directory}: the staged version is incomplete ({e.Message})", e);
        }
        PackageSignature.Verify(signature, manifestBytes, trustedKeys);
        var manifest = PackageManifest.Parse(manifestBytes);
        foreach (var file in manifest.Files)
        {
            string local = Path.Combine(directory, "model", file.Path.Replace('/', Path.DirectorySeparatorChar));
            try
            {
                using var stream = new FileStream(local, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
                CheckStream(stream, file, file.Path, directory, null);
            }
            catch (FileNotFoundException e)
            {
                throw new ModelUpdateException(UpdateFailure.HashMismatch, $"{directory}: '{file.Path}' is missing", e);
            }
        }
        return manifest;
    }

    /// <summary>
    /// The description the runtime loads a packaged version with: the generated class's tensors (which the interface check
    /// has matched) and the package's artifacts, each with the sha256 its <c>.edgemodel.json</c> records.
    /// </summary>
    /// <returns>The description and the folder its artifact paths are relative to.</returns>
    public static (EdgeModelDescription Description, string Directory) Describe(string extractedDirectory, PackageManifest manifest, EdgeModelDescription model)
    {
        string manifestPath = Path.Combine(extractedDirectory, "model", manifest.ModelManifest.Replace('/', Path.DirectorySeparatorChar));
        using var doc = JsonDocument.Parse(File.ReadAllBytes(manifestPath));
        var artifacts = new List<EdgeArtifact>();
        foreach (var a in doc.RootElement.GetProperty("artifacts").EnumerateArray())
        {
            string artifactPath = a.GetProperty("path").GetString()!;
            string target = a.GetProperty("target").GetString()!;
            string precision = a.TryGetProperty("precision", out var p) ? p.GetString() ?? "" : "";
            artifacts.Add(a.TryGetProperty("sha256", out var h) && h.GetString() is { } sha
                ? new EdgeArtifact(artifactPath, target, precision, sha)
                : new EdgeArtifact(artifactPath, target, precision));
        }
        var description = new EdgeModelDescription(model.Name, [.. model.Inputs], [.. model.Outputs], [.. model.Symbols], [.. artifacts], model.DefaultProvider);
        return (description, Path.GetDirectoryName(manifestPath)!);
    }

    private static ZipArchive Open(string path)
    {
        try
        {
            return new ZipArchive(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read), ZipArchiveMode.Read);
        }
        catch (InvalidDataException e)
        {
            throw new ModelUpdateException(UpdateFailure.Malformed, $"{path}: not a model package (not a ZIP archive: {e.Message})", e);
        }
    }

    private static Dictionary<string, ZipArchiveEntry> Entries(ZipArchive archive)
    {
        var entries = new Dictionary<string, ZipArchiveEntry>(StringComparer.Ordinal);
        foreach (var e in archive.Entries)
        {
            if (e.FullName.EndsWith('/')) continue;
            if (!entries.TryAdd(e.FullName, e))
                throw new ModelUpdateException(UpdateFailure.Malformed, $"the archive holds '{e.FullName}' twice");
        }
        return entries;
    }

    private static ZipArchiveEntry Required(Dictionary<string, ZipArchiveEntry> entries, string name) =>
        entries.TryGetValue(name, out var e) ? e : throw new ModelUpdateException(
            name == SignatureEntry ? UpdateFailure.BadSignature : UpdateFailure.Malformed, $"the package has no {name}");

    private static byte[] ReadSmall(ZipArchiveEntry entry)
    {
        if (entry.Length > MaxManifestBytes)
            throw new ModelUpdateException(UpdateFailure.Malformed, $"{entry.FullName} is {entry.Length} bytes; the format keeps it under {MaxManifestBytes}");
        using var stream = entry.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static void CheckStream(Stream stream, PackageFile file, string name, string where, Stream? copyTo)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 16];
        long total = 0;
        int n;
        while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            total += n;
            // A file longer than recorded is refused as soon as it is, not after reading it all.
            if (total > file.Bytes)
                throw new ModelUpdateException(UpdateFailure.HashMismatch, $"{where}: '{name}' is longer than the {file.Bytes} bytes package.json records");
            hash.AppendData(buffer, 0, n);
            copyTo?.Write(buffer, 0, n);
        }
        string actual = Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
        if (total != file.Bytes || actual != file.Sha256)
            throw new ModelUpdateException(UpdateFailure.HashMismatch,
                $"{where}: '{name}' has sha256 {actual} ({total} bytes), the signed package.json records {file.Sha256} ({file.Bytes} bytes): the file was changed after signing");
    }
}
