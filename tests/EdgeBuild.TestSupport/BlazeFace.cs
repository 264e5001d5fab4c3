using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.Support;

/// <summary>
/// BlazeFace outputs as faces (short range / front 128x128, and back-camera 256x256, which has the same anchor grids): 896 SSD anchors (16x16 cells x 2, then 8x8 x 6, centers at
/// (i + 0.5) / grid), sigmoid scores, boxes decoded as center + raw / 128. MediaPipe's face_detection_short_range.tflite
/// gives [1,896,1] scores and [1,896,16] regressors; the ONNX export gives the two anchor grids separately.
/// </summary>
public static class BlazeFace
{
    public const int Anchors = 896;

    private static readonly (float X, float Y)[] AnchorCenters = Build();

    private static (float, float)[] Build()
    {
        var a = new List<(float, float)>();
        foreach (var (grid, perCell) in new[] { (16, 2), (8, 6) })
            for (int y = 0; y < grid; y++)
                for (int x = 0; x < grid; x++)
                    for (int k = 0; k < perCell; k++) a.Add(((x + 0.5f) / grid, (y + 0.5f) / grid));
        return a.ToArray();
    }

    /// <summary>Raw scores [896] and regressors [896 x 16] of either model's outputs.</summary>
    public static (float[] Scores, float[] Regressors) Raw(IReadOnlyDictionary<string, Tensor> outputs)
    {
        if (outputs.TryGetValue("classificators", out var c)) return (c.ToFloats(), outputs["regressors"].ToFloats());
        return (outputs["Identity:0"].ToFloats().Concat(outputs["Identity_1:0"].ToFloats()).ToArray(),
            outputs["Identity_2:0"].ToFloats().Concat(outputs["Identity_3:0"].ToFloats()).ToArray());
    }

    public readonly record struct Face(int Anchor, float Score, float CenterX, float CenterY, float Width, float Height);

    /// <summary>The best-scoring anchor as a face (score after the sigmoid, box in image fractions).</summary>
    public static Face Best(IReadOnlyDictionary<string, Tensor> outputs)
    {
        var (scores, boxes) = Raw(outputs);
        int best = 0;
        for (int i = 1; i < scores.Length; i++) if (scores[i] > scores[best]) best = i;
        var (ax, ay) = AnchorCenters[best];
        return new Face(best, Sigmoid(scores[best]), ax + boxes[best * 16] / 128f, ay + boxes[best * 16 + 1] / 128f, boxes[best * 16 + 2] / 128f, boxes[best * 16 + 3] / 128f);
    }

    /// <summary>
    /// The outputs as a detector's: "boxes" [1,896,4] (x1, y1, x2, y2 in image fractions) and "scores" [1,896,1] after the
    /// sigmoid, so AccuracyEvaluator's Detection metric (F1 of boxes over 0.5, matched at IoU 0.5) can judge them.
    /// </summary>
    /// <param name="inputSize">128 (front / short range) or 256 (back camera): the regressors are in input pixels.</param>
    public static Dictionary<string, Tensor> AsDetections(IReadOnlyDictionary<string, Tensor> outputs, float inputSize = 128f)
    {
        var (scores, r) = Raw(outputs);
        var boxes = new float[scores.Length * 4];
        var probabilities = new float[scores.Length];
        for (int i = 0; i < scores.Length; i++)
        {
            var (ax, ay) = AnchorCenters[i];
            float cx = ax + r[i * 16] / inputSize, cy = ay + r[i * 16 + 1] / inputSize, w = r[i * 16 + 2] / inputSize, h = r[i * 16 + 3] / inputSize;
            boxes[i * 4] = cx - w / 2;
            boxes[i * 4 + 1] = cy - h / 2;
            boxes[i * 4 + 2] = cx + w / 2;
            boxes[i * 4 + 3] = cy + h / 2;
            probabilities[i] = Sigmoid(scores[i]);
        }
        return new Dictionary<string, Tensor>
        {
            ["boxes"] = Tensor.FromFloats([1, scores.Length, 4], boxes),
            ["scores"] = Tensor.FromFloats([1, scores.Length, 1], probabilities),
        };
    }

    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-Math.Clamp(x, -80f, 80f)));
}
