namespace DriverMonitor;

/// <summary>A detected face in photo pixels.</summary>
internal readonly record struct FaceBox(float X1, float Y1, float X2, float Y2, float Score)
{
    public float Width => X2 - X1;
    public float Height => Y2 - Y1;
}

/// <summary>
/// Turns the detector's outputs (per anchor: [background, face] scores and normalized corner boxes,
/// already decoded against the priors inside the graph) into faces: threshold, then greedy NMS.
/// Thresholds are the ones the model's own package uses (confidence 0.65, IoU 0.4).
/// </summary>
internal static class FaceBoxes
{
    public const float ConfidenceThreshold = 0.65f;
    public const float NmsIou = 0.4f;

    public static List<FaceBox> Decode(ReadOnlySpan<float> scores, ReadOnlySpan<float> boxes, int photoWidth, int photoHeight)
    {
        var candidates = new List<FaceBox>();
        int anchors = scores.Length / 2;
        for (int i = 0; i < anchors; i++)
        {
            float score = scores[2 * i + 1];
            if (score < ConfidenceThreshold) continue;
            candidates.Add(new FaceBox(
                Math.Clamp(boxes[4 * i] * photoWidth, 0, photoWidth - 1),
                Math.Clamp(boxes[4 * i + 1] * photoHeight, 0, photoHeight - 1),
                Math.Clamp(boxes[4 * i + 2] * photoWidth, 0, photoWidth - 1),
                Math.Clamp(boxes[4 * i + 3] * photoHeight, 0, photoHeight - 1),
                score));
        }
        candidates.Sort((a, b) => b.Score.CompareTo(a.Score));
        var kept = new List<FaceBox>();
        foreach (var c in candidates)
            if (c.Width > 1 && c.Height > 1 && kept.All(k => Iou(k, c) < NmsIou)) kept.Add(c);
        return kept;
    }

    private static float Iou(FaceBox a, FaceBox b)
    {
        float w = Math.Max(0, Math.Min(a.X2, b.X2) - Math.Max(a.X1, b.X1));
        float h = Math.Max(0, Math.Min(a.Y2, b.Y2) - Math.Max(a.Y1, b.Y1));
        float inter = w * h;
        return inter / (a.Width * a.Height + b.Width * b.Height - inter);
    }
}
