using System.Globalization;
using System.Text;

namespace EdgeBuild.Tests.Conformance;

/// <summary>The markdown summary of a conformance run (TestResults/conformance.md).</summary>
public static class ConformanceReport
{
    private static readonly OrtOutcome[] Outcomes = Enum.GetValues<OrtOutcome>();
    private static readonly Variant[] Variants = Enum.GetValues<Variant>();

    public static string Write(ConformanceResult r)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        var cases = r.Cases;
        sb.AppendLine("# ONNX backend conformance");
        sb.AppendLine();
        sb.AppendLine(inv, $"{cases.Count} cases ({string.Join(", ", ConformanceResult.Categories.Select(c => $"{c} {cases.Count(x => x.Category == c)}"))}).");
        sb.AppendLine(inv, $"Total {r.TotalTime.TotalSeconds:0.0} s: round trip and optimizer {r.RewriteTime.TotalSeconds:0.0} s, ONNX Runtime {r.OrtTime.TotalSeconds:0.0} s, " +
            $"onnx.checker {r.CheckerTime.TotalSeconds:0.0} s (in parallel with ONNX Runtime).");
        sb.AppendLine();

        sb.AppendLine("## Round trip (read, write, read, write)");
        sb.AppendLine();
        int written = cases.Count(c => c.RoundTripPath is not null);
        sb.AppendLine("| | cases |");
        sb.AppendLine("|---|---|");
        sb.AppendLine(inv, $"| read and written | {written} |");
        sb.AppendLine(inv, $"| second write byte-identical to the first | {cases.Count(c => c.RoundTripPath is not null && c.BytesIdentical)} |");
        sb.AppendLine(inv, $"| GraphPrinter text identical | {cases.Count(c => c.RoundTripPath is not null && c.PrintIdentical)} |");
        sb.AppendLine(inv, $"| failed | {cases.Count - written} |");
        sb.AppendLine();
        foreach (var c in cases.Where(c => c.RoundTripError is not null || !c.BytesIdentical || !c.PrintIdentical))
            sb.AppendLine(inv, $"- {c.Id}: {c.RoundTripError ?? (c.BytesIdentical ? "" : "bytes differ; ") + (c.PrintIdentical ? "" : "printouts differ")}");

        sb.AppendLine();
        sb.AppendLine("## Optimizer (default passes, then GraphVerifier)");
        sb.AppendLine();
        int optimized = cases.Count(c => c.OptimizedPath is not null);
        sb.AppendLine(inv, $"Optimized and written: {optimized}; optimizer failed: {cases.Count - optimized}; verifier problems: {cases.Count(c => c.VerifierProblems.Count > 0)}.");
        sb.AppendLine();
        foreach (var c in cases.Where(c => c.OptimizeError is not null || c.VerifierProblems.Count > 0))
            sb.AppendLine(inv, $"- {c.Id}: {c.OptimizeError ?? string.Join("; ", c.VerifierProblems.Take(3))}");
        sb.AppendLine();
        sb.AppendLine(inv, $"Counters the passes reported (changes and notes) in {cases.Count(c => c.OptimizerChanges.Any())} cases:");
        sb.AppendLine();
        sb.AppendLine("| pass: counter | total | cases |");
        sb.AppendLine("|---|---|---|");
        foreach (var g in cases.SelectMany(c => c.OptimizerChanges.Select(k => (Case: c, k.Key, k.Value))).GroupBy(x => x.Key).OrderBy(g => g.Key, StringComparer.Ordinal))
            sb.AppendLine(inv, $"| {g.Key} | {g.Sum(x => x.Value)} | {g.Select(x => x.Case).Distinct().Count()} |");

        sb.AppendLine();
        sb.AppendLine("## Shape inference against the reference outputs");
        sb.AppendLine();
        int outputs = cases.Where(c => c.Ort[0].Outcome == OrtOutcome.Passed).Sum(c => c.InferredOutputs.Length);
        int known = cases.Where(c => c.Ort[0].Outcome == OrtOutcome.Passed).Sum(c => c.InferredOutputs.Count(t => t is not null));
        var disagreements = r.ShapeInferenceDisagreements();
        sb.AppendLine(inv, $"Declared intermediate and output types removed, then inferred from the inputs. Of {outputs} outputs of the cases that pass in ONNX Runtime, {known} got a type; contradicting the reference output: **{disagreements.Sum(c => c.ShapeInferenceProblems.Count)}**.");
        sb.AppendLine();
        foreach (var c in disagreements) sb.AppendLine(inv, $"- {c.Id}: {string.Join("; ", c.ShapeInferenceProblems)}");
        foreach (var c in cases.Where(c => c.ShapeInferenceProblems.Count > 0 && c.Ort[0].Outcome != OrtOutcome.Passed))
            sb.AppendLine(inv, $"- (original does not pass in ONNX Runtime) {c.Id}: {string.Join("; ", c.ShapeInferenceProblems)}");

        sb.AppendLine();
        sb.AppendLine("## onnx.checker (full_check=False)");
        sb.AppendLine();
        if (!r.CheckerRan)
        {
            sb.AppendLine(inv, $"Not run: {r.CheckerUnavailable ?? "python3-onnx not available"}.");
        }
        else
        {
            sb.AppendLine("| model | accepted | rejected | not written |");
            sb.AppendLine("|---|---|---|---|");
            foreach (var v in Variants)
                sb.AppendLine(inv, $"| {v} | {cases.Count(c => c.Checker[(int)v] == "")} | {cases.Count(c => c.Checker[(int)v] is { Length: > 0 } m && m != "not written")} | {cases.Count(c => c.Checker[(int)v] == "not written")} |");
            sb.AppendLine();
            foreach (var v in new[] { Variant.RoundTrip, Variant.Optimized })
            {
                var reg = r.CheckerRegressions(v);
                sb.AppendLine(inv, $"Original accepted, {v} rejected: **{reg.Count}**");
                foreach (var c in reg) sb.AppendLine(inv, $"- {c.Id}: {c.Checker[(int)v]}");
            }
            foreach (var c in cases.Where(c => c.Checker[0] is { Length: > 0 }))
                sb.AppendLine(inv, $"- original rejected: {c.Id}: {c.Checker[0]}");
        }

        sb.AppendLine();
        sb.AppendLine(inv, $"## ONNX Runtime {typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly.GetName().Version} (rtol {ConformanceSuite.RelativeTolerance}, atol {ConformanceSuite.AbsoluteTolerance})");
        sb.AppendLine();
        sb.AppendLine("| category | model | passed | output mismatch | run failure | load failure | not run (sequence/optional) | not produced |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var category in ConformanceResult.Categories.Append(null))
            foreach (var v in Variants)
            {
                sb.Append(inv, $"| {category ?? "**all**"} | {v} |");
                foreach (var o in Outcomes) sb.Append(inv, $" {r.Count(v, o, category)} |");
                sb.AppendLine();
            }
        sb.AppendLine();
        foreach (var v in new[] { Variant.RoundTrip, Variant.Optimized })
        {
            var reg = r.OrtRegressions(v);
            sb.AppendLine(inv, $"Original passes, {v} does not: **{reg.Count}**");
            foreach (var c in reg) sb.AppendLine(inv, $"- {c.Id}: {c.Ort[(int)v]}");
            sb.AppendLine();
        }

        foreach (var v in Variants)
        {
            sb.AppendLine(inv, $"### Failure groups: {v}");
            sb.AppendLine();
            sb.AppendLine("| outcome | group | cases | examples |");
            sb.AppendLine("|---|---|---|---|");
            var groups = cases.Where(c => c.Ort[(int)v].Outcome != OrtOutcome.Passed)
                .GroupBy(c => (c.Ort[(int)v].Outcome, c.Ort[(int)v].Group ?? ""))
                .OrderBy(g => g.Key.Outcome).ThenByDescending(g => g.Count()).ThenBy(g => g.Key.Item2, StringComparer.Ordinal);
            foreach (var g in groups)
                sb.AppendLine(inv, $"| {g.Key.Outcome} | {Cell(g.Key.Item2)} | {g.Count()} | {string.Join(", ", g.Take(4).Select(c => c.Name))}{(g.Count() > 4 ? ", …" : "")} |");
            sb.AppendLine();
        }
        return sb.ToString();
    }

    private static string Cell(string s) => s.Replace("|", "\\|", StringComparison.Ordinal);
}
