using EdgeBuild.Quantization.Calibration;

namespace EdgeBuild.Session;

/// <summary>
/// Which files calibrate and which are held out to measure accuracy: the Evaluation files when given; else every
/// 4th calibration file (from 8 files on), never used to calibrate. Every step of a build that calibrates or
/// measures uses this one split.
/// </summary>
public sealed record CalibrationSplit(IReadOnlyList<string> Calibration, IReadOnlyList<string> HeldOut)
{
    public static CalibrationSplit Of(CompileOptions options)
    {
        IReadOnlyList<string> calibration = options.Calibration.Count > 0 ? CalibrationFiles.Expand(options.Calibration) : [];
        IReadOnlyList<string> heldOut = options.Evaluation.Count > 0 ? CalibrationFiles.Expand(options.Evaluation) : [];
        if (heldOut.Count == 0 && calibration.Count >= 8)
        {
            heldOut = calibration.Where((_, i) => i % 4 == 3).ToList();
            calibration = calibration.Where((_, i) => i % 4 != 3).ToList();
        }
        return new CalibrationSplit(calibration, heldOut);
    }
}
