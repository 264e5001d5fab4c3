using SkiaSharp;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.Support;

/// <summary>
/// Text lines as a text recognizer reads them: the template sentences cut at word boundaries into lines of at most
/// <see cref="MaxCharacters"/> characters, drawn with the pinned DejaVu Sans font (fonts/ in the test data) in dark ink on
/// a light background at 48 x 320, with seeded variation of size, offset and colours. PP-OCR's recognizer is fed crops
/// the detector found, resized to height 48; rendered lines are that input with a known answer.
/// </summary>
public static class TextLines
{
    public const int Height = 48, Width = 320, MaxCharacters = 22;

    /// <summary>One rendered line: the text drawn, and its pixels as row-major RGB bytes.</summary>
    public sealed record Line(string Text, byte[] Rgb);

    /// <summary>The lines of every template sentence, in a stable order.</summary>
    public static IReadOnlyList<string> Texts()
    {
        var lines = new List<string>();
        foreach (var sentence in TemplateSentences.All())
        {
            string current = "";
            foreach (var word in sentence.Split(' '))
            {
                if (current.Length > 0 && current.Length + 1 + word.Length > MaxCharacters)
                {
                    lines.Add(current);
                    current = "";
                }
                current = current.Length == 0 ? word : current + " " + word;
            }
            if (current.Length > 0) lines.Add(current);
        }
        return lines;
    }

    /// <summary>The first <paramref name="count"/> lines (all when null) rendered with the font in <paramref name="testData"/>.</summary>
    public static IReadOnlyList<Line> Render(string testData, int? count = null)
    {
        string fontPath = Path.Combine(testData, "fonts", "DejaVuSans.ttf");
        using var typeface = SKTypeface.FromFile(fontPath) ?? throw new InvalidDataException($"cannot load the font {fontPath}");
        var random = new Random(48320);
        var result = new List<Line>();
        foreach (var text in Texts().Take(count ?? int.MaxValue))
        {
            using var bitmap = new SKBitmap(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
            using var canvas = new SKCanvas(bitmap);
            byte paper = (byte)(190 + random.Next(60)), ink = (byte)random.Next(70);
            canvas.Clear(new SKColor(paper, paper, (byte)(paper - random.Next(15))));
            using var font = new SKFont(typeface, 22 + random.Next(6));
            // The line fits the width: a long one is drawn smaller, as a resize to height 48 of a wide crop would make it.
            float width = font.MeasureText(text);
            if (width > Width - 12) font.Size *= (Width - 12) / width;
            using var paint = new SKPaint { Color = new SKColor(ink, ink, (byte)(ink + random.Next(30))), IsAntialias = true };
            canvas.DrawText(text, 3 + random.Next(6), Height / 2f + font.Size * 0.36f, font, paint);
            canvas.Flush();
            var rgb = new byte[Width * Height * 3];
            for (int y = 0; y < Height; y++)
                for (int x = 0; x < Width; x++)
                {
                    var p = bitmap.GetPixel(x, y);
                    int i = (y * Width + x) * 3;
                    (rgb[i], rgb[i + 1], rgb[i + 2]) = (p.Red, p.Green, p.Blue);
                }
            result.Add(new Line(text, rgb));
        }
        return result;
    }

    /// <summary>A line as PP-OCR's recognizer takes it: NCHW [1,3,48,320], (v / 255 - 0.5) / 0.5.</summary>
    public static Tensor Input(Line line)
    {
        var data = new float[3 * Height * Width];
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < Height * Width; i++)
                data[c * Height * Width + i] = line.Rgb[i * 3 + c] / 127.5f - 1f;
        return Tensor.FromFloats([1, 3, Height, Width], data);
    }

    /// <summary>
    /// Greedy CTC decoding of a recognizer's [1,T,C] output: the best class at each step, repeats merged, blanks (class 0)
    /// dropped; class k is <paramref name="characters"/>[k - 1], and the class after the last character is a space.
    /// </summary>
    public static string Decode(float[] probabilities, int steps, int classes, IReadOnlyList<string> characters)
    {
        var text = new System.Text.StringBuilder();
        int previous = 0;
        for (int t = 0; t < steps; t++)
        {
            int best = 0;
            for (int k = 1; k < classes; k++) if (probabilities[t * classes + k] > probabilities[t * classes + best]) best = k;
            if (best != 0 && best != previous) text.Append(best - 1 < characters.Count ? characters[best - 1] : " ");
            previous = best;
        }
        return text.ToString();
    }
}
