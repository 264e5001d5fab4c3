using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace EdgeBuild.Generator.Tests.Updates;

/// <summary>How the server misbehaves for one path.</summary>
public abstract record Fault
{
    public sealed record Status(int Code) : Fault;
    public sealed record Delay(TimeSpan Time) : Fault;
    /// <summary>Sends the first <paramref name="Bytes"/> of the file, then drops the connection.</summary>
    public sealed record Truncate(long Bytes) : Fault;
}

/// <summary>
/// A static file server on 127.0.0.1 (a free port), as nginx or object storage would serve a channel: strong ETags
/// (sha256 of the file) with If-None-Match, and byte ranges. Faults are injected per path, once each.
/// </summary>
public sealed class ChannelServer : IDisposable
{
    private readonly HttpListener listener = new();
    private readonly Task loop;
    private readonly ConcurrentDictionary<string, Fault> faults = new(StringComparer.Ordinal);

    public ChannelServer(string root)
    {
        Root = root;
        int port = FreePort();
        BaseUri = new Uri($"http://127.0.0.1:{port}/");
        listener.Prefixes.Add(BaseUri.ToString());
        listener.Start();
        loop = Task.Run(ServeAsync);
    }

    public string Root { get; }
    public Uri BaseUri { get; }

    /// <summary>Every request: path, If-None-Match, Range, status answered.</summary>
    public ConcurrentQueue<(string Path, string? IfNoneMatch, string? Range, int Status)> Log { get; } = new();

    public void FailOnce(string path, Fault fault) => faults[path] = fault;

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private async Task ServeAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            _ = Task.Run(() => Handle(context));
        }
    }

    private async Task Handle(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        string path = request.Url!.AbsolutePath.TrimStart('/');
        string? ifNoneMatch = request.Headers["If-None-Match"];
        string? range = request.Headers["Range"];
        try
        {
            if (faults.TryRemove(path, out var fault))
            {
                switch (fault)
                {
                    case Fault.Status s:
                        Log.Enqueue((path, ifNoneMatch, range, s.Code));
                        response.StatusCode = s.Code;
                        response.Close();
                        return;
                    case Fault.Delay d:
                        await Task.Delay(d.Time);
                        break;
                    case Fault.Truncate t:
                        byte[] all = File.ReadAllBytes(Path.Combine(Root, path));
                        Log.Enqueue((path, ifNoneMatch, range, 200));
                        response.StatusCode = 200;
                        response.SendChunked = true;
                        await response.OutputStream.WriteAsync(all.AsMemory(0, (int)t.Bytes));
                        await response.OutputStream.FlushAsync();
                        response.Abort();
                        return;
                }
            }
            string file = Path.Combine(Root, path);
            if (!File.Exists(file))
            {
                Log.Enqueue((path, ifNoneMatch, range, 404));
                response.StatusCode = 404;
                response.Close();
                return;
            }
            byte[] bytes = File.ReadAllBytes(file);
            string etag = "\"" + Convert.ToHexString(SHA256.HashData(bytes))[..16] + "\"";
            response.Headers["ETag"] = etag;
            if (ifNoneMatch == etag)
            {
                Log.Enqueue((path, ifNoneMatch, range, 304));
                response.StatusCode = 304;
                response.Close();
                return;
            }
            int start = 0;
            if (range is not null && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
            {
                start = int.Parse(range["bytes=".Length..^1], System.Globalization.CultureInfo.InvariantCulture);
                response.StatusCode = 206;
                response.Headers["Content-Range"] = $"bytes {start}-{bytes.Length - 1}/{bytes.Length}";
            }
            else response.StatusCode = 200;
            Log.Enqueue((path, ifNoneMatch, range, response.StatusCode));
            response.ContentLength64 = bytes.Length - start;
            await response.OutputStream.WriteAsync(bytes.AsMemory(start));
            response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
        {
            // The client went away (a time-out test): nothing to answer.
        }
    }

    public void Dispose()
    {
        listener.Stop();
        listener.Close();
        try { loop.Wait(TimeSpan.FromSeconds(5)); }
        catch (AggregateException) { }
    }
}
