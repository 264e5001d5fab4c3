using EdgeBuild.Ir;

namespace EdgeBuild.Tests.Support;

/// <summary>Builds small models in code for pass tests (no opaque fixture files).</summary>
public sealed class ModelBuilder
{
    private readonly Random random;

    public ModelBuilder(long opset = 13, int seed = 1234)
    {
        Model = new Model(new Graph("test")) { IrVersion = 8, ProducerName = "edgebuild-tests" };
        Model.Opsets.Add(new OpsetId("", opset));
        random = new Random(seed);
    }

    public Model Model { get; }
    public Graph Graph => Model.Graph;

    public Value Input(string name, params long[] dims) => Graph.AddInput(name, new TensorType(DataType.Float, Shape.Of(dims)));

    public Value InputSymbolic(string name, params string[] dims) =>
        Graph.AddInput(name, new TensorType(DataType.Float, new Shape(dims.Select(d => long.TryParse(d, out var v) ? Dim.Of(v) : Dim.Symbolic(d)))));

    /// <summary>A float initializer with values drawn uniformly from [lo, hi).</summary>
    public Value Weight(string name, long[] dims, float lo = -1f, float hi = 1f)
    {
        var data = new float[Tensor.CountElements(dims)];
        for (int i = 0; i < data.Length; i++) data[i] = lo + (float)random.NextDouble() * (hi - lo);
        return Graph.AddInitializer(name, Tensor.FromFloats(dims, data));
    }

    public Value Const(string name, long[] dims, params float[] data) => Graph.AddInitializer(name, Tensor.FromFloats(dims, data));
    public Value ConstInts(string name, params long[] data) => Graph.AddInitializer(name, Tensor.FromInt64s([data.Length], data));

    public Value Op(string opType, Value?[] inputs, string output, params Ir.Attribute[] attributes) =>
        Graph.AddNode(opType, inputs, [output], "", output + "_node", attributes).Output0;

    public Node Node(string opType, Value?[] inputs, string[] outputs, params Ir.Attribute[] attributes) =>
        Graph.AddNode(opType, inputs, outputs, "", outputs[0] + "_node", attributes);

    public Value Conv(Value x, string name, long outChannels, long inChannels, long kernel = 3, long group = 1, bool bias = true, long pad = 1)
    {
        var w = Weight(name + "_W", [outChannels, inChannels / group, kernel, kernel], -0.5f, 0.5f);
        var b = bias ? Weight(name + "_B", [outChannels], -0.1f, 0.1f) : null;
        return Op("Conv", b is null ? [x, w] : [x, w, b], name,
            Ir.Attribute.Of("kernel_shape", [kernel, kernel]), Ir.Attribute.Of("pads", [pad, pad, pad, pad]), Ir.Attribute.Of("group", group));
    }

    public Value BatchNorm(Value x, string name, long channels)
    {
        var scale = Weight(name + "_scale", [channels], 0.5f, 1.5f);
        var bias = Weight(name + "_bias", [channels], -0.5f, 0.5f);
        var mean = Weight(name + "_mean", [channels], -0.2f, 0.2f);
        var variance = Weight(name + "_var", [channels], 0.5f, 2f);
        return Op("BatchNormalization", [x, scale, bias, mean, variance], name, Ir.Attribute.Of("epsilon", 1e-5f));
    }

    public void Output(params Value[] values)
    {
        foreach (var v in values) Graph.AddOutput(v);
    }

    /// <summary>A random float input tensor for <paramref name="dims"/>.</summary>
    public static Tensor RandomInput(long[] dims, int seed = 7)
    {
        var r = new Random(seed);
        var data = new float[Tensor.CountElements(dims)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(r.NextDouble() * 2 - 1);
        return Tensor.FromFloats(dims, data);
    }
}
