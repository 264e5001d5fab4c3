using System.CommandLine;

namespace EdgeBuild.Cli;

/// <summary>The command tree of <c>edgebuild</c>.</summary>
public static class Commands
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("edgebuild: compile ONNX models for edge deployment");
        return root.Parse(args).Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
    }
}
