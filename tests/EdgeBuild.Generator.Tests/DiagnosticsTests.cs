using System.Text.Json.Nodes;
using EdgeBuild.Generator.Tests.Support;
using Microsoft.CodeAnalysis;

namespace EdgeBuild.Generator.Tests;

/// <summary>Every EBG code, where it points, and that no input makes the generator throw.</summary>
public class DiagnosticsTests
{
    private static readonly string Valid = GeneratorHarness.ReadManifest("TinyDetector");

    private static string Mutate(Action<JsonObject> edit)
    {
        var root = JsonNode.Parse(Valid)!.AsObject();
        edit(root);
        return root.ToJsonString();
    }

    private static Diagnostic SingleError(string json, string id, string fileName = "Model.edgemodel.json")
    {
        var (result, _) = GeneratorHarness.Run((fileName, json));
        Assert.Empty(result.GeneratedSources);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(id, d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Equal(GeneratorHarness.ManifestPath(fileName), d.Location.GetLineSpan().Path);
        return d;
    }

    [Fact]
    public void Ebg001InvalidJsonPointsAtTheError()
    {
        var d = SingleError("{\n  \"schemaVersion\": 1,\n  \"name\": \"X\"\n  \"namespace\": \"\"\n}", "EBG001");
        Assert.Contains("is not valid JSON: expected ',' or '}' in an object (line 4, column 3)", d.GetMessage());
        Assert.Equal(3, d.Location.GetLineSpan().StartLinePosition.Line);
        Assert.Equal(2, d.Location.GetLineSpan().StartLinePosition.Character);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(0)]
    public void Ebg002UnknownSchemaVersion(int version)
    {
        var d = SingleError(Mutate(r => r["schemaVersion"] = version), "EBG002");
        Assert.Contains($"has schemaVersion {version}; this generator reads version 1", d.GetMessage());
    }

    [Fact]
    public void Ebg002NewerSchemaIsNotReadFurther()
    {
        // A version 2 manifest may mean anything by its other fields: only the version is reported.
        var d = SingleError("{\"schemaVersion\": 2, \"name\": 5}", "EBG002");
        Assert.Equal("EBG002", d.Id);
    }

    public static TheoryData<string, string> InvalidFields => new()
    {
        { "inputs-missing", "'inputs' is missing" },
        { "shape-null", "'inputs[0].shape' is null (rank unknown)" },
        { "shape-missing", "'inputs[1].shape' is missing" },
        { "dim-negative", "'inputs[0].shape[0]' must be a size" },
        { "dim-fraction", "'inputs[0].shape[1]' must be a size" },
        { "dim-empty-symbol", "'outputs[0].shape[2]' must be a size" },
        { "csharp-name-invalid", "'inputs[0].csharpName' is 'input 0', which is not a C# identifier" },
        { "csharp-name-duplicate", "'outputs[1].csharpName' repeats 'input0' (also inputs[0].csharpName)" },
        { "artifact-absolute", "'artifacts[0].path' is '/models/x.onnx'; it must be a relative path" },
        { "artifact-parent", "'artifacts[0].path' is '../x.onnx'; it must be a relative path" },
        { "artifact-no-onnx", "'artifacts' has no artifact with target 'Onnx'" },
        { "provider-unknown", "'options.executionProvider' must be one of Cpu, Cuda, TensorRT" },
        { "version-string", "'schemaVersion' must be an integer" },
        { "name-number", "'name' must be a string" },
        { "tensor-not-object", "'outputs[2]' must be an object" },
        { "too-large", "'inputs[0].shape' has more than 2147483647 elements" },
    };

    [Theory]
    [MemberData(nameof(InvalidFields))]
    public void Ebg003NamesTheField(string mutation, string message)
    {
        string json = Mutate(r =>
        {
            JsonNode Input(int i) => r["inputs"]![i]!;
            switch (mutation)
            {
                case "inputs-missing": r.Remove("inputs"); break;
                case "shape-null": Input(0)["shape"] = null; break;
                case "shape-missing": Input(1).AsObject().Remove("shape"); break;
                case "dim-negative": Input(0)["shape"]![0] = -1; break;
                case "dim-fraction": Input(0)["shape"]![1] = 2.5; break;
                case "dim-empty-symbol": r["outputs"]![0]!["shape"]![2] = ""; break;
                case "csharp-name-invalid": Input(0)["csharpName"] = "input 0"; break;
                case "csharp-name-duplicate": r["outputs"]![1]!["csharpName"] = "input0"; break;
                case "artifact-absolute": r["artifacts"]![0]!["path"] = "/models/x.onnx"; break;
                case "artifact-parent": r["artifacts"]![0]!["path"] = "../x.onnx"; break;
                case "artifact-no-onnx": r["artifacts"]![0]!["target"] = "TFLite"; break;
                case "provider-unknown": r["options"]!["executionProvider"] = "Gpu"; break;
                case "version-string": r["schemaVersion"] = "1"; break;
                case "name-number": r["name"] = 5; break;
                case "tensor-not-object": r["outputs"]![2] = "count"; break;
                case "too-large": Input(0)["shape"] = new JsonArray(100000, 100000); break;
                default: throw new ArgumentException(mutation);
            }
        });
        var d = SingleError(json, "EBG003");
        Assert.Contains(message, d.GetMessage());
    }

    [Fact]
    public void Ebg003PointsAtTheOffendingValue()
    {
        string json = Valid.Replace("\"shape\": [1, 3, 4, 4] },\n    { \"name\": \"image\"", "\"shape\": null },\n    { \"name\": \"image\"");
        var d = SingleError(json, "EBG003");
        int line = json.Split('\n').ToList().FindIndex(l => l.Contains("\"shape\": null", StringComparison.Ordinal));
        var span = d.Location.GetLineSpan();
        Assert.Equal(line, span.StartLinePosition.Line);
        Assert.Equal(json.Split('\n')[line].IndexOf("null", StringComparison.Ordinal), span.StartLinePosition.Character);
        Assert.Equal("null", json.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
    }

    [Theory]
    [InlineData("string")]
    [InlineData("bfloat16")]
    [InlineData("complex64")]
    public void Ebg004UnsupportedElementType(string type)
    {
        var d = SingleError(Mutate(r => r["outputs"]![1]!["elementType"] = type), "EBG004");
        Assert.Contains($"output 'boxes' has element type '{type}', which a generated Run cannot pass; no class is generated", d.GetMessage());
    }

    [Theory]
    [InlineData("name", "my-model", "class name")]
    [InlineData("name", "class", "class name")]
    [InlineData("name", "model", "class name")]
    [InlineData("name", "", "class name")]
    [InlineData("name", "Run", "class name here: the generated class has a member of that name")]
    [InlineData("name", "ModelName", "class name here")]
    [InlineData("name", "inputDims0", "class name here")]
    [InlineData("namespace", "A..B", "namespace")]
    [InlineData("namespace", "A.class", "namespace")]
    [InlineData("namespace", ".A", "namespace")]
    public void Ebg005InvalidClassNameOrNamespace(string field, string value, string what)
    {
        var d = SingleError(Mutate(r => r[field] = value), "EBG005");
        Assert.Contains($"'{value}' is not a valid C# {what}", d.GetMessage());
    }

    [Fact]
    public void Ebg006TwoManifestsDefineTheSameClass()
    {
        var (result, _) = GeneratorHarness.Run(("a/TinyDetector.edgemodel.json", Valid), ("b/Copy.edgemodel.json", Valid));
        Assert.Single(result.GeneratedSources);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("EBG006", d.Id);
        Assert.Equal(GeneratorHarness.ManifestPath("b/Copy.edgemodel.json"), d.Location.GetLineSpan().Path);
        Assert.Contains("defines class 'EdgeBuild.Generator.Tests.Models.TinyDetector', which", d.GetMessage());
        Assert.Contains("TinyDetector.edgemodel.json' already defines", d.GetMessage());
    }

    [Fact]
    public void TheSameManifestListedTwiceGeneratesOnce()
    {
        // An AdditionalFiles item included twice hands the generator the same path twice.
        var (result, output) = GeneratorHarness.Run(("TinyDetector.edgemodel.json", Valid), ("TinyDetector.edgemodel.json", Valid));
        Assert.Null(result.Exception);
        Assert.Empty(result.Diagnostics);
        Assert.Single(result.GeneratedSources);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning));
    }

    [Fact]
    public void Ebg007RuntimeNotReferenced()
    {
        var (result, _) = GeneratorHarness.Run([new InMemoryAdditionalText(GeneratorHarness.ManifestPath("T.edgemodel.json"), Valid)], withRuntime: false);
        Assert.Empty(result.GeneratedSources);
        Assert.Equal("EBG007", Assert.Single(result.Diagnostics).Id);
    }

    [Fact]
    public void OtherAdditionalFilesAreIgnored()
    {
        var (result, _) = GeneratorHarness.Run(("notes.json", "not json at all"), ("model.edgemodel.txt", "{"));
        Assert.Empty(result.Diagnostics);
        Assert.Empty(result.GeneratedSources);
    }

    [Fact]
    public void UnknownPropertiesAreIgnored()
    {
        string json = Mutate(r =>
        {
            r["futureField"] = new JsonObject { ["anything"] = new JsonArray(1, "two", null) };
            r["inputs"]![0]!["layout"] = "NCHW";
        });
        var (result, _) = GeneratorHarness.Run(("TinyDetector.edgemodel.json", json));
        var (expected, _) = GeneratorHarness.Run(("TinyDetector.edgemodel.json", Valid));
        Assert.Empty(result.Diagnostics);
        Assert.Equal(expected.GeneratedSources.Single().SourceText.ToString(), result.GeneratedSources.Single().SourceText.ToString());
    }

    [Fact]
    public void TrickyNamesCompile()
    {
        // A keyword parameter, a symbol named like a tensor, a tensor named like a fixed member, a
        // symbol that is not an identifier, names with quotes, backslashes and non-ASCII characters.
        string json = Mutate(r =>
        {
            r["name"] = "Run2";
            r["inputs"] = new JsonArray(
                new JsonObject { ["name"] = "in\\put\"0\u00e9\u2028", ["csharpName"] = "class", ["elementType"] = "float32", ["shape"] = new JsonArray("batch", "3 x", null) },
                new JsonObject { ["name"] = "batch", ["csharpName"] = "batch", ["elementType"] = "int64", ["shape"] = new JsonArray("batch") });
            r["outputs"] = new JsonArray(
                new JsonObject { ["name"] = "model", ["csharpName"] = "model", ["elementType"] = "uint16", ["shape"] = new JsonArray("batch") },
                new JsonObject { ["name"] = "Model", ["csharpName"] = "Model", ["elementType"] = "int16", ["shape"] = new JsonArray() });
        });
        var (result, output) = GeneratorHarness.Run(("Run2.edgemodel.json", json));
        Assert.Empty(result.Diagnostics);
        string source = result.GeneratedSources.Single().SourceText.ToString();
        Assert.Contains("public void Run(global::System.ReadOnlySpan<float> @class, global::System.ReadOnlySpan<long> batch, global::System.Span<ushort> model, global::System.Span<short> Model, long batch2, long d3X, long classDim2)", source);
        Assert.Contains("public const string ModelTensorName = \"model\";", source);
        Assert.Contains("public const string ModelTensor2Name = \"Model\";", source);
        Assert.Contains("public const string ClassName = \"in\\\\put\\\"0\\u00e9\\u2028\";", source);
        var problems = output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void GarbageNeverThrows()
    {
        var random = new Random(42);
        var inputs = new List<string> { "", " ", "\uFEFF", "null", "[]", "{}", "\"x\"", "1", new string('{', 10_000), new string('[', 500) + new string(']', 500) };
        for (int i = 0; i < 200; i++)
        {
            var bytes = new byte[random.Next(1, 400)];
            random.NextBytes(bytes);
            inputs.Add(System.Text.Encoding.UTF8.GetString(bytes));
        }
        // Every truncation of a valid manifest (short of its closing brace).
        for (int n = 0; n < Valid.TrimEnd().Length; n++) inputs.Add(Valid[..n]);

        foreach (var text in inputs)
        {
            var result = ManifestParser.Parse(GeneratorHarness.ManifestPath("G.edgemodel.json"), text, CancellationToken.None);
            Assert.Null(result.Model);
            var d = Assert.Single(result.Diagnostics);
            Assert.Contains(d.Id, new[] { "EBG001", "EBG003" });
        }
        // And through the compiler's driver, which would turn an exception into CS8785.
        foreach (var text in inputs.Where((_, i) => i % 50 == 0))
        {
            var (result, _) = GeneratorHarness.Run(("G.edgemodel.json", text));
            Assert.Empty(result.GeneratedSources);
            Assert.Null(result.Exception);
        }
    }

    [Fact]
    public void EveryFieldOfTheWrongKindIsADiagnosticNotACrash()
    {
        JsonNode?[] replacements = [null, "x", "", 1.5, -1, 0, true, new JsonArray(), new JsonObject(), new JsonArray("a", null, 3)];
        var paths = new List<string>();
        CollectPaths(JsonNode.Parse(Valid)!, "", paths);
        Assert.True(paths.Count > 50);
        foreach (var path in paths)
        {
            foreach (var replacement in replacements.Append(Remove))
            {
                var root = JsonNode.Parse(Valid)!;
                Replace(root, path, replacement);
                var result = ManifestParser.Parse("M.edgemodel.json", root.ToJsonString(), CancellationToken.None);
                Assert.DoesNotContain(result.Diagnostics, d => d.Id == "EBG008");
                if (result.Model is not null) Assert.NotNull(ModelEmitter.Emit(result.Model));
            }
        }
    }

    private static readonly JsonNode Remove = JsonValue.Create("\u0000remove")!;

    private static void CollectPaths(JsonNode node, string path, List<string> paths)
    {
        if (path.Length > 0) paths.Add(path);
        if (node is JsonObject o)
            foreach (var (key, value) in o)
                if (value is not null) CollectPaths(value, path + "/" + key, paths);
                else paths.Add(path + "/" + key);
        if (node is JsonArray a)
            for (int i = 0; i < a.Count; i++)
                if (a[i] is { } item) CollectPaths(item, path + "/" + i, paths);
                else paths.Add(path + "/" + i);
    }

    private static void Replace(JsonNode root, string path, JsonNode? replacement)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var parent = root;
        foreach (var p in parts[..^1]) parent = parent is JsonArray pa ? pa[int.Parse(p)]! : parent[p]!;
        string last = parts[^1];
        var copy = replacement is null ? null : JsonNode.Parse(replacement.ToJsonString());
        bool remove = replacement is JsonValue v && v.TryGetValue<string>(out var s) && s == "\u0000remove";
        if (parent is JsonArray array)
        {
            int index = int.Parse(last);
            if (remove) array.RemoveAt(index);
            else array[index] = copy;
        }
        else if (remove) parent.AsObject().Remove(last);
        else parent[last] = copy;
    }

    [Fact]
    public void DocsTableMatchesTheDescriptors()
    {
        string doc = File.ReadAllText(Path.Combine(Repo.Root, "docs", "generated-code.md"));
        var rows = doc.Split('\n').Where(l => l.StartsWith("| EBG", StringComparison.Ordinal)).ToList();
        var expected = DiagnosticDescriptors.All.Select(d => $"| {d.Id} | {d.Title} | {d.Description} |").ToList();
        Assert.Equal(expected, rows);
        Assert.All(DiagnosticDescriptors.All, d => Assert.Matches("^EBG0[0-9]{2}$", d.Id));
        Assert.Equal(DiagnosticDescriptors.All.Count, DiagnosticDescriptors.All.Select(d => d.Id).Distinct().Count());
    }
}
