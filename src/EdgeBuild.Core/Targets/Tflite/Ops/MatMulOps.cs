using EdgeBuild.Ir;
using EdgeBuild.Targets.Tflite.Schema;
using static EdgeBuild.Targets.Tflite.Ops.TflOpRegistry;

namespace EdgeBuild.Targets.Tflite.Ops;

/// <summary>
/// Gemm and MatMul with constant weights -> FULLY_CONNECTED (weights [N,K], per-tensor int8); MatMul of two
/// activations -> BATCH_MATMUL.
/// </summary>
internal static class MatMulOps
{
    public static IEnumerable<(string, OpRule)> Rules()
    {
        yield return ("Gemm", new OpRule(CheckGemm, ConvertGemm));
        yield return ("MatMul", new OpRule(CheckMatMul, ConvertMatMul));
    }

    private static string? CheckGemm(Node n)
    {
        if (n.GetInt("transA", 0) != 0) return "transA";
        if (!IsConst(n.Input(1))) return "B must be a constant";
        // The spec's A, B and Y are matrices; a corrupt node (a bias vector as B) would index a second dim it lacks.
        if (TflConverter.Rank(n.Input(0)!) != 2 || n.Input(1)!.Initializer!.Rank != 2 || TflConverter.Rank(n.Output0) != 2) return "A, B and Y must be matrices";
        long outN = TflConverter.Dims(n.Output0)[1];
        if (n.Input(2) is { } cv && (cv.Initializer is null || cv.Initializer.ElementCount is var k && k != outN && k != 1)) return "C must be a constant of N values";
        return null;
    }

    private static string? CheckMatMul(Node n)
    {
        int ra = TflConverter.Rank(n.Input(0)!), rb = TflConverter.Rank(n.Input(1)!);
        if (ra < 2 || rb < 2) return "1-D operands";
        if (IsConst(n.Input(1)) && rb != 2) return "constant B of rank > 2";
        return null;
    }

    private static void ConvertGemm(Node n, TflConverter c)
    {
        var a = n.Input(0)!;
        var b = n.Input(1)!.Initializer!;
        float alpha = n.GetFloat("alpha", 1f), beta = n.GetFloat("beta", 1f);
        var w = n.GetInt("transB", 0) != 0 ? b : Layout.Transpose(b, [1, 0]);
        if (alpha != 1f) w = Ir.Tensor.FromFloats(w.Dims, w.ToFloats().Select(x => x * alpha).ToArray());
        int outN = (int)w.Dims[0];
        Ir.Tensor? bias = null;
        if (n.Input(2)?.Initializer is { } cb)
        {
            var v = cb.ToFloats();
            bias = Ir.Tensor.FromFloats([outN], Enumerable.Range(0, outN).Select(i => v[v.Length == 1 ? 0 : i] * beta).ToArray());
        }
        FullyConnected(n, c, c.InOnnx(a), w, bias, keepDims: false);
    }

    private static void ConvertMatMul(Node n, TflConverter c)
    {
        var a = n.Input(0)!;
        var bv = n.Input(1)!;
        if (bv.Initializer is { } b)
        {
            FullyConnected(n, c, c.InOnnx(a), Layout.Transpose(b, [1, 0]), null, keepDims: TflConverter.Rank(a) > 2);
            return;
        }
        int ta = c.InOnnx(a), tb = c.InOnnx(bv);
        int o = c.Out(n.Output0, Layout.Identity(TflConverter.Rank(n.Output0)));
        c.Op(BuiltinOperator.BATCH_MATMUL, [ta, tb], [o], new BatchMatMulOptions(false, false));
    }

    private static void FullyConnected(Node n, TflConverter c, int input, Ir.Tensor weights, Ir.Tensor? bias, bool keepDims)
    {
        string name = n.Name.Length > 0 ? n.Name : n.Output0.Name;
        var (act, result) = c.FuseActivation(n.Output0);
        var (wt, bt) = ConvOps.WeightsAndBias(c, name, weights, 0, bias, (int)weights.Dims[0], c.Tensor(input).Quantization, perChannel: false);
        int o = c.Out(result, Layout.Identity(TflConverter.Rank(result)));
        c.Op(BuiltinOperator.FULLY_CONNECTED, [input, wt, bt], [o], new FullyConnectedOptions(act, keepDims));
    }
}
