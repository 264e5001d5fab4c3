using EdgeBuild.Diagnostics;
using EdgeBuild.Onnx;
using Microsoft.Extensions.FileSystemGlobbing;
using Microsoft.Extensions.FileSystemGlobbing.Abstractions;

namespace EdgeBuild.Quantization.Calibration;

/// <summary>Turns calibration arguments (files, folders, wildcards) into a sorted list of files.</summary>
public static class CalibrationFiles
{
    private static readonly HashSet<string> Known = new(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".npy", ".npz" };

    /// <summary>
    /// A folder gives its image, .npy and .npz files; a wildcard (<c>*</c> and <c>?</c> within a name, <c>**</c> for any
    /// folders below, in the file name or in folder names: <c>photos/**/*.jpg</c>, <c>runs/day*/*.png</c>) the files it
    /// matches, EB3008 when none; a plain path must exist (EB3002). Nothing at all is EB3008. Order is by path, so runs repeat.
    /// </summary>
    public static IReadOnlyList<string> Expand(IEnumerable<string> arguments)
    {
        var files = new List<string>();
        foreach (var argument in arguments)
        {
            if (Directory.Exists(argument))
            {
                files.AddRange(Directory.GetFiles(argument).Where(f => Known.Contains(Path.GetExtension(f))).Order(StringComparer.Ordinal));
                continue;
            }
            if (argument.IndexOfAny(Wildcards) >= 0)
            {
                var matched = Match(argument);
                if (matched.Count == 0)
                    throw new EdgeBuildException(DiagnosticCodes.CalibrationNoMatch, argument, "no file matches it");
                files.AddRange(matched);
                continue;
            }
            if (!File.Exists(argument)) throw new EdgeBuildException(DiagnosticCodes.CalibrationFileMissing, argument, "calibration file does not exist");
            files.Add(argument);
        }
        if (files.Count == 0)
            throw new EdgeBuildException(DiagnosticCodes.CalibrationNoMatch, string.Join(";", arguments), "the folders hold no image, .npy or .npz file");
        return files.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// The files a wildcard argument matches, sorted by path: the folders before the first wildcard are the root
    /// (kept as written, so relative arguments give relative paths), the rest the pattern.
    /// </summary>
    private static List<string> Match(string argument)
    {
        int cut = argument.LastIndexOfAny(Separators, argument.IndexOfAny(Wildcards));
        string root = cut < 0 ? "." : cut == 0 ? argument[..1] : argument[..cut];
        // "C:\*.png": "C:" alone would be the drive's current folder, not its root.
        if (root.EndsWith(':')) root += Path.DirectorySeparatorChar;
        string pattern = string.Join('/', argument[(cut + 1)..].Split(Separators));
        if (!Directory.Exists(root)) return [];
        // Windows and macOS file systems ignore case by default, as Directory.GetFiles does there; Linux's do not.
        var comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        // FileSystemGlobbing knows * and ** but takes ? literally: it walks the folders for ? as * and the pattern then decides.
        var matcher = new Matcher(comparison);
        matcher.AddInclude(pattern.Replace('?', '*'));
        PatternMatchingResult result;
        try
        {
            result = matcher.Execute(new DirectoryInfoWrapper(new DirectoryInfo(root)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A folder below the root that cannot be listed (no permission, removed while walking): one line, not a stack trace.
            throw new EdgeBuildException(DiagnosticCodes.CalibrationNoMatch, argument, $"a folder it walks cannot be read ({e.Message})");
        }
        var exact = pattern.Contains('?') ? GlobPattern.ToRegex(pattern, comparison == StringComparison.OrdinalIgnoreCase) : null;
        return result.Files.Select(f => f.Path)
            .Where(p => exact is null || exact.IsMatch(p))
            .Select(p => Path.Combine(root, p.Replace('/', Path.DirectorySeparatorChar)))
            .Order(StringComparer.Ordinal).ToList();
    }

    private static readonly char[] Wildcards = ['*', '?'];
    private static readonly char[] Separators = Path.DirectorySeparatorChar == '/' ? ['/'] : [Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar];
}
