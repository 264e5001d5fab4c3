using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeBuild.Diagnostics;
using EdgeBuild.Onnx;
using EdgeBuild.Runtime.Updates;

namespace EdgeBuild.Packaging;

/// <summary>
/// Writes signed model packages (<c>.edgepkg</c>), their keys and channel files (docs/lifecycle.md). The format itself
/// (package.json, the COSE signature, the channel file) is defined once, in EdgeBuild.Runtime.Updates, which also reads it.
/// </summary>
public static class ModelPackager
{
    /// <summary>Every archive entry gets this time, so equal inputs give equal bytes (ZIP's earliest representable date).</summary>
    private static readonly DateTimeOffset FixedTime = new(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Regular file, rw-r--r--, in the upper half of ZIP's external attributes (what unzip restores on Unix).</summary>
    private const int FileAttributes = unchecked((int)(0x81A4u << 16));

    /// <summary>Writes a new P-256 key pair: <paramref name="privatePath"/> (PKCS#8 PEM, owner-only on Unix) and <paramref name="publicPath"/> (SubjectPublicKeyInfo PEM).</summary>
    /// <returns>The key id (hex) signatures will carry.</returns>
    public static string Keygen(string privatePath, string publicPath)
    {
        foreach (var p in new[] { privatePath, publicPath })
            if (File.Exists(p)) throw new EdgeBuildException(DiagnosticCodes.KeyFileExists, p, "exists already");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string privatePem = key.ExportPkcs8PrivateKeyPem() + "\n";
        AtomicFile.Write(privatePath, stream =>
        {
            if (!OperatingSystem.IsWindows() && stream is FileStream fs) File.SetUnixFileMode(fs.SafeFileHandle, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            stream.Write(System.Text.Encoding.ASCII.GetBytes(privatePem));
        });
        AtomicFile.WriteAllText(publicPath, key.ExportSubjectPublicKeyInfoPem() + "\n");
        return PackageSignature.KeyIdHex(key);
    }

    /// <summary>Reads a PEM key file; <paramref name="needPrivate"/> for signing.</summary>
    public static ECDsa ReadKey(string path, bool needPrivate)
    {
        if (!File.Exists(path)) throw new EdgeBuildException(DiagnosticCodes.SigningKeyInvalid, path, "not found");
        ECDsa key;
        try
        {
            key = PackageSignature.ReadKey(File.ReadAllText(path));
        }
        catch (ArgumentException e)
        {
            throw new EdgeBuildException(DiagnosticCodes.SigningKeyInvalid, path, e.Message, e);
        }
        if (needPrivate)
        {
            try
            {
                key.ExportParameters(includePrivateParameters: true);
            }
            catch (CryptographicException e)
            {
                key.Dispose();
                throw new EdgeBuildException(DiagnosticCodes.SigningKeyInvalid, path, "holds a public key only; signing needs the private key (.pem)", e);
            }
        }
        return key;
    }

    /// <summary>Packages the compiled model in <paramref name="folder"/> as <paramref name="version"/>, signed with <paramref name="key"/>.</summary>
    /// <returns>The signed package manifest.</returns>
    /// <param name="folder">The compiled model's folder: one .edgemodel.json and the artifacts it lists.</param>
    /// <param name="version">MAJOR.MINOR.PATCH.</param>
    /// <param name="key">The private P-256 signing key.</param>
    /// <param name="output">The .edgepkg file to write.</param>
    /// <param name="minRuntimeVersion">The oldest runtime that may load it (default: this runtime's version).</param>
    /// <param name="holdout">Held-out files (images, .npy, .npz) to record output statistics on, for drift monitoring on devices; none: no statistics.</param>
    public static PackageManifest Package(string folder, string version, ECDsa key, string output, string? minRuntimeVersion = null,
        IReadOnlyList<string>? holdout = null)
    {
        if (!SemanticVersion.TryParse(version, out var v))
            throw new EdgeBuildException(DiagnosticCodes.PackageVersionInvalid, version, "is not MAJOR.MINOR.PATCH");
        var minRuntime = SemanticVersion.Runtime;
        if (minRuntimeVersion is not null && !SemanticVersion.TryParse(minRuntimeVersion, out minRuntime))
            throw new EdgeBuildException(DiagnosticCodes.PackageVersionInvalid, minRuntimeVersion, "(the minimum runtime version) is not MAJOR.MINOR.PATCH");
        if (!Directory.Exists(folder)) throw new EdgeBuildException(DiagnosticCodes.PackageFolderInvalid, folder, "is not a folder");
        var manifests = Directory.GetFiles(folder, "*.edgemodel.json", SearchOption.TopDirectoryOnly);
        if (manifests.Length != 1)
            throw new EdgeBuildException(DiagnosticCodes.PackageFolderInvalid, folder,
                manifests.Length == 0 ? "holds no .edgemodel.json" : $"holds {manifests.Length} .edgemodel.json files ({string.Join(", ", manifests.Select(Path.GetFileName).Order(StringComparer.Ordinal))}); a package holds one model");
        string manifestPath = manifests[0];
        string manifestName = Path.GetFileName(manifestPath);

        var (name, inputs, outputs, artifacts, measured) = ReadModelManifest(manifestPath);
        var files = new List<PackageFile> { new(manifestName, Sha256(manifestPath), new FileInfo(manifestPath).Length) };
        foreach (var (path, sha, bytes) in artifacts)
        {
            string full = Path.Combine(folder, path.Replace('/', Path.DirectorySeparatorChar));
            if (!File.Exists(full)) throw new EdgeBuildException(DiagnosticCodes.PackageFolderInvalid, full, "is listed in the manifest but missing");
            string actual = Sha256(full);
            long length = new FileInfo(full).Length;
            if (sha is not null && (actual != sha || (bytes is { } b && b != length)))
                throw new EdgeBuildException(DiagnosticCodes.PackageArtifactChanged, full, $"has sha256 {actual} ({length} bytes), the manifest records {sha}");
            files.Add(new PackageFile(path, actual, length));
        }
        files.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));

        var package = new PackageManifest
        {
            Model = name, Version = v, MinRuntimeVersion = minRuntime, Inputs = inputs, Outputs = outputs,
            ModelManifest = manifestName, Files = files, Measured = measured,
            OutputStatistics = holdout is null ? null : HoldoutStatistics.Compute(folder, manifestPath, holdout),
        };
        byte[] json = package.ToJson();
        byte[] signature = PackageSignature.Sign(json, key);
        if (Path.GetDirectoryName(Path.GetFullPath(output)) is { } outputDirectory) Directory.CreateDirectory(outputDirectory);
        AtomicFile.Write(output, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            Add(zip, ModelPackage.ManifestEntry, s => s.Write(json));
            Add(zip, ModelPackage.SignatureEntry, s => s.Write(signature));
            foreach (var f in files)
            {
                string full = Path.Combine(folder, f.Path.Replace('/', Path.DirectorySeparatorChar));
                Add(zip, ModelPackage.ModelFolder + f.Path, s =>
                {
                    using var source = File.OpenRead(full);
                    source.CopyTo(s);
                });
            }
        });
        return package;
    }

    /// <summary>Writes <c>&lt;channel&gt;.json</c> beside <paramref name="packagePath"/>, pointing the channel at it.</summary>
    /// <param name="packagePath">The package, already where the server serves it.</param>
    /// <param name="channel">The channel's name (the file name without .json).</param>
    /// <param name="rollback">Whether devices on a newer version may go back to this one.</param>
    /// <param name="rolloutPercent">The share of devices offered the version (0 to 100), each device's place fixed by a hash of its id.</param>
    /// <param name="key">
    /// Signs the channel file (docs/lifecycle.md), with a sequence above the previous file's and not below the Unix time in
    /// seconds, so a publisher without the old file (a fresh CI checkout) still moves forward; <see langword="null"/>: unsigned.
    /// </param>
    public static (string Path, ChannelManifest Channel) Publish(string packagePath, string channel, bool rollback, double rolloutPercent = 100, ECDsa? key = null)
    {
        if (!ChannelManifest.IsValidName(channel)) throw new EdgeBuildException(DiagnosticCodes.ChannelNameInvalid, channel, "is not a valid channel name");
        if (!ChannelManifest.IsValidPercent(rolloutPercent))
            throw new EdgeBuildException(DiagnosticCodes.ChannelNameInvalid, channel, $"rollout share {rolloutPercent.ToString(System.Globalization.CultureInfo.InvariantCulture)} is not between 0 and 100 percent");
        PackageManifest manifest;
        try
        {
            using var zip = ZipFile.OpenRead(packagePath);
            var entry = zip.GetEntry(ModelPackage.ManifestEntry) ?? throw new ModelUpdateException(UpdateFailure.Malformed, "it has no package.json");
            using var s = entry.Open();
            using var copy = new MemoryStream();
            s.CopyTo(copy);
            manifest = PackageManifest.Parse(copy.ToArray());
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ModelUpdateException)
        {
            throw new EdgeBuildException(DiagnosticCodes.PackageVerificationFailed, packagePath, $"is not a model package ({e.Message})", e);
        }
        string path = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(packagePath))!, channel + ".json");
        long sequence = 0;
        if (key is not null)
        {
            long previous = 0;
            if (File.Exists(path))
            {
                try { previous = ChannelManifest.Parse(File.ReadAllBytes(path), path).Sequence; }
                catch (ModelUpdateException) { } // an unreadable old file is replaced; the clock still moves the sequence forward
            }
            sequence = Math.Max(previous + 1, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        }
        var result = new ChannelManifest(channel, manifest.Model, manifest.Version, Path.GetFileName(packagePath), Sha256(packagePath), new FileInfo(packagePath).Length,
            rollback, rolloutPercent, sequence);
        DateTime? previousWrite = File.Exists(path) ? File.GetLastWriteTimeUtc(path) : null;
        AtomicFile.WriteAllBytes(path, key is null ? result.ToJson() : result.ToSignedJson(key));
        KeepETagMoving(path, previousWrite);
        return (path, result with { IsSigned = key is not null, SignedBy = key is null ? null : PackageSignature.KeyIdHex(key) });
    }

    /// <summary>
    /// nginx and ASP.NET Core's static files derive a file's ETag from its modification time in whole seconds and its
    /// length, and a new channel file often has the old one's length (1.1.0 to 1.2.0): published twice within one second,
    /// the server would answer a device's If-None-Match with 304 and the device would miss the new version until the
    /// next publish. So the channel file's time moves at least one second past the file it replaces.
    /// </summary>
    private static void KeepETagMoving(string path, DateTime? previousWrite)
    {
        if (previousWrite is not { } previous) return;
        static long Seconds(DateTime t) => t.Ticks / TimeSpan.TicksPerSecond;
        if (Seconds(File.GetLastWriteTimeUtc(path)) <= Seconds(previous))
            File.SetLastWriteTimeUtc(path, new DateTime((Seconds(previous) + 1) * TimeSpan.TicksPerSecond, DateTimeKind.Utc));
    }

    private static void Add(ZipArchive zip, string name, Action<Stream> write)
    {
        // Stored, not deflated: the bytes then depend on no compressor version, and ONNX weights barely compress.
        var entry = zip.CreateEntry(name, CompressionLevel.NoCompression);
        entry.LastWriteTime = FixedTime;
        entry.ExternalAttributes = FileAttributes;
        using var s = entry.Open();
        write(s);
    }

    private static (string Name, List<PackageTensor> Inputs, List<PackageTensor> Outputs, List<(string Path, string? Sha256, long? Bytes)> Artifacts, PackageMeasurement? Measured)
        ReadModelManifest(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var r = doc.RootElement;
            string name = r.GetProperty("name").GetString()!;
            var artifacts = new List<(string, string?, long?)>();
            foreach (var a in r.GetProperty("artifacts").EnumerateArray())
            {
                string p = PackageManifest.SafePath(a.GetProperty("path").GetString()!);
                artifacts.Add((p, a.TryGetProperty("sha256", out var h) ? h.GetString() : null, a.TryGetProperty("bytes", out var b) ? b.GetInt64() : null));
            }
            return (name, Tensors(r.GetProperty("inputs")), Tensors(r.GetProperty("outputs")), artifacts, Measured(r));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or ModelUpdateException)
        {
            throw new EdgeBuildException(DiagnosticCodes.PackageFolderInvalid, path, $"is not a model manifest ({e.Message})", e);
        }
    }

    private static List<PackageTensor> Tensors(JsonElement array) => array.EnumerateArray().Select(t => new PackageTensor(
        t.GetProperty("name").GetString()!, t.GetProperty("elementType").GetString()!,
        t.GetProperty("shape").ValueKind == JsonValueKind.Array
            ? t.GetProperty("shape").EnumerateArray().Select(d => d.ValueKind switch
            {
                JsonValueKind.Number => new PackageDim(d.GetInt64(), null),
                JsonValueKind.String => new PackageDim(null, d.GetString()),
                _ => new PackageDim(null, null),
            }).ToList()
            : [])).ToList();

    /// <summary>The ONNX artifact's P50/P99 from the manifest's measurement (docs/measurement.md), when the build measured it.</summary>
    private static PackageMeasurement? Measured(JsonElement root)
    {
        if (!root.TryGetProperty("metrics", out var metrics) || !metrics.TryGetProperty("artifacts", out var list) || list.ValueKind != JsonValueKind.Array)
            return null;
        string machine = metrics.TryGetProperty("machine", out var m) && m.TryGetProperty("id", out var id) ? id.GetString() ?? "" : "";
        foreach (var a in list.EnumerateArray())
        {
            if (!a.TryGetProperty("target", out var target) || target.GetString() != "Onnx") continue;
            if (!a.TryGetProperty("measured", out var measured) || measured.ValueKind != JsonValueKind.True) continue;
            if (!a.TryGetProperty("p50Ms", out var p50) || !a.TryGetProperty("p99Ms", out var p99)) continue;
            return new PackageMeasurement(a.GetProperty("path").GetString()!, p50.GetProperty("value").GetDouble(), p99.GetProperty("value").GetDouble(), machine);
        }
        return null;
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
    }
}
