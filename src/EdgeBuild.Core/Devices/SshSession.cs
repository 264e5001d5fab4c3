using System.Diagnostics;
using System.Globalization;
using EdgeBuild.Diagnostics;

namespace EdgeBuild.Devices;

/// <summary>What one ssh invocation gave: the remote command's exit code (255: ssh itself failed) and its output.</summary>
public sealed record SshResult(int ExitCode, string Stdout, string Stderr);

/// <summary>
/// Runs commands on a <see cref="Device"/> through the ordinary OpenSSH client (<c>ssh</c> on PATH), so the user's keys,
/// agent, known_hosts and ~/.ssh/config apply as they do for any ssh command. Always <c>BatchMode=yes</c> (never asks
/// for a password or a host key confirmation: a build cannot answer), a connect timeout, keep-alives so a dead link
/// ends the call, and <c>StrictHostKeyChecking=accept-new</c>: the first contact records the host key, a changed key
/// is refused.
/// </summary>
public sealed class SshSession(Device device)
{
    /// <summary>Seconds ssh waits for the TCP connection and the SSH handshake (an unreachable device fails within it).</summary>
    public const int ConnectTimeoutSeconds = 5;

    public Device Device { get; } = device;

    /// <summary>The ssh arguments before the remote command; logged by callers so the call can be repeated by hand.</summary>
    public IReadOnlyList<string> Arguments
    {
        get
        {
            var args = new List<string>
            {
                "-o", "BatchMode=yes",
                "-o", $"ConnectTimeout={ConnectTimeoutSeconds}",
                "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
                "-o", "StrictHostKeyChecking=accept-new",
                "-o", "LogLevel=ERROR",
                "-p", Device.Port.ToString(CultureInfo.InvariantCulture),
            };
            // ssh splits option values at whitespace (UserKnownHostsFile takes a list): a path with a space is quoted.
            if (Device.KnownHosts is { } known) args.AddRange(["-o", $"UserKnownHostsFile=\"{known}\""]);
            if (Device.Identity is { } key) args.AddRange(["-i", key, "-o", "IdentitiesOnly=yes"]);
            // An IPv6 address is written in brackets in the URL, bare for ssh.
            args.AddRange(["-l", Device.User, "--", Device.Host.TrimStart('[').TrimEnd(']')]);
            return args;
        }
    }

    /// <summary>
    /// Runs <paramref name="script"/> with the device's POSIX shell (<c>sh -c</c>, whatever the login shell is), feeding
    /// <paramref name="stdin"/> to it when given. An ssh failure (exit 255: unreachable, refused login, changed host key)
    /// or a full disk becomes its EB error; any other exit code is returned for the caller to judge.
    /// </summary>
    public SshResult Run(string script, TimeSpan timeout, Action<Stream>? stdin = null)
    {
        var start = new ProcessStartInfo("ssh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in Arguments) start.ArgumentList.Add(a);
        start.ArgumentList.Add("sh -c " + Quote(script));
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("no process");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new EdgeBuildException(DiagnosticCodes.DeviceUnreachable, Device.Name, $"cannot start the OpenSSH client 'ssh' ({e.Message}): install openssh-client");
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            try
            {
                if (stdin is not null) stdin(process.StandardInput.BaseStream);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // ssh exited before taking all of the input (the connection failed or the remote side stopped reading):
                // its exit code and stderr below say why.
            }
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                throw new EdgeBuildException(DiagnosticCodes.DeviceUnreachable, Device.Name,
                    $"{Device.Address} did not finish a command within {timeout.TotalSeconds:F0} s; the connection or the device hangs");
            }
            var result = new SshResult(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
            if (Failure(Device, result) is { } failure) throw failure;
            return result;
        }
    }

    /// <summary>
    /// The EB error an ssh result stands for, or null when the remote command ran (whatever its own exit code).
    /// OpenSSH reports its own failures with exit code 255 and one line on stderr; these lines are matched here.
    /// </summary>
    public static EdgeBuildException? Failure(Device device, SshResult result)
    {
        string err = result.Stderr;
        string last = LastLines(err, 2);
        if (err.Contains("No space left on device", StringComparison.Ordinal))
            return new EdgeBuildException(DiagnosticCodes.DeviceDiskFull, device.Name, $"{device.Address}: the device ran out of disk space in {device.RemoteCacheDir} ({last})");
        if (result.ExitCode != 255) return null;
        if (err.Contains("Permission denied", StringComparison.Ordinal) || err.Contains("Too many authentication failures", StringComparison.Ordinal))
            return new EdgeBuildException(DiagnosticCodes.DeviceAuthenticationFailed, device.Name,
                $"{device.Address} refused the login of '{device.User}' with {(device.Identity is { } key ? $"the key {key}" : "the user's default keys and agent")} ({last})");
        if (err.Contains("Host key verification failed", StringComparison.Ordinal) || err.Contains("IDENTIFICATION HAS CHANGED", StringComparison.Ordinal))
            return new EdgeBuildException(DiagnosticCodes.DeviceHostKeyMismatch, device.Name, $"{device.Address}: {last}");
        return new EdgeBuildException(DiagnosticCodes.DeviceUnreachable, device.Name,
            $"cannot connect to {device.Address} ({(last.Length > 0 ? last : "ssh exited with 255 and no message")})");
    }

    /// <summary>A single-quoted POSIX shell word.</summary>
    public static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>The last non-empty lines of a tool's output, joined for one diagnostic line.</summary>
    public static string LastLines(string text, int count) =>
        string.Join(" / ", text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).TakeLast(count));
}
