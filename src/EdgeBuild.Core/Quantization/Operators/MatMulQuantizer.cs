using EdgeBuild.Ir;

namespace EdgeBuild.Quantization.Operators;

/// <summary>
/// MatMul and Gemm: A per tensor; a constant B as int8 weights per output column (axis 1 of a [K, N] B, axis 0
/// when Gemm has transB), a non-constant B as a second activation; Gemm's constant C as int32 bias scaled by
/// beta. ORT fuses DQ-MatMul-Q into QLinearMatMul and DQ-Gemm-Q into QGemm.
/// </summary>
internal sealed class MatMulQuantizer : OpQuantizer
{
    public override IReadOnlyList<string> OpTypes => ["Gemm", "MatMul"];

    public override bool Mark(Node node, QdqPlan plan)
    {
        var a = node.Input(0);
        var b = node.Input(1);
        if (!plan.IsQuantizable(a) || !plan.IsQuantizable(b) || !plan.IsQuantizable(node.Outputs[0])) return false;
        bool gemm = node.OpType == "Gemm";
        plan.QuantizeInput(node, 0);
        if (plan.IsConstant(b) && b!.ConstantValue!.Rank == 2)
        {
            int axis = WeightAxis(node);
            plan.QuantizeWeight(node, 1, axis);
            if (gemm && node.Input(2) is { } c && plan.IsConstant(c) && IsPerColumnBias(c, b.ConstantValue, axis))
                plan.QuantizeBias(node, 2, a!, node, 1, node.GetFloat("beta", 1f));
        }
        else plan.QuantizeInput(node, 1);
        QuantizeOutput(node, plan);
        plan.ObservedName[node] = node.Outputs[0]!.Name;
        return true;
    }

    /// <summary>The axis of a constant B that runs along the output columns: 0 for Gemm with transB, else 1.</summary>
    public static int WeightAxis(Node node) => node.OpType == "Gemm" && node.GetInt("transB", 0) != 0 ? 0 : 1;

    /// <summary>A bias that is one value per output column (shape [N] or [1, N]): the form an int32 bias with per-column scales can take.</summary>
    private static bool IsPerColumnBias(Value c, Tensor b, int axis)
    {
        var t = c.ConstantValue!;
        long n = b.Dims[axis];
        return t.ElementCount == n && (t.Rank == 1 || (t.Rank == 2 && t.Dims[0] == 1));
    }
}
