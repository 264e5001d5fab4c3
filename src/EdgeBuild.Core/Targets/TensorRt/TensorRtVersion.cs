using System.Globalization;
using EdgeBuild.Diagnostics;

namespace EdgeBuild.Targets.TensorRt;

/// <summary>A TensorRT release (major.minor.patch), as the kit targets it.</summary>
public readonly record struct TensorRtVersion(int Major, int Minor, int Patch) : IComparable<TensorRtVersion>
{
    /// <summary>Releases this EdgeBuild has an operator table for.</summary>
    public static readonly int[] KnownMajors = [8, 10, 11];

    /// <summary>
    /// The number TensorRT reports as its library version (NV_TENSORRT_VERSION, getInferLibVersion) and writes into
    /// calibration cache headers: major*1000 + minor*100 + patch up to TensorRT 9 (8.6.1 -> 8601), major*10000 +
    /// minor*100 + patch from TensorRT 10 on (10.3.0 -> 100300).
    /// </summary>
    public int LibraryNumber => Major >= 10 ? Major * 10000 + Minor * 100 + Patch : Major * 1000 + Minor * 100 + Patch;

    /// <summary>TensorRT 11 removed implicit (calibrator) quantization; up to 10 a calibration cache can drive it.</summary>
    public bool HasImplicitQuantization => Major <= 10;

    /// <summary>Version and hardware compatibility flags exist from TensorRT 8.6.</summary>
    public bool HasCompatibilityOptions => this >= new TensorRtVersion(8, 6, 0);

    public int CompareTo(TensorRtVersion other) =>
        Major != other.Major ? Major.CompareTo(other.Major) : Minor != other.Minor ? Minor.CompareTo(other.Minor) : Patch.CompareTo(other.Patch);

    public static bool operator >=(TensorRtVersion a, TensorRtVersion b) => a.CompareTo(b) >= 0;
    public static bool operator <=(TensorRtVersion a, TensorRtVersion b) => a.CompareTo(b) <= 0;
    public static bool operator >(TensorRtVersion a, TensorRtVersion b) => a.CompareTo(b) > 0;
    public static bool operator <(TensorRtVersion a, TensorRtVersion b) => a.CompareTo(b) < 0;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}.{Patch}");

    /// <summary>Parses "10.3", "10.3.0" or "8.6.1"; anything else, or a major without an operator table, is EB4202.</summary>
    public static TensorRtVersion Parse(string text)
    {
        var parts = (text ?? "").Trim().Split('.');
        var numbers = new int[3];
        bool ok = parts.Length is 2 or 3;
        for (int i = 0; ok && i < parts.Length; i++)
            ok = int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out numbers[i]) && numbers[i] < 100;
        if (!ok)
            throw new EdgeBuildException(DiagnosticCodes.InvalidTensorRtOption, "TensorRTVersion", $"'{text}' is not a TensorRT version (major.minor or major.minor.patch, e.g. 10.3)");
        var v = new TensorRtVersion(numbers[0], numbers[1], numbers[2]);
        if (!KnownMajors.Contains(v.Major))
            throw new EdgeBuildException(DiagnosticCodes.InvalidTensorRtOption, "TensorRTVersion",
                $"TensorRT {v} has no operator table in EdgeBuild (known: {string.Join(", ", KnownMajors.Select(m => m + ".x"))})");
        return v;
    }
}
