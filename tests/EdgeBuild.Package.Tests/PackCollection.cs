namespace EdgeBuild.Tests.Package;

/// <summary>
/// The package tests run one after another: each packs from the same repository, and two packs at once share the
/// projects' obj/ folders and the pack staging folder (src/EdgeBuild.MSBuild/obj/pack-staging), which one clears while
/// the other reads it.
/// </summary>
[CollectionDefinition(Name)]
public sealed class PackCollection
{
    public const string Name = "packs from the repository";
}
