using System.Globalization;

namespace EdgeBuild.MSBuild;

/// <summary>
/// The EdgeModel metadata as <c>edgebuild compile</c> arguments, and the checks the task makes before starting it, both
/// read from the option table (<see cref="EdgeModelOptionTable"/>): an option added there is passed and checked here
/// without a change to this file. Kept apart from the task so tests run it without MSBuild.
/// </summary>
internal static class OptionArguments
{
    /// <summary>The switches and values for <paramref name="metadata"/> (trimmed metadata by name), in table order.</summary>
    public static List<(string Switch, string? Value)> For(Func<string, string> metadata, IEnumerable<string> calibrationFiles, bool measure)
    {
        var args = new List<(string, string?)>();
        foreach (var option in EdgeModelOptionTable.Compiler)
        {
            string sw = option.Switch!, value = metadata(option.Name);
            if (option.OnlyWhenMeasuring && !measure) continue;
            switch (option.Kind)
            {
                case EdgeModelOptionKind.Files:
                    foreach (var file in calibrationFiles) args.Add((sw, file));
                    break;
                case EdgeModelOptionKind.Flag:
                    if (string.Equals(value, "true", StringComparison.OrdinalIgnoreCase)) args.Add((sw, null));
                    break;
                case EdgeModelOptionKind.Choice:
                    if (value.Length > 0) args.Add((sw, option.Canonical(value) ?? value));
                    break;
                case EdgeModelOptionKind.ChoiceList:
                    if (SplitList(value) is { Count: > 0 } chosen) args.Add((sw, string.Join(";", chosen.Select(v => option.Canonical(v) ?? v))));
                    break;
                case EdgeModelOptionKind.NameList:
                    if (SplitList(value) is { Count: > 0 } names) args.Add((sw, string.Join(",", names)));
                    break;
                case EdgeModelOptionKind.EachEntry:
                    foreach (var entry in value.Split([';'], StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim()).Where(s => s.Length > 0))
                        args.Add((sw, entry));
                    break;
                default:
                    if (value.Length > 0) args.Add((sw, value));
                    break;
            }
        }
        return args;
    }

    /// <summary>Every value the task rejects, as (option, message); the compiler checks the options the table leaves to it.</summary>
    public static List<(string Option, string Message)> Problems(Func<string, string> metadata)
    {
        var problems = new List<(string, string)>();
        foreach (var option in EdgeModelOptionTable.All)
        {
            string value = metadata(option.Name);
            if (option.Check == EdgeModelOptionCheck.None || (value.Length == 0 && !option.Required)) continue;
            if (option.Kind == EdgeModelOptionKind.ChoiceList)
            {
                var chosen = SplitList(value);
                if (chosen.Count == 0) problems.Add((option.Name, "no target given (valid: " + string.Join(", ", option.Values) + ")"));
                foreach (var v in chosen)
                    if (option.Canonical(v) is null) problems.Add((option.Name, NotOneOf(option, v)));
                continue;
            }
            bool valid = option.Check switch
            {
                EdgeModelOptionCheck.OneOf => option.Canonical(value) is not null,
                EdgeModelOptionCheck.Number => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _),
                EdgeModelOptionCheck.WholeNumber => long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out _),
                EdgeModelOptionCheck.PositiveWholeNumber => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0,
                EdgeModelOptionCheck.TrueOrFalse => bool.TryParse(value, out _),
                _ => true,
            };
            if (!valid) problems.Add((option.Name, option.Check == EdgeModelOptionCheck.OneOf ? NotOneOf(option, value) : $"'{value}' is not {option.CheckNoun}"));
        }
        return problems;
    }

    private static string NotOneOf(EdgeModelOption option, string value) =>
        $"'{value}' is not a valid {option.Name} (valid: {string.Join(", ", option.Values)})";

    public static List<string> SplitList(string value) =>
        value.Split([';', ','], StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim()).Where(s => s.Length > 0).ToList();
}
