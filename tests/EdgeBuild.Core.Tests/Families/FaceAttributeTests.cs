using EdgeBuild.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using SkiaSharp;
using Xunit.Abstractions;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.Families;

/// <summary>
/// Face attributes on face crops of the faces photo set, cropped as faceplugin-face-recognition-js does it
/// (lib/fr_age.js, lib/fr_liveness.js: the detector's box grown about its centre, kept inside the photo): SSR-Net age
/// (IR 4, initializers listed as graph inputs, Conv->BN, subnormal weights) on the box grown 1.4x at 64 x 64 with
/// ImageNet mean/std, the age merged from its three stages as mergeAge(..., 3, 3, 3, 1, 1) x 101; MiniFASNet liveness
/// (squeeze-excitation, PRelu) on the box grown 2.7x at 128 x 128, raw RGB 0..255, softmax over 3 classes (1 = real). The boxes
/// come from BlazeFace (the pinned blazeface-front128; the package uses its own detector, fr_detect). Both models must
/// give finite, plausible outputs that depend on the face, and the optimized models the same within 1e-4.
/// </summary>
public class FaceAttributeTests(ITestOutputHelper output)
{
    private static readonly float[] Mean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] Std = [0.229f, 0.224f, 0.225f];

    [SkippableFact]
    public void AgeIsPlausibleOnFaceCrops_OptimizedAgrees()
    {
        var faces = FaceBoxes();
        using var model = FamilyModel.Load("face-age-ssrnet");
        output.WriteLine(model.Summary);
        var agreement = new FamilyModel.Agreement();
        var ages = new List<double>();
        foreach (var (photo, box) in faces)
        {
            var feed = new Dictionary<string, Tensor> { ["input"] = Chw(PhotoPixels.Rgb(photo, 64, 64, Grow(photo, box, 1.4f)), 64, (v, c) => (v / 255f - Mean[c]) / Std[c]) };
            var (a, b) = model.Run(feed);
            agreement.Add(a, b);
            Assert.All(a.Values, t => Assert.True(FamilyModel.AllFinite(t), $"non-finite age output on {Path.GetFileName(photo)}"));
            double age = MergeAge(a);
            double ageOptimized = MergeAge(b);
            Assert.True(Math.Abs(age - ageOptimized) <= 1e-3, $"{Path.GetFileName(photo)}: age {age:F3} from the original, {ageOptimized:F3} from the optimized model");
            ages.Add(age);
            output.WriteLine($"  {Path.GetFileName(photo)}: age {age:F1}");
        }
        double mean = ages.Average(), sd = Math.Sqrt(ages.Average(a => (a - mean) * (a - mean)));
        output.WriteLine($"  {ages.Count} faces: age {ages.Min():F1} .. {ages.Max():F1}, mean {mean:F1}, sd {sd:F1}");
        output.WriteLine($"  optimized vs original: worst max|diff|/max|out| {agreement.WorstRelative:G3} (absolute {agreement.WorstAbsolute:G3})");
        // Adults' faces (celebrities, the franck sequence): an age of a grown person for each, not one number for all.
        Assert.All(ages, a => Assert.InRange(a, 12, 90));
        Assert.True(sd >= 2, $"ages vary by only {sd:F2} years over {ages.Count} different faces");
        agreement.AssertRelative(model.Id, 1e-4);
    }

    [SkippableFact]
    public void LivenessIsPlausibleOnFaceCrops_OptimizedAgrees()
    {
        var faces = FaceBoxes();
        using var model = FamilyModel.Load("face-liveness");
        output.WriteLine(model.Summary);
        var agreement = new FamilyModel.Agreement();
        var probabilities = new List<float[]>();
        foreach (var (photo, box) in faces)
        {
            var feed = new Dictionary<string, Tensor> { ["input"] = Chw(PhotoPixels.Rgb(photo, 128, 128, Grow(photo, box, 2.7f)), 128, (v, _) => v) };
            var (a, b) = model.Run(feed);
            agreement.Add(a, b);
            var logits = a["output"].ToFloats();
            Assert.Equal(3, logits.Length);
            Assert.True(logits.All(float.IsFinite), $"non-finite liveness logits on {Path.GetFileName(photo)}");
            var p = Softmax(logits);
            Assert.Equal(ArgMax(logits), ArgMax(b["output"].ToFloats()));
            probabilities.Add(p);
            output.WriteLine($"  {Path.GetFileName(photo)}: softmax {string.Join(" ", p.Select(v => v.ToString("F3")))}");
        }
        var classes = Enumerable.Range(0, 3).Select(k => probabilities.Count(p => ArgMax(p) == k)).ToList();
        double spread = Enumerable.Range(0, 3).Max(k => probabilities.Max(p => p[k]) - probabilities.Min(p => p[k]));
        output.WriteLine($"  {probabilities.Count} faces: argmax counts {string.Join(", ", classes)}; largest spread of one class's probability {spread:F3}");
        output.WriteLine($"  optimized vs original: worst max|diff|/max|out| {agreement.WorstRelative:G3} (absolute {agreement.WorstAbsolute:G3})");
        Assert.True(spread >= 0.05, $"the liveness probabilities barely depend on the face (largest spread {spread:F3})");
        // Class 1 is a real face in MiniFASNet's training labels (Silent-Face-Anti-Spoofing; 0 and 2 are kinds of spoof);
        // these are camera photos of real people, so most must come out real.
        Assert.True(classes[1] >= probabilities.Count * 2 / 3, $"only {classes[1]} of {probabilities.Count} real faces classed as real (class 1)");
        agreement.AssertRelative(model.Id, 1e-4);
    }

    /// <summary>The faces photos with the best BlazeFace box of each (pixels: x, y, w, h), where it scores at least 0.5.</summary>
    private List<(string Photo, SKRect Box)> FaceBoxes()
    {
        var spec = RealModelSpec.Get("blazeface-front128");
        using var options = Ort.Options();
        using var detector = new InferenceSession(TestData.Model(spec.Id), options);
        var result = new List<(string, SKRect)>();
        var photos = Directory.GetFiles(TestData.Photos("faces")).Order(StringComparer.Ordinal).ToList();
        foreach (var photo in photos)
        {
            var face = BlazeFace.Best(Ort.Run(detector, new Dictionary<string, Tensor> { [spec.InputName] = spec.Load(photo) }));
            if (face.Score < 0.5f) continue;
            var (w, h) = PhotoPixels.Size(photo);
            result.Add((photo, SKRect.Create((face.CenterX - face.Width / 2) * w, (face.CenterY - face.Height / 2) * h, face.Width * w, face.Height * h)));
        }
        output.WriteLine($"BlazeFace found a face (score >= 0.5) in {result.Count} of {photos.Count} faces photos");
        Assert.True(result.Count >= photos.Count * 3 / 4, $"BlazeFace found faces in only {result.Count} of {photos.Count} photos");
        return result;
    }

    /// <summary>
    /// The box grown <paramref name="scale"/>x about its centre (less where the photo is too small), shifted back
    /// inside the photo: alignAgeImage / alignLivenessImage of the package.
    /// </summary>
    private static SKRectI Grow(string photo, SKRect box, float scale)
    {
        var (w, h) = PhotoPixels.Size(photo);
        scale = Math.Min((h - 1) / box.Height, Math.Min((w - 1) / box.Width, scale));
        float nw = box.Width * scale, nh = box.Height * scale;
        float left = box.MidX - nw / 2, top = box.MidY - nh / 2, right = box.MidX + nw / 2, bottom = box.MidY + nh / 2;
        if (left < 0) { right -= left; left = 0; }
        if (top < 0) { bottom -= top; top = 0; }
        if (right > w - 1) { left -= right - w + 1; right = w - 1; }
        if (bottom > h - 1) { top -= bottom - h + 1; bottom = h - 1; }
        int x = Math.Max((int)left, 0), y = Math.Max((int)top, 0);
        return SKRectI.Create(x, y, Math.Min((int)(right - left), w - 1), Math.Min((int)(bottom - top), h - 1));
    }

    private static Tensor Chw(byte[] rgb, int size, Func<float, int, float> normalize)
    {
        var data = new float[3 * size * size];
        for (int i = 0; i < size * size; i++)
            for (int c = 0; c < 3; c++) data[c * size * size + i] = normalize(rgb[i * 3 + c], c);
        return Tensor.FromFloats([1, 3, size, size], data);
    }

    /// <summary>lib/fr_age.js mergeAge(x, 3, 3, 3, 1, 1) over the nine outputs in the package's order.</summary>
    private static double MergeAge(IReadOnlyDictionary<string, Tensor> outputs)
    {
        string[] order = ["prob_stage_1", "prob_stage_2", "prob_stage_3", "stage1_delta_k", "stage2_delta_k", "stage3_delta_k", "index_offset_stage1", "index_offset_stage2", "index_offset_stage3"];
        var x = order.SelectMany(n => outputs[n].ToFloats()).Select(v => (double)v).ToArray();
        Assert.Equal(21, x.Length);
        const int s = 3;
        double a = 0, b = 0, c = 0;
        for (int i = 0; i < s; i++) a += (i + x[12 + i]) * x[i];
        a /= s * (1 + x[9]);
        for (int i = 0; i < s; i++) b += (i + x[15 + i]) * x[3 + i];
        b = b / (s * (1 + x[9])) / (s * (1 + x[10]));
        for (int i = 0; i < s; i++) c += (i + x[18 + i]) * x[6 + i];
        c = c / (s * (1 + x[9])) / (s * (1 + x[10])) / (s * (1 + x[11]));
        return (a + b + c) * 101;
    }

    private static float[] Softmax(float[] logits)
    {
        float max = logits.Max();
        var e = logits.Select(v => MathF.Exp(v - max)).ToArray();
        float sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    private static int ArgMax(float[] v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
