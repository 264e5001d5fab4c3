using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using Microsoft.ML.OnnxRuntime;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Tests.Conformance;

/// <summary>The three models each case is run as.</summary>
public enum Variant
{
    Original,
    RoundTrip,
    Optimized,
}

/// <summary>What ONNX Runtime made of one model of a case.</summary>
public enum OrtOutcome
{
    Passed,
    OutputMismatch,
    RunFailure,
    LoadFailure,
    /// <summary>Sequence or optional inputs or outputs: the harness does not feed or compare those.</summary>
    NotRun,
    /// <summary>EdgeBuild could not produce this model (import, export or optimization threw).</summary>
    NotProduced,
}

public readonly record struct OrtResult(OrtOutcome Outcome, string? Group, string? Detail)
{
    public override string ToString() => Group is null ? Outcome.ToString() : $"{Outcome}: {Group}{(Detail is null ? "" : $" ({Detail})")}";
}

/// <summary>Everything the suite found out about one backend test case.</summary>
public sealed class CaseResult
{
    public CaseResult(string category, string name, string directory)
    {
        Category = category;
        Name = name;
        Directory = directory;
    }

    public string Category { get; }
    public string Name { get; }
    public string Directory { get; }
    public string Id => $"{Category}/{Name}";
    public string ModelPath => Path.Combine(Directory, "model.onnx");

    /// <summary>Import of the original, export, re-import or re-export threw: the message.</summary>
    public string? RoundTripError { get; set; }
    public bool BytesIdentical { get; set; }
    public bool PrintIdentical { get; set; }
    public string? RoundTripPath { get; set; }

    /// <summary>The optimizer threw (or the optimized model could not be written): the message.</summary>
    public string? OptimizeError { get; set; }
    public IReadOnlyList<string> VerifierProblems { get; set; } = [];

    /// <summary>What the optimizer changed: "pass: counter" and the amount.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> OptimizerChanges { get; set; } = [];
    public string? OptimizedPath { get; set; }

    /// <summary>
    /// Main-graph output types that <see cref="ShapeInference"/> infers with every declared intermediate type
    /// removed, in output order (null where the output is not a node output or nothing was inferred).
    /// </summary>
    public TensorType?[] InferredOutputs { get; set; } = [];

    /// <summary>Where an inferred output type contradicts the reference output (checked when the test data is tensors).</summary>
    public List<string> ShapeInferenceProblems { get; } = [];

    /// <summary>Why ONNX Runtime is not run on the case (sequence or optional values), or null.</summary>
    public string? NotRunReason { get; set; }

    public OrtResult[] Ort { get; } = new OrtResult[3];

    /// <summary>Per variant: null when not checked, "" when the checker accepts the file, else its message.</summary>
    public string?[] Checker { get; } = new string?[3];

    public string? PathOf(Variant v) => v switch
    {
        Variant.Original => ModelPath,
        Variant.RoundTrip => RoundTripPath,
        _ => OptimizedPath,
    };
}

/// <summary>The outcome of one run of the suite over all cases.</summary>
public sealed class ConformanceResult
{
    public required IReadOnlyList<CaseResult> Cases { get; init; }
    public required bool CheckerRan { get; init; }
    public string? CheckerUnavailable { get; init; }
    public required TimeSpan RewriteTime { get; init; }
    public required TimeSpan OrtTime { get; init; }
    public required TimeSpan CheckerTime { get; init; }
    public required TimeSpan TotalTime { get; init; }
    public string Report { get; set; } = "";

    public static readonly string[] Categories = ["node", "pytorch-converted", "pytorch-operator", "simple"];

    public int Count(Variant v, OrtOutcome o, string? category = null) =>
        Cases.Count(c => c.Ort[(int)v].Outcome == o && (category is null || c.Category == category));

    /// <summary>Cases whose original passes in ONNX Runtime but whose <paramref name="v"/> model does not.</summary>
    public IReadOnlyList<CaseResult> OrtRegressions(Variant v) =>
        Cases.Where(c => c.Ort[0].Outcome == OrtOutcome.Passed && c.Ort[(int)v].Outcome != OrtOutcome.Passed).ToList();

    /// <summary>Cases that run in ONNX Runtime as originals whose inferred output types contradict the reference outputs.</summary>
    public IReadOnlyList<CaseResult> ShapeInferenceDisagreements() =>
        Cases.Where(c => c.ShapeInferenceProblems.Count > 0 && c.Ort[0].Outcome == OrtOutcome.Passed).ToList();

    /// <summary>Cases the checker accepts in the original but rejects in the <paramref name="v"/> model (or it is missing).</summary>
    public IReadOnlyList<CaseResult> CheckerRegressions(Variant v) =>
        Cases.Where(c => c.Checker[0] == "" && c.Checker[(int)v] != "").ToList();
}

/// <summary>
/// The ONNX backend conformance suite (ONNX 1.12's backend test data): for every case, a byte-identical
/// read/write/read/write round trip, the optimizer on a fresh import, onnx.checker on what we write, and
/// ONNX Runtime on the original, round-tripped and optimized models compared with the reference outputs.
/// </summary>
public static class ConformanceSuite
{
    public const double RelativeTolerance = 1e-3;
    public const double AbsoluteTolerance = 1e-7;

    public static ConformanceResult Run(string casesRoot, string workDir, bool runChecker, string? checkerUnavailable = null)
    {
        var total = Stopwatch.StartNew();
        var cases = new List<CaseResult>();
        foreach (var category in ConformanceResult.Categories)
        {
            string dir = Path.Combine(casesRoot, category);
            if (!System.IO.Directory.Exists(dir)) continue;
            foreach (var caseDir in System.IO.Directory.GetDirectories(dir).OrderBy(d => d, StringComparer.Ordinal))
                cases.Add(new CaseResult(category, Path.GetFileName(caseDir), caseDir));
        }

        // 1. Round trip and optimization, writing both models.
        var sw = Stopwatch.StartNew();
        var io = new Dictionary<CaseResult, CaseIo>();
        foreach (var c in cases) io[c] = Rewrite(c, workDir);
        var rewriteTime = sw.Elapsed;

        // 2. The checker reads every file in one Python process while ONNX Runtime runs here.
        TimeSpan checkerTime = TimeSpan.Zero;
        Task<Dictionary<string, string?>>? checker = null;
        if (runChecker)
        {
            var paths = cases.SelectMany(c => new[] { c.ModelPath, c.RoundTripPath, c.OptimizedPath }).OfType<string>().ToList();
            checker = Task.Run(() =>
            {
                var csw = Stopwatch.StartNew();
                var r = Support.OnnxChecker.CheckMany(paths);
                checkerTime = csw.Elapsed;
                return r;
            });
        }

        // 3. ONNX Runtime on the three models of every case.
        sw.Restart();
        using (var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        })
        {
            foreach (var c in cases) RunOrt(c, io[c], options);
        }
        var ortTime = sw.Elapsed;

        Dictionary<string, string?>? verdicts = null;
        if (checker is not null)
        {
            try
            {
                verdicts = checker.GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException or System.ComponentModel.Win32Exception)
            {
                // One broken checker run must not take the ONNX Runtime results down with it.
                checkerUnavailable = "the checker run failed: " + e.Message;
            }
        }
        if (verdicts is not null)
        {
            foreach (var c in cases)
                foreach (var v in Enum.GetValues<Variant>())
                {
                    var p = c.PathOf(v);
                    c.Checker[(int)v] = p is null ? "not written" : verdicts.TryGetValue(Path.GetFullPath(p), out var msg) ? msg ?? "" : "not checked";
                }
        }

        var result = new ConformanceResult
        {
            Cases = cases,
            CheckerRan = verdicts is not null,
            CheckerUnavailable = checkerUnavailable,
            RewriteTime = rewriteTime,
            OrtTime = ortTime,
            CheckerTime = checkerTime,
            TotalTime = total.Elapsed,
        };
        result.Report = ConformanceReport.Write(result);
        return result;
    }

    /// <summary>Names of the model's fed inputs (no initializer) and outputs, in order, from the original's import.</summary>
    private sealed record CaseIo(string[]? Inputs, string[]? Outputs);

    private static CaseIo Rewrite(CaseResult c, string workDir)
    {
        string[]? inputs = null, outputs = null;
        try
        {
            var first = OnnxImporter.Load(c.ModelPath);
            var fed = first.Graph.Inputs.Where(v => v.Initializer is null && v.SparseInitializer is null).ToList();
            inputs = fed.Select(v => v.Name).ToArray();
            outputs = first.Graph.Outputs.Select(v => v.Name).ToArray();
            var odd = fed.Concat(first.Graph.Outputs).FirstOrDefault(v => v.Type is not (null or TensorType));
            if (odd is not null) c.NotRunReason = $"{(odd.IsGraphInput ? "input" : "output")} '{odd.Name}' is {odd.Type!.GetType().Name.Replace("Type", "", StringComparison.Ordinal).ToLowerInvariant()}";

            byte[] bytes1 = OnnxExporter.ToBytes(first);
            var second = OnnxImporter.Parse(bytes1, "round trip of " + c.Id);
            byte[] bytes2 = OnnxExporter.ToBytes(second);
            c.BytesIdentical = bytes1.AsSpan().SequenceEqual(bytes2);
            c.PrintIdentical = GraphPrinter.Print(first) == GraphPrinter.Print(second);
            string path = Path.Combine(workDir, "round-trip", c.Category, c.Name, "model.onnx");
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes1);
            c.RoundTripPath = path;
        }
        catch (Exception e)
        {
            c.RoundTripError = Describe(e);
        }

        try
        {
            // Shape inference on its own, from the declared inputs only: a wrong static shape here is what
            // turns into a wrong folded Shape constant in the optimizer.
            var bare = OnnxImporter.Load(c.ModelPath);
            foreach (var n in bare.Graph.Nodes)
                foreach (var o in n.Outputs)
                    if (o is not null) { o.Type = null; o.TypeInferred = false; }
            ShapeInference.Infer(bare);
            c.InferredOutputs = bare.Graph.Outputs.Select(o => o.Producer is null ? null : o.Type as TensorType).ToArray();
        }
        catch (Exception e)
        {
            c.ShapeInferenceProblems.Add("shape inference threw " + Describe(e));
        }

        try
        {
            var model = OnnxImporter.Load(c.ModelPath);
            var report = OptimizationPipeline.Run(model, new OptimizeOptions());
            c.OptimizerChanges = report.Passes
                .SelectMany(p => p.Counters.Where(k => k.Value != 0).Select(k => new KeyValuePair<string, long>($"{p.Name}: {k.Key}", k.Value)))
                .ToList();
            c.VerifierProblems = GraphVerifier.Verify(model.Graph);
            string path = Path.Combine(workDir, "optimized", c.Category, c.Name, "model.onnx");
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, OnnxExporter.ToBytes(model));
            c.OptimizedPath = path;
        }
        catch (Exception e)
        {
            c.OptimizeError = Describe(e);
        }
        return new CaseIo(inputs, outputs);
    }

    private static void RunOrt(CaseResult c, CaseIo io, SessionOptions options)
    {
        if (c.NotRunReason is not null)
        {
            foreach (var v in Enum.GetValues<Variant>())
                c.Ort[(int)v] = c.PathOf(v) is null ? NotProduced(c, v) : new OrtResult(OrtOutcome.NotRun, c.NotRunReason, null);
            return;
        }

        string dataDir = Path.Combine(c.Directory, "test_data_set_0");
        Tensor[] inputs, expected;
        try
        {
            inputs = Numbered(dataDir, "input").Select(OnnxTensorFile.Read).ToArray();
            expected = Numbered(dataDir, "output").Select(OnnxTensorFile.Read).ToArray();
        }
        catch (Exception e)
        {
            // Sequence or optional .pb files are not TensorProtos.
            foreach (var v in Enum.GetValues<Variant>())
                c.Ort[(int)v] = new OrtResult(OrtOutcome.NotRun, "test data is not a tensor: " + Group(e), null);
            return;
        }

        for (int i = 0; i < c.InferredOutputs.Length && i < expected.Length; i++)
            if (c.InferredOutputs[i] is { } t && Contradicts(t, expected[i]) is { } problem)
                c.ShapeInferenceProblems.Add($"output {i}: {problem}");

        string? originalInterface = null;
        foreach (var v in Enum.GetValues<Variant>())
        {
            string? path = c.PathOf(v);
            if (path is null)
            {
                c.Ort[(int)v] = NotProduced(c, v);
                continue;
            }
            var (result, signature) = RunModel(path, io, inputs, expected, options);
            if (v == Variant.Original) originalInterface = signature;
            else if (result.Outcome == OrtOutcome.Passed && originalInterface is not null && signature != originalInterface)
                result = new OrtResult(OrtOutcome.OutputMismatch, "model interface differs (inputs, overridable initializers, outputs)",
                    $"original {originalInterface}; this {signature}");
            c.Ort[(int)v] = result;
        }
    }

    /// <summary>Why an inferred type cannot describe <paramref name="actual"/> (unknown parts match anything), or null.</summary>
    private static string? Contradicts(TensorType inferred, Tensor actual)
    {
        if (inferred.ElementType != DataType.Undefined && inferred.ElementType != actual.ElementType)
            return $"inferred {inferred}, reference output is {actual.Type}";
        if (inferred.Shape is not { } shape) return null;
        if (shape.Rank != actual.Rank) return $"inferred {inferred}, reference output is {actual.Type}";
        for (int k = 0; k < shape.Rank; k++)
            if (shape[k].Value is long d && d != actual.Dims[k]) return $"inferred {inferred}, reference output is {actual.Type}";
        return null;
    }

    private static OrtResult NotProduced(CaseResult c, Variant v) =>
        new(OrtOutcome.NotProduced, v == Variant.Optimized ? "optimizer failed: " + c.OptimizeError : "round trip failed: " + c.RoundTripError, null);

    private static IEnumerable<string> Numbered(string dir, string prefix)
    {
        for (int i = 0; ; i++)
        {
            string p = Path.Combine(dir, $"{prefix}_{i}.pb");
            if (!File.Exists(p)) yield break;
            yield return p;
        }
    }

    /// <summary>
    /// Runs one model and compares its outputs. Also returns what ONNX Runtime sees as the model's interface:
    /// the inputs, the initializers a caller may override (IR &lt; 4 defaults) and the outputs.
    /// </summary>
    private static (OrtResult Result, string? Interface) RunModel(string path, CaseIo io, Tensor[] inputs, Tensor[] expected, SessionOptions options)
    {
        InferenceSession session;
        try
        {
            session = new InferenceSession(path, options);
        }
        catch (Exception e)
        {
            return (new OrtResult(OrtOutcome.LoadFailure, Group(e), null), null);
        }
        using (session)
        {
            string signature = $"in [{string.Join(",", session.InputNames)}] overridable [{string.Join(",", session.OverridableInitializerMetadata.Keys.Order(StringComparer.Ordinal))}] out [{string.Join(",", session.OutputNames)}]";
            return (RunAndCompare(session, io, inputs, expected), signature);
        }
    }

    private static OrtResult RunAndCompare(InferenceSession session, CaseIo io, Tensor[] inputs, Tensor[] expected)
    {
        string[] inputNames = io.Inputs ?? session.InputNames.ToArray();
        string[] outputNames = io.Outputs ?? session.OutputNames.ToArray();
        if (inputNames.Length != inputs.Length)
            return new OrtResult(OrtOutcome.RunFailure, "input count differs", $"model has {inputNames.Length}, test data {inputs.Length}");
        if (outputNames.Length != expected.Length)
            return new OrtResult(OrtOutcome.RunFailure, "output count differs", $"model has {outputNames.Length}, test data {expected.Length}");
        var values = new List<OrtValue>();
        try
        {
            foreach (var t in inputs) values.Add(OrtTensors.ToOrtValue(t));
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, inputNames, values, outputNames);
            for (int i = 0; i < expected.Length; i++)
            {
                var actual = OrtTensors.ToTensor(outputs[i]);
                if (actual is null) return new OrtResult(OrtOutcome.OutputMismatch, "output is not a tensor", outputNames[i]);
                if (Compare(expected[i], actual) is { } problem)
                    return new OrtResult(OrtOutcome.OutputMismatch, problem.Group, $"output '{outputNames[i]}': {problem.Detail}");
            }
            return new OrtResult(OrtOutcome.Passed, null, null);
        }
        catch (Exception e)
        {
            return new OrtResult(OrtOutcome.RunFailure, Group(e), null);
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    /// <summary>ONNX's comparison: exact for integers, bools and strings; |a - e| &lt;= atol + rtol |e| for floats, NaN equal to NaN.</summary>
    internal static (string Group, string Detail)? Compare(Tensor expected, Tensor actual)
    {
        if (expected.ElementType != actual.ElementType)
            return ("element type differs", $"expected {DataTypes.Name(expected.ElementType)}, got {DataTypes.Name(actual.ElementType)}");
        if (!expected.Dims.AsSpan().SequenceEqual(actual.Dims))
            return ("shape differs", $"expected {expected.Shape}, got {actual.Shape}");
        if (expected.Strings is not null)
        {
            for (int i = 0; i < expected.Strings.Length; i++)
                if (!expected.Strings[i].AsSpan().SequenceEqual(actual.Strings![i]))
                    return ("string values differ", $"element {i}: expected \"{Text(expected.Strings[i])}\", got \"{Text(actual.Strings[i])}\"");
            return null;
        }
        var e = AsDoubles(expected);
        if (e is null)
        {
            if (expected.Raw.AsSpan().SequenceEqual(actual.Raw)) return null;
            var ei = expected.ToInt64s();
            var ai = actual.ToInt64s();
            int k = Enumerable.Range(0, ei.Length).First(i => ei[i] != ai[i]);
            return ("values differ", $"element {k}: expected {ei[k]}, got {ai[k]}");
        }
        var a = AsDoubles(actual)!;
        int bad = 0, first = -1;
        double worst = 0;
        for (int i = 0; i < e.Length; i++)
        {
            double x = e[i], y = a[i];
            if (x.Equals(y) || (double.IsNaN(x) && double.IsNaN(y))) continue;
            double diff = Math.Abs(x - y);
            if (diff <= AbsoluteTolerance + RelativeTolerance * Math.Abs(x)) continue;
            if (first < 0) first = i;
            bad++;
            if (!(diff <= worst)) worst = diff;
        }
        if (bad == 0) return null;
        return ("values differ", string.Create(CultureInfo.InvariantCulture,
            $"{bad} of {e.Length} elements, max |diff| {worst:G4}; element {first}: expected {e[first]:G7}, got {a[first]:G7}"));
    }

    private static string Text(byte[] s) => System.Text.Encoding.UTF8.GetString(s);

    private static double[]? AsDoubles(Tensor t) => t.ElementType switch
    {
        DataType.Float => Array.ConvertAll(t.AsSpan<float>().ToArray(), f => (double)f),
        DataType.Double => t.AsSpan<double>().ToArray(),
        DataType.Float16 => Array.ConvertAll(t.AsSpan<Half>().ToArray(), h => (double)h),
        DataType.BFloat16 => Array.ConvertAll(t.AsSpan<ushort>().ToArray(), b => (double)BitConverter.Int32BitsToSingle(b << 16)),
        _ => null,
    };

    /// <summary>A failure's first line with paths and names of the case taken out, so like failures group together.</summary>
    public static string Group(Exception e) => Group(e.Message);

    public static string Group(string message)
    {
        string line = message.Split('\n')[0].Trim();
        line = Regex.Replace(line, @"(/[^\s:'""]+)+/model\.onnx", "<model>");
        line = Regex.Replace(line, @"(/[^\s:'""]+)+\.pb", "<file>");
        line = Regex.Replace(line, @"(node|name|named|Node) '[^']*'", "$1 '…'");
        line = Regex.Replace(line, @"node with name '[^']*'", "node with name '…'");
        line = Regex.Replace(line, @"Node \([^)]*\)", "Node (…)");
        return line.Length > 200 ? line[..200] + "…" : line;
    }

    private static string Describe(Exception e) => e is Diagnostics.EdgeBuildException eb ? $"{eb.Code}: {Group(e)}" : $"{e.GetType().Name}: {Group(e)}";
}
