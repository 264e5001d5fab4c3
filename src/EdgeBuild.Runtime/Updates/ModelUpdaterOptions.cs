using System.Security.Cryptography;

namespace EdgeBuild.Runtime.Updates;

/// <summary>Where a <see cref="ModelUpdater"/> looks for versions, whom it trusts, where it keeps them, and when it rolls back.</summary>
public sealed class ModelUpdaterOptions
{
    /// <summary>The channel file: <c>https://host/models/stable.json</c>, <c>http://…</c>, or a local path / <c>file://</c> URI.</summary>
    public required Uri Channel { get; init; }

    /// <summary>The publishers' public keys (P-256; <see cref="PackageSignature.ReadKey"/>). Several during a key rotation.</summary>
    public required IReadOnlyList<ECDsa> TrustedKeys { get; init; }

    /// <summary>The folder the updater owns: staged versions, the partial download, the persisted state.</summary>
    public required string StateDirectory { get; init; }

    /// <summary>
    /// Refuse a channel file that is not signed (<c>edgebuild publish --key</c>) by a trusted key. Without it an unsigned
    /// channel is read as before, until this device has accepted a signed one for that channel name: from then on it must
    /// stay signed, so stripping the signature does not get around it.
    /// </summary>
    public bool RequireSignedChannel { get; init; }

    /// <summary>Versions kept besides the active one, for rollback (default 2).</summary>
    public int KeepVersions { get; init; } = 2;

    /// <summary>The largest package the updater downloads (default 512 MiB).</summary>
    public long MaxPackageBytes { get; init; } = 512L << 20;

    /// <summary>How long a request may wait for the server, and a download for its next bytes (default 30 s).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often <see cref="ModelUpdater.Start"/> polls the channel (default 5 minutes).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The version of the artifacts built with the application (default 0.0.0: any package is newer).</summary>
    public string BundledVersion { get; init; } = "0.0.0";

    /// <summary>How sessions load each version (provider, threads, the bundled artifacts' folder); its Updates is ignored.</summary>
    public EdgeModelOptions ModelOptions { get; init; } = new();

    /// <summary>When a new version is rolled back by itself; <see langword="null"/>: only <see cref="ModelUpdater.Rollback"/> does.</summary>
    public RollbackPolicy? Rollback { get; init; }

    /// <summary>
    /// The sticky key of staged rollouts (a device or user id): a channel offering a version to N % of devices installs
    /// it here when this id's bucket for that version is below N. Default: a random id made once and kept in the state folder.
    /// </summary>
    public string? DeviceId { get; init; }

    /// <summary>A second channel (often <c>canary.json</c>) whose version runs in shadow: on sampled calls, after the live run, its outputs compared and never returned.</summary>
    public Uri? ShadowChannel { get; init; }

    /// <summary>Each session runs the shadow candidate on every Nth call (default 10).</summary>
    public int ShadowSampleEvery { get; init; } = 10;

    /// <summary>The largest absolute difference between live and shadow float outputs that still counts as agreement (default 1e-4); other types must be equal.</summary>
    public double ShadowTolerance { get; init; } = 1e-4;

    /// <summary>Where the updater's one-line reports go (installed, refused, rolled back). Default: standard error.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>The HTTP handler (proxy, certificates); default a plain <see cref="SocketsHttpHandler"/>.</summary>
    public HttpMessageHandler? HttpHandler { get; init; }
}

/// <summary>
/// When a newly installed version goes back to the previous one: over the last <see cref="Window"/> runs (once at
/// least <see cref="MinRuns"/> happened), an error rate above <see cref="MaxErrorRate"/>, a P99 above
/// <see cref="MaxP99Factor"/> times the P99 the package's build measured, or an output whose population stability
/// index against the package's held-out statistics exceeds <see cref="MaxPsi"/>. Over the last <see cref="Window"/>
/// shadow runs of the shadow candidate (<see cref="ModelUpdaterOptions.ShadowChannel"/>; at least <see cref="MinRuns"/>),
/// a share of disagreements above <see cref="MaxShadowDisagreement"/> rejects the candidate: it stops shadowing and is
/// never installed on this device.
/// </summary>
public sealed class RollbackPolicy
{
    internal const int DefaultWindow = 200;

    /// <summary>Runs observed (default 200).</summary>
    public int Window { get; init; } = DefaultWindow;

    /// <summary>Runs needed before a verdict (default 50).</summary>
    public int MinRuns { get; init; } = 50;

    /// <summary>Largest share of failed runs (default 0.05).</summary>
    public double MaxErrorRate { get; init; } = 0.05;

    /// <summary>
    /// Largest device P99 as a multiple of the package's measured P99 (default 3). The package was measured on the build
    /// machine: set this from how much slower the device is; <see langword="null"/> turns the latency rule off.
    /// </summary>
    public double? MaxP99Factor { get; init; } = 3;

    /// <summary>
    /// Largest PSI of any output against the statistics the package recorded on held-out data (<c>edgebuild package
    /// --holdout</c>); 0.25 is the usual mark of a large shift. Default <see langword="null"/>: off, because drift also
    /// follows a change in what the device sees, which going back to the previous version does not cure; turn it on
    /// where the held-out data stands for the device's inputs. Packages without statistics are not judged by it.
    /// </summary>
    public double? MaxPsi { get; init; }

    /// <summary>
    /// Largest share of the shadow candidate's sampled runs whose outputs differ from the live version's by more than
    /// <see cref="ModelUpdaterOptions.ShadowTolerance"/> (a failed candidate run counts as a difference). Above it the
    /// candidate is rejected before it is promoted: dropped from shadowing, recorded as rolled back (persisted), so
    /// neither channel installs that version here again. Default <see langword="null"/>: off, because a candidate is
    /// often meant to answer differently (retrained, requantized); turn it on for releases that must keep the live
    /// version's answers, with a tolerance sized to what may change.
    /// </summary>
    public double? MaxShadowDisagreement { get; init; }

    internal void Validate()
    {
        if (MaxShadowDisagreement is { } share && !(share is >= 0 and < 1))
            throw new ArgumentOutOfRangeException(nameof(MaxShadowDisagreement), MaxShadowDisagreement, "MaxShadowDisagreement is a share from 0 up to, not including, 1.");
        if (MaxPsi is { } psi && !(psi > 0)) throw new ArgumentOutOfRangeException(nameof(MaxPsi), MaxPsi, "MaxPsi must be positive.");
        if (Window < 1) throw new ArgumentOutOfRangeException(nameof(Window), Window, "Window must be 1 or more.");
        if (MinRuns < 1 || MinRuns > Window) throw new ArgumentOutOfRangeException(nameof(MinRuns), MinRuns, "MinRuns must be between 1 and Window.");
        if (MaxErrorRate is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(MaxErrorRate), MaxErrorRate, "MaxErrorRate is a share between 0 and 1.");
        if (MaxP99Factor is <= 0) throw new ArgumentOutOfRangeException(nameof(MaxP99Factor), MaxP99Factor, "MaxP99Factor must be positive.");
    }
}
