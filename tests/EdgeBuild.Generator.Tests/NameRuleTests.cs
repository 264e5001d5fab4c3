using EdgeBuild.Compile;
using EdgeBuild.Ir;
using EdgeBuild.Runtime;
using Microsoft.CodeAnalysis.CSharp;
using EdgeBuild.Session;

namespace EdgeBuild.Generator.Tests;

/// <summary>
/// The rules that live in the core and are copied where a project cannot reference it: C# identifiers (the core's
/// CSharpNames against the generator's Identifiers, which follow Roslyn) and the manifest's element-type names (the
/// core's DataTypes.Name against the generator's ElementTypes and the runtime's EdgeElementTypes). The MSBuild task's
/// identifier copy is checked in tests/EdgeBuild.MSBuild.Tests/ClassNameTests.cs.
/// </summary>
public class NameRuleTests
{
    private static IEnumerable<string> ReservedKeywords() => SyntaxFacts.GetReservedKeywordKinds().Select(SyntaxFacts.GetText);

    private static IEnumerable<string> ContextualKeywords() => SyntaxFacts.GetContextualKeywordKinds().Select(SyntaxFacts.GetText).Where(t => t.Length > 0);

    /// <summary>Names that probe the rules: keywords, digits, underscores, non-ASCII letters and marks, punctuation.</summary>
    private static IEnumerable<string> Probes() => ReservedKeywords().Concat(ContextualKeywords()).Concat(
    [
        "", "x", "X1", "_", "_x", "__x", "1x", "x-y", "x.y", "x y", "@x", "@class", "Class", "CLASS", "Int", "x_1_y", "x$", "naïve",
        "Ünï", "日本", "x\u0301", "\u0301x", "x\u200Dy", "Ⅻ", "x٣", "٣x", "face-detect-rfb320", "FaceDetectRfb320", "Model", "__arglist",
    ]);

    /// <summary>The core's keyword list is C#'s reserved keywords: no more (a contextual keyword is a valid name), no fewer.</summary>
    [Fact]
    public void CoreKeywordsAreRoslynsReservedKeywords()
    {
        Assert.Equal(ReservedKeywords().Order(StringComparer.Ordinal), CSharpNames.ReservedKeywords.Order(StringComparer.Ordinal));
        foreach (var k in ReservedKeywords())
        {
            Assert.False(CSharpNames.IsValidIdentifier(k), $"CSharpNames accepts the keyword '{k}'");
            Assert.True(Identifiers.IsKeyword(k), k);
        }
        foreach (var k in ContextualKeywords())
            Assert.True(CSharpNames.IsValidIdentifier(k) && !Identifiers.IsKeyword(k), $"'{k}' is a contextual keyword, a valid name");
    }

    /// <summary>What the core accepts as a class name the generator accepts; on ASCII names the two rules are the same.</summary>
    [Fact]
    public void CoreIdentifierRuleIsTheGenerators()
    {
        foreach (var s in Probes())
        {
            bool core = CSharpNames.IsValidIdentifier(s), generator = Identifiers.IsIdentifier(s) && !Identifiers.IsKeyword(s);
            if (core) Assert.True(generator, $"CSharpNames accepts '{s}', the generator does not");
            if (s.All(c => c < 128)) Assert.True(core == generator, $"'{s}': CSharpNames {core}, generator {generator}");
        }
    }

    /// <summary>The names the core derives from model and tensor names are names the generator writes as they are.</summary>
    [Fact]
    public void DerivedNamesPassTheGenerator()
    {
        foreach (var s in Probes())
        {
            string type = CSharpNames.TypeName(s);
            Assert.True(Identifiers.IsTypeName(type), $"TypeName('{s}') = '{type}' is not a type name to the generator");
            string parameter = CSharpNames.ParameterName(s);
            Assert.True(Identifiers.IsIdentifier(parameter) && !Identifiers.IsKeyword(parameter), $"ParameterName('{s}') = '{parameter}'");
        }
    }

    /// <summary>The generator's element types: the core's names, the runtime's members, the runtime's C# types.</summary>
    [Fact]
    public void GeneratorElementTypesAreTheCoresAndTheRuntimes()
    {
        foreach (var (name, clrType, member) in ElementTypes.All)
        {
            var runtime = Enum.Parse<EdgeElementType>(member);
            Assert.Equal(name, DataTypes.Name((DataType)(int)runtime));
            Assert.Equal(name, ModelManifest.ElementTypeName((DataType)(int)runtime));
            Assert.True(EdgeElementTypes.TryParseManifestName(name, out var parsed) && parsed == runtime, name);
            Assert.Equal(EdgeElementTypes.CSharpName(runtime), clrType.Replace("global::System.", ""));
        }
        // Every element type a Run can pass (all but string) has a generator row.
        Assert.Equal(EdgeElementTypes.ByManifestName.Keys.Where(k => k != "string").Order(), ElementTypes.All.Select(t => t.Name).Order());
    }

    /// <summary>The runtime's manifest names are the core's for the same ONNX type number.</summary>
    [Fact]
    public void RuntimeElementTypeNamesAreTheCores()
    {
        Assert.Equal(Enum.GetValues<EdgeElementType>().Length, EdgeElementTypes.ByManifestName.Count);
        foreach (var (name, type) in EdgeElementTypes.ByManifestName)
            Assert.Equal(DataTypes.Name((DataType)(int)type), name);
    }
}
