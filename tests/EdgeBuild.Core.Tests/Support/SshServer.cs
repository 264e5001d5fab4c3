using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace EdgeBuild.Tests.Support;

/// <summary>
/// Debian's OpenSSH server on 127.0.0.1, for testing the device path end to end (docs/devices.md): a throwaway host key
/// and user key made by ssh-keygen in a temp folder, <c>AuthorizedKeysFile</c> pointing at the user key, keys only, a
/// free port, <c>sshd -D</c> in the foreground so it ends with the test run. The "device" is this machine, logged into
/// as the user running the tests. A second key (<see cref="RefusedKey"/>) is not authorized, for the login failure test.
/// A third (<see cref="SlowKey"/>) logs into a deliberately slowed device: its authorized_keys line forces every command
/// to run with <c>ORT_LOAD_CONFIG_FROM_MODEL=1</c>, so ONNX Runtime there obeys session options a model carries in its
/// <c>ort_config</c> metadata (graph optimizations off, profiling on) that it ignores everywhere else. A fourth
/// (<see cref="TensorRtKey"/>) logs into a device with TensorRT: its forced command puts <see cref="TensorRtBin"/>, where a
/// test writes a stand-in trtexec, first on the PATH.
/// <c>.ci/run</c> installs openssh-server; outside CI a machine without sshd skips these tests with the reason.
/// </summary>
public sealed class SshServer : IDisposable
{
    private readonly Process? process;

    public SshServer()
    {
        Dir = Directory.CreateTempSubdirectory("edgebuild-sshd-").FullName;
        User = Environment.UserName;
        UserKey = Path.Combine(Dir, "user_key");
        RefusedKey = Path.Combine(Dir, "refused_key");
        SlowKey = Path.Combine(Dir, "slow_key");
        TensorRtKey = Path.Combine(Dir, "tensorrt_key");
        TensorRtBin = Path.Combine(Dir, "device-tensorrt-bin");
        // In a folder with a space: ssh splits option values at whitespace unless they are quoted.
        KnownHosts = Path.Combine(Directory.CreateDirectory(Path.Combine(Dir, "known hosts")).FullName, "known_hosts");
        string? sshd = new[] { "/usr/sbin/sshd", "/usr/bin/sshd" }.FirstOrDefault(File.Exists);
        if (sshd is null) { UnavailableReason = "no OpenSSH server (/usr/sbin/sshd): apt-get install openssh-server"; return; }
        if (!OnPath("ssh") || !OnPath("ssh-keygen")) { UnavailableReason = "no OpenSSH client (ssh, ssh-keygen): apt-get install openssh-client"; return; }
        try
        {
            foreach (var key in new[] { "host_key", "user_key", "refused_key", "slow_key", "tensorrt_key" })
                Tool("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgebuild-test", "-f", Path.Combine(Dir, key));
            // Forced commands (the original command runs unchanged under them): the slowed device runs it in a folder of its own (ONNX
            // Runtime writes its profiles into the working folder), with ONNX Runtime told to read the model's config.
            string slowCwd = Directory.CreateDirectory(Path.Combine(Dir, "slow-device-cwd")).FullName;
            File.WriteAllText(Path.Combine(Dir, "authorized_forced"),
                $"command=\"cd {slowCwd} && export ORT_LOAD_CONFIG_FROM_MODEL=1 && exec /bin/sh -c \\\"$SSH_ORIGINAL_COMMAND\\\"\" {File.ReadAllText(SlowKey + ".pub").Trim()}\n" +
                $"command=\"export PATH={Directory.CreateDirectory(TensorRtBin).FullName}:$PATH && exec /bin/sh -c \\\"$SSH_ORIGINAL_COMMAND\\\"\" {File.ReadAllText(TensorRtKey + ".pub").Trim()}\n");
            // sshd refuses to start as root without its privilege separation folder (Debian creates it at boot only).
            if (Environment.UserName == "root") Directory.CreateDirectory("/run/sshd");
            for (int attempt = 0; attempt < 3 && process is null; attempt++)
            {
                Port = FreePort();
                string config = Path.Combine(Dir, "sshd_config");
                File.WriteAllText(config, string.Join("\n",
                    $"Port {Port.ToString(CultureInfo.InvariantCulture)}",
                    "ListenAddress 127.0.0.1",
                    $"HostKey {Path.Combine(Dir, "host_key")}",
                    $"AuthorizedKeysFile {UserKey}.pub {Path.Combine(Dir, "authorized_forced")}",
                    $"PidFile {Path.Combine(Dir, "sshd.pid")}",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "PermitRootLogin prohibit-password",
                    "") + "\n");
                var start = new ProcessStartInfo(sshd) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
                foreach (var a in new[] { "-D", "-e", "-f", config }) start.ArgumentList.Add(a);
                var p = Process.Start(start)!;
                p.ErrorDataReceived += (_, e) => { if (e.Data is { } line) lock (log) log.Add(line); };
                p.BeginErrorReadLine();
                if (WaitListening(p, TimeSpan.FromSeconds(10))) process = p;
                else if (!p.HasExited) { p.Kill(); p.WaitForExit(); }
            }
            if (process is null) UnavailableReason = $"sshd did not start: {string.Join(" / ", log.TakeLast(3))}";
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or System.ComponentModel.Win32Exception)
        {
            UnavailableReason = $"cannot set up sshd: {e.Message}";
        }
    }

    private readonly List<string> log = [];

    /// <summary>Null when the server runs; otherwise why not.</summary>
    public string? UnavailableReason { get; }

    public string Dir { get; }
    public int Port { get; private set; }
    public string User { get; }
    /// <summary>The authorized private key.</summary>
    public string UserKey { get; }
    /// <summary>A private key the server does not accept.</summary>
    public string RefusedKey { get; }
    /// <summary>An authorized key whose logins run every command on the deliberately slowed device (see the class summary).</summary>
    public string SlowKey { get; }
    /// <summary>An authorized key whose logins find trtexec in <see cref="TensorRtBin"/> first.</summary>
    public string TensorRtKey { get; }
    /// <summary>The folder the TensorRT device's PATH starts with.</summary>
    public string TensorRtBin { get; }
    /// <summary>The known_hosts file devices of this server use (filled on first contact).</summary>
    public string KnownHosts { get; }
    public string Address => string.Create(CultureInfo.InvariantCulture, $"ssh://{User}@127.0.0.1:{Port}");

    /// <summary>Skips the test when sshd cannot run here; fails it under CI=true, where .ci/run installs it.</summary>
    public void Require()
    {
        if (UnavailableReason is not { } reason) return;
        if (TestData.IsCi) Assert.Fail($"an SSH server is required under CI ({reason})");
        Skip.If(true, reason);
    }

    public void Dispose()
    {
        if (process is not null)
        {
            if (!process.HasExited) { process.Kill(entireProcessTree: true); process.WaitForExit(); }
            process.Dispose();
        }
        try { Directory.Delete(Dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private bool WaitListening(Process p, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout && !p.HasExited)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, Port);
                return true;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }
        return false;
    }

    /// <summary>A port nothing listens on right now (the OS picks it; sshd binds it a moment later, retried on a clash).</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, tool)));

    private static void Tool(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        string err = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} failed: {err.Trim()}");
    }
}
