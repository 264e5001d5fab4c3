using System.IO.Compression;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Calibration;

/// <summary>
/// NumPy .npz archives (numpy.savez / savez_compressed: a zip of NAME.npy members) as one sample of a model with several
/// inputs: each member is the array for the input of that name.
/// </summary>
public static class NpzFile
{
    /// <summary>No calibration sample is this large; a member that claims more is refused before it is inflated.</summary>
    public const long MaxMemberBytes = 1L << 30;

    public static IReadOnlyDictionary<string, Tensor> Read(string path)
    {
        try
        {
            using var archive = ZipFile.OpenRead(path);
            var arrays = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var entry in archive.Entries)
            {
                if (entry.FullName.EndsWith('/')) continue;
                if (!entry.FullName.EndsWith(".npy", StringComparison.Ordinal))
                    throw Unreadable(path, $"member '{entry.FullName}' is not a .npy array (numpy.savez writes NAME.npy per array)");
                if (entry.Length > MaxMemberBytes)
                    throw Unreadable(path, $"member '{entry.FullName}' inflates to {entry.Length} bytes, more than the {MaxMemberBytes} a sample may hold");
                using var stream = entry.Open();
                using var buffer = new MemoryStream((int)entry.Length);
                stream.CopyTo(buffer);
                string name = entry.FullName[..^".npy".Length];
                if (!arrays.TryAdd(name, NpyFile.Parse(buffer.ToArray(), $"{path}:{entry.FullName}")))
                    throw Unreadable(path, $"holds '{entry.FullName}' twice");
            }
            if (arrays.Count == 0) throw Unreadable(path, "holds no arrays");
            return arrays;
        }
        catch (InvalidDataException e) { throw Unreadable(path, $"not a readable .npz (zip) archive: {e.Message}"); }
        catch (IOException e) { throw Unreadable(path, e.Message); }
    }

    /// <summary>Writes <paramref name="arrays"/> as numpy.savez does (stored, one NAME.npy member per array).</summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> arrays)
    {
        using var file = File.Create(path);
        using var archive = new ZipArchive(file, ZipArchiveMode.Create);
        foreach (var (name, tensor) in arrays)
        {
            using var member = archive.CreateEntry(name + ".npy", CompressionLevel.NoCompression).Open();
            member.Write(NpyFile.ToBytes(tensor));
        }
    }

    private static EdgeBuildException Unreadable(string path, string why) => new(DiagnosticCodes.CalibrationFileUnreadable, path, why);
}
