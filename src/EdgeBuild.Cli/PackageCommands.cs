using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using EdgeBuild.Diagnostics;
using EdgeBuild.Packaging;
using EdgeBuild.Runtime.Updates;

namespace EdgeBuild.Cli;

/// <summary>The lifecycle commands: <c>keygen</c>, <c>package</c>, <c>verify</c> and <c>publish</c> (docs/lifecycle.md).</summary>
internal static class PackageCommands
{
    public static Command Keygen(TextWriter stdout, TextWriter stderr, Func<TextWriter, Func<int>, int> guard)
    {
        var output = new Option<string>("--output", "-o") { Description = "Base name: writes NAME.pem (private, keep it secret) and NAME.pub (public, pin it in the application)", DefaultValueFactory = _ => "signing" };
        var command = new Command("keygen", "Create an ES256 (ECDSA P-256) key pair for signing model packages") { output };
        command.SetAction(parse => guard(stderr, () =>
        {
            string name = parse.GetValue(output)!;
            string id = ModelPackager.Keygen(name + ".pem", name + ".pub");
            stdout.WriteLine($"{name}.pem (private key, owner-only), {name}.pub (public key); key id {id}");
            return 0;
        }));
        return command;
    }

    public static Command Package(TextWriter stdout, TextWriter stderr, Func<TextWriter, Func<int>, int> guard)
    {
        var folder = new Argument<string>("folder") { Description = "The compiled model's folder (its .edgemodel.json and artifacts)" };
        var version = new Option<string>("--version") { Description = "The package's version, MAJOR.MINOR.PATCH", Required = true };
        var key = new Option<string>("--key") { Description = "The private signing key (PEM, from edgebuild keygen)", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "The package file to write (.edgepkg)", Required = true };
        var minRuntime = new Option<string?>("--min-runtime") { Description = "The oldest EdgeBuild runtime that may load it (default: this tool's version)" };
        var holdout = new Option<string[]>("--holdout") { Description = "Held-out images or .npy/.npz samples (files, folders, wildcards): record each float, integer or bool output's statistics for drift monitoring", AllowMultipleArgumentsPerToken = true };
        var command = new Command("package", "Write a signed, versioned model package: manifest, artifacts, interface, measured figures") { folder, version, key, output, minRuntime, holdout };
        command.SetAction(parse => guard(stderr, () =>
        {
            using var signingKey = ModelPackager.ReadKey(parse.GetValue(key)!, needPrivate: true);
            string path = parse.GetValue(output)!;
            var holdoutFiles = parse.GetValue(holdout) is { Length: > 0 } h ? EdgeBuild.Quantization.Calibration.CalibrationFiles.Expand(h) : null;
            var m = ModelPackager.Package(parse.GetValue(folder)!, parse.GetValue(version)!, signingKey, path, parse.GetValue(minRuntime), holdoutFiles);
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{path}: {m.Model} {m.Version}, {m.Files.Count} files ({Commands.Bytes(new FileInfo(path).Length)}), runtime >= {m.MinRuntimeVersion}, signed by key {PackageSignature.KeyIdHex(signingKey)}"));
            if (m.OutputStatistics is { } stats)
                foreach (var o in stats.Outputs)
                {
                    string bins = o.Categories is { } c
                        ? $"{c.Count} values counted apart ({string.Join(", ", c.Select(v => v.ToString(CultureInfo.InvariantCulture)))}) and a bin for any other"
                        : $"{o.BinFractions.Count} bins";
                    stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"output '{o.Output}' on {stats.Samples} held-out samples: {o.Count} values, mean {o.Mean:G4}, std {o.Std:G4}, {bins}"));
                }
            return 0;
        }));
        return command;
    }

    public static Command Verify(TextWriter stdout, TextWriter stderr, Func<TextWriter, Func<int>, int> guard)
    {
        var package = new Argument<string>("package") { Description = "The .edgepkg file" };
        var trusted = new Option<string[]>("--trusted") { Description = "A trusted public key (PEM); repeat for several (key rotation)", Required = true, AllowMultipleArgumentsPerToken = false };
        var command = new Command("verify", "Check a package's signature against trusted keys and every file's sha256") { package, trusted };
        command.SetAction(parse => guard(stderr, () =>
        {
            var keys = parse.GetValue(trusted)!.Select(k => ModelPackager.ReadKey(k, needPrivate: false)).ToList();
            try
            {
                var p = VerifyOrFail(parse.GetValue(package)!, keys);
                stdout.WriteLine($"{parse.GetValue(package)}: {p.Manifest.Model} {p.Manifest.Version}, signature by key {p.SignedBy} verifies, {p.Manifest.Files.Count} files match their sha256");
                stdout.WriteLine($"interface: {p.Manifest.InterfaceText()}; runtime >= {p.Manifest.MinRuntimeVersion}" +
                    (p.Manifest.Measured is { } m ? string.Create(CultureInfo.InvariantCulture, $"; measured P50 {m.P50Ms:F3} ms, P99 {m.P99Ms:F3} ms") : "; not measured"));
                return 0;
            }
            finally
            {
                foreach (var k in keys) k.Dispose();
            }
        }));
        return command;
    }

    public static Command Publish(TextWriter stdout, TextWriter stderr, Func<TextWriter, Func<int>, int> guard)
    {
        var package = new Argument<string>("package") { Description = "The .edgepkg file, already where the server serves it" };
        var channel = new Option<string>("--channel") { Description = "The channel to point at it (stable, canary, ...): writes <channel>.json beside the package", DefaultValueFactory = _ => "stable" };
        var rollback = new Option<bool>("--rollback") { Description = "Allow devices on a newer version to go back to this one" };
        var trusted = new Option<string[]>("--trusted") { Description = "Verify the package against this public key first (repeatable)" };
        var percent = new Option<double>("--percent") { Description = "Offer the version to this share of devices (0 to 100; each device's place is fixed by its id)", DefaultValueFactory = _ => 100 };
        var key = new Option<string?>("--key") { Description = "Sign the channel file with this private key (PEM), with a sequence devices only accept increasing" };
        var command = new Command("publish", "Write a channel file beside a package, for any static HTTP server or folder") { package, channel, rollback, trusted, percent, key };
        command.SetAction(parse => guard(stderr, () =>
        {
            string path = parse.GetValue(package)!;
            var keyFiles = parse.GetValue(trusted) ?? [];
            if (keyFiles.Length > 0)
            {
                var keys = keyFiles.Select(k => ModelPackager.ReadKey(k, needPrivate: false)).ToList();
                try { VerifyOrFail(path, keys); }
                finally { foreach (var k in keys) k.Dispose(); }
            }
            using var signingKey = parse.GetValue(key) is { } keyFile ? ModelPackager.ReadKey(keyFile, needPrivate: true) : null;
            var (file, c) = ModelPackager.Publish(path, parse.GetValue(channel)!, parse.GetValue(rollback), parse.GetValue(percent), signingKey);
            string share = c.RolloutPercent < 100 ? string.Create(CultureInfo.InvariantCulture, $", offered to {c.RolloutPercent:G} % of devices") : "";
            string signed = c.SignedBy is { } kid ? $", signed by key {kid}, sequence {c.Sequence}" : ", unsigned";
            stdout.WriteLine($"{file}: channel '{c.Channel}' -> {c.Model} {c.Version} ({c.Package}){(c.Rollback ? ", marked as a rollback" : "")}{share}{signed}");
            return 0;
        }));
        return command;
    }

    private static ModelPackage VerifyOrFail(string path, IReadOnlyList<ECDsa> keys)
    {
        if (!File.Exists(path)) throw new EdgeBuildException(DiagnosticCodes.PackageVerificationFailed, path, "not found");
        try
        {
            return ModelPackage.Verify(path, keys);
        }
        catch (ModelUpdateException e)
        {
            throw new EdgeBuildException(DiagnosticCodes.PackageVerificationFailed, path, $"{e.Reason}: {e.Message.TrimEnd('.')}", e);
        }
    }
}
