namespace EdgeBuild.Targets.Tflite.Schema;

/// <summary>
/// The parts of a TFLite model EdgeBuild writes, in memory (one subgraph). Field names follow the TFLite schema
/// (schema.fbs, file identifier "TFL3", schema version 3); <see cref="TflWriter"/> turns it into FlatBuffer bytes.
/// </summary>
public sealed class TflModel
{
    /// <summary>Buffers; entry 0 is the empty sentinel every tensor without data points at.</summary>
    public List<byte[]> Buffers { get; } = [[]];
    public List<TflOperatorCode> OperatorCodes { get; } = [];
    public List<TflTensor> Tensors { get; } = [];
    public List<TflOperator> Operators { get; } = [];
    public List<int> Inputs { get; } = [];
    public List<int> Outputs { get; } = [];
    public string SubgraphName { get; set; } = "main";
    public string Description { get; set; } = "";

    /// <summary>Model metadata entries: a name and the buffer holding its bytes.</summary>
    public List<(string Name, int Buffer)> Metadata { get; } = [];

    /// <summary>SignatureDefs (EdgeBuild writes one, "serving_default", naming I/O by their ONNX names).</summary>
    public List<TflSignature> Signatures { get; } = [];

    public int AddBuffer(byte[] data)
    {
        Buffers.Add(data);
        return Buffers.Count - 1;
    }

    /// <summary>The index of the operator code for (op, version), added on first use.</summary>
    public int OperatorCodeIndex(BuiltinOperator op, int version)
    {
        int i = OperatorCodes.FindIndex(c => c.Code == op && c.Version == version);
        if (i >= 0) return i;
        OperatorCodes.Add(new TflOperatorCode(op, version));
        return OperatorCodes.Count - 1;
    }
}

/// <summary>An OperatorCode: the builtin op and its version (written to both deprecated_builtin_code and builtin_code).</summary>
public sealed record TflOperatorCode(BuiltinOperator Code, int Version);

/// <summary>QuantizationParameters: per-tensor (one scale) or per-axis along <see cref="QuantizedDimension"/>.</summary>
public sealed record TflQuantization(float[] Scale, long[] ZeroPoint, int QuantizedDimension = 0)
{
    public static TflQuantization PerTensor(float scale, long zeroPoint) => new([scale], [zeroPoint]);
}

/// <summary>A Tensor: shape, element type, buffer (0: none), name and optional quantization.</summary>
public sealed class TflTensor
{
    public required string Name { get; init; }
    public required int[] Shape { get; init; }
    public required TensorType Type { get; init; }
    public int Buffer { get; set; }
    public TflQuantization? Quantization { get; set; }
}

/// <summary>An Operator: an operator code index, tensor indices (-1: omitted optional input) and builtin options.</summary>
public sealed class TflOperator
{
    public required int OpcodeIndex { get; init; }
    public required int[] Inputs { get; init; }
    public required int[] Outputs { get; init; }
    public BuiltinOptions? Options { get; init; }
}

/// <summary>A SignatureDef over subgraph 0.</summary>
public sealed record TflSignature(string Key, IReadOnlyList<(string Name, int Tensor)> Inputs, IReadOnlyList<(string Name, int Tensor)> Outputs);
