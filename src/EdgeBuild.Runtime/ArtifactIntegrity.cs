using System.Security.Cryptography;

namespace EdgeBuild.Runtime;

/// <summary>
/// The check every load makes: the artifact's bytes hash to the sha256 its manifest recorded at build time, so a
/// file changed after the build (a partial copy, a disk error, an edit) fails here with its name instead of running.
/// </summary>
internal static class ArtifactIntegrity
{
    /// <exception cref="InvalidDataException">The file's sha256 differs from the recorded one.</exception>
    public static void Check(string modelName, EdgeArtifact artifact, string path)
    {
        if (artifact.Sha256 is not { } expected) return;
        string actual = Sha256Of(path);
        if (!string.Equals(actual, expected, StringComparison.Ordinal))
            throw new InvalidDataException(
                $"model '{modelName}': the artifact {path} has sha256 {actual}, its manifest records {expected}: the file changed after the build. Restore it from the build output, or rebuild.");
    }

    /// <summary>A file's sha256 as 64 lower-case hex digits.</summary>
    public static string Sha256Of(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
    }
}
