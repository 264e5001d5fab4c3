namespace EdgeBuild.Ir;

/// <summary>An operator set a model imports; domain "" is the default ONNX domain.</summary>
public readonly record struct OpsetId(string Domain, long Version);

/// <summary>A whole ONNX model: metadata, opset imports and the main graph.</summary>
public sealed class Model
{
    public Model(Graph graph) => Graph = graph;

    public long IrVersion { get; set; } = 8;
    public List<OpsetId> Opsets { get; } = [];
    public string? ProducerName { get; set; }
    public string? ProducerVersion { get; set; }
    public string? Domain { get; set; }
    public long? ModelVersion { get; set; }
    public string? DocString { get; set; }
    public Graph Graph { get; }
    public List<KeyValuePair<string, string>> MetadataProps { get; } = [];

    /// <summary>Model-local functions, kept as their serialized FunctionProto bytes: carried through, never rewritten.</summary>
    public List<OpaqueFunction> Functions { get; } = [];

    /// <summary>Training info, kept as serialized TrainingInfoProto bytes: carried through unchanged.</summary>
    public List<byte[]> TrainingInfo { get; } = [];

    /// <summary>The opset version imported for <paramref name="domain"/> ("" and "ai.onnx" are the same), or null.</summary>
    public long? OpsetVersion(string domain)
    {
        foreach (var o in Opsets)
            if (SameDomain(o.Domain, domain)) return o.Version;
        return null;
    }

    /// <summary>The default-domain (ai.onnx) opset version; 1 when a model imports none.</summary>
    public long DefaultOpset => OpsetVersion("") ?? 1;

    public void SetOpsetVersion(string domain, long version)
    {
        int i = Opsets.FindIndex(o => SameDomain(o.Domain, domain));
        if (i >= 0) Opsets[i] = Opsets[i] with { Version = version };
        else Opsets.Add(new OpsetId(domain, version));
    }

    public static bool SameDomain(string a, string b) => Normalize(a) == Normalize(b);
    private static string Normalize(string d) => d == "ai.onnx" ? "" : d;
}

/// <summary>A model-local function, identified by domain and name, with its serialized FunctionProto.</summary>
public sealed record OpaqueFunction(string Domain, string Name, string? Overload, byte[] Proto);
