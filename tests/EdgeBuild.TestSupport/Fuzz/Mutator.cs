using Google.Protobuf;
using Pb = EdgeBuild.Onnx.Proto;

namespace EdgeBuild.Tests.Support.Fuzz;

/// <summary>One mutant: its bytes and what was done to the seed (for the repro line).</summary>
public sealed record Mutant(byte[] Bytes, string Seed, string Description);

/// <summary>
/// Makes mutants of a seed: byte-level edits (bit flips, truncation, insertion, overwrite, duplication) that mostly
/// fail early in the decoder, and protobuf-aware edits that decode and reach the passes and writers: huge or negative
/// dims, wrong element types, raw data shorter than its dims, unknown ops, undefined inputs, duplicate outputs, a node
/// listing one output twice, cycles, external-data paths, opsets 0 and 99999, string tensors where integers are read,
/// attribute values at the ends of their range, missing and extra node inputs, names with control characters,
/// a constant region asking for gigabytes or a huge MatMul, a long Identity chain.
/// Mutant k of seed S depends on (S, k) only, so any one can be rebuilt alone.
/// </summary>
public sealed class Mutator(IReadOnlyList<FuzzSeed> seeds)
{
    private readonly Dictionary<string, Pb.ModelProto> parsed = [];

    /// <summary>Share of mutants that are protobuf-aware (the rest are byte-level).</summary>
    public double StructuredShare { get; init; } = 0.6;

    /// <summary>Share of mutants taken from the real models (when there are any).</summary>
    public double RealShare { get; init; } = 0.3;

    /// <summary>Length of the Identity chain edit (the issue's 400k-node chain took 21 s before passes were linear).</summary>
    public int IdentityChainLength { get; init; } = 3000;

    /// <summary>
    /// Share of mutants made only by edits that the importer refuses or that fail in the decoder (truncation, insertion,
    /// flips in the structure, undefined inputs, cycles, duplicate values, bad external data): cheap, so a campaign of a
    /// minute reaches ten thousand mutants while the rest still go deep.
    /// </summary>
    public double EarlyShare { get; init; }

    private static readonly int[] EarlyByteKinds = [1, 2, 3, 5];
    private static readonly int[] EarlyStructuredKinds = [1, 4, 6, 7, 8, 9, 10, 11, 13, 20, 25];

    /// <summary>The Random seed of mutant <paramref name="index"/>: SplitMix64 of both (HashCode is randomized per process, so no repro).</summary>
    public static int MutantSeed(int seed, long index)
    {
        ulong z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)index + 0x5EEDUL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return (int)(z ^ (z >> 31));
    }

    public Mutant Make(int seed, long index)
    {
        var r = new Random(MutantSeed(seed, index));
        var real = seeds.Where(s => s.Real).ToList();
        var built = seeds.Where(s => !s.Real).ToList();
        var pool = real.Count > 0 && (built.Count == 0 || r.NextDouble() < RealShare) ? real : built;
        var s = pool[r.Next(pool.Count)];
        bool early = r.NextDouble() < EarlyShare;
        if (r.NextDouble() >= StructuredShare) return ByteLevel(s, r, early ? Pick(EarlyByteKinds, r) : r.Next(6));
        var proto = Proto(s).Clone();
        int edits = 1 + (r.Next(4) == 0 ? r.Next(3) : 0);
        var what = new List<string>();
        for (int i = 0; i < edits; i++) what.Add(Structured(proto, r, early ? Pick(EarlyStructuredKinds, r) : r.Next(26)));
        return new Mutant(proto.ToByteArray(), s.Name, string.Join("; ", what));
    }

    private Pb.ModelProto Proto(FuzzSeed s)
    {
        lock (parsed)
        {
            if (!parsed.TryGetValue(s.Name, out var p)) parsed[s.Name] = p = Pb.ModelProto.Parser.ParseFrom(s.Bytes);
            return p;
        }
    }

    private static Mutant ByteLevel(FuzzSeed s, Random r, int kind)
    {
        var bytes = s.Bytes;
        switch (kind)
        {
            case 0:
            {
                var copy = (byte[])bytes.Clone();
                int flips = 1 + r.Next(8);
                for (int i = 0; i < flips; i++) copy[r.Next(copy.Length)] ^= (byte)(1 << r.Next(8));
                return new Mutant(copy, s.Name, $"{flips} bit flip(s)");
            }
            case 1:
            {
                int keep = r.Next(bytes.Length);
                return new Mutant(bytes[..keep], s.Name, $"truncated to {keep} bytes");
            }
            case 2:
            {
                int at = r.Next(bytes.Length + 1);
                var extra = new byte[1 + r.Next(16)];
                r.NextBytes(extra);
                return new Mutant([.. bytes[..at], .. extra, .. bytes[at..]], s.Name, $"{extra.Length} random bytes inserted at {at}");
            }
            case 3:
            {
                // Flips in the first bytes hit field tags and lengths (the structure), not weight data.
                var copy = (byte[])bytes.Clone();
                int span = Math.Min(copy.Length, 4096);
                int flips = 1 + r.Next(4);
                for (int i = 0; i < flips; i++) copy[r.Next(span)] ^= (byte)(1 << r.Next(8));
                return new Mutant(copy, s.Name, $"{flips} bit flip(s) in the first {span} bytes");
            }
            case 4:
            {
                var copy = (byte[])bytes.Clone();
                int at = r.Next(copy.Length);
                int len = Math.Min(copy.Length - at, 1 + r.Next(64));
                r.NextBytes(copy.AsSpan(at, len));
                return new Mutant(copy, s.Name, $"{len} bytes overwritten at {at}");
            }
            default:
            {
                int at = r.Next(bytes.Length);
                int len = Math.Min(bytes.Length - at, 1 + r.Next(256));
                return new Mutant([.. bytes[..(at + len)], .. bytes[at..]], s.Name, $"{len} bytes at {at} duplicated");
            }
        }
    }

    private static readonly string[] KnownOps =
    [
        "Conv", "Relu", "Add", "Mul", "MatMul", "Gemm", "Reshape", "Transpose", "Concat", "Slice", "Gather", "Squeeze", "Unsqueeze",
        "Resize", "Pad", "MaxPool", "AveragePool", "GlobalAveragePool", "BatchNormalization", "Softmax", "Sigmoid", "Identity",
        "Dropout", "Flatten", "Expand", "Tile", "ConstantOfShape", "Shape", "Cast", "Split", "ReduceMean", "ConvTranspose",
        "PRelu", "LeakyRelu", "Clip", "HardSigmoid", "Where", "Range", "TopK", "NonZero", "ArgMax", "Einsum", "Upsample",
        "DepthToSpace", "SpaceToDepth", "InstanceNormalization", "LayerNormalization", "Constant", "QuantizeLinear", "DequantizeLinear",
    ];

    private static readonly long[] EdgeInts = [0, -1, 1, 2, -2, int.MaxValue, int.MinValue, (long)int.MaxValue + 1, long.MaxValue, long.MinValue, 1L << 40, -(1L << 40), 3, 7, 65535];

    private static T Pick<T>(IReadOnlyList<T> items, Random r) => items[r.Next(items.Count)];

    /// <summary>One protobuf-aware edit; returns what it did.</summary>
    private string Structured(Pb.ModelProto m, Random r, int kind)
    {
        var g = m.Graph ??= new Pb.GraphProto();
        var nodes = g.Node;
        var inits = g.Initializer;
        var infos = g.Input.Concat(g.Output).Concat(g.ValueInfo).Where(v => v.Type?.TensorType?.Shape is not null).ToList();
        switch (kind)
        {
            case 0 when infos.Count > 0:
            {
                var vi = Pick(infos, r);
                var dims = vi.Type.TensorType.Shape.Dim;
                if (dims.Count == 0) dims.Add(new Pb.TensorShapeProto.Types.Dimension());
                var d = dims[r.Next(dims.Count)];
                long v = Pick<long>([int.MaxValue, 1L << 40, -1, -7, 0, 1L << 31, 8192, 65536], r);
                d.DimValue = v;
                return $"dim of '{vi.Name}' = {v}";
            }
            case 1 when inits.Count > 0:
            {
                var t = Pick(inits, r);
                if (t.Dims.Count == 0) t.Dims.Add(1);
                int i = r.Next(t.Dims.Count);
                long v = Pick<long>([-1, -3, 0, int.MaxValue, 1L << 33, 1L << 62, t.Dims[i] + 1], r);
                t.Dims[i] = v;
                return $"initializer '{t.Name}' dim {i} = {v}";
            }
            case 2 when inits.Count > 0:
            {
                var t = Pick(inits, r);
                int type = Pick([0, 2, 3, 6, 7, 8, 9, 10, 11, 16, 17, 21, 22, 23, 25, 999, -4], r);
                t.DataType = type;
                return $"initializer '{t.Name}' element type {type}";
            }
            case 3 when infos.Count > 0:
            {
                var vi = Pick(infos, r);
                int type = Pick([0, 2, 6, 7, 8, 9, 10, 11, 16, 999], r);
                vi.Type.TensorType.ElemType = type;
                return $"value '{vi.Name}' element type {type}";
            }
            case 4 when inits.Any(t => t.RawData.Length > 0):
            {
                var t = Pick(inits.Where(t => t.RawData.Length > 0).ToList(), r);
                int keep = r.Next(t.RawData.Length);
                t.RawData = ByteString.CopyFrom(t.RawData.Span[..keep]);
                return $"raw data of '{t.Name}' cut to {keep} bytes";
            }
            case 5 when nodes.Count > 0:
            {
                var n = Pick(nodes, r);
                string op = r.Next(3) == 0 ? "NoSuchOp" + r.Next(100) : Pick(KnownOps, r);
                n.OpType = op;
                return $"node '{n.Name}' op -> {op}";
            }
            case 6 when nodes.Any(n => n.Input.Count > 0):
            {
                var n = Pick(nodes.Where(n => n.Input.Count > 0).ToList(), r);
                int i = r.Next(n.Input.Count);
                n.Input[i] = "ghost_" + r.Next(10);
                return $"node '{n.Name}' input {i} undefined";
            }
            case 7 when g.Output.Count > 0:
            {
                g.Output.Add(g.Output[r.Next(g.Output.Count)].Clone());
                return "graph output listed twice";
            }
            case 8 when nodes.Count > 1:
            {
                var a = Pick(nodes, r);
                var b = Pick(nodes, r);
                if (a.Output.Count > 0 && b.Output.Count > 0) b.Output[0] = a.Output[0];
                return $"node '{b.Name}' produces '{a.Output.FirstOrDefault()}' too";
            }
            case 9 when nodes.Any(n => n.Output.Count > 0):
            {
                var n = Pick(nodes.Where(n => n.Output.Count > 0).ToList(), r);
                n.Output.Add(n.Output[0]);
                return $"node '{n.Name}' lists output '{n.Output[0]}' twice";
            }
            case 10 when nodes.Count > 1:
            {
                int i = r.Next(nodes.Count - 1);
                int j = i + 1 + r.Next(nodes.Count - i - 1);
                if (nodes[i].Input.Count > 0 && nodes[j].Output.Count > 0) nodes[i].Input[0] = nodes[j].Output[0];
                return $"cycle: node {i} reads node {j}'s output";
            }
            case 11 when inits.Count > 0:
            {
                var t = Pick(inits, r);
                string location = Pick(["w.bin", "../w.bin", "/etc/passwd", "link/hostname", "w\0.bin", "sub/../../w.bin", "", "a\nb", "C:w.bin", "missing.bin", "dir"], r);
                t.DataLocation = Pb.TensorProto.Types.DataLocation.External;
                t.ClearRawData();
                t.FloatData.Clear();
                t.ExternalData.Add(new Pb.StringStringEntryProto { Key = "location", Value = location });
                if (r.Next(2) == 0) t.ExternalData.Add(new Pb.StringStringEntryProto { Key = "offset", Value = Pick(["0", "4", "x", "-1", "99999999999999999999", "9223372036854775807"], r) });
                if (r.Next(2) == 0) t.ExternalData.Add(new Pb.StringStringEntryProto { Key = "length", Value = Pick(["16", "0", "x", "-16", "9223372036854775807"], r) });
                return $"initializer '{t.Name}' external data at '{location.Replace("\0", "\\0").Replace("\n", "\\n")}'";
            }
            case 12:
            {
                long v = Pick<long>([0, 99999, 1, -1, 6, 7, 21, 23], r);
                if (m.OpsetImport.Count == 0) m.OpsetImport.Add(new Pb.OperatorSetIdProto { Domain = "" });
                m.OpsetImport[0].Version = v;
                return $"opset {v}";
            }
            case 13 when inits.Any(t => t.DataType == 7):
            {
                var t = Pick(inits.Where(t => t.DataType == 7).ToList(), r);
                long count = t.Dims.Aggregate(1L, (a, d) => a * d);
                t.DataType = 8;
                t.ClearRawData();
                t.Int64Data.Clear();
                for (long k = 0; k < Math.Clamp(count, 0, 64); k++) t.StringData.Add(ByteString.CopyFromUtf8("s" + k));
                return $"int64 initializer '{t.Name}' made a string tensor";
            }
            case 14 when nodes.Any(n => n.Attribute.Count > 0):
            {
                var n = Pick(nodes.Where(n => n.Attribute.Count > 0).ToList(), r);
                var a = Pick(n.Attribute, r);
                if (a.Ints.Count > 0)
                {
                    int i = r.Next(a.Ints.Count);
                    a.Ints[i] = Pick(EdgeInts, r);
                    if (r.Next(4) == 0) a.Ints.Add(Pick(EdgeInts, r));
                    if (r.Next(6) == 0) a.Ints.Clear();
                }
                else if (a.Type == Pb.AttributeProto.Types.AttributeType.Float) a.F = Pick([float.NaN, float.PositiveInfinity, -1e30f, 0f, -1f], r);
                else a.I = Pick(EdgeInts, r);
                return $"node '{n.Name}' attribute '{a.Name}' edited";
            }
            case 15 when nodes.Count > 0:
            {
                var n = Pick(nodes, r);
                var a = new Pb.AttributeProto { Name = Pick(["group", "axis", "axes", "pads", "perm", "kernel_shape", "strides", "dilations", "to", "mode", "blocksize", "k"], r) };
                switch (r.Next(3))
                {
                    case 0: a.Type = Pb.AttributeProto.Types.AttributeType.Int; a.I = Pick(EdgeInts, r); break;
                    case 1: a.Type = Pb.AttributeProto.Types.AttributeType.Ints; a.Ints.AddRange(Enumerable.Range(0, r.Next(6)).Select(_ => Pick(EdgeInts, r))); break;
                    default: a.Type = Pb.AttributeProto.Types.AttributeType.String; a.S = ByteString.CopyFromUtf8("bogus"); break;
                }
                for (int i = n.Attribute.Count - 1; i >= 0; i--) if (n.Attribute[i].Name == a.Name) n.Attribute.RemoveAt(i);
                n.Attribute.Add(a);
                return $"node '{n.Name}' attribute '{a.Name}' set ({a.Type})";
            }
            case 16 when nodes.Any(n => n.Input.Count > 0):
            {
                var n = Pick(nodes.Where(n => n.Input.Count > 0).ToList(), r);
                if (r.Next(2) == 0)
                {
                    n.Input.RemoveAt(n.Input.Count - 1);
                    return $"node '{n.Name}' last input dropped";
                }
                var pool = g.Input.Select(i => i.Name).Concat(inits.Select(t => t.Name)).Concat(nodes.SelectMany(x => x.Output)).ToList();
                int extra = 1 + r.Next(3);
                for (int i = 0; i < extra; i++) n.Input.Add(r.Next(4) == 0 ? "" : Pick(pool, r));
                return $"node '{n.Name}' {extra} extra input(s)";
            }
            case 17 when nodes.Count > 0:
            {
                int i = r.Next(nodes.Count);
                nodes.RemoveAt(i);
                return $"node {i} removed";
            }
            case 18 when nodes.Count > 1:
            {
                var shuffled = nodes.OrderBy(_ => r.Next()).ToList();
                nodes.Clear();
                nodes.AddRange(shuffled);
                return "nodes shuffled";
            }
            case 19 when nodes.Any(n => n.Output.Count > 0):
            {
                var n = Pick(nodes.Where(n => n.Output.Count > 0).ToList(), r);
                string old = n.Output[0];
                string fresh = old + Pick(["\n", "\r\nerror EB0000: fake", "\u001b[31m", "\0", "\t", " "], r) + "x";
                foreach (var x in nodes) for (int i = 0; i < x.Input.Count; i++) if (x.Input[i] == old) x.Input[i] = fresh;
                foreach (var o in g.Output) if (o.Name == old) o.Name = fresh;
                n.Output[0] = fresh;
                n.Name = n.Name + "\n\u0007";
                return $"value '{old}' renamed with control characters";
            }
            case 20:
            {
                long v = Pick<long>([0, 1, 2, 3, 11, 12, -1], r);
                m.IrVersion = v;
                return $"IR version {v}";
            }
            case 21 when g.Output.Count > 0:
                return Bomb(m, r);
            case 22 when g.Output.Count > 0:
                return IdentityChain(m, r);
            case 23 when inits.Count > 0:
            {
                var t = Pick(inits, r);
                t.ClearRawData();
                t.FloatData.Clear();
                t.Int64Data.Clear();
                t.Int32Data.Clear();
                long count = t.Dims.Aggregate(1L, (a, d) => a * d);
                for (long k = 0; k < Math.Clamp(count / 2, 0, 1 << 16); k++) t.Int32Data.Add(r.Next());
                return $"initializer '{t.Name}' typed data replaced by {t.Int32Data.Count} int32 values";
            }
            case 24 when inits.Count > 0:
            {
                // Integer tensors read as shapes, axes, pads or repeats, set to values at the ends of their range.
                var t = Pick(inits.Where(t => t.DataType == 7).DefaultIfEmpty(inits[0]).ToList(), r);
                if (t.DataType != 7) return "no int64 initializer";
                long count = t.RawData.Length / 8;
                if (count == 0) return $"int64 '{t.Name}' empty";
                var values = new long[count];
                for (int k = 0; k < count; k++) values[k] = r.Next(3) == 0 ? Pick(EdgeInts, r) : r.Next(-4, 9);
                t.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
                return $"int64 '{t.Name}' values [{string.Join(",", values.Take(6))}]";
            }
            default:
            {
                if (nodes.Count == 0) return "no nodes";
                var n = Pick(nodes, r);
                if (n.Input.Count > 0 && n.Output.Count > 0) n.Input[0] = n.Output[0];
                return $"node '{n.Name}' reads its own output";
            }
        }
    }

    /// <summary>A few bytes that ask for a lot: ConstantOfShape/Expand/Tile of gigabytes, or an 8192x8192 MatMul of constants.</summary>
    private static string Bomb(Pb.ModelProto m, Random r)
    {
        var g = m.Graph;
        string output = g.Output[0].Name;
        static Pb.TensorProto Ints(string name, params long[] v) =>
            new() { Name = name, DataType = 7, Dims = { v.Length }, RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan())) };
        string tag = "bomb" + r.Next(1000);
        int kind = r.Next(4);
        long side = Pick<long>([8192, 65536, 1 << 20, 46341], r);
        switch (kind)
        {
            case 0:
                g.Initializer.Add(Ints(tag + "_dims", side, side));
                g.Node.Add(new Pb.NodeProto { OpType = "ConstantOfShape", Name = tag, Input = { tag + "_dims" }, Output = { tag + "_out" } });
                break;
            case 1:
                g.Initializer.Add(Ints(tag + "_dims", side, side));
                g.Initializer.Add(new Pb.TensorProto { Name = tag + "_one", DataType = 1, Dims = { 1 }, FloatData = { 1f } });
                g.Node.Add(new Pb.NodeProto { OpType = "Expand", Name = tag, Input = { tag + "_one", tag + "_dims" }, Output = { tag + "_out" } });
                break;
            case 2:
                g.Initializer.Add(Ints(tag + "_reps", side, side));
                g.Initializer.Add(new Pb.TensorProto { Name = tag + "_cell", DataType = 1, Dims = { 1, 1 }, FloatData = { 1f } });
                g.Node.Add(new Pb.NodeProto { OpType = "Tile", Name = tag, Input = { tag + "_cell", tag + "_reps" }, Output = { tag + "_out" } });
                break;
            default:
                g.Initializer.Add(Ints(tag + "_dims", 8192, 8192));
                g.Node.Add(new Pb.NodeProto { OpType = "ConstantOfShape", Name = tag + "_a", Input = { tag + "_dims" }, Output = { tag + "_a_out" } });
                g.Node.Add(new Pb.NodeProto { OpType = "MatMul", Name = tag, Input = { tag + "_a_out", tag + "_a_out" }, Output = { tag + "_out" } });
                break;
        }
        // Consumed by a reduction into the graph output, so the region is live and foldable.
        g.Node.Add(new Pb.NodeProto { OpType = "ReduceSum", Name = tag + "_sum", Input = { tag + "_out" }, Output = { tag + "_s" }, Attribute = { new Pb.AttributeProto { Name = "keepdims", Type = Pb.AttributeProto.Types.AttributeType.Int, I = 0 } } });
        g.Output.Add(new Pb.ValueInfoProto { Name = tag + "_s" });
        return $"bomb kind {kind} side {side} (into '{output}')";
    }

    private string IdentityChain(Pb.ModelProto m, Random r)
    {
        var g = m.Graph;
        var o = g.Output[r.Next(g.Output.Count)];
        string producer = o.Name;
        var node = g.Node.FirstOrDefault(n => n.Output.Contains(producer));
        if (node is null) return "no producer for the chain";
        string head = producer + "_chain_head";
        for (int i = 0; i < node.Output.Count; i++) if (node.Output[i] == producer) node.Output[i] = head;
        foreach (var x in g.Node) for (int i = 0; i < x.Input.Count; i++) if (x.Input[i] == producer) x.Input[i] = head;
        string prev = head;
        int length = IdentityChainLength;
        for (int i = 0; i < length; i++)
        {
            string next = i == length - 1 ? producer : $"{producer}_chain_{i}";
            g.Node.Add(new Pb.NodeProto { OpType = "Identity", Name = $"chain_{i}", Input = { prev }, Output = { next } });
            prev = next;
        }
        return $"Identity chain of {length} before '{producer}'";
    }
}
