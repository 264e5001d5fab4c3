using EdgeBuild.Cli;

namespace EdgeBuild.Tests.Support;

/// <summary>Runs the edgebuild command tree in process and captures what it printed.</summary>
internal static class CliRunner
{
    public static (int Exit, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = Commands.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }
}
