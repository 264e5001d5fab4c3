using EdgeBuild.Compile;
using EdgeBuild.Diagnostics;
using EdgeBuild.Onnx;
using EdgeBuild.Targets;
using EdgeBuild.Session;

namespace EdgeBuild.Cli;

/// <summary>
/// What <c>convert -o</c> names: a path ending in the extension of the target's one artifact (<c>.onnx</c>,
/// <c>.tflite</c>) is that file; anything else (and a TensorRT kit, several files) is a folder.
/// </summary>
internal static class ConvertOutput
{
    /// <summary>The file <paramref name="output"/> names, or null when it names a folder.</summary>
    public static string? FileFor(string input, string output, TargetKind target)
    {
        var suffixes = TargetWriters.For(target)!.FileSuffixes;
        if (suffixes.Count != 1 || !output.EndsWith(suffixes[0], StringComparison.OrdinalIgnoreCase)) return null;
        if (Path.GetFileName(output).Length == suffixes[0].Length)
            throw new EdgeBuildException(DiagnosticCodes.InvalidArgument, "-o", $"'{output}' has no file name before '{suffixes[0]}'. Name the file, e.g. model{suffixes[0]}");
        if (string.Equals(Path.GetFullPath(output), Path.GetFullPath(input), OperatingSystem.IsLinux() ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase))
            throw new EdgeBuildException(DiagnosticCodes.InvalidArgument, "-o", $"'{output}' is the model being converted. Write the result to another file");
        return output;
    }

    /// <summary>The base name of the artifacts written for <paramref name="file"/>: --name, else the file name as a class name.</summary>
    public static string NameFor(string file, string? name) =>
        name ?? CSharpNames.TypeName(Path.GetFileNameWithoutExtension(file));

    /// <summary>Copies the one artifact the convert wrote (in its own folder) to the file the user named, atomically.</summary>
    public static void Place(string artifact, string file)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(file)) is { } folder) Directory.CreateDirectory(folder);
        AtomicFile.Write(file, stream =>
        {
            using var source = File.OpenRead(artifact);
            source.CopyTo(stream);
        });
    }
}
