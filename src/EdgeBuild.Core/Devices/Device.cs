using System.Globalization;
using System.Text.RegularExpressions;
using EdgeBuild.Diagnostics;

namespace EdgeBuild.Devices;

/// <summary>
/// A target device reached over SSH (docs/devices.md). Only what the OpenSSH client needs is stored: the address,
/// optionally which private key file to offer and which known_hosts file to check; never a password or a key.
/// </summary>
/// <param name="Name">What the user calls it on the command line (<c>--device NAME</c>).</param>
/// <param name="User">The login on the device.</param>
/// <param name="Host">Host name or address.</param>
/// <param name="Port">The SSH server's port (22 unless the address names one).</param>
/// <param name="Identity">A private key file passed to ssh as <c>-i</c> (absolute path); null: ssh's defaults and agent.</param>
/// <param name="KnownHosts">A known_hosts file passed as <c>UserKnownHostsFile</c>; null: the user's ~/.ssh/known_hosts.</param>
/// <param name="CacheDir">Folder on the device for runners and artifacts; null: <see cref="DefaultCacheDir"/>.</param>
public sealed record Device(string Name, string User, string Host, int Port, string? Identity = null, string? KnownHosts = null, string? CacheDir = null)
{
    /// <summary>Where runners and artifacts are cached on the device, relative to the login's home folder.</summary>
    public const string DefaultCacheDir = ".cache/edgebuild-runner";

    private static readonly Regex NamePattern = new("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", RegexOptions.CultureInvariant);
    private static readonly Regex UserPattern = new("^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}$", RegexOptions.CultureInvariant);
    private static readonly Regex HostPattern = new(@"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]{0,252})$", RegexOptions.CultureInvariant);

    /// <summary>The address as the user wrote it: ssh://user@host[:port].</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Address => Port == 22 ? $"ssh://{User}@{Host}" : string.Create(CultureInfo.InvariantCulture, $"ssh://{User}@{Host}:{Port}");

    /// <summary>The cache folder on the device, as a shell word (relative paths are under the login's home).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string RemoteCacheDir => CacheDir ?? DefaultCacheDir;

    /// <summary>A device from <c>NAME ssh://user@host[:port]</c>; every part is checked, since each becomes an ssh argument.</summary>
    public static Device Parse(string name, string address, string? identity = null, string? knownHosts = null, string? cacheDir = null)
    {
        if (!NamePattern.IsMatch(name))
            throw Invalid(name, "is not a device name (letters, digits, '.', '_', '-', starting with a letter or digit, at most 64)");
        const string scheme = "ssh://";
        if (!address.StartsWith(scheme, StringComparison.Ordinal))
            throw Invalid(name, $"address '{address}' is not ssh://user@host[:port]");
        string rest = address[scheme.Length..].TrimEnd('/');
        int at = rest.LastIndexOf('@');
        if (at <= 0) throw Invalid(name, $"address '{address}' names no user (ssh://user@host[:port])");
        string user = rest[..at], hostPort = rest[(at + 1)..];
        int port = 22;
        string host = hostPort;
        int colon = hostPort.LastIndexOf(':');
        if (colon > 0 && (hostPort[0] != '[' || hostPort[colon - 1] == ']'))
        {
            host = hostPort[..colon];
            if (!int.TryParse(hostPort[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
                throw Invalid(name, $"address '{address}' has no valid port (1 to 65535)");
        }
        if (!UserPattern.IsMatch(user)) throw Invalid(name, $"address '{address}': '{user}' is not a login name");
        if (!HostPattern.IsMatch(host)) throw Invalid(name, $"address '{address}': '{host}' is not a host name or address");
        if (identity is not null)
        {
            identity = Path.GetFullPath(identity);
            if (!File.Exists(identity)) throw Invalid(name, $"identity file '{identity}' does not exist");
        }
        if (knownHosts is not null)
        {
            knownHosts = Path.GetFullPath(knownHosts);
            if (knownHosts.Any(c => char.IsControl(c) || c == '"')) throw Invalid(name, $"known_hosts path '{knownHosts}' holds a double quote or control character");
        }
        if (cacheDir is not null && (cacheDir.Length == 0 || cacheDir.Any(c => char.IsControl(c) || c is '\'' )))
            throw Invalid(name, $"cache folder '{cacheDir}' is empty or holds a quote or control character");
        return new Device(name, user, host, port, identity, knownHosts, cacheDir);
    }

    private static EdgeBuildException Invalid(string subject, string message) => new(DiagnosticCodes.DeviceInvalid, subject, message);
}
