using System.Diagnostics;
using EdgeBuild.Analysis;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Quantization;
using EdgeBuild.Tests.Quantization;
using Attribute = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Tests.Passes;

/// <summary>
/// Resource limits as product behaviour: constant folding within a size, multiply-add and time budget (what is over
/// stays a computation, with an info line), passes linear in graph size, and a memory ceiling with a clear EB error
/// before the model is run.
/// </summary>
public sealed class ResourceLimitTests
{
    /// <summary>A model of a few hundred bytes: x + ReduceSum(ConstantOfShape([rows, cols])), the constant asking for rows*cols*4 bytes.</summary>
    private static Model ConstantOfShapeBomb(long rows, long cols, string op = "ConstantOfShape")
    {
        var g = new Graph("bomb");
        var model = new Model(g) { IrVersion = 8 };
        model.Opsets.Add(new OpsetId("", 13));
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(1)));
        var dims = g.AddInitializer("dims", Tensor.FromInt64s([2], [rows, cols]));
        Value big = op switch
        {
            "ConstantOfShape" => g.AddNode("ConstantOfShape", [dims], ["big"], "", "fill", [Attribute.Of("value", Tensor.FromFloats([1], [1f]))]).Output0,
            "Expand" => g.AddNode("Expand", [g.AddInitializer("one", Tensor.FromFloats([1], [1f])), dims], ["big"], "", "expand").Output0,
            _ => g.AddNode("Tile", [g.AddInitializer("cell", Tensor.FromFloats([1, 1], [1f])), dims], ["big"], "", "tile").Output0,
        };
        var sum = g.AddNode("ReduceSum", [big], ["sum"], "", "sum", [Attribute.Of("keepdims", 0L)]).Output0;
        g.AddOutput(g.AddNode("Add", [x, sum], ["y"], "", "add").Output0);
        return model;
    }

    [Theory]
    [InlineData("ConstantOfShape")]
    [InlineData("Expand")]
    [InlineData("Tile")]
    public void EightGibConstantStaysAComputationWithAnInfoLine(string op)
    {
        var model = ConstantOfShapeBomb(65536, 32768, op);
        Assert.True(OnnxExporter.ToBytes(model).Length < 400, "the model is a few hundred bytes");
        var info = new List<string>();
        var sw = Stopwatch.StartNew();
        var report = OptimizationPipeline.Run(model, new OptimizeOptions(), info: info.Add);
        sw.Stop();
        Assert.Contains(model.Graph.Nodes, n => n.OpType == op);
        Assert.Contains(info, l => l.Contains("over the 64 MiB folding budget", StringComparison.Ordinal) && l.Contains("8192 MiB", StringComparison.Ordinal));
        Assert.Contains(report.Passes.Single(p => p.Name == "constant-folding").Counters, c => c.Key == "kept_over_budget");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), $"optimizing took {sw.Elapsed}");
    }

    [Fact]
    public void LargeConstantMatMulIsNotEvaluated()
    {
        // 2048^3 = 8.6e9 multiply-adds (the 8192x8192 MatMul is 5.5e11): over the 2^30 budget, not run at build time.
        var g = new Graph("matmul");
        var model = new Model(g) { IrVersion = 8 };
        model.Opsets.Add(new OpsetId("", 13));
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(1)));
        var dims = g.AddInitializer("dims", Tensor.FromInt64s([2], [2048, 2048]));
        var a = g.AddNode("ConstantOfShape", [dims], ["a"], "", "fill", [Attribute.Of("value", Tensor.FromFloats([1], [0.5f]))]).Output0;
        var mm = g.AddNode("MatMul", [a, a], ["mm"], "", "matmul").Output0;
        var sum = g.AddNode("ReduceSum", [mm], ["sum"], "", "sum", [Attribute.Of("keepdims", 0L)]).Output0;
        g.AddOutput(g.AddNode("Add", [x, sum], ["y"], "", "add").Output0);
        var info = new List<string>();
        OptimizationPipeline.Run(model, new OptimizeOptions(), info: info.Add);
        Assert.Contains(g.Nodes, n => n.OpType == "MatMul");
        Assert.Contains(info, l => l.Contains("'matmul' (MatMul) would take 8.6E+009 multiply-adds", StringComparison.Ordinal));
    }

    [Fact]
    public void SmallConstantRegionsStillFold()
    {
        var model = ConstantOfShapeBomb(16, 16);
        var info = new List<string>();
        OptimizationPipeline.Run(model, new OptimizeOptions(), info: info.Add);
        Assert.DoesNotContain(model.Graph.Nodes, n => n.OpType is "ConstantOfShape" or "ReduceSum");
        Assert.DoesNotContain(info, l => l.Contains("budget", StringComparison.Ordinal));
    }

    [Fact]
    public void IdentityChainRemovalIsLinear()
    {
        // Removing node after node was linear per node (List.Remove), so the pass was quadratic: 400k nodes took 21 s.
        static TimeSpan Time(int length)
        {
            var g = new Graph("chain");
            var model = new Model(g) { IrVersion = 8 };
            model.Opsets.Add(new OpsetId("", 13));
            Value v = g.AddNode("Relu", [g.AddInput("x", new TensorType(DataType.Float, Shape.Of(4)))], ["r"], "", "relu").Output0;
            for (int i = 0; i < length; i++) v = g.AddNode("Identity", [v], [$"i{i}"], "", $"id{i}").Output0;
            g.AddOutput(g.AddNode("Relu", [v], ["y"], "", "relu2").Output0);
            var sw = Stopwatch.StartNew();
            new IdentityElimination().Run(model, new PassContext(new OptimizeOptions()));
            sw.Stop();
            Assert.Equal(2, g.Nodes.Count);
            return sw.Elapsed;
        }
        Time(1000);
        var small = Time(50_000);
        var large = Time(400_000);
        // Linear: about 8x; quadratic: 64x. The constant absorbs timer and GC noise on a loaded machine.
        Assert.True(large < small * 24 + TimeSpan.FromSeconds(1), $"50k nodes {small.TotalMilliseconds:F0} ms, 400k nodes {large.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public void QuantizingAModelThatAsksForEightGibIsEb2004()
    {
        var model = ConstantOfShapeBomb(65536, 32768);
        var data = ListDataSource.Random("x", [1], 2);
        var e = Assert.Throws<EdgeBuildException>(() => ModelQuantizer.Quantize(model, new QuantizeOptions { Mode = QuantizationMode.Int8Static }, data));
        Assert.Equal("EB2004", e.Code);
        Assert.Contains("'big'", e.Message);
        Assert.Contains("8 GiB", e.Message);
    }

    /// <summary>x + ReduceSum(MatMul(c, c)) with c = ConstantOfShape([side, side]): side^3 multiply-adds in a few hundred bytes.</summary>
    private static Model ConstantMatMulBomb(long side)
    {
        var g = new Graph("matmul-bomb");
        var model = new Model(g) { IrVersion = 8 };
        model.Opsets.Add(new OpsetId("", 13));
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(1)));
        var dims = g.AddInitializer("dims", Tensor.FromInt64s([2], [side, side]));
        var a = g.AddNode("ConstantOfShape", [dims], ["a"], "", "fill", [Attribute.Of("value", Tensor.FromFloats([1], [0.5f]))]).Output0;
        var mm = g.AddNode("MatMul", [a, a], ["mm"], "", "matmul").Output0;
        var sum = g.AddNode("ReduceSum", [mm], ["sum"], "", "sum", [Attribute.Of("keepdims", 0L)]).Output0;
        g.AddOutput(g.AddNode("Add", [x, sum], ["y"], "", "add").Output0);
        return model;
    }

    [Fact]
    public void CalibratingAnEightThousandSquaredConstantMatMulIsEb1014NotAHang()
    {
        // Fuzz class "hang in int8" (seed 15, mutant 747): folding leaves the 5.5e11 multiply-add MatMul as a computation
        // (within the 2 GiB tensor ceiling: 256 MiB), and every calibration run then took minutes.
        var model = ConstantMatMulBomb(8192);
        var data = ListDataSource.Random("x", [1], 2);
        var sw = Stopwatch.StartNew();
        var e = Assert.Throws<EdgeBuildException>(() => ModelQuantizer.Quantize(model, new QuantizeOptions { Mode = QuantizationMode.Int8Static }, data));
        sw.Stop();
        Assert.Equal("EB1014", e.Code);
        Assert.Equal("Calibration", e.Subject);
        Assert.Contains("549.8 GMAC", e.Message);
        Assert.Contains("node 'matmul' (MatMul)", e.Message);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"refusing took {sw.Elapsed}");
    }

    [Fact]
    public void ComputeCeilingLetsOrdinaryModelsThroughAndCountsWithoutWrapping()
    {
        ComputeCeiling.Check(ConstantMatMulBomb(1024), "model.onnx");
        // 2^22 cubed wraps a long (2^66): the count holds at long.MaxValue instead of passing as a small or negative number.
        var e = Assert.Throws<EdgeBuildException>(() => ComputeCeiling.Check(ConstantMatMulBomb(1L << 22), "model.onnx"));
        Assert.Equal("EB1014", e.Code);
    }

    [Fact]
    public void MemoryCeilingLetsOrdinaryModelsThrough()
    {
        var model = ConstantOfShapeBomb(256, 256);
        MemoryCeiling.Check(model, "model.onnx");
    }
}
