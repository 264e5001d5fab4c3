using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;

namespace EdgeBuild.Generator.Tests.Updates;

/// <summary>How the server misbehaves for one path.</summary>
public abstract record Fault
{
    public sealed record Status(int Code) : Fault;
    public sealed record Delay(TimeSpan Time) : Fault;
    /// <summary>Declares the whole file's length, sends its first <paramref name="Bytes"/>, then drops the connection.</summary>
    public sealed record Truncate(long Bytes) : Fault;
}

/// <summary>
/// The site folder served over HTTP on 127.0.0.1 (a free port) by Kestrel and ASP.NET Core's static file middleware:
/// a production server's own handling of ETags, If-None-Match (304), Range (206) and unknown ranges, not ours. Kestrel
/// was chosen over Debian's nginx because the faults (a 5xx once, a stall, a body cut after a declared Content-Length)
/// then happen on the real connection through one middleware in front of the file server, with no upstream process of
/// our own, no package to install and no root; and the file server derives its ETag as nginx does, from the file's
/// modification time in whole seconds and its length. Faults are injected per path, once each.
/// </summary>
public sealed class ChannelServer : IDisposable
{
    private readonly WebApplication app;
    private readonly ConcurrentDictionary<string, Fault> faults = new(StringComparer.Ordinal);

    public ChannelServer(string root)
    {
        Root = root;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = root });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        app = builder.Build();
        app.Use(Intercept);
        // Packages (.edgepkg) have no registered media type; nginx serves them as its default_type, so serve them too.
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = new PhysicalFileProvider(root),
            ServeUnknownFileTypes = true,
            DefaultContentType = "application/octet-stream",
        });
        app.StartAsync().GetAwaiter().GetResult();
        string address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        BaseUri = new Uri(address.TrimEnd('/') + "/");
    }

    public string Root { get; }
    public Uri BaseUri { get; }

    /// <summary>Every request: path, If-None-Match, Range, status answered.</summary>
    public ConcurrentQueue<(string Path, string? IfNoneMatch, string? Range, int Status)> Log { get; } = new();

    public void FailOnce(string path, Fault fault) => faults[path] = fault;

    private async Task Intercept(HttpContext context, RequestDelegate next)
    {
        string path = (context.Request.Path.Value ?? "").TrimStart('/');
        string? ifNoneMatch = context.Request.Headers.IfNoneMatch.Count > 0 ? context.Request.Headers.IfNoneMatch.ToString() : null;
        string? range = context.Request.Headers.Range.Count > 0 ? context.Request.Headers.Range.ToString() : null;
        if (faults.TryRemove(path, out var fault))
        {
            switch (fault)
            {
                case Fault.Status s:
                    Log.Enqueue((path, ifNoneMatch, range, s.Code));
                    context.Response.StatusCode = s.Code;
                    return;
                case Fault.Delay d:
                    // The client gives up first (a time-out test); the server then finds the connection gone.
                    try { await Task.Delay(d.Time, context.RequestAborted); }
                    catch (OperationCanceledException) { return; }
                    break;
                case Fault.Truncate t:
                    byte[] all = await File.ReadAllBytesAsync(Path.Combine(Root, path));
                    Log.Enqueue((path, ifNoneMatch, range, 200));
                    context.Response.StatusCode = 200;
                    context.Response.ContentLength = all.Length;
                    await context.Response.Body.WriteAsync(all.AsMemory(0, (int)t.Bytes));
                    // Returning short of the declared length makes Kestrel close the connection once the bytes are sent:
                    // the client reads a body cut mid-way. (HttpContext.Abort would reset the connection, and a reset can
                    // overtake the unsent bytes, so the client would not even see the headers: no resume to test.)
                    return;
            }
        }
        await next(context);
        Log.Enqueue((path, ifNoneMatch, range, context.Response.StatusCode));
    }

    public void Dispose() => app.StopAsync().GetAwaiter().GetResult();
}
