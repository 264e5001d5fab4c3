namespace EdgeBuild.Runtime.Updates;

/// <summary>
/// The check that a package fits the generated class: same model name, same inputs and outputs in the same order with
/// the same element types and shapes (a symbolic dimension must stay symbolic, a fixed one keep its size), and a
/// runtime at least as new as the package asks for.
/// </summary>
public static class PackageInterface
{
    /// <exception cref="ModelUpdateException"><see cref="UpdateFailure.WrongModel"/>, <see cref="UpdateFailure.InterfaceMismatch"/> or <see cref="UpdateFailure.NeedsNewerRuntime"/>.</exception>
    public static void Check(PackageManifest package, EdgeModelDescription model, SemanticVersion runtime)
    {
        if (!string.Equals(package.Model, model.Name, StringComparison.Ordinal))
            throw new ModelUpdateException(UpdateFailure.WrongModel, $"the package is model '{package.Model}' {package.Version}, this application runs '{model.Name}'");
        var problems = new List<string>();
        Compare("input", package.Inputs, model.Inputs, problems);
        Compare("output", package.Outputs, model.Outputs, problems);
        if (problems.Count > 0)
            throw new ModelUpdateException(UpdateFailure.InterfaceMismatch,
                $"'{model.Name}' {package.Version} does not fit the class this application was built with ({string.Join("; ", problems)}); publish a version with the same inputs and outputs, or ship a new application");
        if (package.MinRuntimeVersion > runtime)
            throw new ModelUpdateException(UpdateFailure.NeedsNewerRuntime,
                $"'{model.Name}' {package.Version} needs EdgeBuild runtime {package.MinRuntimeVersion} or newer, this application has {runtime}");
    }

    private static void Compare(string kind, IReadOnlyList<PackageTensor> offered, IReadOnlyList<EdgeTensorSpec> expected, List<string> problems)
    {
        if (offered.Count != expected.Count)
        {
            problems.Add($"{offered.Count} {kind}s, the class has {expected.Count}");
            return;
        }
        for (int i = 0; i < offered.Count; i++)
        {
            var o = offered[i];
            var e = expected[i];
            if (o.Name != e.Name) problems.Add($"{kind} {i} is '{o.Name}', the class has '{e.Name}'");
            else if (!EdgeElementTypes.TryParseManifestName(o.ElementType, out var type) || type != e.ElementType)
                problems.Add($"{kind} '{o.Name}' is {o.ElementType}, the class has {e.ElementType}");
            else if (o.Shape.Count != e.Shape.Count || o.Shape.Where((d, j) => (d.Size ?? -1) != e.Shape[j]).Any())
                problems.Add($"{kind} '{o.Name}' has shape [{string.Join(",", o.Shape)}], the class has {e}");
        }
    }
}
