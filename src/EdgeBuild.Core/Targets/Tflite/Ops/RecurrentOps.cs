using EdgeBuild.Ir;
using EdgeBuild.Targets.Tflite.Schema;
using static EdgeBuild.Targets.Tflite.Ops.TflOpRegistry;

namespace EdgeBuild.Targets.Tflite.Ops;

/// <summary>
/// LSTM unrolled into TFLite builtins, one step per time step (forward, reverse or both directions). TFLite's own
/// UNIDIRECTIONAL_SEQUENCE_LSTM keeps its state in variable tensors that start at zero and returns no final cell
/// state, while ONNX models take the state as an input and return both h and c (streaming voice-activity models carry
/// them frame to frame), so the cell is written out: the input projection of every step in one FULLY_CONNECTED, then
/// per step the recurrent FULLY_CONNECTED, ADD, SPLIT into the ONNX gates (i, o, f, c), LOGISTIC / TANH, and the
/// cell update C = f * C + i * c~, H = o * tanh(C). Float only (Fp32, Fp16 weights).
/// </summary>
internal static class RecurrentOps
{
    /// <summary>Longest sequence unrolled: each step is 12 operators.</summary>
    public const int MaxUnrolledSteps = 256;

    public static IEnumerable<(string, OpRule)> Rules()
    {
        yield return ("LSTM", new OpRule(CheckLstm, ConvertLstm));
    }

    private static string? CheckLstm(Node n)
    {
        if (n.GetInt("layout", 0) != 0) return "layout 1 (batch first); export with layout 0";
        if (n.GetAttribute("activations") is { } acts)
        {
            var names = acts.Strings.Select(b => System.Text.Encoding.UTF8.GetString(b)).ToArray();
            for (int i = 0; i < names.Length; i++)
                if (!string.Equals(names[i], (i % 3) == 0 ? "Sigmoid" : "Tanh", StringComparison.OrdinalIgnoreCase)) return $"activations [{string.Join(",", names)}] other than Sigmoid, Tanh, Tanh";
        }
        if (n.GetAttribute("clip") is not null) return "cell clip";
        if (n.GetInt("input_forget", 0) != 0) return "input_forget (coupled gates)";
        if (!IsConst(n.Input(1)) || !IsConst(n.Input(2)) || (n.Input(3) is { } b && !IsConst(b))) return "W, R and B must be constants";
        if (n.Input(7) is not null) return "peephole weights";
        if (n.Input(0)?.TensorType?.Shape is not { IsStatic: true, Rank: 3 } xs) return "X needs a static [seq, batch, input] shape";
        long steps = xs[0].Value!.Value;
        if (steps > MaxUnrolledSteps) return $"{steps} time steps; unrolled into TFLite builtins only up to {MaxUnrolledSteps}";
        if (n.Input(4) is { } lens && (ConstInts(lens) is not { } l || l.Any(v => v != steps))) return "sequence_lens must be a constant equal to the sequence length";
        return null;
    }

    private static void ConvertLstm(Node n, TflConverter c)
    {
        var x = n.Input(0)!;
        var xd = TflConverter.Dims(x);
        int steps = (int)xd[0], batch = (int)xd[1], inputSize = (int)xd[2];
        int hidden = (int)n.GetInt("hidden_size", 0);
        string direction = n.GetString("direction") ?? "forward";
        int directions = direction == "bidirectional" ? 2 : 1;
        string name = n.Name.Length > 0 ? n.Name : n.Output0.Name;
        var w = n.Input(1)!.Initializer!.ToFloats();
        var r = n.Input(2)!.Initializer!.ToFloats();
        var bias = n.Input(3)?.Initializer?.ToFloats() ?? new float[directions * 8 * hidden];

        int flat = Reshape(c, c.InOnnx(x), [steps * batch, inputSize], name + "/x");
        var initialH = PerDirection(c, n.Input(5), directions, batch, hidden, name + "/initial_h");
        var initialC = PerDirection(c, n.Input(6), directions, batch, hidden, name + "/initial_c");
        var ys = new int[directions][];
        var lastH = new int[directions];
        var lastC = new int[directions];
        int gates = 4 * hidden;
        for (int d = 0; d < directions; d++)
        {
            string dn = $"{name}/d{d}";
            bool reverse = direction == "reverse" || d == 1;
            var wd = Ir.Tensor.FromFloats([gates, inputSize], w.AsSpan(d * gates * inputSize, gates * inputSize));
            var rd = Ir.Tensor.FromFloats([gates, hidden], r.AsSpan(d * gates * hidden, gates * hidden));
            var bd = new float[gates];
            for (int k = 0; k < gates; k++) bd[k] = bias[d * 2 * gates + k] + bias[d * 2 * gates + gates + k];
            // Every step's input projection with both biases at once; the recurrent product adds the rest.
            int gx = F32(c, dn + "/input_gates", steps * batch, gates);
            c.Op(BuiltinOperator.FULLY_CONNECTED, [flat, c.ConstTensor(dn + "/W", wd, weights: true), c.ConstTensor(dn + "/B", Ir.Tensor.FromFloats([gates], bd))], [gx],
                new FullyConnectedOptions(ActivationFunctionType.NONE, false));
            var perStep = Split(c, gx, 0, steps, batch, gates, dn + "/input_gates");
            int recurrent = c.ConstTensor(dn + "/R", rd, weights: true);
            int noBias = c.ConstTensor(dn + "/R_bias", Ir.Tensor.FromFloats([gates], new float[gates]));
            int h = initialH[d], cell = initialC[d];
            ys[d] = new int[steps];
            for (int s = 0; s < steps; s++)
            {
                int t = reverse ? steps - 1 - s : s;
                string sn = $"{dn}/t{t}";
                int gh = F32(c, sn + "/recurrent_gates", batch, gates);
                c.Op(BuiltinOperator.FULLY_CONNECTED, [h, recurrent, noBias], [gh], new FullyConnectedOptions(ActivationFunctionType.NONE, false));
                int g = Binary(c, BuiltinOperator.ADD, perStep[t], gh, sn + "/gates", batch, gates);
                var parts = Split(c, g, 1, 4, batch, hidden, sn + "/gate");
                int i = Unary(c, BuiltinOperator.LOGISTIC, parts[0], sn + "/i", batch, hidden);
                int o = Unary(c, BuiltinOperator.LOGISTIC, parts[1], sn + "/o", batch, hidden);
                int f = Unary(c, BuiltinOperator.LOGISTIC, parts[2], sn + "/f", batch, hidden);
                int candidate = Unary(c, BuiltinOperator.TANH, parts[3], sn + "/c_candidate", batch, hidden);
                int kept = Binary(c, BuiltinOperator.MUL, f, cell, sn + "/c_kept", batch, hidden);
                int added = Binary(c, BuiltinOperator.MUL, i, candidate, sn + "/c_added", batch, hidden);
                cell = Binary(c, BuiltinOperator.ADD, kept, added, sn + "/c", batch, hidden);
                h = Binary(c, BuiltinOperator.MUL, o, Unary(c, BuiltinOperator.TANH, cell, sn + "/c_tanh", batch, hidden), sn + "/h", batch, hidden);
                ys[d][t] = h;
            }
            lastH[d] = h;
            lastC[d] = cell;
        }

        if (n.Outputs.Count > 0 && n.Outputs[0] is { IsUsed: true } y)
        {
            // Y [seq, directions, batch, hidden]: each step's h per direction, concatenated along directions, then time.
            var rows = Enumerable.Range(0, steps).Select(t =>
                Concat(c, Enumerable.Range(0, directions).Select(d => Reshape(c, ys[d][t], [1, 1, batch, hidden], $"{name}/y{t}_d{d}")).ToArray(), 1, [1, directions, batch, hidden], $"{name}/y{t}")).ToArray();
            Bind(c, y, Concat(c, rows, 0, [steps, directions, batch, hidden], name + "/y"));
        }
        if (n.Outputs.Count > 1 && n.Outputs[1] is { IsUsed: true } yh)
            Bind(c, yh, Concat(c, lastH.Select((t, d) => Reshape(c, t, [1, batch, hidden], $"{name}/y_h_d{d}")).ToArray(), 0, [directions, batch, hidden], name + "/y_h"));
        if (n.Outputs.Count > 2 && n.Outputs[2] is { IsUsed: true } yc)
            Bind(c, yc, Concat(c, lastC.Select((t, d) => Reshape(c, t, [1, batch, hidden], $"{name}/y_c_d{d}")).ToArray(), 0, [directions, batch, hidden], name + "/y_c"));
    }

    /// <summary>An optional [directions, batch, hidden] state input as one [batch, hidden] tensor per direction (zeros when absent).</summary>
    private static int[] PerDirection(TflConverter c, Value? state, int directions, int batch, int hidden, string name)
    {
        if (state is null)
        {
            int zeros = c.ConstTensor(name, Ir.Tensor.FromFloats([batch, hidden], new float[batch * hidden]));
            return Enumerable.Repeat(zeros, directions).ToArray();
        }
        int all = c.InOnnx(state);
        if (directions == 1) return [Reshape(c, all, [batch, hidden], name)];
        var parts = Enumerable.Range(0, directions).Select(d => c.NewTensor($"{name}/d{d}", [1, batch, hidden], Schema.TensorType.FLOAT32)).ToArray();
        c.Op(BuiltinOperator.SPLIT, [c.Int32Const(name + "/split_axis", [0], []), all], parts, new SplitOptions(BuiltinOptionsType.SplitOptions, directions));
        return parts.Select((p, d) => Reshape(c, p, [batch, hidden], $"{name}/d{d}_2d")).ToArray();
    }

    private static int F32(TflConverter c, string name, params long[] shape) => c.NewTensor(name, shape, Schema.TensorType.FLOAT32);

    private static int Unary(TflConverter c, BuiltinOperator op, int input, string name, int rows, int cols)
    {
        int o = F32(c, name, rows, cols);
        c.Op(op, [input], [o], null);
        return o;
    }

    private static int Binary(TflConverter c, BuiltinOperator op, int a, int b, string name, int rows, int cols)
    {
        int o = F32(c, name, rows, cols);
        var kind = op == BuiltinOperator.ADD ? BuiltinOptionsType.AddOptions : BuiltinOptionsType.MulOptions;
        c.Op(op, [a, b], [o], new ArithmeticOptions(kind, ActivationFunctionType.NONE));
        return o;
    }

    /// <summary>SPLIT of a [rows, cols] tensor into equal parts along <paramref name="axis"/>; a single part is the tensor itself.</summary>
    private static int[] Split(TflConverter c, int input, int axis, int parts, int rows, int cols, string name)
    {
        if (parts == 1) return [input];
        long[] shape = axis == 0 ? [rows / parts, cols] : [rows, cols / parts];
        var outputs = Enumerable.Range(0, parts).Select(k => c.NewTensor($"{name}{k}", shape, Schema.TensorType.FLOAT32)).ToArray();
        c.Op(BuiltinOperator.SPLIT, [c.Int32Const(name + "/split_axis", [axis], []), input], outputs, new SplitOptions(BuiltinOptionsType.SplitOptions, parts));
        return outputs;
    }

    private static int Reshape(TflConverter c, int input, int[] dims, string name)
    {
        int o = c.NewTensor(name, dims.Select(d => (long)d).ToArray(), c.Tensor(input).Type);
        c.Op(BuiltinOperator.RESHAPE, [input, c.Int32Const(name + "/shape", dims)], [o], new ReshapeOptions(dims));
        return o;
    }

    private static int Concat(TflConverter c, int[] inputs, int axis, long[] shape, string name)
    {
        if (inputs.Length == 1) return inputs[0];
        int o = c.NewTensor(name, shape, Schema.TensorType.FLOAT32);
        c.Op(BuiltinOperator.CONCATENATION, inputs, [o], new ConcatenationOptions(axis, ActivationFunctionType.NONE));
        return o;
    }

    /// <summary>Binds an ONNX output to the tensor that holds it, in ONNX order.</summary>
    private static void Bind(TflConverter c, Value output, int tensor) => c.Bind(output, tensor, Layout.Identity(TflConverter.Rank(output)));
}
