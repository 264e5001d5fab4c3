using EdgeBuild.Diagnostics;

namespace EdgeBuild.Quantization.Calibration;

/// <summary>Turns calibration arguments (files, folders, wildcards) into a sorted list of files.</summary>
public static class CalibrationFiles
{
    private static readonly HashSet<string> Known = new(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".npy", ".npz" };

    /// <summary>
    /// A folder gives its image, .npy and .npz files; a wildcard (* or ? in the file name) the files it matches;
    /// a plain path must exist (EB3002). Nothing at all is EB3006. Order is by path, so runs repeat.
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
            string name = Path.GetFileName(argument);
            if (name.Contains('*') || name.Contains('?'))
            {
                string dir = Path.GetDirectoryName(argument) is { Length: > 0 } d ? d : ".";
                var matched = Directory.Exists(dir) ? Directory.GetFiles(dir, name).Order(StringComparer.Ordinal).ToList() : [];
                if (matched.Count == 0) throw new EdgeBuildException(DiagnosticCodes.CalibrationNoMatch, argument, "the pattern matched no files");
                files.AddRange(matched);
                continue;
            }
            if (!File.Exists(argument)) throw new EdgeBuildException(DiagnosticCodes.CalibrationFileMissing, argument, "calibration file does not exist");
            files.Add(argument);
        }
        if (files.Count == 0)
            throw new EdgeBuildException(DiagnosticCodes.CalibrationNoMatch, string.Join(";", arguments), "no calibration files were found");
        return files.Distinct(StringComparer.Ordinal).ToList();
    }
}
