using System.Text;
using System.Xml.Linq;
using EdgeBuild.MSBuild.Tests.Support;

namespace EdgeBuild.MSBuild.Tests;

/// <summary>
/// Each place that spells an EdgeModel option follows the one table (<see cref="EdgeModelOptionTable"/>, compiled into the
/// task from src/EdgeBuild.Core/Session/EdgeModelOptionTable.cs): the defaults in build/EdgeBuild.props, the options stamp
/// in build/EdgeBuild.targets, the task's command line and checks, and the metadata table of docs/msbuild.md. The
/// CLI's options are checked in tests/EdgeBuild.Core.Tests/Cli/CliOptionTableTests.cs.
/// Set EDGEBUILD_UPDATE_OPTION_TABLE=1 to rewrite the stamp and the docs table from the table, then review the diff.
/// </summary>
public class OptionTableTests
{
    private static readonly bool Update = Environment.GetEnvironmentVariable("EDGEBUILD_UPDATE_OPTION_TABLE") == "1";
    private static string BuildFile(string name) => Path.Combine(Scenario.RepoRoot, "build", name);

    [Fact]
    public void TableHasOneRowPerNameAndSwitch()
    {
        Assert.Equal(EdgeModelOptionTable.All.Count, EdgeModelOptionTable.All.Select(o => o.Name.ToLowerInvariant()).Distinct().Count());
        var switches = EdgeModelOptionTable.Compiler.Select(o => o.Switch!).ToList();
        Assert.Equal(switches.Count, switches.Distinct().Count());
        Assert.All(switches, s => Assert.Matches("^--[a-z0-9]+(-[a-z0-9]+)*$", s));
        // Every public static row is listed in All (a row declared but not listed would be nowhere).
        var declared = typeof(EdgeModelOptionTable).GetFields().Where(f => f.FieldType == typeof(EdgeModelOption)).Select(f => (EdgeModelOption)f.GetValue(null)!);
        Assert.Equal(declared.Select(o => o.Name).Order(), EdgeModelOptionTable.All.Select(o => o.Name).Order());
        foreach (var o in EdgeModelOptionTable.All)
        {
            Assert.True(o.Doc.Length > 0, $"{o.Name}: no doc line");
            if (o.Kind is EdgeModelOptionKind.Choice or EdgeModelOptionKind.ChoiceList) Assert.NotEmpty(o.Values);
            if (o.Check == EdgeModelOptionCheck.OneOf) Assert.NotEmpty(o.Values);
            if (o.Default is { } d && o.Values.Count > 0) Assert.Contains(d, o.Values);
        }
    }

    [Fact]
    public void PropsDefaultEveryOptionAsTheTableSays()
    {
        var props = XDocument.Load(BuildFile("EdgeBuild.props"));
        var item = props.Descendants().Single(e => e.Name.LocalName == "EdgeModel" && e.Parent?.Name.LocalName == "ItemDefinitionGroup");
        var written = item.Elements().ToDictionary(e => e.Name.LocalName, e => e.Value);
        var missing = EdgeModelOptionTable.All.Where(o => !written.ContainsKey(o.Name)).Select(o => $"<{o.Name}>{o.Props}</{o.Name}>").ToList();
        Assert.True(missing.Count == 0, "build/EdgeBuild.props: add to the EdgeModel ItemDefinitionGroup: " + string.Join(" ", missing));
        var unknown = written.Keys.Where(k => EdgeModelOptionTable.Find(k) is null).ToList();
        Assert.True(unknown.Count == 0, "build/EdgeBuild.props: metadata not in EdgeModelOptionTable: " + string.Join(", ", unknown));
        foreach (var o in EdgeModelOptionTable.All)
            Assert.True(written[o.Name] == o.Props, $"build/EdgeBuild.props: <{o.Name}> is '{written[o.Name]}', the table says '{o.Props}'");
    }

    /// <summary>The stamp names every option the compiler gets, so changing any of them recompiles the model.</summary>
    [Fact]
    public void OptionsStampNamesEveryOption()
    {
        string path = BuildFile("EdgeBuild.targets");
        string actual = StampAttribute(XDocument.Load(path));
        string expected = ExpectedStamp();
        if (Update && actual != expected)
        {
            File.WriteAllText(path, File.ReadAllText(path).Replace(actual, expected));
            return;
        }
        Assert.True(expected == actual, $"build/EdgeBuild.targets: the options stamp differs from the table; expected Lines=\"{expected}\" (EDGEBUILD_UPDATE_OPTION_TABLE=1 writes it)");
    }

    [Fact]
    public void DocsTableFollowsTheTable()
    {
        string path = Path.Combine(Scenario.RepoRoot, "docs", "msbuild.md");
        string text = File.ReadAllText(path).Replace("\r\n", "\n");
        const string begin = "<!-- EdgeModel options: generated from src/EdgeBuild.Core/Session/EdgeModelOptionTable.cs (OptionTableTests) -->\n";
        const string end = "<!-- end of EdgeModel options -->";
        int from = text.IndexOf(begin, StringComparison.Ordinal), to = text.IndexOf(end, StringComparison.Ordinal);
        Assert.True(from >= 0 && to > from, "docs/msbuild.md: the generated option table's markers are missing");
        string actual = text.Substring(from + begin.Length, to - from - begin.Length);
        string expected = ExpectedDocsTable();
        if (Update && actual != expected)
        {
            File.WriteAllText(path, text.Substring(0, from + begin.Length) + expected + text.Substring(to));
            return;
        }
        Assert.True(expected == actual, "docs/msbuild.md: the option table differs from EdgeModelOptionTable (EDGEBUILD_UPDATE_OPTION_TABLE=1 writes it):\n" + expected);
    }

    /// <summary>Every option the compiler takes reaches the command line with a value set, under its switch, in the table's spelling.</summary>
    [Fact]
    public void TaskPassesEveryOptionWithItsSwitch()
    {
        foreach (var o in EdgeModelOptionTable.Compiler)
        {
            var (value, expected) = Sample(o);
            var args = OptionArguments.For(name => string.Equals(name, o.Name, StringComparison.Ordinal) ? value : "", ["/c/a.jpg", "/c/b.jpg"], measure: true);
            var mine = args.Where(a => a.Switch == o.Switch).Select(a => a.Value).ToList();
            Assert.True(mine.SequenceEqual(expected), $"{o.Name}: {o.Switch} got [{string.Join(", ", mine)}], expected [{string.Join(", ", expected)}]");
            var others = args.Where(a => a.Switch != o.Switch && a.Switch != EdgeModelOptionTable.Calibration.Switch).ToList();
            Assert.True(others.Count == 0, $"{o.Name}: also passed {string.Join(", ", others)}");
        }
        // Empty metadata passes nothing but the calibration files; Device only when the build measures.
        Assert.Empty(OptionArguments.For(_ => "", [], measure: true));
        Assert.DoesNotContain(OptionArguments.For(n => n == "Device" ? "pi5" : "", [], measure: false), a => a.Switch == "--device");
    }

    /// <summary>The task rejects exactly the values the table says it checks, naming the option; the rest are the compiler's.</summary>
    [Fact]
    public void TaskChecksWhatTheTableSays()
    {
        Func<string, string> defaults = name => EdgeModelOptionTable.Find(name)?.Props is { Length: > 0 } p && !p.StartsWith('$') ? p : "";
        Assert.Empty(OptionArguments.Problems(defaults));
        foreach (var o in EdgeModelOptionTable.All)
        {
            var problems = OptionArguments.Problems(name => name == o.Name ? "not-valid@" : defaults(name));
            if (o.Check == EdgeModelOptionCheck.None) Assert.Empty(problems);
            else
            {
                var (option, message) = Assert.Single(problems);
                Assert.Equal(o.Name, option);
                Assert.StartsWith("'not-valid@' is not ", message, StringComparison.Ordinal);
                var (good, _) = Sample(o);
                Assert.Empty(OptionArguments.Problems(name => name == o.Name ? good : defaults(name)));
            }
            if (o.Required)
                Assert.Single(OptionArguments.Problems(name => name == o.Name ? "" : defaults(name)));
        }
    }

    /// <summary>A valid value of each kind, and what the command line carries for it.</summary>
    private static (string Value, string?[] Passed) Sample(EdgeModelOption o) => o.Kind switch
    {
        EdgeModelOptionKind.Number => ("1.5", ["1.5"]),
        EdgeModelOptionKind.WholeNumber => ("3", ["3"]),
        EdgeModelOptionKind.Flag => ("TRUE", [null]),
        EdgeModelOptionKind.Choice => (o.Values[^1].ToLowerInvariant(), [o.Values[^1]]),
        EdgeModelOptionKind.ChoiceList => ($"{o.Values[0].ToUpperInvariant()}, {o.Values[^1].ToLowerInvariant()}", [$"{o.Values[0]};{o.Values[^1]}"]),
        EdgeModelOptionKind.NameList => ("a; b", ["a,b"]),
        EdgeModelOptionKind.Entries => ("a*;b?", ["a*;b?"]),
        EdgeModelOptionKind.EachEntry => ("x=1,3;y=2", ["x=1,3", "y=2"]),
        EdgeModelOptionKind.Files => ("calib/*.jpg", ["/c/a.jpg", "/c/b.jpg"]),
        _ => ("Some.Name", ["Some.Name"]),
    };

    private static string StampAttribute(XDocument targets) =>
        targets.Descendants().Where(e => e.Name.LocalName == "WriteLinesToFile")
            .Select(e => e.Attribute("Lines")?.Value ?? "").Single(v => v.StartsWith("edgebuild options stamp:", StringComparison.Ordinal));

    /// <summary>
    /// The options stamp: what the compile depends on besides file contents. The compiler and the build-wide measurement
    /// properties, then each option (ClassName as resolved by the targets; values that may hold ';' escaped so each
    /// option stays one line), then the calibration files MSBuild expanded.
    /// </summary>
    internal static string ExpectedStamp()
    {
        var parts = new List<string>
        {
            "edgebuild options stamp: an input of _EdgeBuildCompileModels (docs/msbuild.md)",
            "ToolVersion=$(EdgeBuildToolVersion)", "ToolPath=$(EdgeBuildToolPath)", "Model=%(EdgeModel.FullPath)",
        };
        foreach (var o in EdgeModelOptionTable.Compiler)
        {
            string value = o == EdgeModelOptionTable.ClassName ? "$(_EdgeBuildClassName)"
                : o.MayHoldSemicolons ? $"$([MSBuild]::Escape('%(EdgeModel.{o.Name})'))" : $"%(EdgeModel.{o.Name})";
            parts.Add($"{o.Name}={value}");
        }
        parts.AddRange(["Measure=$(EdgeBuildMeasure)", "UpdateBaseline=$(EdgeBuildUpdateBaseline)", "Remeasure=$(EdgeBuildRemeasure)",
            "MeasureSeconds=$(EdgeBuildMeasureSeconds)", "MeasureThreads=$(EdgeBuildMeasureThreads)", "MeasureCache=$(EdgeBuildMeasureCache)",
            "@(_EdgeBuildThisCalibration->'CalibrationFile=%(FullPath)')"]);
        return string.Join(";", parts);
    }

    internal static string ExpectedDocsTable()
    {
        // Blank lines around the table: the markers are HTML blocks, and a table must not run into them.
        var sb = new StringBuilder("\n");
        sb.Append("| metadata | default | `edgebuild compile` | meaning |\n");
        sb.Append("| --- | --- | --- | --- |\n");
        sb.Append("| `Include` | (required) | the model argument | The ONNX file, relative to the project file. Escape a `;` in a file name as `%3B`. |\n");
        foreach (var o in EdgeModelOptionTable.All)
            sb.Append($"| `{o.Name}` | {o.DocDefault} | {(o.Switch is null ? "(the build)" : "`" + o.Switch + "`")} | {o.Doc} |\n");
        return sb.Append('\n').ToString();
    }
}
