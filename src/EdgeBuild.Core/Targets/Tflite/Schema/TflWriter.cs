using Google.FlatBuffers;

namespace EdgeBuild.Targets.Tflite.Schema;

/// <summary>
/// Serializes a <see cref="TflModel"/> to TFLite FlatBuffer bytes with Google.FlatBuffers' builder: the schema's
/// tables by field id, file identifier "TFL3", schema version 3, every buffer's data 16-byte aligned (the
/// schema's force_align). The builder writes back to front in a fixed order, so the same model gives the same
/// bytes.
/// </summary>
public static class TflWriter
{
    public const int SchemaVersion = 3;
    public const string FileIdentifier = "TFL3";
    private const int BufferAlignment = 16;

    public static byte[] Write(TflModel model)
    {
        long dataBytes = model.Buffers.Sum(b => (long)b.Length);
        if (dataBytes > int.MaxValue - (64 << 20))
            throw new InvalidOperationException($"the model's constants take {dataBytes} bytes; TFLite FlatBuffers without external buffers stop at 2 GB");
        var b = new FlatBufferBuilder((int)Math.Min(int.MaxValue / 2, dataBytes + (1 << 20)));

        // Buffers first: they end up at the back of the file, each aligned for mmap.
        var buffers = new Offset<int>[model.Buffers.Count];
        for (int i = model.Buffers.Count - 1; i >= 0; i--)
        {
            var data = model.Buffers[i];
            VectorOffset? vector = null;
            if (data.Length > 0)
            {
                b.StartVector(1, data.Length, BufferAlignment);
                b.Add(data);
                vector = b.EndVector();
            }
            b.StartTable(3);
            if (vector is { } v) b.AddOffset(0, v.Value, 0);
            buffers[i] = new Offset<int>(b.EndTable());
        }
        var buffersVector = Tables(b, buffers);

        var tensors = new Offset<int>[model.Tensors.Count];
        var shared = new SharedVectors();
        for (int i = 0; i < tensors.Length; i++) tensors[i] = WriteTensor(b, model.Tensors[i], shared);
        var tensorsVector = Tables(b, tensors);

        var operators = new Offset<int>[model.Operators.Count];
        for (int i = 0; i < operators.Length; i++) operators[i] = WriteOperator(b, model.Operators[i]);
        var operatorsVector = Tables(b, operators);

        var inputs = IntVector(b, model.Inputs);
        var outputs = IntVector(b, model.Outputs);
        var subgraphName = b.CreateString(model.SubgraphName);
        b.StartTable(5);
        b.AddOffset(0, tensorsVector.Value, 0);
        b.AddOffset(1, inputs.Value, 0);
        b.AddOffset(2, outputs.Value, 0);
        b.AddOffset(3, operatorsVector.Value, 0);
        b.AddOffset(4, subgraphName.Value, 0);
        var subgraph = new Offset<int>(b.EndTable());
        var subgraphs = Tables(b, [subgraph]);

        var codes = new Offset<int>[model.OperatorCodes.Count];
        for (int i = 0; i < codes.Length; i++)
        {
            var c = model.OperatorCodes[i];
            b.StartTable(4);
            b.AddInt(2, c.Version, 1);
            b.AddInt(3, (int)c.Code, 0);
            // Codes past 127 do not fit the old byte field: readers then find PLACEHOLDER_FOR_GREATER_OP_CODES there.
            b.AddSbyte(0, (sbyte)Math.Min((int)c.Code, (int)BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES), 0);
            codes[i] = new Offset<int>(b.EndTable());
        }
        var codesVector = Tables(b, codes);

        var metadata = new Offset<int>[model.Metadata.Count];
        for (int i = 0; i < metadata.Length; i++)
        {
            var name = b.CreateString(model.Metadata[i].Name);
            b.StartTable(2);
            b.AddOffset(0, name.Value, 0);
            b.AddUint(1, (uint)model.Metadata[i].Buffer, 0);
            metadata[i] = new Offset<int>(b.EndTable());
        }
        var metadataVector = Tables(b, metadata);

        var signatures = new Offset<int>[model.Signatures.Count];
        for (int i = 0; i < signatures.Length; i++)
        {
            var s = model.Signatures[i];
            var sigInputs = TensorMaps(b, s.Inputs);
            var sigOutputs = TensorMaps(b, s.Outputs);
            var key = b.CreateString(s.Key);
            b.StartTable(5);
            b.AddOffset(0, sigInputs.Value, 0);
            b.AddOffset(1, sigOutputs.Value, 0);
            b.AddOffset(2, key.Value, 0);
            b.AddUint(4, 0, 0);
            signatures[i] = new Offset<int>(b.EndTable());
        }
        var signaturesVector = Tables(b, signatures);

        var description = b.CreateString(model.Description);
        b.StartTable(8);
        b.AddUint(0, SchemaVersion, 0);
        b.AddOffset(1, codesVector.Value, 0);
        b.AddOffset(2, subgraphs.Value, 0);
        b.AddOffset(3, description.Value, 0);
        b.AddOffset(4, buffersVector.Value, 0);
        b.AddOffset(6, metadataVector.Value, 0);
        b.AddOffset(7, signaturesVector.Value, 0);
        int root = b.EndTable();
        b.Finish(root, FileIdentifier);
        return b.SizedByteArray();
    }

    /// <summary>
    /// Scalar vectors and quantization tables already written, by content: tensors point at one copy (a FlatBuffer may
    /// share a vector or table; every reference points forward, as the builder writes back to front). Per-channel zero
    /// points (int64, all 0), shapes and the quantization of same-scale ops repeat across many tensors; sharing them is
    /// what keeps int8 files small.
    /// </summary>
    private sealed class SharedVectors
    {
        private readonly Dictionary<string, VectorOffset> known = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> tables = new(StringComparer.Ordinal);

        public VectorOffset Ints(FlatBufferBuilder b, IReadOnlyList<int> values) =>
            Get("i" + string.Join(",", values), () => IntVector(b, values));

        public VectorOffset Floats(FlatBufferBuilder b, float[] values) =>
            Get("f" + string.Join(",", values.Select(v => BitConverter.SingleToInt32Bits(v))), () =>
            {
                b.StartVector(4, values.Length, 4);
                for (int i = values.Length - 1; i >= 0; i--) b.AddFloat(values[i]);
                return b.EndVector();
            });

        public VectorOffset Longs(FlatBufferBuilder b, long[] values) =>
            Get("l" + string.Join(",", values), () =>
            {
                b.StartVector(8, values.Length, 8);
                for (int i = values.Length - 1; i >= 0; i--) b.AddLong(values[i]);
                return b.EndVector();
            });

        /// <summary>A QuantizationParameters table, written once per distinct content (same-scale ops repeat their input's).</summary>
        public int Quantization(FlatBufferBuilder b, TflQuantization q)
        {
            string key = q.QuantizedDimension + "/" + string.Join(",", q.Scale.Select(v => BitConverter.SingleToInt32Bits(v))) + "/" + string.Join(",", q.ZeroPoint);
            if (tables.TryGetValue(key, out int known)) return known;
            var scale = Floats(b, q.Scale);
            var zeroPoint = Longs(b, q.ZeroPoint);
            b.StartTable(7);
            b.AddOffset(2, scale.Value, 0);
            b.AddOffset(3, zeroPoint.Value, 0);
            b.AddInt(6, q.QuantizedDimension, 0);
            int table = b.EndTable();
            tables[key] = table;
            return table;
        }

        private VectorOffset Get(string key, Func<VectorOffset> make)
        {
            if (known.TryGetValue(key, out var v)) return v;
            v = make();
            known[key] = v;
            return v;
        }
    }

    private static Offset<int> WriteTensor(FlatBufferBuilder b, TflTensor t, SharedVectors shared)
    {
        var shape = shared.Ints(b, t.Shape);
        var name = b.CreateString(t.Name);
        int quantization = t.Quantization is { } q ? shared.Quantization(b, q) : 0;
        b.StartTable(8);
        b.AddOffset(0, shape.Value, 0);
        b.AddUint(2, (uint)t.Buffer, 0);
        b.AddOffset(3, name.Value, 0);
        if (quantization != 0) b.AddOffset(4, quantization, 0);
        b.AddSbyte(1, (sbyte)t.Type, 0);
        return new Offset<int>(b.EndTable());
    }

    private static Offset<int> WriteOperator(FlatBufferBuilder b, TflOperator op)
    {
        var inputs = IntVector(b, op.Inputs);
        var outputs = IntVector(b, op.Outputs);
        int options = op.Options?.Write(b) ?? 0;
        b.StartTable(5);
        b.AddUint(0, (uint)op.OpcodeIndex, 0);
        b.AddOffset(1, inputs.Value, 0);
        b.AddOffset(2, outputs.Value, 0);
        if (op.Options is { } o)
        {
            b.AddOffset(4, options, 0);
            b.AddByte(3, (byte)o.Type, 0);
        }
        return new Offset<int>(b.EndTable());
    }

    private static VectorOffset TensorMaps(FlatBufferBuilder b, IReadOnlyList<(string Name, int Tensor)> maps)
    {
        var offsets = new Offset<int>[maps.Count];
        for (int i = 0; i < maps.Count; i++)
        {
            var name = b.CreateString(maps[i].Name);
            b.StartTable(2);
            b.AddOffset(0, name.Value, 0);
            b.AddUint(1, (uint)maps[i].Tensor, 0);
            offsets[i] = new Offset<int>(b.EndTable());
        }
        return Tables(b, offsets);
    }

    private static VectorOffset IntVector(FlatBufferBuilder b, IReadOnlyList<int> values)
    {
        b.StartVector(4, values.Count, 4);
        for (int i = values.Count - 1; i >= 0; i--) b.AddInt(values[i]);
        return b.EndVector();
    }

    private static VectorOffset Tables(FlatBufferBuilder b, Offset<int>[] offsets)
    {
        b.StartVector(4, offsets.Length, 4);
        for (int i = offsets.Length - 1; i >= 0; i--) b.AddOffset(offsets[i].Value);
        return b.EndVector();
    }
}
