using EdgeBuild.Tests.Support;
using Xunit.Abstractions;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.Families;

/// <summary>
/// M-LSD (MobileNetV2 encoder with ReLU6 as Clip, a Resize decoder, a 4-channel NHWC input) on street/building.jpg,
/// a facade full of straight edges: the input is the photo squashed to 320 x 320, RGB 0..255 and a fourth channel of
/// ones (jp.keijiro.mlsd's Preprocess.compute; its row flip only undoes Unity's bottom-up textures). `scores` is the
/// line-centre map on a 160 x 160 grid, `offsets` the displacements of each centre's two end points. Lines are read as
/// navervision's pred_lines reads them: a centre above the score threshold whose segment is long enough. A flat grey
/// image is the negative: no lines there. The optimized model must agree with the shipped one within 1e-4.
/// </summary>
public class LineDetectionTests(ITestOutputHelper output)
{
    private const int Input = 320;
    private const int Grid = 160;

    public static TheoryData<string> Models => new("mlsd-tiny-320", "mlsd-large-320");

    [SkippableTheory]
    [MemberData(nameof(Models))]
    public void FindsTheStrongLinesOfABuilding_OptimizedAgrees(string id)
    {
        string photo = TestData.RequireFile(Path.Combine("photos", "street", "building.jpg"));
        using var model = FamilyModel.Load(id);
        output.WriteLine(model.Summary);

        var building = Feed(PhotoPixels.Rgb(photo, Input, Input));
        var grey = Feed(Enumerable.Repeat((byte)128, Input * Input * 3).ToArray());
        var agreement = new FamilyModel.Agreement();
        var (buildingA, buildingB) = model.Run(building);
        var (greyA, greyB) = model.Run(grey);
        agreement.Add(buildingA, buildingB);
        agreement.Add(greyA, greyB);

        foreach (var (name, outputs) in new[] { ("original", buildingA), ("optimized", buildingB) })
        {
            float maxScore = outputs["scores"].ToFloats().Max();
            var lines = Lines(outputs, 0.2f, 10f);
            output.WriteLine($"  {name} on building.jpg: max centre score {maxScore:F3}, {lines.Count} lines with score > 0.2 and length >= 20 px (at 320), longest {(lines.Count > 0 ? lines.Max(l => l.Length) * 2 : 0):F0} px");
            Assert.True(maxScore >= 0.5, $"{id} ({name}): max centre score {maxScore:F3} on building.jpg, expected >= 0.5");
            Assert.True(lines.Count >= 20, $"{id} ({name}): {lines.Count} strong lines on building.jpg, expected >= 20");
        }
        float greyMax = greyA["scores"].ToFloats().Max();
        int greyLines = Lines(greyA, 0.2f, 10f).Count;
        output.WriteLine($"  flat grey: max centre score {greyMax:F3}, {greyLines} lines");
        Assert.True(greyMax < 0.2 && greyLines == 0, $"{id}: a flat grey image gives max centre score {greyMax:F3} and {greyLines} lines, expected none");

        output.WriteLine($"  optimized vs original: worst max|diff|/max|out| {agreement.WorstRelative:G3} (absolute {agreement.WorstAbsolute:G3})");
        agreement.AssertRelative(id, 1e-4);
    }

    private static Dictionary<string, Tensor> Feed(byte[] rgb)
    {
        var data = new float[Input * Input * 4];
        for (int i = 0; i < Input * Input; i++)
        {
            data[i * 4] = rgb[i * 3];
            data[i * 4 + 1] = rgb[i * 3 + 1];
            data[i * 4 + 2] = rgb[i * 3 + 2];
            data[i * 4 + 3] = 1f;
        }
        return new() { ["input_image_with_alpha:0"] = Tensor.FromFloats([1, Input, Input, 4], data) };
    }

    private readonly record struct Line(float X0, float Y0, float X1, float Y1, float Score)
    {
        public float Length => MathF.Sqrt((X1 - X0) * (X1 - X0) + (Y1 - Y0) * (Y1 - Y0));
    }

    /// <summary>Centres above <paramref name="minScore"/> that are the highest in their 3 x 3 neighbourhood, as segments of at least <paramref name="minLength"/> grid cells.</summary>
    private static List<Line> Lines(IReadOnlyDictionary<string, Tensor> outputs, float minScore, float minLength)
    {
        var scores = outputs["scores"].ToFloats();
        var offsets = outputs["offsets"].ToFloats();
        Assert.Equal(Grid * Grid, scores.Length);
        Assert.Equal(Grid * Grid * 4, offsets.Length);
        Assert.True(scores.All(float.IsFinite) && offsets.All(float.IsFinite), "non-finite M-LSD outputs");
        var lines = new List<Line>();
        for (int y = 0; y < Grid; y++)
            for (int x = 0; x < Grid; x++)
            {
                float s = scores[y * Grid + x];
                if (s <= minScore) continue;
                bool peak = true;
                for (int dy = -1; dy <= 1 && peak; dy++)
                    for (int dx = -1; dx <= 1 && peak; dx++)
                    {
                        int yy = y + dy, xx = x + dx;
                        if ((dx, dy) != (0, 0) && yy is >= 0 and < Grid && xx is >= 0 and < Grid && scores[yy * Grid + xx] > s) peak = false;
                    }
                if (!peak) continue;
                int o = (y * Grid + x) * 4;
                var line = new Line(x + offsets[o], y + offsets[o + 1], x + offsets[o + 2], y + offsets[o + 3], s);
                if (line.Length >= minLength) lines.Add(line);
            }
        return lines;
    }
}
