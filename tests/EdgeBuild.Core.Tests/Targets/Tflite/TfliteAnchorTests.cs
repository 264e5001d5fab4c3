using EdgeBuild.Targets.Tflite;
using EdgeBuild.Tests.Support;
using Xunit.Abstractions;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.Tflite;

/// <summary>
/// The sanity anchor: MediaPipe's own face_detection_short_range.tflite and our conversion of blazeface-front128.onnx
/// (the same network, exported to ONNX by tf2onnx) run in LiteRT on the same 20 photos must find the same faces:
/// the same best anchor, the same score and the same box.
/// </summary>
public class TfliteAnchorTests(ITestOutputHelper output)
{
    public sealed record AnchorComparison(int Photos, double MaxScoreDiff, double MaxRegressorDiff, double MaxRegressor, double MaxBestScoreDiff, double MaxBoxDiff,
        int SameBestAnchor, IReadOnlyList<string> Lines);

    /// <summary>Runs both models on the photos; returns the differences and one line per photo.</summary>
    public static AnchorComparison Compare(string tool, string data, TflitePrecision precision, int photoCount = 20)
    {
        var spec = RealModelSpec.Get("blazeface-front128");
        string mediapipe = Path.Combine(data, "tflite", "face_detection_short_range.tflite");
        var photos = spec.Photos(data, photoCount);
        var samples = new RealModelSamples(spec, photos, data).Samples().ToList();
        var model = TfliteHarness.OptimizedFloat(Path.Combine(data, "models", spec.Id + ".onnx"), spec);
        var (bytes, result) = TfliteHarness.Convert(model, precision);
        string work = Directory.CreateTempSubdirectory("edgebuild-tflite-anchor-").FullName;
        try
        {
            var ours = TfliteHarness.RunAll(tool, bytes, result, samples, Path.Combine(work, "ours"));
            var theirs = new IReadOnlyDictionary<string, Tensor>[samples.Count];
            Parallel.For(0, samples.Count, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i =>
                theirs[i] = TfliteRef.Run(tool, mediapipe, new Dictionary<string, Tensor> { ["input"] = samples[i][spec.InputName] }, Path.Combine(work, $"mp{i}")));
            double scoreDiff = 0, regDiff = 0, regMax = 0, bestScoreDiff = 0, boxDiff = 0;
            int sameAnchor = 0;
            var lines = new List<string>();
            for (int i = 0; i < samples.Count; i++)
            {
                var (s1, r1) = BlazeFace.Raw(ours[i]);
                var (s2, r2) = BlazeFace.Raw(theirs[i]);
                for (int k = 0; k < s1.Length; k++) scoreDiff = Math.Max(scoreDiff, Math.Abs(BlazeFace.Sigmoid(s1[k]) - BlazeFace.Sigmoid(s2[k])));
                for (int k = 0; k < r1.Length; k++)
                {
                    regDiff = Math.Max(regDiff, Math.Abs(r1[k] - r2[k]));
                    regMax = Math.Max(regMax, Math.Abs(r2[k]));
                }
                var a = BlazeFace.Best(ours[i]);
                var b = BlazeFace.Best(theirs[i]);
                if (a.Anchor == b.Anchor) sameAnchor++;
                bestScoreDiff = Math.Max(bestScoreDiff, Math.Abs(a.Score - b.Score));
                double box = new[] { a.CenterX - b.CenterX, a.CenterY - b.CenterY, a.Width - b.Width, a.Height - b.Height }.Max(Math.Abs);
                boxDiff = Math.Max(boxDiff, box);
                lines.Add(FormattableString.Invariant(
                    $"{Path.GetFileName(photos[i]),-28} MediaPipe anchor {b.Anchor,3} score {b.Score:F4} box ({b.CenterX:F3},{b.CenterY:F3},{b.Width:F3},{b.Height:F3})   ours anchor {a.Anchor,3} score {a.Score:F4} box ({a.CenterX:F3},{a.CenterY:F3},{a.Width:F3},{a.Height:F3})"));
            }
            return new AnchorComparison(samples.Count, scoreDiff, regDiff, regMax, bestScoreDiff, boxDiff, sameAnchor, lines);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [SkippableTheory]
    [InlineData(TflitePrecision.Fp32)]
    [InlineData(TflitePrecision.Fp16)]
    public void MediaPipeModelAndOurConversionFindTheSameFaces(TflitePrecision precision)
    {
        string tool = TfliteTool.Require();
        string data = TestData.Require();
        var c = Compare(tool, data, precision);
        foreach (var line in c.Lines) output.WriteLine(line);
        output.WriteLine(FormattableString.Invariant(
            $"{precision}: max |score diff| {c.MaxScoreDiff:E2} (after sigmoid, all 896 anchors), max |regressor diff| {c.MaxRegressorDiff:E2} of max {c.MaxRegressor:F1}, best face: same anchor on {c.SameBestAnchor}/{c.Photos}, score diff {c.MaxBestScoreDiff:E2}, box diff {c.MaxBoxDiff:E2}"));
        Assert.Equal(c.Photos, c.SameBestAnchor);
        Assert.True(c.MaxScoreDiff <= 1e-3, $"score diff {c.MaxScoreDiff:E2}");
        Assert.True(c.MaxBoxDiff <= 1e-3, $"box diff {c.MaxBoxDiff:E2}");
        Assert.True(c.MaxRegressorDiff <= 1e-3 * c.MaxRegressor, $"regressor diff {c.MaxRegressorDiff:E2}");
    }
}
