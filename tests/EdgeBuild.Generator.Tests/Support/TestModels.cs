using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using Microsoft.ML.OnnxRuntime;
using Attribute = EdgeBuild.Ir.Attribute;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Generator.Tests.Support;

/// <summary>
/// The ONNX models behind the test manifests (Manifests/*.edgemodel.json), built in code with the
/// compiler's IR and exporter: no opaque fixture files.
/// </summary>
public static class TestModels
{
    private static Model NewModel(string name)
    {
        var model = new Model(new Graph(name)) { IrVersion = 8, ProducerName = "edgebuild-generator-tests" };
        model.Opsets.Add(new OpsetId("", 13));
        return model;
    }

    private static Value Node(Graph g, string op, Value[] inputs, string output, params Attribute[] attributes) =>
        g.AddNode(op, inputs, [output], "", output + "_node", attributes).Output0;

    private static void Output(Graph g, Value v, DataType type, Shape shape)
    {
        v.Type = new TensorType(type, shape);
        g.AddOutput(v);
    }

    /// <summary>Inputs "input:0" (float [1,3,4,4]) and "image" (uint8, same shape); outputs softmax, sum and a count.</summary>
    public static Model TinyDetector()
    {
        var model = NewModel("tiny-detector");
        var g = model.Graph;
        var x = g.AddInput("input:0", new TensorType(DataType.Float, Shape.Of(1, 3, 4, 4)));
        var image = g.AddInput("image", new TensorType(DataType.UInt8, Shape.Of(1, 3, 4, 4)));
        var softmax = Node(g, "Softmax", [x], "softmax_0.tmp_0", Attribute.Of("axis", 1L));
        var imageFloat = Node(g, "Cast", [image], "image_f", Attribute.Of("to", (long)DataType.Float));
        var boxes = Node(g, "Add", [x, imageFloat], "boxes");
        var imageLong = Node(g, "Cast", [image], "image_i64", Attribute.Of("to", (long)DataType.Int64));
        var count = Node(g, "ReduceSum", [imageLong], "count", Attribute.Of("keepdims", 0L));
        Output(g, softmax, DataType.Float, Shape.Of(1, 3, 4, 4));
        Output(g, boxes, DataType.Float, Shape.Of(1, 3, 4, 4));
        Output(g, count, DataType.Int64, Shape.Of());
        return model;
    }

    /// <summary>Input "x" [batch_size, 4]; outputs y = x W [batch_size, 2] and "flat" = x reshaped to one unknown dimension.</summary>
    public static Model SymbolicNet()
    {
        var model = NewModel("symbolic");
        var g = model.Graph;
        var x = g.AddInput("x", new TensorType(DataType.Float, new Shape([Dim.Symbolic("batch_size"), Dim.Of(4)])));
        var w = g.AddInitializer("W", Tensor.FromFloats([4, 2], [1, 2, 3, 4, 5, 6, 7, 8]));
        var y = Node(g, "MatMul", [x, w], "y");
        var minusOne = g.AddInitializer("flat_shape", Tensor.FromInt64s([1], [-1]));
        var flat = Node(g, "Reshape", [x, minusOne], "flat");
        Output(g, y, DataType.Float, new Shape([Dim.Symbolic("batch_size"), Dim.Of(2)]));
        Output(g, flat, DataType.Float, new Shape([Dim.Unknown]));
        return model;
    }

    /// <summary>Input "model" (float16 [int]); outputs a bool (value &gt; 0) and the values widened to double.</summary>
    public static Model MixedTypes()
    {
        var model = NewModel("mixed");
        var g = model.Graph;
        var x = g.AddInput("model", new TensorType(DataType.Float16, new Shape([Dim.Symbolic("int")])));
        var asFloat = Node(g, "Cast", [x], "as_float", Attribute.Of("to", (long)DataType.Float));
        var zero = g.AddInitializer("zero", Tensor.Scalar(0f));
        var positive = Node(g, "Greater", [asFloat, zero], "is \"positive\"");
        var wide = Node(g, "Cast", [x], "wide", Attribute.Of("to", (long)DataType.Double));
        Output(g, positive, DataType.Bool, new Shape([Dim.Symbolic("int")]));
        Output(g, wide, DataType.Double, new Shape([Dim.Symbolic("int")]));
        return model;
    }

    /// <summary>Input "x" (float [1,4]); output y = x * <paramref name="factor"/>: versions of one model told apart by their outputs.</summary>
    public static Model ScaleNet(float factor)
    {
        var model = NewModel("scale");
        var g = model.Graph;
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(1, 4)));
        var k = g.AddInitializer("k", Tensor.FromFloats([1], [factor]));
        Output(g, Node(g, "Mul", [x, k], "y"), DataType.Float, Shape.Of(1, 4));
        return model;
    }

    /// <summary>
    /// Input "x" (float [1,4]); outputs "label" (int64 [1]) = the index of x's largest element after adding
    /// <paramref name="bias"/> (a classifier's label, whose mix a bias per class moves), and "bucket" (int32 [1,4]) =
    /// x x 100 truncated (an integer output with too many distinct values to count apart).
    /// </summary>
    public static Model LabelNet(float[]? bias = null)
    {
        var model = NewModel("label");
        var g = model.Graph;
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(1, 4)));
        var b = g.AddInitializer("bias", Tensor.FromFloats([4], bias ?? [0, 0, 0, 0]));
        var scores = Node(g, "Add", [x, b], "scores");
        Output(g, Node(g, "ArgMax", [scores], "label", Attribute.Of("axis", 1L), Attribute.Of("keepdims", 0L)), DataType.Int64, Shape.Of(1));
        var hundred = g.AddInitializer("hundred", Tensor.FromFloats([1], [100f]));
        var scaled = Node(g, "Mul", [x, hundred], "scaled");
        Output(g, Node(g, "Cast", [scaled], "bucket", Attribute.Of("to", (long)DataType.Int32)), DataType.Int32, Shape.Of(1, 4));
        return model;
    }

    /// <summary>
    /// ScaleNet (y = x * <paramref name="factor"/>) whose factor is the mean of <paramref name="padFloats"/> equal values: a
    /// file of about 4 x padFloats bytes, so staging it (extracting, hashing, loading) takes long enough to be killed midway.
    /// </summary>
    public static Model PaddedScaleNet(float factor, int padFloats)
    {
        var model = NewModel("scale-padded");
        var g = model.Graph;
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(1, 4)));
        var values = new float[padFloats];
        Array.Fill(values, factor);
        var pad = g.AddInitializer("pad", Tensor.FromFloats([padFloats], values));
        var k = Node(g, "ReduceMean", [pad], "k", Attribute.Of("keepdims", 1L));
        Output(g, Node(g, "Mul", [x, k], "y"), DataType.Float, Shape.Of(1, 4));
        return model;
    }

    /// <summary>
    /// ScaleNet's interface with real work: y = x * <paramref name="factor"/> + 1e-6 * mean(h), h a chain of <paramref name="layers"/>
    /// tanh(h @ W) over a [64,512] activation made from x (17 M multiply-adds each, about 1 to 2 ms on one core), so its run
    /// time grows with <paramref name="layers"/> while y stays within 1e-6 of x * factor.
    /// </summary>
    public static Model HeavyScaleNet(float factor, int layers)
    {
        var model = NewModel("scale-heavy");
        var g = model.Graph;
        var random = new Random(7);
        float[] Weights(int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(1, 4)));
        var wide = Node(g, "MatMul", [x, g.AddInitializer("w_in", Tensor.FromFloats([4, 64 * 512], Weights(4 * 64 * 512, 0.5)))], "wide");
        var h = Node(g, "Reshape", [wide, g.AddInitializer("rows", Tensor.FromInt64s([2], [64, 512]))], "h0");
        for (int i = 0; i < layers; i++)
        {
            var w = g.AddInitializer($"w{i}", Tensor.FromFloats([512, 512], Weights(512 * 512, 0.05)));
            h = Node(g, "Tanh", [Node(g, "MatMul", [h, w], $"m{i + 1}")], $"h{i + 1}");
        }
        var side = Node(g, "Mul", [Node(g, "ReduceMean", [h], "mean", Attribute.Of("keepdims", 1L)), g.AddInitializer("tiny", Tensor.FromFloats([1], [1e-6f]))], "side");
        var scaled = Node(g, "Mul", [x, g.AddInitializer("k", Tensor.FromFloats([1], [factor]))], "scaled");
        Output(g, Node(g, "Add", [scaled, side], "y"), DataType.Float, Shape.Of(1, 4));
        return model;
    }

    /// <summary>
    /// ScaleNet's interface, but y = x gathered at the indices x holds (after a cast): runs fail inside ONNX Runtime when
    /// an input value is not a valid index (0 to 3): a version whose runs throw.
    /// </summary>
    public static Model FailingScaleNet()
    {
        var model = NewModel("scale-failing");
        var g = model.Graph;
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(1, 4)));
        var indices = Node(g, "Cast", [x], "indices", Attribute.Of("to", (long)DataType.Int64));
        var gathered = Node(g, "Gather", [x, indices], "gathered", Attribute.Of("axis", 1L));
        var shape = g.AddInitializer("shape", Tensor.FromInt64s([2], [1, 4]));
        Output(g, Node(g, "Reshape", [gathered, shape], "y"), DataType.Float, Shape.Of(1, 4));
        return model;
    }

    /// <summary>
    /// Input "pixels" (float [1,3,6,8], NCHW); outputs "result" = the input itself (what the image Run wrote) and "mean"
    /// [1,1,6,8], the channel mean: a model whose outputs show exactly what the preprocessing made of an image.
    /// </summary>
    public static Model ImageNet()
    {
        var model = NewModel("image");
        var g = model.Graph;
        var x = g.AddInput("pixels", new TensorType(DataType.Float, Shape.Of(1, 3, 6, 8)));
        var zero = g.AddInitializer("zero", Tensor.Scalar(0f));
        Output(g, Node(g, "Add", [x, zero], "result"), DataType.Float, Shape.Of(1, 3, 6, 8));
        Output(g, Node(g, "ReduceMean", [x], "mean", Attribute.Of("axes", new long[] { 1 }), Attribute.Of("keepdims", 1L)), DataType.Float, Shape.Of(1, 1, 6, 8));
        return model;
    }

    /// <summary>Input "pixels" (float [batch,6,8,3], NHWC); output "twice" = 2 x the input: batches of images.</summary>
    public static Model ImageBatchNet()
    {
        var model = NewModel("image-batch");
        var g = model.Graph;
        var x = g.AddInput("pixels", new TensorType(DataType.Float, new Shape([Dim.Symbolic("n"), Dim.Of(6), Dim.Of(8), Dim.Of(3)])));
        var two = g.AddInitializer("two", Tensor.Scalar(2f));
        Output(g, Node(g, "Mul", [x, two], "twice"), DataType.Float, new Shape([Dim.Symbolic("n"), Dim.Of(6), Dim.Of(8), Dim.Of(3)]));
        return model;
    }

    /// <summary>Input "x" [batch, 4]; output y = x W [batch, 2] (SymbolicNet's weights): a model with a batch dimension only.</summary>
    public static Model BatchNet()
    {
        var model = NewModel("batch");
        var g = model.Graph;
        var x = g.AddInput("x", new TensorType(DataType.Float, new Shape([Dim.Symbolic("batch"), Dim.Of(4)])));
        var w = g.AddInitializer("W", Tensor.FromFloats([4, 2], [1, 2, 3, 4, 5, 6, 7, 8]));
        Output(g, Node(g, "MatMul", [x, w], "y"), DataType.Float, new Shape([Dim.Symbolic("batch"), Dim.Of(2)]));
        return model;
    }

    /// <summary>A fresh folder holding the models at the paths their manifests name (ScaleNet with factor 1).</summary>
    public static string WriteAll()
    {
        string dir = Path.Combine(Path.GetTempPath(), "edgebuild-runtime-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(dir, "models"));
        OnnxExporter.Save(TinyDetector(), Path.Combine(dir, "TinyDetector.onnx"));
        OnnxExporter.Save(SymbolicNet(), Path.Combine(dir, "models", "SymbolicNet.onnx"));
        OnnxExporter.Save(MixedTypes(), Path.Combine(dir, "MixedTypes.onnx"));
        OnnxExporter.Save(ScaleNet(1f), Path.Combine(dir, "ScaleNet.onnx"));
        OnnxExporter.Save(LabelNet(), Path.Combine(dir, "LabelNet.onnx"));
        OnnxExporter.Save(ImageNet(), Path.Combine(dir, "ImageNet.onnx"));
        OnnxExporter.Save(BatchNet(), Path.Combine(dir, "BatchNet.onnx"));
        OnnxExporter.Save(ImageBatchNet(), Path.Combine(dir, "ImageBatchNet.onnx"));
        return dir;
    }

    /// <summary>Runs a model file the plain ONNX Runtime way (the reference the generated classes must match).</summary>
    public static OrtValue[] RunPlain(string path, params (string Name, OrtValue Value)[] inputs)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(path, options);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, inputs.Select(i => i.Name).ToArray(), inputs.Select(i => i.Value).ToArray(), session.OutputNames);
        // Copy out: the collection disposes its values.
        return outputs.Select(o =>
        {
            var info = o.GetTensorTypeAndShape();
            var copy = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, info.ElementDataType, info.Shape);
            o.GetTensorDataAsSpan<byte>().CopyTo(copy.GetTensorMutableDataAsSpan<byte>());
            return copy;
        }).ToArray();
    }
}

/// <summary>The test models written once per test class, deleted afterwards.</summary>
public sealed class ModelFolder : IDisposable
{
    public string Path { get; } = TestModels.WriteAll();

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}
