using System.Collections.Immutable;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace EdgeBuild.Tests.Architecture;

/// <summary>
/// The namespace edges of a compiled assembly, read from its metadata rather than from <c>using</c> lines (the code
/// often writes qualified names such as <c>MeasureStep.Run</c>, which no <c>using</c> shows). A type depends on
/// every type of the same assembly that its base type, interfaces, generic constraints, custom attributes, field,
/// method, property and event signatures, locals, catch clauses and the type/member tokens of its IL name. Nested and
/// compiler-generated types (closures, iterators, async state machines) count as their outermost declaring type.
/// </summary>
internal sealed class NamespaceDependencies
{
    /// <summary>One edge between layers and the type references that make it (outermost types, "A -> B", sorted).</summary>
    public sealed record Edge(string From, string To, IReadOnlyList<string> References);

    private readonly MetadataReader _reader;
    private readonly PEReader _pe;
    private readonly Func<string, string?> _layerOf;
    private readonly Dictionary<(string, string), SortedSet<string>> _edges = new();
    private readonly SignatureCollector _signatures;

    private NamespaceDependencies(PEReader pe, Func<string, string?> layerOf)
    {
        _pe = pe;
        _reader = pe.GetMetadataReader();
        _layerOf = layerOf;
        _signatures = new SignatureCollector(_reader);
    }

    /// <summary>
    /// Every edge between two different layers of <paramref name="assemblyPath"/>; <paramref name="layerOf"/> maps a
    /// namespace to its layer, or to null for namespaces that are not part of the layering (embedded attributes).
    /// </summary>
    public static IReadOnlyList<Edge> Read(string assemblyPath, Func<string, string?> layerOf)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var deps = new NamespaceDependencies(pe, layerOf);
        foreach (var handle in deps._reader.TypeDefinitions) deps.VisitType(handle);
        return deps._edges.Select(e => new Edge(e.Key.Item1, e.Key.Item2, e.Value.ToList()))
            .OrderBy(e => e.From, StringComparer.Ordinal).ThenBy(e => e.To, StringComparer.Ordinal).ToList();
    }

    private void VisitType(TypeDefinitionHandle handle)
    {
        var type = _reader.GetTypeDefinition(handle);
        var refs = new List<TypeDefinitionHandle>();
        AddEntity(type.BaseType, refs);
        foreach (var i in type.GetInterfaceImplementations()) AddEntity(_reader.GetInterfaceImplementation(i).Interface, refs);
        AddGenericConstraints(type.GetGenericParameters(), refs);
        AddAttributes(type.GetCustomAttributes(), refs);
        foreach (var f in type.GetFields())
        {
            var field = _reader.GetFieldDefinition(f);
            refs.AddRange(field.DecodeSignature(_signatures, null));
            AddAttributes(field.GetCustomAttributes(), refs);
        }
        foreach (var p in type.GetProperties())
        {
            var property = _reader.GetPropertyDefinition(p);
            AddSignature(property.DecodeSignature(_signatures, null), refs);
            AddAttributes(property.GetCustomAttributes(), refs);
        }
        foreach (var e in type.GetEvents()) AddEntity(_reader.GetEventDefinition(e).Type, refs);
        foreach (var m in type.GetMethods())
        {
            var method = _reader.GetMethodDefinition(m);
            AddSignature(method.DecodeSignature(_signatures, null), refs);
            AddGenericConstraints(method.GetGenericParameters(), refs);
            AddAttributes(method.GetCustomAttributes(), refs);
            if (method.RelativeVirtualAddress != 0) AddBody(_pe.GetMethodBody(method.RelativeVirtualAddress), refs);
        }

        string? from = LayerOf(handle);
        if (from is null) return;
        foreach (var target in refs.Distinct())
        {
            string? to = LayerOf(target);
            if (to is null || to == from) continue;
            if (!_edges.TryGetValue((from, to), out var references)) _edges[(from, to)] = references = new SortedSet<string>(StringComparer.Ordinal);
            references.Add($"{FullName(Outermost(handle))} -> {FullName(Outermost(target))}");
        }
    }

    private void AddBody(MethodBodyBlock body, List<TypeDefinitionHandle> refs)
    {
        if (!body.LocalSignature.IsNil)
            foreach (var local in _reader.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(_signatures, null))
                refs.AddRange(local);
        foreach (var region in body.ExceptionRegions) AddEntity(region.CatchType, refs);

        var il = body.GetILReader();
        while (il.RemainingBytes > 0)
        {
            int code = il.ReadByte();
            if (code == 0xFE) code = 0xFE00 | il.ReadByte();
            var operand = OperandTypes.TryGetValue(unchecked((short)code), out var t) ? t
                : throw new InvalidDataException($"unknown IL opcode 0x{code:X} at offset {il.Offset - 1}");
            switch (operand)
            {
                case OperandType.InlineNone: break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar: il.ReadByte(); break;
                case OperandType.InlineVar: il.ReadInt16(); break;
                case OperandType.InlineI8 or OperandType.InlineR: il.ReadInt64(); break;
                case OperandType.InlineSwitch:
                    int targets = il.ReadInt32();
                    il.Offset += 4 * targets;
                    break;
                case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType:
                    AddEntity(MetadataTokens.EntityHandle(il.ReadInt32()), refs);
                    break;
                case OperandType.InlineSig:
                    AddSignature(_reader.GetStandaloneSignature((StandaloneSignatureHandle)MetadataTokens.EntityHandle(il.ReadInt32()))
                        .DecodeMethodSignature(_signatures, null), refs);
                    break;
                default: il.ReadInt32(); break; // InlineBrTarget, InlineI, InlineString, ShortInlineR
            }
        }
    }

    private void AddEntity(EntityHandle handle, List<TypeDefinitionHandle> refs)
    {
        if (handle.IsNil) return;
        switch (handle.Kind)
        {
            case HandleKind.TypeDefinition: refs.Add((TypeDefinitionHandle)handle); break;
            case HandleKind.TypeSpecification:
                refs.AddRange(_reader.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(_signatures, null));
                break;
            case HandleKind.FieldDefinition:
                refs.Add(_reader.GetFieldDefinition((FieldDefinitionHandle)handle).GetDeclaringType());
                break;
            case HandleKind.MethodDefinition:
                refs.Add(_reader.GetMethodDefinition((MethodDefinitionHandle)handle).GetDeclaringType());
                break;
            case HandleKind.MemberReference:
                var member = _reader.GetMemberReference((MemberReferenceHandle)handle);
                AddEntity(member.Parent, refs);
                if (member.GetKind() == MemberReferenceKind.Field) refs.AddRange(member.DecodeFieldSignature(_signatures, null));
                else AddSignature(member.DecodeMethodSignature(_signatures, null), refs);
                break;
            case HandleKind.MethodSpecification:
                var spec = _reader.GetMethodSpecification((MethodSpecificationHandle)handle);
                AddEntity(spec.Method, refs);
                foreach (var argument in spec.DecodeSignature(_signatures, null)) refs.AddRange(argument);
                break;
            // TypeReference: a type of another assembly. ModuleReference and the rest name no type of ours.
        }
    }

    private static void AddSignature(MethodSignature<ImmutableArray<TypeDefinitionHandle>> signature, List<TypeDefinitionHandle> refs)
    {
        refs.AddRange(signature.ReturnType);
        foreach (var parameter in signature.ParameterTypes) refs.AddRange(parameter);
    }

    private void AddGenericConstraints(GenericParameterHandleCollection parameters, List<TypeDefinitionHandle> refs)
    {
        foreach (var p in parameters)
            foreach (var c in _reader.GetGenericParameter(p).GetConstraints())
                AddEntity(_reader.GetGenericParameterConstraint(c).Type, refs);
    }

    private void AddAttributes(CustomAttributeHandleCollection attributes, List<TypeDefinitionHandle> refs)
    {
        foreach (var a in attributes) AddEntity(_reader.GetCustomAttribute(a).Constructor, refs);
    }

    private TypeDefinitionHandle Outermost(TypeDefinitionHandle handle)
    {
        while (_reader.GetTypeDefinition(handle).GetDeclaringType() is { IsNil: false } declaring) handle = declaring;
        return handle;
    }

    private string? LayerOf(TypeDefinitionHandle handle)
    {
        string ns = _reader.GetString(_reader.GetTypeDefinition(Outermost(handle)).Namespace);
        return ns.Length == 0 ? null : _layerOf(ns);
    }

    private string FullName(TypeDefinitionHandle handle)
    {
        var type = _reader.GetTypeDefinition(handle);
        string name = _reader.GetString(type.Name);
        var declaring = type.GetDeclaringType();
        return declaring.IsNil ? _reader.GetString(type.Namespace) + "." + name : FullName(declaring) + "+" + name;
    }

    private static readonly IReadOnlyDictionary<short, OperandType> OperandTypes =
        typeof(OpCodes).GetFields().Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value, o => o.OperandType);

    /// <summary>Decodes a signature into the types of this assembly it names (generic arguments, arrays and pointers included).</summary>
    private sealed class SignatureCollector(MetadataReader reader) : ISignatureTypeProvider<ImmutableArray<TypeDefinitionHandle>, object?>
    {
        private static readonly ImmutableArray<TypeDefinitionHandle> None = ImmutableArray<TypeDefinitionHandle>.Empty;

        public ImmutableArray<TypeDefinitionHandle> GetTypeFromDefinition(MetadataReader r, TypeDefinitionHandle handle, byte rawTypeKind) => [handle];
        public ImmutableArray<TypeDefinitionHandle> GetTypeFromReference(MetadataReader r, TypeReferenceHandle handle, byte rawTypeKind) => None;
        public ImmutableArray<TypeDefinitionHandle> GetTypeFromSpecification(MetadataReader r, object? context, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, context);
        public ImmutableArray<TypeDefinitionHandle> GetPrimitiveType(PrimitiveTypeCode typeCode) => None;
        public ImmutableArray<TypeDefinitionHandle> GetSZArrayType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;
        public ImmutableArray<TypeDefinitionHandle> GetArrayType(ImmutableArray<TypeDefinitionHandle> elementType, ArrayShape shape) => elementType;
        public ImmutableArray<TypeDefinitionHandle> GetByReferenceType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;
        public ImmutableArray<TypeDefinitionHandle> GetPointerType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;
        public ImmutableArray<TypeDefinitionHandle> GetPinnedType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;
        public ImmutableArray<TypeDefinitionHandle> GetGenericInstantiation(ImmutableArray<TypeDefinitionHandle> genericType, ImmutableArray<ImmutableArray<TypeDefinitionHandle>> typeArguments) =>
            typeArguments.Aggregate(genericType, (all, argument) => all.AddRange(argument));
        public ImmutableArray<TypeDefinitionHandle> GetGenericMethodParameter(object? context, int index) => None;
        public ImmutableArray<TypeDefinitionHandle> GetGenericTypeParameter(object? context, int index) => None;
        public ImmutableArray<TypeDefinitionHandle> GetModifiedType(ImmutableArray<TypeDefinitionHandle> modifier, ImmutableArray<TypeDefinitionHandle> unmodifiedType, bool isRequired) =>
            unmodifiedType.AddRange(modifier);
        public ImmutableArray<TypeDefinitionHandle> GetFunctionPointerType(MethodSignature<ImmutableArray<TypeDefinitionHandle>> signature) =>
            signature.ParameterTypes.Aggregate(signature.ReturnType, (all, parameter) => all.AddRange(parameter));
    }
}
