using System.Globalization;
using EdgeBuild.Compile;
using EdgeBuild.Session;
using EdgeBuild.Quantization;

namespace EdgeBuild.Cli;

/// <summary>What <c>edgebuild quantize</c> (and a compile with a Precision) prints: sizes, accuracy, the least robust layers.</summary>
internal static class QuantizationPrinter
{
    public static void Print(QuantizeStepResult result, long bytesBefore, long bytesAfter, TextWriter w)
    {
        var r = result.Report;
        var inv = CultureInfo.InvariantCulture;
        w.WriteLine(string.Create(inv, $"{r.Mode}: {r.QuantizedNodes} nodes quantized, {r.KeptNodes} kept in float; {Commands.Bytes(bytesBefore)} -> {Commands.Bytes(bytesAfter)} ({(double)bytesAfter / bytesBefore:F2}x); calibration {r.CalibrationTime.TotalSeconds:F1} s on {result.CalibrationFiles.Count} samples, total {r.TotalTime.TotalSeconds:F1} s"));
        if (result.Share is { } share) w.WriteLine("precision actually deployed: " + share.Summary);
        if (result.Auto is { Choice: "Fp32" }) w.WriteLine("accuracy against FP32: the artifact is the FP32 model");
        else if (result.Accuracy is { } a) w.WriteLine("accuracy against FP32: " + a.Summary + $" ({result.HeldOutFiles.Count} held-out files)");
        else w.WriteLine("accuracy against FP32: not measured (no held-out samples: give --eval, or at least 8 calibration files)");
        if (result.Judgement is { } j)
            w.WriteLine("accuracy verdict: " + j.Verdict.ToString().ToLowerInvariant() +
                (j.Loss is { } loss ? string.Create(inv, $" (loss {loss.Measured.Value:F3} % [95 % CI {loss.Measured.Low:F3}, {loss.Measured.High:F3}] against MaxAccuracyLoss={loss.Limit:G}: {loss.Verdict.ToString().ToLowerInvariant()}") + (loss.SamplesToSettle is int n ? string.Create(inv, $", {n} held-out samples would settle it") : "") + ")" : " (no MaxAccuracyLoss)") +
                string.Create(inv, $"; output floors MinSqnrDb={j.Floors.MinSqnrDb:G}, MinCosine={j.Floors.MinCosine:G}: ") +
                (j.Outputs.Count == 0 ? "none judged" : j.Outputs.Select(o => o.Verdict).Max().ToString().ToLowerInvariant()) +
                (j.Accuracy.Samples < AccuracyGate.MinHeldOutSamples
                    ? string.Create(inv, $" (on {j.Accuracy.Samples} held-out samples, fewer than the {AccuracyGate.MinHeldOutSamples} a MaxAccuracyLoss needs: these intervals are rough)")
                    : ""));
        if (result.Auto is { } auto)
        {
            w.WriteLine(auto.Summary);
            var table = new List<string[]> { new[] { "layer", "op", "FP32 µs", "INT8 µs", "precision", "why" } };
            table.AddRange(auto.Layers.Select(l => new[] { l.Node, l.OpType, l.Fp32Microseconds?.ToString("F1", inv) ?? "fused", l.Int8Microseconds?.ToString("F1", inv) ?? "fused", l.Precision, l.Reason }));
            TextTable.Write(table, w);
        }
        else if (result.KeptInFloat.Count > 0)
            w.WriteLine($"kept in FP32 to meet the budget ({result.Attempts} quantizations): " + string.Join(", ", result.KeptInFloat.Select(l => string.Create(inv, $"{l.Node} ({l.OpType}, loss alone {l.LossPercent:F2} %)"))));
        if (r.RangeKeptFp32.Count > 0)
            w.WriteLine($"kept in FP32 by the FP16 range rule ({r.RangeKeptFp32.Count}): " + string.Join("; ", r.RangeKeptFp32.Select(f => $"{f.Node} ({f.OpType}, {f.Reason})")));
        var worst = r.Layers.Where(l => l.Sqnr is not null).OrderBy(l => l.Sqnr).Take(10).ToList();
        if (worst.Count == 0) return;
        var rows = new List<string[]> { new[] { "least robust layers", "op", "precision", "SQNR dB" } };
        rows.AddRange(worst.Select(l => new[] { l.Node, l.OpType, l.Precision, l.Sqnr!.Value.ToString("F1", inv) }));
        TextTable.Write(rows, w);
    }
}
