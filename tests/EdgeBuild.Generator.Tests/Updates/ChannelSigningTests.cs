using System.Security.Cryptography;
using System.Text;
using EdgeBuild.Generator.Tests.Models;
using EdgeBuild.Generator.Tests.Support;
using EdgeBuild.Runtime;
using EdgeBuild.Runtime.Updates;

namespace EdgeBuild.Generator.Tests.Updates;

/// <summary>
/// Signed channel files (<c>edgebuild publish --key</c>) against a real HTTP server on 127.0.0.1: the server cannot point
/// devices at another package, replay an older channel file, serve one channel as another, or strip the signature.
/// </summary>
public sealed class ChannelSigningTests(ModelFolder models) : IClassFixture<ModelFolder>, IDisposable
{
    private readonly Publisher publisher = new();
    private readonly List<string> log = [];
    private ChannelServer? server;

    public void Dispose()
    {
        server?.Dispose();
        publisher.Dispose();
    }

    private ChannelServer Server => server ??= new ChannelServer(publisher.Site);

    private string StablePath => Path.Combine(publisher.Site, "stable.json");

    private ModelUpdater Updater(string device, bool requireSigned = false) => new(ScaleNet.ModelDescription, new ModelUpdaterOptions
    {
        Channel = new Uri(Server.BaseUri, "stable.json"), TrustedKeys = [publisher.PublicKey], StateDirectory = device,
        ModelOptions = new EdgeModelOptions { ModelDirectory = models.Path }, RequireSignedChannel = requireSigned,
        Log = line => { lock (log) log.Add(line); },
    });

    private static void AssertRefused(UpdateResult result, UpdateFailure failure, string active)
    {
        Assert.Equal((UpdateOutcome.Refused, failure, active), (result.Outcome, result.Failure, result.ActiveVersion));
    }

    [Fact]
    public async Task SignedChannelInstallsAndItsSequenceOnlyGrows()
    {
        var first = publisher.PublishSigned(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        Assert.True(first.IsSigned);
        Assert.Equal(PackageSignature.KeyIdHex(publisher.Key), first.SignedBy);
        // Not below the Unix time: a publisher without the previous file (a fresh checkout) still moves forward.
        Assert.True(first.Sequence >= DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60);
        byte[] oldChannel = File.ReadAllBytes(StablePath);
        var second = publisher.PublishSigned(publisher.Package("1.1.0", TestModels.ScaleNet(3)));
        Assert.True(second.Sequence > first.Sequence);

        using var updater = Updater(publisher.NewDevice(), requireSigned: true);
        var installed = await updater.CheckAsync();
        Assert.Equal((UpdateOutcome.Installed, "1.1.0"), (installed.Outcome, installed.ActiveVersion));

        // The server replays yesterday's signed file: valid signature, older sequence.
        publisher.ReplaceChannelFile("stable", oldChannel);
        AssertRefused(await updater.CheckAsync(), UpdateFailure.StaleChannel, "1.1.0");
        Assert.Contains(log, l => l.Contains($"has sequence {first.Sequence}, older than the {second.Sequence}", StringComparison.Ordinal));

        // The replay is refused after a restart too: the accepted sequence is persisted.
        string device = publisher.NewDevice();
        publisher.PublishSigned(publisher.Package("1.2.0", TestModels.ScaleNet(4)));
        byte[] newest = File.ReadAllBytes(StablePath);
        using (var a = Updater(device)) Assert.Equal(UpdateOutcome.Installed, (await a.CheckAsync()).Outcome);
        publisher.ReplaceChannelFile("stable", oldChannel);
        using (var b = Updater(device)) AssertRefused(await b.CheckAsync(), UpdateFailure.StaleChannel, "1.2.0");
        publisher.ReplaceChannelFile("stable", newest);
        using (var c = Updater(device)) Assert.Equal(UpdateOutcome.Unchanged, (await c.CheckAsync()).Outcome);
    }

    [Fact]
    public async Task EditedSwappedOrUnsignedChannelFilesAreRefused()
    {
        string device = publisher.NewDevice();
        using var updater = Updater(device);
        publisher.PublishSigned(publisher.Package("1.0.0", TestModels.ScaleNet(2)));
        Assert.Equal(UpdateOutcome.Installed, (await updater.CheckAsync()).Outcome);

        // The server points the readable fields at another signed package of the same publisher.
        string other = publisher.Package("1.1.0", TestModels.ScaleNet(3));
        var signedFile = File.ReadAllText(StablePath);
        var unsignedOther = ModelPackagerChannel(other);
        string edited = signedFile
            .Replace("\"version\": \"1.0.0\"", "\"version\": \"1.1.0\"", StringComparison.Ordinal)
            .Replace(ChannelField(signedFile, "package"), unsignedOther.Package, StringComparison.Ordinal)
            .Replace(ChannelField(signedFile, "sha256"), unsignedOther.Sha256, StringComparison.Ordinal)
            .Replace($"\"bytes\": {ChannelField(signedFile, "bytes")}", $"\"bytes\": {unsignedOther.Bytes}", StringComparison.Ordinal);
        Assert.NotEqual(signedFile, edited);
        publisher.ReplaceChannelFile("stable", Encoding.UTF8.GetBytes(edited));
        var swapped = await updater.CheckAsync();
        AssertRefused(swapped, UpdateFailure.BadSignature, "1.0.0");
        Assert.Contains("readable fields differ from the signed ones", swapped.Message);

        // The signature stripped: this device has accepted a signed 'stable' before, so an unsigned one is refused.
        publisher.ReplaceChannelFile("stable", unsignedOther.ToJson());
        var stripped = await updater.CheckAsync();
        AssertRefused(stripped, UpdateFailure.BadSignature, "1.0.0");
        Assert.Contains("is not signed, but this device accepted a signed 'stable' channel before", stripped.Message);

        // The canary channel's signed file served as stable.json.
        publisher.PublishSigned(other, channel: "canary");
        File.Copy(Path.Combine(publisher.Site, "canary.json"), StablePath, overwrite: true);
        AssertRefused(await updater.CheckAsync(), UpdateFailure.WrongChannel, "1.0.0");

        // Signed by a key the device does not trust.
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        publisher.PublishSigned(other, key: stranger);
        AssertRefused(await updater.CheckAsync(), UpdateFailure.UntrustedKey, "1.0.0");

        // A package signature is not a channel signature: the COSE message must carry a channel.
        var forged = Encoding.UTF8.GetString(unsignedOther.ToJson()).TrimEnd().TrimEnd('}') +
            $", \"signature\": \"{Convert.ToBase64String(PackageSignature.Sign(unsignedOther.ToJson(), publisher.Key))}\" }}\n";
        publisher.ReplaceChannelFile("stable", Encoding.UTF8.GetBytes(forged));
        AssertRefused(await updater.CheckAsync(), UpdateFailure.BadSignature, "1.0.0");
        Assert.Equal(2f, Run(updater));

        // A device that requires signed channels refuses an unsigned one from the first poll.
        publisher.ReplaceChannelFile("stable", unsignedOther.ToJson());
        using var strict = Updater(publisher.NewDevice(), requireSigned: true);
        AssertRefused(await strict.CheckAsync(), UpdateFailure.BadSignature, "0.0.0");
        // Without the requirement and never having seen a signed one, the unsigned file is read as before.
        using var lenient = Updater(publisher.NewDevice());
        Assert.Equal(UpdateOutcome.Installed, (await lenient.CheckAsync()).Outcome);
    }

    private float Run(ModelUpdater updater)
    {
        using var model = ScaleNet.Create(new EdgeModelOptions { ModelDirectory = models.Path, Updates = updater });
        var y = new float[4];
        model.Run([1, 2, 3, 4], y);
        return y[0];
    }

    /// <summary>The unsigned channel file <c>edgebuild publish</c> would write for <paramref name="package"/> (written to a scratch channel name, then read).</summary>
    private ChannelManifest ModelPackagerChannel(string package)
    {
        var channel = publisher.Publish(package, channel: "scratch");
        File.Delete(Path.Combine(publisher.Site, "scratch.json"));
        return channel with { Channel = "stable" };
    }

    private static string ChannelField(string json, string name)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        var p = doc.RootElement.GetProperty(name);
        return p.ValueKind == System.Text.Json.JsonValueKind.String ? p.GetString()! : p.GetRawText();
    }
}
