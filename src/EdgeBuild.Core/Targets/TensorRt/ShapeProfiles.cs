using System.Globalization;
using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;

namespace EdgeBuild.Targets.TensorRt;

/// <summary>One input's optimization profile: the smallest, the tuned-for and the largest shape the engine accepts.</summary>
public sealed record InputProfile(string Name, long[] Min, long[] Opt, long[] Max)
{
    /// <summary>True when the input has a symbolic or unknown dimension (min, opt and max differ somewhere or were chosen).</summary>
    public bool Dynamic { get; init; }
}

/// <summary>
/// Optimization profiles for the engine: TensorRT needs min/opt/max shapes for every input dimension that is not fixed.
/// A dimension takes the TensorRTProfile entry of its symbol ("batch=1:4:16") or of its place ("x[2]=320:640:960", the
/// only way to address an unnamed one); without an entry it gets <see cref="DefaultRange"/>, a guess fit for a batch axis
/// only, which <c>For</c> reports through its <c>guessed</c> list so the writer can warn about other axes.
/// </summary>
public static class ShapeProfiles
{
    /// <summary>min:opt:max for a symbolic dimension without a TensorRTProfile entry.</summary>
    public static readonly (long Min, long Opt, long Max) DefaultRange = (1, 1, 16);

    public static IReadOnlyList<InputProfile> For(Model model, IReadOnlyList<string> entries) => For(model, entries, out _);

    /// <param name="model">The float network.</param>
    /// <param name="entries">TensorRTProfile entries.</param>
    /// <param name="guessed">The dimensions that got <see cref="DefaultRange"/> for want of an entry, as "input[axis]".</param>
    public static IReadOnlyList<InputProfile> For(Model model, IReadOnlyList<string> entries, out IReadOnlyList<(string Input, int Axis)> guessed)
    {
        var ranges = ParseEntries(entries);
        var inputs = model.Graph.Inputs.Where(v => v.Initializer is null).ToList();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var v in inputs)
            for (int i = 0; v.TensorType?.Shape is { } sh && i < sh.Rank; i++)
                if (sh[i].Value is null)
                {
                    if (sh[i].Param is { } p) keys.Add(p);
                    keys.Add($"{v.Name}[{i}]");
                }
        foreach (var name in ranges.Keys)
            if (!keys.Contains(name))
                throw new EdgeBuildException(DiagnosticCodes.InvalidTensorRtOption, "TensorRTProfile",
                    $"the model has no symbolic dimension '{name}' (its dynamic dimensions: {(keys.Count == 0 ? "none" : string.Join(", ", keys.Order(StringComparer.Ordinal)))})");
        var defaulted = new List<(string, int)>();
        var result = new List<InputProfile>();
        foreach (var v in inputs)
        {
            if (v.TensorType?.Shape is not { } shape)
                throw new EdgeBuildException(DiagnosticCodes.InvalidTensorRtOption, v.Name, "input of unknown rank: TensorRT needs every input's rank; export the model with a shaped input");
            var min = new long[shape.Rank];
            var opt = new long[shape.Rank];
            var max = new long[shape.Rank];
            bool dynamic = false;
            for (int i = 0; i < shape.Rank; i++)
            {
                var d = shape[i];
                if (d.Value is long fixedSize)
                {
                    min[i] = opt[i] = max[i] = fixedSize;
                    continue;
                }
                dynamic = true;
                if (!(d.Param is { } p && ranges.TryGetValue(p, out var r)) && !ranges.TryGetValue($"{v.Name}[{i}]", out r))
                {
                    r = DefaultRange;
                    defaulted.Add((v.Name, i));
                }
                (min[i], opt[i], max[i]) = r;
            }
            result.Add(new InputProfile(v.Name, min, opt, max) { Dynamic = dynamic });
        }
        guessed = defaulted;
        return result;
    }

    private static Dictionary<string, (long, long, long)> ParseEntries(IReadOnlyList<string> entries)
    {
        var result = new Dictionary<string, (long, long, long)>(StringComparer.Ordinal);
        foreach (var raw in entries)
        {
            string entry = raw.Trim();
            if (entry.Length == 0) continue;
            int eq = entry.LastIndexOf('=');
            var parts = eq > 0 ? entry[(eq + 1)..].Split(':') : [];
            long[] n = new long[3];
            bool ok = parts.Length == 3 && parts.Select((s, i) => long.TryParse(s.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out n[i])).All(x => x);
            if (!ok || n[0] < 1 || n[0] > n[1] || n[1] > n[2])
                throw new EdgeBuildException(DiagnosticCodes.InvalidTensorRtOption, "TensorRTProfile",
                    $"'{entry}' is not symbol=min:opt:max with 1 <= min <= opt <= max (e.g. batch=1:4:16 or x[2]=320:640:960)");
            if (!result.TryAdd(entry[..eq].Trim(), (n[0], n[1], n[2])))
                throw new EdgeBuildException(DiagnosticCodes.InvalidTensorRtOption, "TensorRTProfile", $"symbol '{entry[..eq].Trim()}' is given twice");
        }
        return result;
    }
}
