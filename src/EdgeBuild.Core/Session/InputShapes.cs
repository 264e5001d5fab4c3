using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;

namespace EdgeBuild.Session;

/// <summary>
/// Fixes dynamic input dims from <see cref="CompileOptions.Shapes"/> before optimization, so shape inference and
/// constant folding see a static model (what the TFLite target needs). Declared types of other values that still
/// have dynamic dims are forgotten so inference fills them from the fixed inputs.
/// </summary>
public static class InputShapes
{
    public static void Apply(Model model, IReadOnlyDictionary<string, long[]> shapes)
    {
        if (shapes.Count == 0) return;
        var graph = model.Graph;
        foreach (var (name, dims) in shapes)
        {
            var input = graph.Inputs.FirstOrDefault(v => v.Name == name && v.Initializer is null)
                ?? throw new EdgeBuildException(DiagnosticCodes.InvalidShapeOption, name,
                    $"the model has no input '{name}' (inputs: {string.Join(", ", graph.Inputs.Where(v => v.Initializer is null).Select(v => v.Name))})");
            if (input.TensorType is not { } type)
                throw new EdgeBuildException(DiagnosticCodes.InvalidShapeOption, name, $"input '{name}' is not a tensor");
            if (type.Shape is { } shape)
            {
                if (shape.Rank != dims.Length)
                    throw new EdgeBuildException(DiagnosticCodes.InvalidShapeOption, name, $"input '{name}' has rank {shape.Rank} ({shape}), the shape given has {dims.Length} dims");
                for (int i = 0; i < dims.Length; i++)
                    if (shape[i].Value is long fixedDim && fixedDim != dims[i])
                        throw new EdgeBuildException(DiagnosticCodes.InvalidShapeOption, name, $"dim {i} of input '{name}' is fixed at {fixedDim} ({shape}), the shape given says {dims[i]}");
            }
            input.Type = new TensorType(type.ElementType, Shape.Of(dims), type.Denotation);
        }
        // If/Loop bodies too: their declared symbolic dims follow the fixed inputs they read from the outer scope.
        foreach (var g in graph.SelfAndSubgraphs())
        {
            foreach (var node in g.Nodes)
                foreach (var o in node.Outputs)
                    if (o?.TensorType is { Shape: { IsStatic: false } } || (o?.TensorType is { Shape: null }))
                        o!.TypeInferred = true;
            ShapeInference.ClearInferred(g);
        }
        ShapeInference.Infer(model);
    }
}
