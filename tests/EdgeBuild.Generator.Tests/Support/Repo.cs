namespace EdgeBuild.Generator.Tests.Support;

public static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string TestProjectDir => Path.Combine(Root, "tests", "EdgeBuild.Generator.Tests");

    /// <summary>EDGEBUILD_UPDATE_BASELINES=1 rewrites baseline files instead of comparing with them.</summary>
    public static bool UpdateBaselines => Environment.GetEnvironmentVariable("EDGEBUILD_UPDATE_BASELINES") == "1";

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "EdgeBuild.sln"))) return d.FullName;
        throw new InvalidOperationException("cannot find EdgeBuild.sln above " + AppContext.BaseDirectory);
    }
}
