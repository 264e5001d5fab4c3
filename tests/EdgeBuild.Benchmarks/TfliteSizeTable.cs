using System.Globalization;
using EdgeBuild.Targets.Tflite;
using EdgeBuild.Targets.Tflite.Schema;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Benchmarks;

/// <summary>
/// Where the bytes of a .tflite file go, per real model at Fp32 and Int8: constant data (buffers), the per-channel
/// quantization vectors the int8 spec requires (distinct scale vectors, int64 zero-point vectors), and everything else
/// (tensor and operator tables, shapes, names, per-tensor quantization tables, FlatBuffer offsets and padding).
/// "floor" is data + per-channel vectors: what an Int8 file cannot go below whatever its metadata costs.
///
///   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- tflite-size [--models a,b] [--calibration 8]
/// </summary>
public static class TfliteSizeTable
{
    public static int Run(string[] args, string data)
    {
        string? Arg(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var ids = Arg("--models")?.Split(',') ?? RealModelSpec.All.Select(s => s.Id).ToArray();
        int calibrationCount = int.Parse(Arg("--calibration") ?? "8", CultureInfo.InvariantCulture);
        Console.WriteLine("| model | precision | file | data | per-channel vectors | names | rest | tensors | ops | file / fp32 | floor / fp32 |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var id in ids)
        {
            var spec = RealModelSpec.Get(id);
            string path = Path.Combine(data, "models", id + ".onnx");
            var floatModel = TfliteHarness.OptimizedFloat(path, spec);
            var calibration = new RealModelSamples(spec, spec.Photos(data, calibrationCount), data);
            long fp32 = 0;
            foreach (var precision in new[] { TflitePrecision.Fp32, TflitePrecision.Int8 })
            {
                var ranges = precision == TflitePrecision.Int8 ? TfliteHarness.Ranges(floatModel, calibration) : null;
                var (bytes, result) = TfliteHarness.Convert(floatModel, precision, ranges);
                var m = result.Model;
                if (precision == TflitePrecision.Fp32) fp32 = bytes.Length;
                long dataBytes = m.Buffers.Sum(b => (long)b.Length);
                var perChannel = m.Tensors.Select(t => t.Quantization).Where(q => q is { Scale.Length: > 1 }).ToList();
                long scales = perChannel.Select(q => string.Join(",", q!.Scale.Select(BitConverter.SingleToInt32Bits))).Distinct().Sum(k => 4L + 4L * (k.Count(c => c == ',') + 1));
                long zeroPoints = perChannel.Select(q => string.Join(",", q!.ZeroPoint)).Distinct().Sum(k => 4L + 8L * (k.Count(c => c == ',') + 1));
                long names = m.Tensors.Sum(t => 4L + System.Text.Encoding.UTF8.GetByteCount(t.Name) + 1);
                long rest = bytes.Length - dataBytes - scales - zeroPoints - names;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {id} | {precision} | {bytes.Length:N0} | {dataBytes:N0} | {scales + zeroPoints:N0} | {names:N0} | {rest:N0} | {m.Tensors.Count} | {m.Operators.Count} | {bytes.Length / (double)fp32:F3} | {(dataBytes + scales + zeroPoints) / (double)fp32:F3} |"));
            }
        }
        return 0;
    }
}
