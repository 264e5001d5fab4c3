using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeBuild.Cli;
using EdgeBuild.Compile;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization;
using EdgeBuild.Targets.TensorRt;
using EdgeBuild.Tests.Support;
using static EdgeBuild.Tests.Targets.TensorRtKitSupport;
using EdgeBuild.Session;

namespace EdgeBuild.Tests.Targets;

/// <summary>
/// The TensorRT kit on models built here: every Q/DQ pair of the .trt.onnx, every line of the calibration cache
/// against ranges measured independently in ONNX Runtime, the recipe and script (run with a stand-in trtexec), the
/// compatibility report and its warning/error, and the option errors.
/// </summary>
public sealed class TensorRtTargetTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-trt-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private (CompileResult Result, List<string> Warnings) Compile(ModelBuilder model, CompileOptions options, string outName = "out")
    {
        var warnings = new List<string>();
        string path = Save(model, dir);
        var result = ModelCompiler.Compile(path, Path.Combine(dir, outName), options with { Targets = [TargetKind.TensorRT], Measurement = new() { Enabled = false } }, warn: warnings.Add);
        return (result, warnings);
    }

    /// <summary>
    /// Int8 from 12 random samples. The random-weight net loses about 10 dB of output SQNR at INT8 (a real finding of the
    /// gate), so these tests of the kit's structure set the output floors out of the way; AccuracyGateTests test the floors.
    /// </summary>
    private CompileOptions Int8Options(CalibratorKind calibrator = CalibratorKind.MinMax) => new()
    {
        Precision = Precision.Int8,
        Calibration = CalibrationFiles(Path.Combine(dir, "calib")),
        Calibrator = calibrator,
        OutputFloors = new OutputFloors { MinSqnrDb = 0, MinCosine = 0 },
    };

    private string Out(string file, string outName = "out") => Path.Combine(dir, outName, file);

    [Fact]
    public void Int8KitHasTensorRtQdqPairsAndACacheOfTheSameScales()
    {
        // The kit's network is judged against FP32 on the held-out samples under the output floors, so floors set out
        // of the way are seen (no EB5022), even though a TensorRT-only build quantizes no ONNX model.
        var (result, warnings) = Compile(ResidualNet(), Int8Options());
        Assert.Empty(warnings);
        Assert.Equal(["ResNet.build-engine.sh", "ResNet.calib.cache", "ResNet.edgemodel.json", "ResNet.trt.fp32.onnx", "ResNet.trt.json", "ResNet.trt.onnx"],
            Directory.GetFiles(Path.Combine(dir, "out")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.All(result.Manifest.Artifacts, a => Assert.Equal("TensorRT", a.Target));
        Assert.Equal("ResNet.trt.onnx", result.Manifest.Artifacts[0].Path);

        var network = OnnxImporter.Load(Out("ResNet.trt.onnx"));
        var (header, lines) = CalibrationCache.Parse(File.ReadAllText(Out("ResNet.calib.cache")));
        Assert.Equal("TRT-100300-EntropyCalibration2", header);
        var cache = lines.ToDictionary(l => l.Tensor, l => l.Scale);

        // Activations: int8, zero point 0, per tensor, and the scale the cache gives the same tensor (bit for bit).
        var quantizes = network.Graph.Nodes.Where(n => n.OpType == "QuantizeLinear").ToList();
        Assert.NotEmpty(quantizes);
        foreach (var q in quantizes)
        {
            string tensor = q.Input(0)!.Name;
            var scale = q.Input(1)!.ConstantValue!;
            var zero = q.Input(2)!.ConstantValue!;
            Assert.Equal(DataType.Int8, zero.ElementType);
            Assert.Equal(0, zero.AsSpan<sbyte>()[0]);
            Assert.Equal(1, scale.ElementCount);
            Assert.True(cache.TryGetValue(tensor, out float cached), $"{tensor} has a Q/DQ pair but no cache line");
            Assert.Equal(BitConverter.SingleToInt32Bits(cached), BitConverter.SingleToInt32Bits(scale.ToFloats()[0]));
            var readers = q.Output0.Uses.Select(u => u.Node).ToList();
            Assert.All(readers, dq =>
            {
                Assert.Equal("DequantizeLinear", dq.OpType);
                Assert.Same(scale, dq.Input(1)!.ConstantValue);
                Assert.Same(zero, dq.Input(2)!.ConstantValue);
            });
        }

        // Weights: int8 initializers, no zero point or 0, one scale per output channel of the layer reading them.
        var weightDqs = network.Graph.Nodes.Where(n => n.OpType == "DequantizeLinear" && n.Input(0)!.ConstantValue is not null).ToList();
        Assert.Equal(5, weightDqs.Count); // conv1, conv2, conv3, gemm, matmul
        foreach (var dq in weightDqs)
        {
            var w = dq.Input(0)!.ConstantValue!;
            Assert.Equal(DataType.Int8, w.ElementType);
            Assert.True(dq.Input(2) is null || dq.Input(2)!.ConstantValue!.ToFloats().All(z => z == 0));
            var layer = Assert.Single(dq.Output0.Uses).Node;
            long expectedAxis = layer.OpType switch
            {
                "Conv" => 0,
                "Gemm" => layer.GetInt("transB", 0) != 0 ? 0 : 1,
                "MatMul" => 1,
                _ => throw new InvalidOperationException(layer.OpType),
            };
            Assert.Equal(expectedAxis, dq.GetAttribute("axis")?.Int ?? 1);
            Assert.Equal(w.Dims[expectedAxis], dq.Input(1)!.ConstantValue!.ElementCount);
            Assert.All(w.AsSpan<sbyte>().ToArray(), v => Assert.InRange(v, -127, 127));
        }

        // TensorRT's rules: no int32 bias pairs, both inputs of the residual Add quantized, no pair on a weighted layer's output alone.
        Assert.DoesNotContain(network.Graph.Nodes, n => n.OpType == "DequantizeLinear" && n.Input(0)!.ConstantValue?.ElementType == DataType.Int32);
        var add = Assert.Single(network.Graph.Nodes, n => n.OpType == "Add");
        Assert.All(add.Inputs, v => Assert.Equal("DequantizeLinear", v!.Producer!.OpType));
        foreach (var layer in network.Graph.Nodes.Where(n => n.OpType is "Conv" or "Gemm" or "MatMul"))
            Assert.Equal("DequantizeLinear", layer.Input(0)!.Producer!.OpType);
        Assert.Equal("DequantizeLinear", Assert.Single(network.Graph.Nodes, n => n.OpType == "MaxPool").Input(0)!.Producer!.OpType);
    }

    [Fact]
    public void EveryCacheLineIsAmaxOver127MeasuredIndependently()
    {
        var options = Int8Options(CalibratorKind.MinMax);
        Compile(ResidualNet(), options);
        var (_, lines) = CalibrationCache.Parse(File.ReadAllText(Out("ResNet.calib.cache")));

        // Max |x| of every tensor of the float network over the calibration files, from ONNX Runtime with every node output exposed.
        var floatNet = OnnxImporter.Load(Out("ResNet.trt.fp32.onnx"));
        ShapeInference.Infer(floatNet);
        var exposed = floatNet.Graph.Nodes.SelectMany(n => n.Outputs).Where(v => v is not null && !v.IsGraphOutput).Select(v => v!).ToList();
        foreach (var v in exposed) floatNet.Graph.AddOutput(v);
        byte[] probe = OnnxExporter.ToBytes(floatNet);
        var amax = new Dictionary<string, double>();
        // The build held every 4th file out for the accuracy check; the calibration used the others.
        foreach (var file in CalibrationSplit.Of(options).Calibration)
        {
            var x = ReadNpy(file, ImageDims);
            var outputs = Ort.Run(probe, new Dictionary<string, Tensor> { ["x"] = x }, optimize: false);
            outputs["x"] = x;
            foreach (var (name, t) in outputs)
                amax[name] = Math.Max(amax.GetValueOrDefault(name), t.ToFloats().Select(f => Math.Abs((double)f)).Max());
        }

        Assert.Equal(amax.Keys.Order(StringComparer.Ordinal), lines.Select(l => l.Tensor).Order(StringComparer.Ordinal));
        foreach (var (tensor, scale) in lines)
        {
            float expected = (float)(amax[tensor] / 127.0);
            Assert.True(Ulps(expected, scale) <= 1, $"{tensor}: cache {scale:R}, amax/127 {expected:R}");
        }
        // The hex is the big-endian IEEE-754 float: its first byte holds the sign and the exponent's high bits.
        var raw = File.ReadAllLines(Out("ResNet.calib.cache"))[1];
        string hex = raw[(raw.LastIndexOf(": ", StringComparison.Ordinal) + 2)..];
        Assert.Matches("^[0-9a-f]{8}$", hex);
        Assert.Equal(BitConverter.SingleToUInt32Bits(lines[0].Scale), Convert.ToUInt32(hex, 16));
    }

    /// <summary>
    /// An Fp32 kit beside the ONNX artifact: its network is the same bytes, so the kit names Name.onnx (recipe, script sums,
    /// trtexec's --onnx) instead of a second copy, whatever the order of the targets; without the Onnx target it writes .trt.onnx.
    /// </summary>
    [Theory]
    [InlineData(TargetKind.Onnx, TargetKind.TensorRT)]
    [InlineData(TargetKind.TensorRT, TargetKind.Onnx)]
    public void AnFp32KitNamesTheOnnxArtifactInsteadOfACopy(TargetKind first, TargetKind second)
    {
        string path = Save(ResidualNet(), dir);
        var result = ModelCompiler.Compile(path, Path.Combine(dir, "out"), new CompileOptions { Targets = [first, second], Measurement = new() { Enabled = false } });
        Assert.Equal(["ResNet.build-engine.sh", "ResNet.edgemodel.json", "ResNet.onnx", "ResNet.trt.json"],
            Directory.GetFiles(Path.Combine(dir, "out")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Single(result.Manifest.Artifacts, a => a.Path == "ResNet.onnx");
        Assert.Equal("ResNet.onnx", result.Manifest.Artifacts[0].Path);
        Assert.Contains("\"ResNet.onnx\"", File.ReadAllText(Out("ResNet.trt.json")), StringComparison.Ordinal);
        Assert.DoesNotContain("trt.onnx", File.ReadAllText(Out("ResNet.trt.json")), StringComparison.Ordinal);
        string script = File.ReadAllText(Out("ResNet.build-engine.sh"));
        Assert.Contains($"{result.Manifest.Artifacts[0].Sha256}  ResNet.onnx\n", script, StringComparison.Ordinal);
        Assert.Contains("'--onnx=ResNet.onnx'", script, StringComparison.Ordinal);
        Assert.DoesNotContain("trt.onnx", script, StringComparison.Ordinal);

        var alone = ModelCompiler.Compile(path, Path.Combine(dir, "alone"), new CompileOptions { Targets = [TargetKind.TensorRT], Measurement = new() { Enabled = false } });
        Assert.Equal("ResNet.trt.onnx", alone.Manifest.Artifacts[0].Path);
        Assert.Equal(File.ReadAllBytes(Out("ResNet.onnx")), File.ReadAllBytes(Out("ResNet.trt.onnx", "alone")));
    }

    [SkippableFact]
    public void TheQuantizedNetworkRunsInOnnxRuntimeAndPassesTheChecker()
    {
        Compile(ResidualNet(), Int8Options(CalibratorKind.Percentile));
        byte[] fp32 = File.ReadAllBytes(Out("ResNet.trt.fp32.onnx"));
        byte[] int8 = File.ReadAllBytes(Out("ResNet.trt.onnx"));
        double signal = 0, noise = 0;
        for (int i = 0; i < 4; i++)
        {
            var input = new Dictionary<string, Tensor> { ["x"] = ModelBuilder.RandomInput(ImageDims, 900 + i) };
            var a = Ort.Run(fp32, input).Values.Single().ToFloats();
            // The kit's network is for TensorRT: its Q/DQ math is checked with ONNX Runtime's optimizer off (each DequantizeLinear
            // runs, then the float op), not through the CPU's int8 kernels, which saturate on x86 without VNNI.
            var b = Ort.Run(int8, input, optimize: false).Values.Single().ToFloats();
            for (int k = 0; k < a.Length; k++)
            {
                signal += (double)a[k] * a[k];
                noise += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
            }
        }
        double sqnr = 10 * Math.Log10(signal / noise);
        Assert.True(sqnr > 25, $"output SQNR {sqnr:F1} dB");

        OnnxChecker.Require();
        var checks = OnnxChecker.CheckMany([Out("ResNet.trt.onnx"), Out("ResNet.trt.fp32.onnx")]);
        Assert.All(checks, c => Assert.True(c.Value is null, $"{c.Key}: {c.Value}"));
    }

    [SkippableFact]
    public void RecipeAndScriptBuildWithTrtexecAndCheckTheKit()
    {
        var options = Int8Options() with
        {
            KeepFp16 = ["conv3*"],
            KeepFp32 = ["gemm*"],
            TensorRt = new TensorRtSettings { Version = "8.6.1", WorkspaceMiB = 512, Compatibility = EnginePortability.Version },
        };
        Compile(ResidualNet(), options);
        Assert.StartsWith("TRT-8601-EntropyCalibration2\n", File.ReadAllText(Out("ResNet.calib.cache")), StringComparison.Ordinal);

        using var json = JsonDocument.Parse(File.ReadAllText(Out("ResNet.trt.json")));
        var r = json.RootElement;
        Assert.Equal("8.6.1", r.GetProperty("tensorRtVersion").GetString());
        Assert.Equal("ResNet.engine", r.GetProperty("engine").GetString());
        var args = r.GetProperty("explicit").GetProperty("trtexec").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(["--onnx=ResNet.trt.onnx", "--saveEngine=ResNet.engine", "--int8", "--fp16", "--layerPrecisions=conv3_node:fp16,gemm_node:fp32",
            "--precisionConstraints=obey", "--memPoolSize=workspace:512", "--timingCacheFile=ResNet.timing.cache", "--versionCompatible"], args);
        var implicitArgs = r.GetProperty("implicit").GetProperty("trtexec").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal("--onnx=ResNet.trt.fp32.onnx", implicitArgs[0]);
        Assert.Contains("--calib=ResNet.calib.cache", implicitArgs);

        // Kept layers are not quantized in the network, and the report says what each layer runs in.
        var network = OnnxImporter.Load(Out("ResNet.trt.onnx"));
        Assert.All(network.Graph.Nodes.Where(n => n.Name is "conv3_node" or "gemm_node"), n => Assert.NotEqual("DequantizeLinear", n.Input(0)!.Producer?.OpType));
        var layers = r.GetProperty("layers").EnumerateArray().ToDictionary(l => l.GetProperty("name").GetString()!, l => l.GetProperty("precision").GetString());
        Assert.Equal("Int8", layers["conv1_node"]);
        Assert.Equal("Fp16", layers["conv3_node"]);
        Assert.Equal("Fp32", layers["gemm_node"]);
        Assert.Equal(0, r.GetProperty("unsupportedLayers").GetInt32());

        // The recipe's file list is the kit as written.
        foreach (var f in r.GetProperty("files").EnumerateArray())
            Assert.Equal(f.GetProperty("sha256").GetString(), Sha256(Out(f.GetProperty("path").GetString()!)));

        // The script, with a stand-in trtexec that prints its arguments: the sums pass, the arguments arrive as the recipe says.
        if (OperatingSystem.IsWindows())
        {
            Skip.If(true, "the kit's build script is POSIX sh");
            return;
        }
        string script = Out("ResNet.build-engine.sh");
        Assert.True((File.GetUnixFileMode(script) & UnixFileMode.UserExecute) != 0);
        string fake = Path.Combine(dir, "trtexec");
        File.WriteAllText(fake, "#!/bin/sh\nfor a in \"$@\"; do echo \"ARG $a\"; done\n");
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var (exit, stdout, stderr) = Shell(script, fake, "--verbose");
        Assert.True(exit == 0, stderr + stdout);
        Assert.Equal(args.Append("--verbose"), stdout.Split('\n').Where(l => l.StartsWith("ARG ", StringComparison.Ordinal)).Select(l => l[4..]));
        var (implicitExit, implicitOut, _) = Shell(script, fake, "--implicit");
        Assert.Equal(0, implicitExit);
        Assert.Contains("ARG --calib=ResNet.calib.cache", implicitOut, StringComparison.Ordinal);

        // A changed kit file fails the sha256 check before trtexec runs.
        File.AppendAllText(Out("ResNet.calib.cache"), "tampered: 3f800000\n");
        var (badExit, badOut, _) = Shell(script, fake);
        Assert.NotEqual(0, badExit);
        Assert.DoesNotContain("ARG ", badOut, StringComparison.Ordinal);
    }

    private static (int Exit, string Stdout, string Stderr) Shell(string script, string trtexec, params string[] args)
    {
        var psi = new ProcessStartInfo("/bin/sh", [script, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.Environment["TRTEXEC"] = trtexec;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr);
    }

    private static string Sha256(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))).ToLowerInvariant();

    /// <summary>
    /// An Fp16 kit runs every layer in float16: the FP16 range rule's layers (here a Clip whose 1e-10 floor is 0 in
    /// float16, and the Log it protects, which TensorRT too would run in float16) are set to FP32, and nothing else.
    /// </summary>
    [Fact]
    public void AnFp16KitKeepsTheRangeRulesLayersInFp32()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", 1, 16);
        var clipped = b.Op("Clip", [b.Op("Mul", [x, x], "power"), b.Const("floor", [], 1e-10f), null], "clipped");
        b.Output(b.Op("Mul", [b.Op("Log", [clipped], "log"), b.Const("ten", [], 10f)], "db"));
        ShapeInference.Infer(b.Model);
        Compile(b, new CompileOptions { Precision = Precision.Fp16 });
        using var json = JsonDocument.Parse(File.ReadAllText(Out("ResNet.trt.json")));
        var fp32Layers = json.RootElement.GetProperty("layerPrecisions").EnumerateObject().Where(p => p.Value.GetString() == "fp32").Select(p => p.Name).ToList();
        Assert.Equal(["clipped_node", "log_node"], fp32Layers.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void SymbolicDimensionsGetShapeProfilesAndFp16KitsHaveNoCache()
    {
        var b = new ModelBuilder();
        var x = b.InputSymbolic("input:0", "batch", "3", "8", "8");
        b.Output(b.Op("Relu", [b.Conv(x, "conv", 4, 3)], "y"));
        ShapeInference.Infer(b.Model);
        foreach (var o in b.Graph.Outputs) o.TypeInferred = false;
        var (_, warnings) = Compile(b, new CompileOptions { Precision = Precision.Fp16, TensorRt = new TensorRtSettings { Profiles = ["batch=1:4:8"] } });
        Assert.Empty(warnings);
        Assert.False(File.Exists(Out("ResNet.calib.cache")));
        using var json = JsonDocument.Parse(File.ReadAllText(Out("ResNet.trt.json")));
        var args = json.RootElement.GetProperty("explicit").GetProperty("trtexec").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Contains("--minShapes='input:0':1x3x8x8", args);
        Assert.Contains("--optShapes='input:0':4x3x8x8", args);
        Assert.Contains("--maxShapes='input:0':8x3x8x8", args);
        Assert.Contains("--fp16", args);
        Assert.DoesNotContain("--int8", args);
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("implicit").ValueKind);

        var e = Assert.Throws<EdgeBuildException>(() => Compile(b, new CompileOptions { TensorRt = new TensorRtSettings { Profiles = ["height=1:2:3"] } }, "bad1"));
        Assert.Equal("EB4202", e.Code);
        Assert.Contains("no symbolic dimension 'height'", e.Message, StringComparison.Ordinal);
        Assert.Equal("EB4202", Assert.Throws<EdgeBuildException>(() => Compile(b, new CompileOptions { TensorRt = new TensorRtSettings { Profiles = ["batch=4:2:8"] } }, "bad2")).Code);

        // Height and width: addressed by place; one left without an entry gets the batch-sized guess and a warning naming it.
        var image = new ModelBuilder();
        var px = image.InputSymbolic("x", "1", "3", "h", "w");
        image.Output(image.Op("Relu", [image.Conv(px, "conv", 4, 3)], "y"));
        ShapeInference.Infer(image.Model);
        foreach (var o in image.Graph.Outputs) o.TypeInferred = false;
        var (_, imageWarnings) = Compile(image, new CompileOptions { TensorRt = new TensorRtSettings { Profiles = ["x[2]=32:64:128"] } }, "image");
        var warning = Assert.Single(imageWarnings);
        Assert.Contains("guessed (1:1:16) for x[3];", warning, StringComparison.Ordinal);
        using var imageJson = JsonDocument.Parse(File.ReadAllText(Out("ResNet.trt.json", "image")));
        Assert.Contains("--maxShapes=x:1x3x128x16", imageJson.RootElement.GetProperty("explicit").GetProperty("trtexec").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void UnsupportedLayersWarnAndStrictFailsWithoutWritingTheKit()
    {
        // Hardmax is not in TensorRT 8.x's operator table and is in 10.x's.
        var (_, warnings8) = Compile(ResidualNet("Hardmax"), new CompileOptions { TensorRt = new TensorRtSettings { Version = "8.6" } }, "v8");
        var warning = Assert.Single(warnings8);
        Assert.Contains("TensorRT 8.6.0 does not support 1 layer(s): extra_node (Hardmax: Hardmax is not in TensorRT 8.x's ONNX operator table)", warning, StringComparison.Ordinal);
        Assert.True(File.Exists(Out("ResNet.trt.onnx", "v8")));
        using (var json = JsonDocument.Parse(File.ReadAllText(Out("ResNet.trt.json", "v8"))))
        {
            Assert.Equal(1, json.RootElement.GetProperty("unsupportedLayers").GetInt32());
            var hardmax = json.RootElement.GetProperty("layers").EnumerateArray().Single(l => l.GetProperty("op").GetString() == "Hardmax");
            Assert.False(hardmax.GetProperty("supported").GetBoolean());
        }

        var (_, warnings10) = Compile(ResidualNet("Hardmax"), new CompileOptions { TensorRt = new TensorRtSettings { Version = "10.3" } }, "v10");
        Assert.Empty(warnings10);

        var e = Assert.Throws<EdgeBuildException>(() =>
            Compile(ResidualNet("Hardmax"), new CompileOptions { TensorRt = new TensorRtSettings { Version = "8.6", Strict = true } }, "strict"));
        Assert.Equal("EB4201", e.Code);
        Assert.Contains("extra_node (Hardmax", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.Exists(Path.Combine(dir, "strict")) ? Directory.GetFiles(Path.Combine(dir, "strict")) : []);
    }

    [Fact]
    public void MixedKitMeetsTheAccuracyBudgetOnTheHeldOutFiles()
    {
        // A budget this small needs layers back in FP32; the kit measures its own network and keeps what it needs.
        // 30 held-out samples of their own (seeds the calibration files do not use): the fewest MaxAccuracyLoss is judged on.
        var options = Int8Options() with
        {
            Precision = Precision.Mixed, MaxAccuracyLoss = 0.001, Task = TaskKind.Regression,
            Evaluation = CalibrationFiles(Path.Combine(dir, "eval"), AccuracyGate.MinHeldOutSamples, seed: 1000),
        };
        var (result, _) = Compile(ResidualNet(), options);
        using var json = JsonDocument.Parse(File.ReadAllText(Out("ResNet.trt.json")));
        var accuracy = json.RootElement.GetProperty("accuracyOnCpu");
        Assert.Equal(AccuracyGate.MinHeldOutSamples, accuracy.GetProperty("samples").GetInt32());
        Assert.InRange(accuracy.GetProperty("lossPercent").GetDouble(), 0, 0.001);

        // Every layer the recipe forces to FP32 reads float inputs in the network, and the ONNX artifact's kept layers are among them.
        var fp32Layers = json.RootElement.GetProperty("layerPrecisions").EnumerateObject().Where(p => p.Value.GetString() == "fp32").Select(p => p.Name).ToList();
        Assert.NotEmpty(fp32Layers);
        Assert.Superset(result.Manifest.Quantization!.KeptInFloat.Select(k => k.Node).ToHashSet(), fp32Layers.ToHashSet());
        var network = OnnxImporter.Load(Out("ResNet.trt.onnx"));
        foreach (var name in fp32Layers)
            Assert.NotEqual("DequantizeLinear", network.Graph.Nodes.Single(n => n.Name == name).Input(0)!.Producer?.OpType);
    }

    [Fact]
    public void TensorRt11KitsAreStronglyTypedAndHaveNoImplicitRoute()
    {
        Compile(ResidualNet(), Int8Options() with { TensorRt = new TensorRtSettings { Version = "11.0" } });
        Assert.False(File.Exists(Out("ResNet.calib.cache")));
        Assert.False(File.Exists(Out("ResNet.trt.fp32.onnx")));
        using var json = JsonDocument.Parse(File.ReadAllText(Out("ResNet.trt.json")));
        var args = json.RootElement.GetProperty("explicit").GetProperty("trtexec").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Contains("--stronglyTyped", args);
        Assert.DoesNotContain("--int8", args);
        Assert.DoesNotContain("--fp16", args);
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("implicit").ValueKind);
        Assert.Contains("exit 2", File.ReadAllText(Out("ResNet.build-engine.sh")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1f, "3f800000")]
    [InlineData(-2f, "c0000000")]
    [InlineData(0.0078125f, "3c000000")] // 2^-7
    public void CacheHexIsTheBigEndianFloat(float scale, string hex)
    {
        Assert.Equal(hex, CalibrationCache.Hex(scale));
        Assert.Equal(scale, CalibrationCache.Decode(hex));
    }

    [Theory]
    [InlineData("8.6.1", "TRT-8601-EntropyCalibration2")]
    [InlineData("10.3", "TRT-100300-EntropyCalibration2")]
    [InlineData("10.13.2", "TRT-101302-EntropyCalibration2")]
    public void CacheHeaderCarriesTensorRtsVersionNumber(string version, string header) =>
        Assert.Equal(header, CalibrationCache.Header(TensorRtVersion.Parse(version)));

    [Fact]
    public void TensorRtPlacementNeedsSymmetricActivations()
    {
        var e = Assert.Throws<EdgeBuildException>(() => ModelQuantizer.Quantize(ResidualNet().Model,
            new QuantizeOptions { Placement = QdqPlacement.TensorRt, CalibratedRanges = new Dictionary<string, EdgeBuild.Quantization.Calibration.TensorRange>() }, null));
        Assert.Equal("EB3005", e.Code);
    }

    [Theory]
    [InlineData("Int8Dynamic", "10.3", "EB4203")]
    [InlineData("Fp32", "7.1", "EB4202")]
    [InlineData("Fp32", "ten", "EB4202")]
    public void BadOptionsAreOneError(string precision, string version, string code)
    {
        var e = Assert.Throws<EdgeBuildException>(() => Compile(ResidualNet(),
            new CompileOptions { Precision = Enum.Parse<Precision>(precision), TensorRt = new TensorRtSettings { Version = version } }));
        Assert.Equal(code, e.Code);
        Assert.False(Directory.Exists(Path.Combine(dir, "out")) && Directory.GetFiles(Path.Combine(dir, "out")).Length > 0);
    }

    [Fact]
    public void ConvertWritesTheKitFromTheCommandLine()
    {
        string model = Save(ResidualNet(), dir);
        CalibrationFiles(Path.Combine(dir, "calib"));
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = Commands.Run(["convert", model, "--target", "TensorRT", "--precision", "Int8", "--calibration", Path.Combine(dir, "calib"),
            "-o", Path.Combine(dir, "cli"), "--trt-version", "10.3", "--trt-workspace-mib", "256", "--min-sqnr-db", "0", "--min-cosine", "0", "-q"], stdout, stderr);
        Assert.True(exit == 0, stderr.ToString());
        Assert.Contains("ResNet.trt.onnx (TensorRT, Int8", stdout.ToString(), StringComparison.Ordinal);
        Assert.Contains("ResNet.calib.cache (TensorRT, Int8", stdout.ToString(), StringComparison.Ordinal);
        Assert.Contains("--memPoolSize=workspace:256", File.ReadAllText(Path.Combine(dir, "cli", "ResNet.build-engine.sh")), StringComparison.Ordinal);

        var bad = new StringWriter();
        Assert.Equal(1, Commands.Run(["convert", model, "--target", "TensorRT", "-o", Path.Combine(dir, "cli2"), "--trt-compatibility", "Everything", "-q"], new StringWriter(), bad));
        Assert.StartsWith("error EB4202: TensorRTCompatibility: 'Everything' is not a valid TensorRTCompatibility", bad.ToString(), StringComparison.Ordinal);
    }
}
