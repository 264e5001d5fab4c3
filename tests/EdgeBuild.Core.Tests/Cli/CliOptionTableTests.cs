using System.CommandLine;
using System.Globalization;
using EdgeBuild.Compile;
using EdgeBuild.Session;
using EdgeBuild.Targets.TensorRt;

namespace EdgeBuild.Tests.Cli;

/// <summary>
/// <c>edgebuild compile</c> takes every EdgeModel option under the switch the option table names, with the table's
/// default, and the choices the table lists are the core's enums. The props, the targets' stamp, the task and
/// docs/msbuild.md are checked against the same table in tests/EdgeBuild.MSBuild.Tests/OptionTableTests.cs.
/// </summary>
public class CliOptionTableTests
{
    /// <summary>compile's options that are no EdgeModel metadata: the task's own arguments and the build-wide properties it maps.</summary>
    private static readonly HashSet<string> CliOnly =
    [
        "--out", "--quiet", "--verbose", "--lock-timeout", "--eval", "--baseline", "--batch-size", "--runner",
        // EdgeBuildMeasure, EdgeBuildUpdateBaseline, EdgeBuildRemeasure, EdgeBuildMeasureSeconds, EdgeBuildMeasureThreads, EdgeBuildMeasureCache.
        "--no-measure", "--update-baseline", "--remeasure", "--measure-seconds", "--threads", "--measure-cache",
    ];

    private static readonly Command Compile = global::EdgeBuild.Cli.Commands.Compile(TextWriter.Null, TextWriter.Null);

    [Fact]
    public void CompileTakesEveryOptionOfTheTable()
    {
        var options = Compile.Options.ToDictionary(o => o.Name);
        foreach (var row in EdgeModelOptionTable.Compiler)
        {
            Assert.True(options.TryGetValue(row.Switch!, out var option), $"{row.Name}: edgebuild compile has no {row.Switch}");
            if (row.Kind == EdgeModelOptionKind.Flag) Assert.True(option!.ValueType == typeof(bool), $"{row.Switch} is not a flag");
            if (row.Kind is EdgeModelOptionKind.Files or EdgeModelOptionKind.EachEntry)
                Assert.True(option!.ValueType == typeof(string[]), $"{row.Switch} is not repeatable");
            foreach (var value in row.Values)
                Assert.True(option!.Description?.Contains(value, StringComparison.Ordinal) == true, $"{row.Switch}: the help does not name {value}");
        }
        var unknown = options.Keys.Where(k => !CliOnly.Contains(k) && !EdgeModelOptionTable.Compiler.Any(r => r.Switch == k)).ToList();
        Assert.True(unknown.Count == 0, "compile options in neither EdgeModelOptionTable nor the CLI-only list: " + string.Join(", ", unknown));
    }

    /// <summary>The default the docs state is the one the compiler applies when the metadata is empty.</summary>
    [Fact]
    public void CompileDefaultsAreTheTables()
    {
        var options = Compile.Options.ToDictionary(o => o.Name);
        foreach (var row in EdgeModelOptionTable.Compiler)
        {
            var option = options[row.Switch!];
            object? actual = option.HasDefaultValue ? option.GetDefaultValue() : null;
            string? shown = actual switch
            {
                null or false => null,
                double d => d.ToString("R", CultureInfo.InvariantCulture),
                float f => f.ToString("R", CultureInfo.InvariantCulture),
                IFormattable n => n.ToString(null, CultureInfo.InvariantCulture),
                _ => actual.ToString(),
            };
            Assert.True(row.Default == shown, $"{row.Name}: the table's default is '{row.Default}', {row.Switch}'s is '{shown}'");
        }
    }

    /// <summary>
    /// CompileOptions' own defaults (what a caller of the core gets without the CLI) are the table's too. An option with
    /// a default needs its line here.
    /// </summary>
    [Fact]
    public void CompileOptionsDefaultsAreTheTables()
    {
        var o = new CompileOptions();
        static string R(double d) => d.ToString("R", CultureInfo.InvariantCulture);
        var actual = new Dictionary<string, string>
        {
            ["Precision"] = o.Precision.ToString(),
            ["Targets"] = string.Join(";", o.Targets),
            ["ExecutionProvider"] = o.ExecutionProvider.ToString(),
            ["TfliteLayout"] = o.TfliteLayout.ToString(),
            ["Calibrator"] = o.Calibrator.ToString(),
            ["Percentile"] = R(o.Percentile),
            ["Task"] = o.Task.ToString(),
            ["MinCalibrationSamples"] = o.MinCalibrationSamples.ToString(CultureInfo.InvariantCulture),
            ["Scale"] = R(o.Preprocessing.Scale),
            ["ChannelOrder"] = o.Preprocessing.ChannelOrder.ToString(),
            ["Resize"] = o.Preprocessing.Resize.ToString(),
            ["Layout"] = o.Preprocessing.Layout.ToString(),
            ["TensorRTVersion"] = o.TensorRt.Version,
            ["TensorRTWorkspaceMiB"] = o.TensorRt.WorkspaceMiB.ToString(CultureInfo.InvariantCulture),
            ["TensorRTCompatibility"] = o.TensorRt.Compatibility.ToString(),
            ["MinSqnrDb"] = R(o.OutputFloors.MinSqnrDb),
            ["MinCosine"] = R(o.OutputFloors.MinCosine),
        };
        foreach (var row in EdgeModelOptionTable.Compiler.Where(r => r.Default is not null))
        {
            Assert.True(actual.TryGetValue(row.Name, out var value), $"{row.Name}: add CompileOptions' default to CompileOptionsDefaultsAreTheTables");
            Assert.True(row.Default == value, $"{row.Name}: the table's default is '{row.Default}', CompileOptions' is '{value}'");
        }
    }

    [Fact]
    public void ChoicesAreTheCoresEnums()
    {
        Assert.Equal(Enum.GetNames<Precision>().Order(), EdgeModelOptionTable.Precision.Values.Order());
        Assert.Equal(Enum.GetNames<TargetKind>().Order(), EdgeModelOptionTable.Targets.Values.Order());
        Assert.Equal(Enum.GetNames<ExecutionProviderKind>().Order(), EdgeModelOptionTable.ExecutionProvider.Values.Order());
        Assert.Equal(Enum.GetNames<EnginePortability>().Order(), EdgeModelOptionTable.TensorRTCompatibility.Values.Order());
    }
}
