// EdgeBuild benchmarks (numbers for issue notes; not timed tests).
//
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- latency [--runs N] [--models a,b]
//       ONNX Runtime, 1 thread, sequential: original vs optimized model, interleaved run by run on the
//       same real photo, so both see the same machine load. Prints mean, P50, P99 and the ratio.
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- zoo [--runs N] [--models a,b] [--target-opset N] [--variant NAME=pass,pass] [--ort-level basic]
//       Issue 19's acceptance table for the nine MODELS-zoo.md models (ZooTable.cs): optimized vs original outputs on real
//       inputs (VAD over whole recordings, state carried), nodes original/ours/ONNX Runtime basic, 1-thread P50 latency
//       interleaved with an A/A pair; --variant adds the model optimized without the named passes to the same race.
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- fusion [--runs 500] [--tokens 128] [--blocks 12] [--passes layer-norm-fusion,gelu-fusion]
//       The LayerNorm and GELU fusions alone (FusionBenchmark.cs): blocks of decomposed LayerNorm + Erf GELU on [1,T,384],
//       unfused vs fused vs unfused again (A/A), 1 thread, interleaved P50, at ORT_ENABLE_BASIC and ORT_ENABLE_ALL.
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- optimize MODEL [--repeat N]
//       Read + optimize + write in this process; prints wall time per phase and peak RSS (VmHWM).
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- noise MODEL
//       How far ONNX Runtime's own graph optimizations move the outputs (ENABLE_ALL vs DISABLE_ALL):
//       the floor against which our optimizer's differences are judged.
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- run [--runs N] [--seconds S] [--models eye-state,face-detect-rfb320]
//       The generated Run (classes made by EdgeBuild.Generator from Models/*.edgemodel.json at build time)
//       against a hand-written OrtValue Run (OrtValues preallocated over the caller's arrays, so no
//       copies, + session.Run(RunOptions, names, values, outputNames, outputValues)), interleaved call by
//       call, with a second hand-written session as the A/A noise floor. Prints ns per call, the ratio
//       and managed bytes allocated per call.
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- image [--runs N]
//       The face detector's image path on a real photo: EdgeImageInput.Write alone (resize + normalize, vectorized) against
//       the scalar hand-written loop of the same arithmetic, and the generated Run(EdgeImage) against Run(span) on the
//       preprocessed tensor; interleaved, p50 ns, bytes per call, max |diff| of the two preprocessings.
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- quantize [--runs N] [--models a,b] [--calibration K] [--fusions]
//       The quantization engine per model x mode (FP32, FP16, INT8 dynamic, INT8 static MinMax/Percentile/Entropy):
//       size ratio, calibration and total quantize time, worst layer SQNR, output SQNR on held-out photos, and ONNX
//       Runtime 1-thread latency against FP32, all variants interleaved run by run. --fusions saves ORT's optimized
//       model of each variant (SessionOptions.OptimizedModelFilePath) and counts what it fused. Peak RSS at the end.
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- auto-table [--models a,b] [--held-out 40] [--calibration 16] [--budget 1] [--seconds 5]
//       Precision=Auto per real model: its choice and search time, then an independent interleaved race of the choice against
//       FP32 (with the A/A band) and its loss on held-out photos with the 95 % interval (AutoTable.cs).
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- peer-table --export DIR [--models a,b] | --peer DIR [--models a,b] [--seconds 5]
//       Issue 13's peer side by side (PeerTableMode.cs): --export writes the kit a device machine runs ONNX Runtime's
//       quantize_static on; --peer races and scores FP32, our Int8 and Auto and the peer model here (docs/quantization.md, "Peer table").
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- fp16-range-table [--models a,b] [--held-out 30] [--calibration 16]
//       The FP16 range rule per real model (Fp16RangeTable.cs): FP16 without it, with its constant rules only, with ranges
//       measured on calibration inputs: nodes kept in FP32, held-out inputs with non-finite outputs, worst output SQNR.
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- tensorrt-table [--models a,b] [--held-out N] [--calibration N] [--calibrator C]
//       The TensorRT kit's .trt.onnx on the CPU in ONNX Runtime against FP32, next to the ONNX INT8 artifact: task-metric
//       loss on held-out photos, same calibration photos and calibrator.
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- tflite [--models a,b] [--photos 20] [--calibration 8] [--precisions Fp32,Fp16,Int8] [--calibrator C] [--all-outputs]
//       The TFLite acceptance table: per model x precision, converts?, max relative error of the .tflite in LiteRT
//       against ONNX Runtime on the original model over held-out photos, size ratios, Int8 task-metric loss (and the
//       ONNX INT8 model's, calibrated on the same photos).
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- tflite-size [--models a,b] [--calibration 8]
//       Where the bytes of each .tflite file go (Fp32 and Int8): constant data, per-channel quantization vectors, names,
//       the rest; and the Int8 floor (data + per-channel vectors) against the Fp32 file.
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- lifecycle [--blocks 300] [--block 100] [--shadow-every 100]
//       Monitoring and routing on eye-state's generated Run: plain vs monitored (a signed package with drift statistics, a ModelUpdater,
//       rollback policy and a MeterListener) vs routed (a 50 % rollout and a shadow candidate every Nth call),
//       interleaved by block, with an A/A pair; bytes allocated per call (LifecycleBenchmark.cs).
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- incremental [--runs N] [--models K] [--taskhost] [--tool-config C]
//       The MSBuild acceptance: no-op `dotnet build` with EdgeModel items vs the same project without them,
//       alternating, medians and their ratio (<= 1.1); --taskhost adds the TaskHostFactory cost of a recompile.
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- gate [--rebuilds 20] [--repeats 5] [--size 64] [--blocks 4] [--widths 2,4,8,16,32]
//       The regression gate: false alarms over N rebuilds of an unchanged model against its baseline, and which
//       injected slowdowns (an extra heavy layer) it catches (GateExperiment.cs).
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- compile-faults [--kills 100] [--overlaps 20] [--seed 15] [--cli edgebuild.dll] [--no-recover]
//       Issue 15 faults on the real edgebuild process: SIGKILLs at seeded random points of an Int8 ONNX + TFLite compile over
//       an Fp32 ONNX + TFLite + TensorRT set, then overlapping compiles of the two settings into one folder; counts how
//       each left the folder (CompileFaults.cs). --cli runs another build's edgebuild.dll (the code before a fix).
//   dotnet run -c Release --project tests/EdgeBuild.Benchmarks -- fuzz [--count 100000] [--seed S] [--minutes M] [--only K] [--save DIR]
//       Mutants of the real models (and models built in code) through import, every pass, quantization, the TFLite and
//       TensorRT writers: counts, time, EB codes, and each failure class with its repro (FuzzBenchmark.cs).
using System.Diagnostics;
using System.Globalization;
using EdgeBuild.Benchmarks.Models;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Runtime;
using EdgeBuild.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Tensor = EdgeBuild.Ir.Tensor;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
string root = FindRepoRoot();
string data = Environment.GetEnvironmentVariable("EDGEBUILD_TESTDATA") is { Length: > 0 } env ? env : Path.Combine(root, ".testdata-cache");
string mode = args.Length > 0 ? args[0] : "latency";
string? Arg(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

switch (mode)
{
    case "fusion": return EdgeBuild.Benchmarks.FusionBenchmark.Run(int.Parse(Arg("--runs") ?? "500"), int.Parse(Arg("--tokens") ?? "128"), int.Parse(Arg("--blocks") ?? "12"),
        (Arg("--passes") ?? "layer-norm-fusion,gelu-fusion").Split(','));
    case "zoo": return EdgeBuild.Benchmarks.ZooTable.Run(data, Arg("--models")?.Split(',') ?? EdgeBuild.Benchmarks.ZooTable.Ids, int.Parse(Arg("--runs") ?? "200"),
        Arg("--target-opset") is { } o ? long.Parse(o) : null,
        Arg("--variant") is { } v && v.Split('=') is [var vName, var vPasses] ? (vName, vPasses.Split(',')) : null,
        Arg("--ort-level") == "basic" ? GraphOptimizationLevel.ORT_ENABLE_BASIC : GraphOptimizationLevel.ORT_ENABLE_ALL);
    case "latency": return Latency(int.Parse(Arg("--runs") ?? "100"), Arg("--models")?.Split(',') ?? RealModelSpec.All.Select(s => s.Id).ToArray());
    case "optimize": return OptimizeOnce(args[1], int.Parse(Arg("--repeat") ?? "1"));
    case "noise": return Noise(args[1]);
    case "run": return RunComparison(Arg("--runs") is { } n ? int.Parse(n) : null, double.Parse(Arg("--seconds") ?? "8"),
        Arg("--models")?.Split(',') ?? ["eye-state", "face-detect-rfb320"]);
    case "image": return ImageRunComparison(int.Parse(Arg("--runs") ?? "400"));
    case "incremental": return IncrementalBuildBenchmark.Run(args, root);
    case "fuzz": return EdgeBuild.Benchmarks.FuzzBenchmark.Run(args, data);
    case "gate": return EdgeBuild.Benchmarks.GateExperiment.Run(args);
    case "lifecycle": return EdgeBuild.Benchmarks.LifecycleBenchmark.Run(args, data);
    case "compile-faults": return EdgeBuild.Benchmarks.CompileFaultsBenchmark.Run(int.Parse(Arg("--kills") ?? "100"), int.Parse(Arg("--overlaps") ?? "20"),
        int.Parse(Arg("--seed") ?? "15"), Arg("--cli"), !args.Contains("--no-recover"));
    case "tflite": return EdgeBuild.Benchmarks.TfliteTable.Run(args, data, root);
    case "tflite-size": return EdgeBuild.Benchmarks.TfliteSizeTable.Run(args, data);
    case "quantize-table": return EdgeBuild.Benchmarks.QuantizationTable.Run(args, data);
    case "auto-table": return EdgeBuild.Benchmarks.AutoTable.Run(args, data);
    case "peer-table": return EdgeBuild.Benchmarks.PeerTableMode.Run(args, data, root);
    case "fp16-range-table": return EdgeBuild.Benchmarks.Fp16RangeTable.Run(args, data);
    case "tensorrt-table": return EdgeBuild.Benchmarks.TensorRtAccuracyTable.Run(args, data);
    case "quantize": return QuantizeBenchmark.Run(data, int.Parse(Arg("--runs") ?? "20"), int.Parse(Arg("--calibration") ?? "10"),
        Arg("--models")?.Split(',') ?? ["resnet18-features", "ocr-det-ppocrv4", "face-detect-rfb320", "eye-state", "face-embedding"], args.Contains("--fusions"));
    default: Console.Error.WriteLine($"unknown mode {mode}"); return 2;
}

int Latency(int runs, string[] ids)
{
    Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {RuntimeInfo()}; ONNX Runtime 1 thread, sequential, ENABLE_ALL; {runs} timed runs each, interleaved, after 10 warm-up runs");
    Console.WriteLine($"cpu: {CpuName()}");
    Console.WriteLine($"{"model",-20} {"orig mean",10} {"opt mean",10} {"orig p50",9} {"opt p50",9} {"orig p99",9} {"opt p99",9} {"mean o/o",9} {"p50 o/o",8} {"A/A p50",8} {"orig+DAZ",9}");
    foreach (var id in ids)
    {
        var spec = RealModelSpec.Get(id);
        string path = Path.Combine(data, "models", id + ".onnx");
        var model = OnnxImporter.Load(path);
        OptimizationPipeline.Run(model, new OptimizeOptions());
        byte[] optimized = OnnxExporter.ToBytes(model);
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var a = new InferenceSession(path, options);
        using var b = new InferenceSession(optimized, options);
        // The original with ONNX Runtime's flush-denormals-to-zero: shows what subnormals cost on this CPU.
        using var dazOptions = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        dazOptions.AddSessionConfigEntry("session.set_denormal_as_zero", "1");
        using var c = new InferenceSession(path, dazOptions);
        // The original loaded a second time: its ratio to the first is the noise floor of this measurement.
        using var d = new InferenceSession(path, options);
        var input = new RealModelSamples(spec, spec.Photos(data, 1), data).Inputs[0];
        using var x = OrtTensors.ToOrtValue(input);
        var ta = new List<double>();
        var tb = new List<double>();
        var tc = new List<double>();
        var td = new List<double>();
        for (int r = 0; r < 10 + runs; r++)
        {
            // Alternate which model goes first so neither always runs on a warmer cache.
            bool aFirst = r % 2 == 0;
            double da = 0, db = 0;
            if (aFirst) { da = Time(a, spec.InputName, x); db = Time(b, spec.InputName, x); }
            else { db = Time(b, spec.InputName, x); da = Time(a, spec.InputName, x); }
            double dc = Time(c, spec.InputName, x);
            double dd = Time(d, spec.InputName, x);
            if (r >= 10) { ta.Add(da); tb.Add(db); tc.Add(dc); td.Add(dd); }
        }
        Console.WriteLine($"{id,-20} {ta.Average(),10:F3} {tb.Average(),10:F3} {P(ta, 50),9:F3} {P(tb, 50),9:F3} {P(ta, 99),9:F3} {P(tb, 99),9:F3} {tb.Average() / ta.Average(),9:F3} {P(tb, 50) / P(ta, 50),8:F3} {P(td, 50) / P(ta, 50),8:F3} {tc.Average(),9:F3}");
    }
    return 0;
}

static double Time(InferenceSession s, string inputName, OrtValue x)
{
    var sw = Stopwatch.StartNew();
    using var runOptions1 = new RunOptions(); // held in a local: an inline RunOptions can be finalized mid-Run
    using var outs = s.Run(runOptions1, [inputName], [x], s.OutputNames);
    return sw.Elapsed.TotalMilliseconds;
}

static double P(List<double> xs, int pct)
{
    var sorted = xs.Order().ToArray();
    return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(pct / 100.0 * sorted.Length) - 1)];
}

static List<Tensor> RunAll(InferenceSession s, string inputName, Tensor input)
{
    using var x = OrtTensors.ToOrtValue(input);
    using var runOptions2 = new RunOptions(); // held in a local: an inline RunOptions can be finalized mid-Run
    using var outs = s.Run(runOptions2, [inputName], [x], s.OutputNames);
    return outs.Select(o => OrtTensors.ToTensor(o)!).ToList();
}

int OptimizeOnce(string path, int repeat)
{
    for (int i = 0; i < repeat; i++)
    {
        var sw = Stopwatch.StartNew();
        var model = OnnxImporter.Load(path);
        var read = sw.Elapsed.TotalMilliseconds;
        var report = OptimizationPipeline.Run(model, new OptimizeOptions { VerifyAfterEachPass = false });
        var passes = sw.Elapsed.TotalMilliseconds - read;
        string outPath = Path.Combine(Path.GetTempPath(), $"edgebuild-bench-{Environment.ProcessId}.onnx");
        OnnxExporter.Save(model, outPath);
        var total = sw.Elapsed.TotalMilliseconds;
        File.Delete(outPath);
        Console.WriteLine($"{Path.GetFileName(path)} run {i + 1}: read {read:F0} ms, passes {passes:F0} ms, write {total - read - passes:F0} ms, total {total:F0} ms; nodes {report.NodesBefore} -> {report.NodesAfter}");
    }
    Console.WriteLine($"peak RSS (VmHWM) {PeakRssMiB():F0} MiB, managed allocated {GC.GetTotalAllocatedBytes() / 1048576.0:F0} MiB, file {new FileInfo(path).Length / 1048576.0:F1} MiB");
    return 0;
}

int Noise(string id)
{
    var spec = RealModelSpec.Get(id);
    string path = Path.Combine(data, "models", id + ".onnx");
    var model = OnnxImporter.Load(path);
    OptimizationPipeline.Run(model, new OptimizeOptions());
    byte[] optimized = OnnxExporter.ToBytes(model);
    using var all = new SessionOptions { IntraOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
    using var none = new SessionOptions { IntraOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
    using var origAll = new InferenceSession(path, all);
    using var origNone = new InferenceSession(path, none);
    using var optAll = new InferenceSession(optimized, all);
    double ortNoise = 0, ours = 0, maxOut = 0;
    foreach (var photo in spec.Photos(data, 20))
    {
        var input = spec.Load(photo);
        var r = RunAll(origNone, spec.InputName, input);
        var e = RunAll(origAll, spec.InputName, input);
        var o = RunAll(optAll, spec.InputName, input);
        for (int k = 0; k < r.Count; k++)
        {
            maxOut = Math.Max(maxOut, r[k].ToFloats().Max(v => Math.Abs((double)v)));
            ortNoise = Math.Max(ortNoise, MaxDiff(r[k], e[k]));
            ours = Math.Max(ours, MaxDiff(e[k], o[k]));
        }
    }
    Console.WriteLine($"{id}: max |output| {maxOut:G4}; ORT ENABLE_ALL vs DISABLE_ALL max |diff| {ortNoise:G4}; ours (optimized vs original, both ENABLE_ALL) {ours:G4}");
    return 0;
}

int RunComparison(int? fixedRuns, double seconds, string[] ids)
{
    Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {RuntimeInfo()}; ONNX Runtime 1 intra-op thread, sequential, ENABLE_ALL");
    Console.WriteLine($"cpu: {CpuName()}");
    Console.WriteLine("generated = EdgeBuild generated class (copies the input span in and the outputs out, RunWithBinding);");
    Console.WriteLine("hand = OrtValues preallocated over the caller's arrays (no copies), session.Run(RunOptions, names, values, outputNames, outputValues);");
    Console.WriteLine("view = the generated Run that returns the Result type (input copied in, outputs read in place through views);");
    Console.WriteLine("hand2 = a second hand-written session (A/A noise floor). Calls interleaved, order rotated each round.");
    Console.WriteLine($"{"model",-20} {"runs",6} {"gen p50 ns",11} {"hand p50 ns",12} {"gen mean ns",12} {"hand mean ns",13} {"p50 g/h",8} {"mean g/h",9} {"view p50 v/h",13} {"view mean v/h",14} {"A/A p50",8} {"gen B/call",11} {"view B/call",12} {"hand B/call",12} {"max |diff|",10}");
    foreach (var id in ids)
    {
        var spec = RealModelSpec.Get(id);
        string modelPath = Path.Combine(data, "models", id + ".onnx");
        float[] input = spec.Load(spec.Photos(data, 1)[0]).ToFloats();
        var options = new EdgeModelOptions { ModelDirectory = Path.Combine(data, "models") };

        // The generated class and the arrays its caller owns.
        Action generated;
        Action view;
        float[][] generatedOutputs;
        IDisposable generatedModel;
        switch (id)
        {
            case "eye-state":
            {
                var m = EyeState.Create(options);
                var output = new float[EyeState.OutputLength];
                generated = () => m.Run(input, output);
                view = () => output[0] = m.Run(input).Output[0, 0];
                (generatedModel, generatedOutputs) = (m, [output]);
                break;
            }
            case "face-detect-rfb320":
            {
                var m = FaceDetector.Create(options);
                var scores = new float[FaceDetector.ScoresLength];
                var boxes = new float[FaceDetector.BoxesLength];
                generated = () => m.Run(input, scores, boxes);
                view = () => scores[0] = m.Run(input).Scores[0, 0, 0];
                (generatedModel, generatedOutputs) = (m, [scores, boxes]);
                break;
            }
            default:
                Console.Error.WriteLine($"no generated class for {id} (add Models/<Name>.edgemodel.json)");
                return 2;
        }
        using var disposeGenerated = generatedModel;
        using var hand = new HandWrittenRun(modelPath, input);
        using var hand2 = new HandWrittenRun(modelPath, input);
        Action handRun = hand.Run, hand2Run = hand2.Run;

        for (int i = 0; i < 20; i++) { generated(); view(); handRun(); hand2Run(); }
        double single = TimeCalls(generated, 20) / 20;
        int runs = fixedRuns ?? (int)Math.Clamp(seconds * 1e9 / 4 / single, 200, 100_000);

        var tg = new double[runs];
        var th = new double[runs];
        var ta = new double[runs];
        var tv = new double[runs];
        Action[] order = [generated, handRun, hand2Run, view];
        double[][] sinks = [tg, th, ta, tv];
        for (int r = 0; r < runs; r++)
        {
            // Rotate who goes first so no variant always runs on the warmest cache.
            for (int k = 0; k < 4; k++)
            {
                int v = (r + k) % 4;
                long t0 = Stopwatch.GetTimestamp();
                order[v]();
                sinks[v][r] = Ns(Stopwatch.GetTimestamp() - t0);
            }
        }

        int allocRuns = Math.Max(100, Math.Min(runs, 2000));
        double generatedBytes = BytesPerCall(generated, allocRuns);
        double handBytes = BytesPerCall(handRun, allocRuns);
        double viewBytes = BytesPerCall(view, allocRuns);
        generated(); // the outputs compared below are the span Run's (the view variant wrote one value into them)

        double maxDiff = 0;
        for (int o = 0; o < generatedOutputs.Length; o++)
            for (int i = 0; i < generatedOutputs[o].Length; i++)
                maxDiff = Math.Max(maxDiff, Math.Abs(generatedOutputs[o][i] - hand.Outputs[o][i]));

        var lg = tg.ToList();
        var lh = th.ToList();
        var la = ta.ToList();
        var lv = tv.ToList();
        Console.WriteLine($"{id,-20} {runs,6} {P(lg, 50),11:F0} {P(lh, 50),12:F0} {lg.Average(),12:F0} {lh.Average(),13:F0} {P(lg, 50) / P(lh, 50),8:F3} {lg.Average() / lh.Average(),9:F3} {P(lv, 50) / P(lh, 50),13:F3} {lv.Average() / lh.Average(),14:F3} {P(la, 50) / P(lh, 50),8:F3} {generatedBytes,11:F1} {viewBytes,12:F1} {handBytes,12:F1} {maxDiff,10:G3}");
    }
    return 0;
}

int ImageRunComparison(int runs)
{
    Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {RuntimeInfo()}; cpu: {CpuName()}; load {File.ReadAllText("/proc/loadavg").Trim()}");
    var spec = RealModelSpec.Get("face-detect-rfb320");
    string photo = spec.Photos(data, 1)[0];
    using var decoded = SkiaSharp.SKBitmap.Decode(photo);
    using var rgba = decoded.Copy(SkiaSharp.SKColorType.Rgba8888);
    byte[] pixels = rgba.GetPixelSpan().ToArray();
    int w = rgba.Width, h = rgba.Height;
    Console.WriteLine($"photo {Path.GetFileName(photo)} {w}x{h} -> 320x240 NCHW, (x - 127) / 128, Stretch; {runs} rounds, order rotated");
    using var detector = FaceDetector.Create(new EdgeModelOptions { ModelDirectory = Path.Combine(data, "models") });
    var vectorized = new EdgeImageInput(FaceDetector.ImagePreprocessing, EdgeImageLayout.Nchw, 3, 240, 320);
    var a = new float[FaceDetector.InputLength];
    var b = new float[FaceDetector.InputLength];
    float sink = 0;
    void Hand()
    {
        for (int y = 0; y < 240; y++)
            for (int x = 0; x < 320; x++)
            {
                float fx = Math.Clamp((x + 0.5f) * w / 320 - 0.5f, 0, w - 1), fy = Math.Clamp((y + 0.5f) * h / 240 - 0.5f, 0, h - 1);
                int x0 = (int)fx, y0 = (int)fy, x1 = Math.Min(x0 + 1, w - 1), y1 = Math.Min(y0 + 1, h - 1);
                float ax = fx - x0, ay = fy - y0;
                for (int c = 0; c < 3; c++)
                {
                    float top = pixels[(y0 * w + x0) * 4 + c] * (1 - ax) + pixels[(y0 * w + x1) * 4 + c] * ax;
                    float bottom = pixels[(y1 * w + x0) * 4 + c] * (1 - ax) + pixels[(y1 * w + x1) * 4 + c] * ax;
                    b[(c * 240 + y) * 320 + x] = (top * (1 - ay) + bottom * ay - 127) / 128;
                }
            }
    }
    Action[] variants =
    [
        () => vectorized.Write(new EdgeImage(pixels, w, h, EdgePixelFormat.Rgba32), a),
        Hand,
        () => sink += detector.Run(new EdgeImage(pixels, w, h, EdgePixelFormat.Rgba32)).Scores[0, 0, 1],
        () => sink += detector.Run(b).Scores[0, 0, 1],
    ];
    string[] names = ["EdgeImageInput.Write", "scalar hand loop", "Run(EdgeImage)", "Run(span)"];
    foreach (var v in variants) for (int i = 0; i < 10; i++) v();
    var times = variants.Select(_ => new double[runs]).ToArray();
    for (int r = 0; r < runs; r++)
        for (int k = 0; k < variants.Length; k++)
        {
            int v = (r + k) % variants.Length;
            long t0 = Stopwatch.GetTimestamp();
            variants[v]();
            times[v][r] = Ns(Stopwatch.GetTimestamp() - t0);
        }
    double diff = 0;
    for (int i = 0; i < a.Length; i++) diff = Math.Max(diff, Math.Abs(a[i] - b[i]));
    for (int k = 0; k < variants.Length; k++)
        Console.WriteLine($"{names[k],-22} p50 {P(times[k].ToList(), 50),12:F0} ns   mean {times[k].Average(),12:F0} ns   {BytesPerCall(variants[k], 100),6:F1} B/call");
    Console.WriteLine($"preprocessing p50 hand/vectorized {P(times[1].ToList(), 50) / P(times[0].ToList(), 50):F2}x; max |diff| {diff:G3}; Run(EdgeImage)/Run(span) p50 {P(times[2].ToList(), 50) / P(times[3].ToList(), 50):F3} (sink {float.IsFinite(sink)})");
    return 0;
}

static double TimeCalls(Action action, int n)
{
    long t0 = Stopwatch.GetTimestamp();
    for (int i = 0; i < n; i++) action();
    return Ns(Stopwatch.GetTimestamp() - t0);
}

// Raw timestamps (ns resolution on Linux), not TimeSpan ticks (100 ns).
static double Ns(long ticks) => ticks * 1e9 / Stopwatch.Frequency;

static double BytesPerCall(Action action, int n)
{
    action();
    long before = GC.GetAllocatedBytesForCurrentThread();
    for (int i = 0; i < n; i++) action();
    return (GC.GetAllocatedBytesForCurrentThread() - before) / (double)n;
}

static double MaxDiff(Tensor a, Tensor b)
{
    var x = a.ToFloats();
    var y = b.ToFloats();
    double m = 0;
    for (int i = 0; i < x.Length; i++) m = Math.Max(m, Math.Abs((double)x[i] - y[i]));
    return m;
}

static double PeakRssMiB()
{
    foreach (var line in File.ReadLines("/proc/self/status"))
        if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    return double.NaN;
}

static string CpuName() => File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim() ?? "?";

static string RuntimeInfo() => $"{System.Runtime.InteropServices.RuntimeInformation.OSDescription.Trim()}, .NET {Environment.Version}";

static string FindRepoRoot()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "EdgeBuild.sln"))) return d.FullName;
    return Directory.GetCurrentDirectory();
}

/// <summary>
/// What a careful user writes by hand with ONNX Runtime's OrtValue API: every input and output an
/// OrtValue over an array made once, names and value lists made once, one session.Run per call. The
/// input is already in its array, so a call copies nothing.
/// </summary>
sealed class HandWrittenRun : IDisposable
{
    private readonly InferenceSession session;
    private readonly SessionOptions options;
    private readonly RunOptions runOptions = new();
    private readonly string[] inputNames;
    private readonly string[] outputNames;
    private readonly OrtValue[] inputValues;
    private readonly OrtValue[] outputValues;

    public HandWrittenRun(string modelPath, float[] input)
    {
        options = new SessionOptions
        {
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        session = new InferenceSession(modelPath, options);
        inputNames = [session.InputNames[0]];
        var inputArray = (float[])input.Clone();
        inputValues = [OrtValue.CreateTensorValueFromMemory(inputArray, session.InputMetadata[inputNames[0]].Dimensions.Select(d => (long)d).ToArray())];
        outputNames = session.OutputNames.ToArray();
        Outputs = outputNames.Select(n => new float[session.OutputMetadata[n].Dimensions.Aggregate(1, (a, d) => a * d)]).ToArray();
        outputValues = outputNames.Select((n, i) => OrtValue.CreateTensorValueFromMemory(Outputs[i], session.OutputMetadata[n].Dimensions.Select(d => (long)d).ToArray())).ToArray();
    }

    public float[][] Outputs { get; }

    public void Run() => session.Run(runOptions, inputNames, inputValues, outputNames, outputValues);

    public void Dispose()
    {
        foreach (var v in inputValues.Concat(outputValues)) v.Dispose();
        runOptions.Dispose();
        session.Dispose();
        options.Dispose();
    }
}
