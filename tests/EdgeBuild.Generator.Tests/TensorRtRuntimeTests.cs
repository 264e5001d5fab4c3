using System.Text;
using EdgeBuild.Compile;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Runtime;
using EdgeBuild.Targets.TensorRt;
using Microsoft.ML.OnnxRuntime;
using Tensor = EdgeBuild.Ir.Tensor;
using EdgeBuild.Session;

namespace EdgeBuild.Generator.Tests;

/// <summary>
/// A model compiled with the TensorRT target, run through the runtime on this machine, which has no GPU and the CPU
/// build of ONNX Runtime: TensorRT and CUDA are refused, each with its reason, in one log line, and the CPU runs the kit.
/// </summary>
public sealed class TensorRtRuntimeTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("edgebuild-trt-runtime-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>x [1, 4] -> MatMul W [4, 3] -> Relu -> y, compiled to a TensorRT kit (and nothing else) at <paramref name="precision"/>.</summary>
    private EdgeModelDescription CompileKit(Precision precision)
    {
        var model = new Model(new Graph("kit")) { IrVersion = 8 };
        model.Opsets.Add(new OpsetId("", 13));
        var g = model.Graph;
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(1, 4)));
        var w = g.AddInitializer("W", Tensor.FromFloats([4, 3], [0.5f, -1, 0.25f, 1, 0.75f, -0.5f, -0.25f, 0.5f, 1, 0.1f, 0.2f, 0.3f]));
        var mm = g.AddNode("MatMul", [x, w], ["mm"], "", "matmul").Output0;
        var y = g.AddNode("Relu", [mm], ["y"], "", "relu").Output0;
        y.Type = new TensorType(DataType.Float, Shape.Of(1, 3));
        g.AddOutput(y);
        string path = Path.Combine(dir, "kit.onnx");
        OnnxExporter.Save(model, path);
        var calibration = new List<string>();
        var random = new Random(5);
        for (int i = 0; i < 12; i++)
        {
            string file = Path.Combine(dir, $"c{i:D2}.npy");
            WriteNpy(file, [1, 4], Enumerable.Range(0, 4).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray());
            calibration.Add(file);
        }
        var result = ModelCompiler.Compile(path, Path.Combine(dir, "out"), new CompileOptions
        {
            Precision = precision,
            Targets = [TargetKind.TensorRT],
            ExecutionProvider = ExecutionProviderKind.TensorRT,
            Calibration = precision == Precision.Int8 ? calibration : [],
        });
        var m = result.Manifest;
        return new EdgeModelDescription(m.Name,
            [new EdgeTensorSpec("x", "x", EdgeElementType.Float32, [1, 4], null)],
            [new EdgeTensorSpec("y", "y", EdgeElementType.Float32, [1, 3], null)],
            [], m.Artifacts.Select(a => new EdgeArtifact(a.Path, a.Target, a.Precision)).ToArray(), ExecutionProvider.TensorRT);
    }

    private static void WriteNpy(string path, long[] dims, float[] data)
    {
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({string.Join(", ", dims)}), }}".PadRight(117) + "\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 };
        bytes.AddRange(BitConverter.GetBytes((ushort)header.Length));
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        foreach (var v in data) bytes.AddRange(BitConverter.GetBytes(v));
        File.WriteAllBytes(path, bytes.ToArray());
    }

    [Fact]
    public void WithoutAGpuTheKitRunsOnTheCpuAndOneLineSaysWhy()
    {
        // The premise of this test: this machine's ONNX Runtime has neither provider (the CPU package, no GPU).
        var available = OrtEnv.Instance().GetAvailableProviders();
        Assert.DoesNotContain("TensorrtExecutionProvider", available);
        Assert.DoesNotContain("CUDAExecutionProvider", available);

        var description = CompileKit(Precision.Int8);
        var log = new List<string>();
        using var session = EdgeSession.Create(description, new EdgeModelOptions { ModelDirectory = Path.Combine(dir, "out"), Log = log.Add });

        Assert.Equal(ExecutionProvider.Cpu, session.ExecutionProvider);
        Assert.EndsWith("Kit.trt.onnx", session.ModelPath, StringComparison.Ordinal);
        var line = Assert.Single(log);
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("EdgeBuild: model 'Kit': TensorRT execution provider unavailable (this ONNX Runtime build has no TensorrtExecutionProvider", line, StringComparison.Ordinal);
        Assert.Contains("; Cuda execution provider unavailable (this ONNX Runtime build has no CUDAExecutionProvider", line, StringComparison.Ordinal);
        Assert.EndsWith("; running on CPU (the TensorRT kit's Q/DQ network computed in float, unfused).", line, StringComparison.Ordinal);

        // The CPU runs the kit's Q/DQ network unfused: the same numbers as ONNX Runtime computing that file's Q/DQ math in
        // float (no int8 kernels, which saturate full-range weights on x86 without VNNI), close to the float model.
        float[] x = [0.3f, -0.6f, 0.9f, 0.1f];
        var y = new float[3];
        session.Begin();
        session.SetInput<float>(0, x);
        session.Run();
        session.GetOutput<float>(0, y);
        using var unfused = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var plain = new InferenceSession(session.ModelPath, unfused);
        using var input = OrtValue.CreateTensorValueFromMemory(x, [1, 4]);
        using var outputs = plain.Run(new RunOptions(), ["x"], [input], ["y"]);
        Assert.Equal(outputs[0].GetTensorDataAsSpan<float>().ToArray(), y);
        float[] reference = [Math.Max(0, 0.3f * 0.5f - 0.6f * 1 - 0.9f * 0.25f + 0.1f * 0.1f), Math.Max(0, -0.3f + -0.6f * 0.75f + 0.9f * 0.5f + 0.1f * 0.2f), Math.Max(0, 0.3f * 0.25f + 0.6f * 0.5f + 0.9f + 0.1f * 0.3f)];
        for (int i = 0; i < 3; i++) Assert.InRange(y[i], reference[i] - 0.05f, reference[i] + 0.05f);
    }

    [Fact]
    public void TheCalibrationTableRouteNeedsAnInt8Kit()
    {
        var description = CompileKit(Precision.Fp16);
        var e = Assert.Throws<InvalidOperationException>(() => EdgeSession.Create(description, new EdgeModelOptions
        {
            ModelDirectory = Path.Combine(dir, "out"),
            Log = _ => { },
            TensorRt = new TensorRtOptions { UseCalibrationTable = true },
        }));
        Assert.Contains("Kit" + TensorRtTargetWriter.FloatNetworkSuffix, e.Message, StringComparison.Ordinal);
    }
}
