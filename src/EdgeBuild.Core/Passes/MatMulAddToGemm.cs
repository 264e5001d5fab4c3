using EdgeBuild.Ir;

namespace EdgeBuild.Passes;

/// <summary>
/// MatMul(A, B) + C becomes Gemm(A, B, C) when that is exactly the same computation: A is known to be
/// 2-D, B is a constant [K, N], C a constant that broadcasts to [N] or [M, N], and the MatMul output
/// has no other reader. Gemm runs as one fused kernel with the bias add.
/// </summary>
public sealed class MatMulAddToGemm : IPass
{
    public string Name => "matmul-add-to-gemm";
    public string Description => "MatMul followed by a constant Add becomes Gemm";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        // Gemm broadcasts C without an attribute only from opset 7.
        if (model.DefaultOpset < 7) return result;
        var graph = model.Graph;
        foreach (var add in graph.Nodes.Where(n => n.Is("Add")).ToList())
        {
            if (add.Graph is null || add.Inputs.Count != 2) continue;
            for (int side = 0; side < 2; side++)
            {
                var y = add.Input(side);
                var c = add.Input(1 - side);
                if (y is not { Producer: { } matmul } || !matmul.Is("MatMul") || c?.ConstantValue is not { } cTensor) continue;
                if (!PassHelpers.IsOnlyConsumedBy(y, add)) continue;
                var a = matmul.Input(0);
                var b = matmul.Input(1);
                if (a?.TensorType?.Shape is not { Rank: 2 } aShape || b?.ConstantValue is not { Rank: 2 } bTensor) continue;
                var et = bTensor.ElementType;
                if (et is not (DataType.Float or DataType.Double) || cTensor.ElementType != et || a.TensorType.ElementType != et) continue;
                long n = bTensor.Dims[1];
                bool fits = cTensor.Rank switch
                {
                    0 => true,
                    1 => cTensor.Dims[0] == n || cTensor.Dims[0] == 1,
                    2 => (cTensor.Dims[1] == n || cTensor.Dims[1] == 1) && (cTensor.Dims[0] == 1 || cTensor.Dims[0] == aShape[0].Value),
                    _ => false,
                };
                if (!fits) continue;
                var gemm = graph.AddNodeWithFreshOutputs("Gemm", [a, b, c], 1, PassHelpers.Hint(matmul, "gemm"));
                gemm.Output0.Type = y.Type;
                gemm.Output0.TypeInferred = y.TypeInferred;
                if (!PassHelpers.Bypass(graph, add, gemm.Output0))
                {
                    graph.RemoveNode(gemm);
                    continue;
                }
                graph.RemoveNode(matmul);
                result.Count("fused");
                break;
            }
        }
        graph.SortTopologically();
        return result;
    }
}
