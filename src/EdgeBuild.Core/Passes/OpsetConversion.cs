using EdgeBuild.Diagnostics;
using EdgeBuild.Ir;
using IrAttribute = EdgeBuild.Ir.Attribute;

namespace EdgeBuild.Passes;

/// <summary>
/// Converts the default-domain (ai.onnx) operators of a model, main graph and every If/Loop/Scan body,
/// up to <see cref="OptimizeOptions.TargetOpset"/>. The knowledge sits in one registry: per operator, the
/// opset versions where its meaning or signature changed, each with an adapter that rewrites a node from
/// the form before that version to the form it has from that version on (<see cref="Steps"/>); operators
/// whose later versions only widened types or added optional things with compatible defaults are listed in
/// <see cref="Compatible"/> and carried over. Adapters run in version order, so a node travels through every
/// form between the two opsets (Upsample-7 -> Upsample-9 -> Resize-10 -> Resize-11 -> Resize-13).
/// A default-domain operator in neither table, or a change the rules cannot express exactly, is an error
/// (EB2002): the pass never guesses. Every operator is checked against the tables before anything is
/// rewritten; a failure that depends on a node's data (an unknown rank, a used training output) is found
/// while rewriting, and then the model is left partly converted and must be discarded.
/// This file drives the rules; the table is in OpsetConversion.Registry.cs and the adapters in
/// OpsetConversion.Adapters.cs (adding an operator change: a step there and, if needed, an adapter).
/// </summary>
public sealed partial class OpsetConversion : IPass
{
    /// <summary>The newest default-domain opset the rules cover.</summary>
    public const long MaxTargetOpset = 21;

    public string Name => "opset-conversion";
    public string Description => "Default-domain operators converted up to the target opset by per-operator rules (unknown changes are errors)";

    public PassResult Run(Model model, PassContext context)
    {
        var result = new PassResult();
        if (context.Options.TargetOpset is not long target) return result;
        long from = model.DefaultOpset;
        if (target == from) return result;
        if (target > MaxTargetOpset)
            throw new EdgeBuildException(DiagnosticCodes.OpsetConversionUnsupported, $"opset {target}",
                $"cannot convert to opset {target}: the newest opset EdgeBuild converts to is {MaxTargetOpset}");
        if (target < from)
            throw new EdgeBuildException(DiagnosticCodes.OpsetConversionUnsupported, $"opset {target}",
                $"the model uses opset {from}; converting down to opset {target} is not supported");

        CheckOpaqueParts(model, target);
        var graphs = model.Graph.SelfAndSubgraphs().ToList();
        // Every operator is checked against the tables first, so a missing rule changes nothing.
        foreach (var node in graphs.SelectMany(g => g.Nodes))
            if (node.IsStandardDomain) CheckRules(node.OpType, from, target);

        // Some adapters need ranks and element types; infer what the file leaves out (flagged as inferred).
        foreach (var g in graphs) ShapeInference.Infer(g, from);

        var conversion = new Conversion(from, target, result, context.Warn);
        foreach (var g in graphs)
            foreach (var node in g.Nodes.ToList())
                if (node.Graph == g && node.IsStandardDomain) ConvertNode(conversion, node);
        foreach (var g in conversion.Touched) g.SortTopologically();

        model.SetOpsetVersion("", target);
        result.Count("opset_raised");
        long minIr = MinIrVersion(target);
        if (model.IrVersion < minIr)
        {
            model.IrVersion = minIr;
            result.Count("ir_version_raised");
        }
        return result;
    }

    /// <summary>
    /// Model-local functions and training info are carried as serialized protos and never rewritten. A
    /// function that imports the default domain at its own version keeps working only if that is the
    /// target; training graphs use the model's opset, so their operators would change meaning unseen.
    /// </summary>
    private static void CheckOpaqueParts(Model model, long target)
    {
        foreach (var f in model.Functions)
        {
            var proto = Onnx.Proto.FunctionProto.Parser.ParseFrom(f.Proto);
            var import = proto.OpsetImport.FirstOrDefault(o => Model.SameDomain(o.Domain, ""));
            bool usesDefault = proto.Node.Any(n => n.Domain is "" or "ai.onnx");
            if (import is not null && usesDefault && import.Version != target)
                throw new EdgeBuildException(DiagnosticCodes.OpsetConversionUnsupported, $"function {f.Domain}.{f.Name}",
                    $"model-local function '{f.Name}' imports opset {import.Version}; EdgeBuild does not convert function bodies to opset {target}");
        }
        if (model.TrainingInfo.Count > 0)
            throw new EdgeBuildException(DiagnosticCodes.OpsetConversionUnsupported, "training_info",
                $"the model carries training info, whose graphs EdgeBuild does not convert to opset {target}");
    }

    /// <summary>The lowest ONNX IR version that may import <paramref name="opset"/> of the default domain.</summary>
    public static long MinIrVersion(long opset) => opset switch
    {
        <= 8 => 3,
        9 => 4,
        10 => 5,
        11 => 6,
        <= 14 => 7,
        <= 18 => 8,
        <= 20 => 9,
        _ => 10,
    };

    // ------------------------------------------------------------------------------------------------
    // Driving the rules.
    // ------------------------------------------------------------------------------------------------

    /// <summary>
    /// Operators deprecated at a version (their last schema stays valid in later opsets only as a
    /// deprecation). A model at or past that version that still uses one holds the last form before the
    /// deprecation, so its conversion starts just before it.
    /// </summary>
    private static readonly Dictionary<string, long> DeprecatedAt = new(StringComparer.Ordinal)
    {
        ["Upsample"] = 10,
        ["Scatter"] = 11,
    };

    /// <summary>The version whose form a node of <paramref name="opType"/> has in a model at opset <paramref name="from"/>, for step lookup.</summary>
    private static long StartVersion(string opType, long from) =>
        DeprecatedAt.TryGetValue(opType, out long deprecated) && from >= deprecated ? deprecated - 1 : from;

    /// <summary>The first step of <paramref name="opType"/> after version <paramref name="at"/> up to <paramref name="to"/>; throws when the op has no rule.</summary>
    private static Step? NextStep(string opType, long at, long from, long to)
    {
        if (Steps.TryGetValue(opType, out var steps)) return steps.FirstOrDefault(s => s.Version > at && s.Version <= to);
        if (Compatible.Contains(opType)) return null;
        // A corrupt node can have an empty op type: the subject still names something ("" printed as '<model>').
        string shown = opType.Length > 0 ? opType : "(empty op type)";
        throw new EdgeBuildException(DiagnosticCodes.OpsetConversionUnsupported, shown, $"no rule to convert {shown} from opset {from} to {to}");
    }

    /// <summary>Follows the op through the tables without touching a node: unknown ops and unsupported steps fail here.</summary>
    private static void CheckRules(string opType, long from, long to)
    {
        string op = opType;
        long at = StartVersion(opType, from);
        while (NextStep(op, at, from, to) is { } step)
        {
            if (step.Adapt is null)
                throw new EdgeBuildException(DiagnosticCodes.OpsetConversionUnsupported, opType,
                    $"cannot convert {opType} from opset {from} to {to}: {step.Why}");
            op = step.Becomes ?? op;
            at = step.Version;
        }
    }

    private static void ConvertNode(Conversion c, Node node)
    {
        bool rewritten = false;
        if (node.GetAttribute("consumed_inputs") is not null)
        {
            node.RemoveAttribute("consumed_inputs");
            rewritten = true;
        }
        long at = StartVersion(node.OpType, c.From);
        while (NextStep(node.OpType, at, c.From, c.To) is { } step)
        {
            if (step.Adapt is null) throw c.Fail(node, step.Why ?? "no rule");
            node = step.Adapt(c, node);
            at = step.Version;
            rewritten = true;
        }
        c.Result.Count(rewritten ? "nodes_rewritten" : "ops_bumped");
    }

    /// <summary>State of one conversion: the versions, counters, and helpers that create values and nodes.</summary>
    private sealed class Conversion(long from, long to, PassResult result, Action<string> warn)
    {
        public Action<string> Warn { get; } = warn;
        public long From { get; } = from;
        public long To { get; } = to;
        public PassResult Result { get; } = result;

        /// <summary>Graphs that got new nodes (sorted at the end).</summary>
        public HashSet<Graph> Touched { get; } = [];

        /// <summary>Resize nodes that were Upsample, whose scales are at least 1 by definition.</summary>
        public HashSet<Node> FromUpsample { get; } = [];

        public EdgeBuildException Fail(Node node, string why) =>
            new(DiagnosticCodes.OpsetConversionUnsupported, node.OpType, $"cannot convert {Describe(node)} from opset {From} to {To}: {why}");

        public Value Constant(Node near, string what, Tensor tensor)
        {
            var g = near.Graph!;
            Result.Count("initializers_added");
            return g.AddInitializer(g.UniqueName(PassHelpers.Hint(near, what)), tensor);
        }

        public Value Int64s(Node near, string what, long[] values) => Constant(near, what, Tensor.FromInt64s([values.Length], values));

        public Node AddNode(Node near, string opType, Value?[] inputs, string what, params IrAttribute[] attributes)
        {
            var g = near.Graph!;
            var added = g.AddNodeWithFreshOutputs(opType, inputs, 1, PassHelpers.Hint(near, what), attributes);
            Touched.Add(g);
            Result.Count("nodes_added");
            return added;
        }

        /// <summary>
        /// Replaces <paramref name="old"/> by a new <paramref name="opType"/> node with its first
        /// <paramref name="keep"/> outputs, which keep their names, types and readers. The outputs dropped must be unused.
        /// </summary>
        public Node Rebuild(Node old, string opType, int keep, IEnumerable<Value?> inputs, IEnumerable<IrAttribute> attributes, string droppedWhat)
        {
            var g = old.Graph!;
            for (int i = keep; i < old.Outputs.Count; i++)
                if (old.Outputs[i] is { IsUsed: true } o) throw Fail(old, $"output {i} ('{o.Name}', {droppedWhat}) is used, and opset {To} has no such output");
            int count = Math.Min(keep, old.Outputs.Count);
            var names = old.Outputs.Take(count).Select(o => o is null ? null : g.UniqueName(o.Name)).ToList();
            var fresh = g.AddNode(opType, inputs.ToList(), names, old.Domain, old.Name, attributes.ToList());
            fresh.DocString = old.DocString;
            fresh.MetadataProps.AddRange(old.MetadataProps);
            var renames = new List<(Value Value, string Name)>();
            for (int i = 0; i < count; i++)
            {
                if (old.Outputs[i] is not { } o) continue;
                var v = fresh.Outputs[i]!;
                v.Type = o.Type;
                v.TypeInferred = o.TypeInferred;
                v.DocString = o.DocString;
                v.MetadataProps.AddRange(o.MetadataProps);
                bool graphOutput = o.IsGraphOutput;
                if (!g.TrySubstitute(o, v)) throw new InvalidOperationException($"opset conversion could not substitute '{o.Name}'");
                if (!graphOutput) renames.Add((v, o.Name));
            }
            g.RemoveNode(old);
            foreach (var (v, name) in renames) g.Rename(v, name);
            Touched.Add(g);
            return fresh;
        }

        /// <summary>Removes an initializer of this graph that nothing reads any more.</summary>
        public static void DropIfUnused(Value v)
        {
            if (!v.IsUsed && !v.IsGraphInput && v.Producer is null && v.Initializer is not null) v.Graph.RemoveInitializer(v);
        }
    }
}
