using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace EdgeBuild.Runtime.Updates;

/// <summary>
/// The active version sessions run: its description (artifacts with their sha256) and folder; <see cref="Generation"/>
/// changes at each switch. <see cref="Drift"/> observes its outputs when its package recorded output statistics.
/// </summary>
public sealed record ActiveModel(string Version, EdgeModelDescription Description, string Directory, int Generation, PackageMeasurement? Measured,
    OutputDrift? Drift = null);

/// <summary>What one check of the channel did.</summary>
public enum UpdateOutcome
{
    /// <summary>The channel offers the active version (or answered 304 Not Modified).</summary>
    Unchanged,
    /// <summary>A new version was verified, staged and made active.</summary>
    Installed,
    /// <summary>The offered package failed a check; the active version keeps serving.</summary>
    Refused,
    /// <summary>The channel or package could not be fetched this time (server error, time-out, cut download); tried again at the next poll.</summary>
    Failed,
}

/// <summary>The result of <see cref="ModelUpdater.CheckAsync"/>.</summary>
public sealed record UpdateResult(UpdateOutcome Outcome, string ActiveVersion, string? OfferedVersion, UpdateFailure? Failure, string Message);

/// <summary>
/// Keeps one model current from a channel (docs/lifecycle.md): polls the channel file (HTTP(S) with ETag, or a folder),
/// downloads the package with a size limit and resume, verifies its signature against pinned keys and every file's
/// sha256, refuses another interface, a newer runtime's package and downgrades (unless the channel marks a rollback),
/// stages it in <c>versions/&lt;version&gt;</c> (keeping the previous ones), persists the choice, and switches: each
/// <see cref="EdgeSession"/> created with it (<see cref="EdgeModelOptions.Updates"/>) moves over at its next run.
/// </summary>
public sealed class ModelUpdater : IDisposable
{
    private readonly EdgeModelDescription model;
    private readonly ModelUpdaterOptions options;
    private readonly Action<string> log;
    private readonly HttpClient http;
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly string versionsDir;
    private readonly string downloadsDir;
    private readonly string statePath;
    private readonly ActiveModel bundled;
    private UpdateState state;
    private ActiveModel current;
    private ActiveModel? shadow;
    private int shadowGeneration;
    private readonly ShadowWindow shadowWindow;
    private CancellationTokenSource? loop;
    private Task? loopTask;

    /// <summary>Opens the state folder and makes the persisted active version current again, after verifying it.</summary>
    /// <param name="model">The generated class's description (<c>MyModel.ModelDescription</c>): the interface every package must have.</param>
    /// <param name="options">Channel, trusted keys, state folder, limits.</param>
    public ModelUpdater(EdgeModelDescription model, ModelUpdaterOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        if (options.KeepVersions < 0) throw new ArgumentOutOfRangeException(nameof(options), options.KeepVersions, "KeepVersions must be 0 or more.");
        if (options.ShadowSampleEvery < 1) throw new ArgumentOutOfRangeException(nameof(options), options.ShadowSampleEvery, "ShadowSampleEvery must be 1 or more.");
        if (!(options.ShadowTolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(options), options.ShadowTolerance, "ShadowTolerance must be 0 or more.");
        if (options.MaxPackageBytes <= 0) throw new ArgumentOutOfRangeException(nameof(options), options.MaxPackageBytes, "MaxPackageBytes must be positive.");
        if (!SemanticVersion.TryParse(options.BundledVersion, out _)) throw new ArgumentException($"BundledVersion '{options.BundledVersion}' is not MAJOR.MINOR.PATCH", nameof(options));
        options.Rollback?.Validate();
        this.model = model;
        this.options = options;
        log = options.Log ?? EdgeSession.DefaultLog;
        http = new HttpClient(options.HttpHandler ?? new SocketsHttpHandler(), disposeHandler: options.HttpHandler is null) { Timeout = Timeout.InfiniteTimeSpan };
        versionsDir = Path.Combine(options.StateDirectory, "versions");
        downloadsDir = Path.Combine(options.StateDirectory, "downloads");
        statePath = Path.Combine(options.StateDirectory, "state.json");
        Directory.CreateDirectory(versionsDir);
        Directory.CreateDirectory(downloadsDir);
        bundled = new ActiveModel(options.BundledVersion, model, options.ModelOptions.ModelDirectory ?? AppContext.BaseDirectory, 0, null);
        Health = new RunHealth(options.Rollback?.Window ?? RollbackPolicy.DefaultWindow, bundled.Version);
        shadowWindow = new ShadowWindow(options.Rollback?.Window ?? RollbackPolicy.DefaultWindow);
        state = UpdateState.Read(statePath, log);
        if (options.DeviceId is null && state.DeviceId is null)
        {
            state.DeviceId = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
            Persist();
        }
        DeviceId = options.DeviceId ?? state.DeviceId!;
        RemoveStagingLeftovers();
        current = Restore();
        Health.Reset(current.Version);
        EdgeRuntimeMetrics.Track(this);
    }

    /// <summary>The version sessions run now.</summary>
    public ActiveModel Current => Volatile.Read(ref current);

    /// <summary>The active version.</summary>
    public string ActiveVersion => Current.Version;

    /// <summary>
    /// The shadow candidate from <see cref="ModelUpdaterOptions.ShadowChannel"/>, or <see langword="null"/>: sessions run it on
    /// every <see cref="ModelUpdaterOptions.ShadowSampleEvery"/>th call after the live run, compare outputs, and discard its results.
    /// </summary>
    public ActiveModel? Shadow => Volatile.Read(ref shadow);

    /// <summary>Runs between two shadow runs, and the largest absolute difference of float outputs counted as agreement.</summary>
    internal (int Every, double Tolerance) ShadowSampling => (options.ShadowSampleEvery, options.ShadowTolerance);

    /// <summary>
    /// Fetches <see cref="ModelUpdaterOptions.ShadowChannel"/> and, when it offers a version other than the active one that
    /// passes every check an install makes, stages it as the shadow candidate (it never serves). Never throws for a refusal.
    /// </summary>
    public async Task<UpdateResult> CheckShadowAsync(CancellationToken cancellationToken = default)
    {
        if (options.ShadowChannel is not { } channelUri) throw new InvalidOperationException("no ShadowChannel is configured");
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            string active = Current.Version;
            string? offered = null;
            try
            {
                var (channel, _) = (await FetchChannelAsync(channelUri, useETag: false, cancellationToken).ConfigureAwait(false))!.Value;
                offered = channel.Version.ToString();
                CheckChannel(channel, channelUri);
                if (!string.Equals(channel.Model, model.Name, StringComparison.Ordinal))
                    throw new ModelUpdateException(UpdateFailure.WrongModel, $"the shadow channel offers model '{channel.Model}', this application runs '{model.Name}'");
                if (offered == active || Shadow?.Version == offered)
                    return new UpdateResult(UpdateOutcome.Unchanged, active, offered, null, $"shadow {Shadow?.Version ?? "none"}");
                string? rolledBackReason;
                lock (state) state.RolledBack.TryGetValue(offered, out rolledBackReason);
                if (rolledBackReason is not null)
                    throw new ModelUpdateException(UpdateFailure.PreviouslyRolledBack, $"{offered} was rolled back on this device ({rolledBackReason}); publish a new version");
                if (channel.Bytes > options.MaxPackageBytes)
                    throw new ModelUpdateException(UpdateFailure.TooLarge, $"the package is {channel.Bytes} bytes, over the limit of {options.MaxPackageBytes}");
                string versionDir = Path.Combine(versionsDir, offered);
                if (!TryVerifyStaged(versionDir, out _))
                {
                    string package = await DownloadAsync(channelUri, channel, cancellationToken).ConfigureAwait(false);
                    Stage(package, channel, versionDir);
                    TryDelete(package);
                }
                if (!TryVerifyStaged(versionDir, out var manifest, out var problem))
                    throw new ModelUpdateException(UpdateFailure.HashMismatch, $"the staged {offered} no longer verifies ({problem})");
                var candidate = Describe(offered, versionDir, manifest!) with { Generation = Interlocked.Increment(ref shadowGeneration) };
                Interlocked.Exchange(ref shadowRuns, 0);
                Interlocked.Exchange(ref shadowAgree, 0);
                shadowWindow.Reset(candidate.Generation);
                Volatile.Write(ref shadow, candidate);
                var result = new UpdateResult(UpdateOutcome.Installed, active, offered, null, $"shadowing {offered} next to {active}");
                log($"EdgeBuild: model '{model.Name}': {result.Message}");
                return result;
            }
            catch (ModelUpdateException e)
            {
                var result = Outcome(e, active, offered);
                log($"EdgeBuild: model '{model.Name}': shadow {result.Message}");
                return result;
            }
        }
        finally
        {
            gate.Release();
        }
    }

    private long shadowAgree;
    private long shadowRuns;

    /// <summary>One sampled shadow run's result; a run of an earlier candidate (another generation) is dropped.</summary>
    internal void RecordShadow(int generation, bool agreed)
    {
        if (generation != shadowWindow.Generation) return;
        shadowWindow.Record(generation, agreed);
        Interlocked.Increment(ref shadowRuns);
        if (agreed) Interlocked.Increment(ref shadowAgree);
    }

    /// <summary>Shadow runs since the candidate was set, and how many agreed with the live version.</summary>
    public (long Runs, long Agreed) ShadowAgreement => (Interlocked.Read(ref shadowRuns), Interlocked.Read(ref shadowAgree));

    /// <summary>Stops shadowing; sessions drop the candidate at their next run.</summary>
    public void ClearShadow()
    {
        Interlocked.Increment(ref shadowGeneration);
        shadowWindow.Reset(0);
        Volatile.Write(ref shadow, null);
    }

    /// <summary>This device's sticky rollout key (<see cref="ModelUpdaterOptions.DeviceId"/>, or the one made and kept in the state folder).</summary>
    public string DeviceId { get; }

    /// <summary>
    /// Where a device falls in a version's rollout, 0 (inclusive) to 100 (exclusive): from the sha256 of model, version and
    /// device id, so it is the same at every poll and restart, and each version draws its own cohort.
    /// </summary>
    public static double RolloutBucket(string model, string version, string deviceId)
    {
        var hash = SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(model + "\n" + version + "\n" + deviceId));
        ulong value = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(hash);
        return value / 18446744073709551616.0 * 100;
    }

    /// <summary>The active version's recent runs, as the rollback policy sees them.</summary>
    public RunHealth Health { get; }

    /// <summary>The active version's output drift, or <see langword="null"/> when its package recorded no output statistics (or the bundled model serves).</summary>
    public OutputDrift? Drift => Current.Drift;

    /// <summary>Versions rolled back (or rejected as shadow candidates) on this device, with the reason; a channel offering one again is refused.</summary>
    public IReadOnlyDictionary<string, string> RolledBack
    {
        get
        {
            lock (state) return new Dictionary<string, string>(state.RolledBack, StringComparer.Ordinal);
        }
    }

    internal void CheckModel(EdgeModelDescription description)
    {
        if (!string.Equals(description.Name, model.Name, StringComparison.Ordinal))
            throw new ArgumentException($"the updater is for model '{model.Name}', not '{description.Name}'", nameof(description));
    }

    /// <summary>Polls the channel every <see cref="ModelUpdaterOptions.PollInterval"/> (and applies the rollback policy) until disposed.</summary>
    public void Start()
    {
        if (loop is not null) return;
        loop = new CancellationTokenSource();
        var token = loop.Token;
        loopTask = Task.Run(async () =>
        {
            var lastPoll = DateTime.MinValue;
            while (!token.IsCancellationRequested)
            {
                try
                {
                    if (DateTime.UtcNow - lastPoll >= options.PollInterval)
                    {
                        lastPoll = DateTime.UtcNow;
                        await CheckAsync(token).ConfigureAwait(false);
                        if (options.ShadowChannel is not null) await CheckShadowAsync(token).ConfigureAwait(false);
                    }
                    EvaluateHealth();
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, options.PollInterval.TotalMilliseconds)), token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // A poll that failed in an unforeseen way (disk, permissions) must not end polling for good.
                    log($"EdgeBuild: model '{model.Name}': update poll failed ({e.GetType().Name}: {EdgeSession.FirstLine(e.Message)}); {Current.Version} keeps serving.");
                    try { await Task.Delay(options.PollInterval < TimeSpan.FromSeconds(1) ? options.PollInterval : TimeSpan.FromSeconds(1), token).ConfigureAwait(false); }
                    catch (OperationCanceledException) { return; }
                }
            }
        }, token);
    }

    /// <summary>One poll: fetch the channel, and install what it offers when every check passes. Never throws for a refused or unreachable package.</summary>
    public async Task<UpdateResult> CheckAsync(CancellationToken cancellationToken = default)
    {
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var result = await CheckCoreAsync(cancellationToken).ConfigureAwait(false);
            if (result.Outcome != UpdateOutcome.Unchanged) log($"EdgeBuild: model '{model.Name}': {result.Message}");
            if (EdgeRuntimeMetrics.Updates.Enabled)
                EdgeRuntimeMetrics.Updates.Add(1, new KeyValuePair<string, object?>("edgebuild.model.name", model.Name),
                    new KeyValuePair<string, object?>("edgebuild.update.outcome", result.Outcome.ToString().ToLowerInvariant()));
            return result;
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<UpdateResult> CheckCoreAsync(CancellationToken ct)
    {
        string active = Current.Version;
        ChannelManifest channel;
        string? etag;
        try
        {
            var fetched = await FetchChannelAsync(options.Channel, useETag: true, ct).ConfigureAwait(false);
            if (fetched is null) return new UpdateResult(UpdateOutcome.Unchanged, active, null, null, "channel not modified");
            (channel, etag) = fetched.Value;
        }
        catch (ModelUpdateException e)
        {
            return Outcome(e, active, null);
        }

        string offered = channel.Version.ToString();
        try
        {
            CheckChannel(channel, options.Channel);
            if (!string.Equals(channel.Model, model.Name, StringComparison.Ordinal))
                throw new ModelUpdateException(UpdateFailure.WrongModel, $"the channel offers model '{channel.Model}', this application runs '{model.Name}'");
            var activeVersion = SemanticVersion.Parse(active);
            if (channel.Version == activeVersion)
            {
                SaveETag(etag);
                return new UpdateResult(UpdateOutcome.Unchanged, active, offered, null, $"{offered} is active");
            }
            // Promotion of the shadow candidate: its verdict is taken now, whether or not the policy loop saw the breach yet.
            if (options.Rollback is { } policy && Shadow is { } candidate && candidate.Version == offered && ShadowBreach(policy, candidate) is { } breach)
                RejectShadow(candidate, breach);
            string? rolledBackReason;
            lock (state) state.RolledBack.TryGetValue(offered, out rolledBackReason);
            if (rolledBackReason is not null)
                throw new ModelUpdateException(UpdateFailure.PreviouslyRolledBack, $"{offered} was rolled back on this device ({rolledBackReason}); publish a new version");
            if (channel.Version < activeVersion && !channel.Rollback)
                throw new ModelUpdateException(UpdateFailure.Downgrade, $"the channel offers {offered}, older than the active {active}, without marking it a rollback (edgebuild publish --rollback)");
            if (channel.RolloutPercent < 100)
            {
                double bucket = RolloutBucket(model.Name, offered, DeviceId);
                if (bucket >= channel.RolloutPercent)
                {
                    SaveETag(etag);
                    return new UpdateResult(UpdateOutcome.Unchanged, active, offered, null, string.Create(CultureInfo.InvariantCulture,
                        $"{offered} is offered to {channel.RolloutPercent:G} % of devices; this one's place is {bucket:F1}: {active} stays"));
                }
            }
            if (channel.Bytes > options.MaxPackageBytes)
                throw new ModelUpdateException(UpdateFailure.TooLarge, $"the package is {channel.Bytes} bytes, over the limit of {options.MaxPackageBytes} (ModelUpdaterOptions.MaxPackageBytes)");

            string versionDir = Path.Combine(versionsDir, offered);
            if (!TryVerifyStaged(versionDir, out _))
            {
                string package = await DownloadAsync(options.Channel, channel, ct).ConfigureAwait(false);
                Stage(package, channel, versionDir);
                TryDelete(package);
            }
            var next = Activate(offered, versionDir, rollbackFrom: channel.Version < activeVersion ? active : null);
            // The candidate now serves: shadowing it against itself would only cost a second inference.
            if (Shadow?.Version == next.Version) ClearShadow();
            SaveETag(etag);
            return new UpdateResult(UpdateOutcome.Installed, next.Version, offered, null,
                channel.Version < activeVersion ? $"rolled back from {active} to {offered} as the channel asks" : $"installed {offered} (was {active})");
        }
        catch (ModelUpdateException e)
        {
            var result = Outcome(e, active, offered);
            // A refusal is final for this channel content: no new download until the channel changes. A failure is retried.
            if (result.Outcome == UpdateOutcome.Refused) SaveETag(etag);
            return result;
        }
    }

    /// <summary>
    /// The channel file's own checks: it names the channel it was fetched as; once signed, it stays signed; a signed one
    /// is not older than the last accepted (a server replaying yesterday's file). Accepting a signed one records its sequence.
    /// </summary>
    private void CheckChannel(ChannelManifest channel, Uri channelUri)
    {
        string name = ChannelManifest.NameFromUri(channelUri);
        if (!string.Equals(channel.Channel, name, StringComparison.Ordinal))
            throw new ModelUpdateException(UpdateFailure.WrongChannel, $"{channelUri} is channel '{channel.Channel}', not '{name}': another channel's file was served in its place");
        lock (state)
        {
            bool seenSigned = state.ChannelSequences.TryGetValue(name, out long last);
            if (!channel.IsSigned)
            {
                if (options.RequireSignedChannel || seenSigned)
                    throw new ModelUpdateException(UpdateFailure.BadSignature, seenSigned
                        ? $"{channelUri} is not signed, but this device accepted a signed '{name}' channel before (sequence {last}); publish it with --key"
                        : $"{channelUri} is not signed and RequireSignedChannel is set; publish it with edgebuild publish --key");
                return;
            }
            if (seenSigned && channel.Sequence < last)
                throw new ModelUpdateException(UpdateFailure.StaleChannel,
                    $"{channelUri} has sequence {channel.Sequence}, older than the {last} this device accepted: an old channel file served again");
            if (!seenSigned || channel.Sequence > last)
            {
                state.ChannelSequences[name] = channel.Sequence;
                Persist();
            }
        }
    }

    private static UpdateResult Outcome(ModelUpdateException e, string active, string? offered)
    {
        bool transient = e.Reason is UpdateFailure.Incomplete or UpdateFailure.ServerError or UpdateFailure.Unreachable or UpdateFailure.StorageFailed;
        return new UpdateResult(transient ? UpdateOutcome.Failed : UpdateOutcome.Refused, active, offered, e.Reason,
            $"{(offered is null ? "update check" : offered)} {(transient ? "failed" : "refused")} ({e.Reason}): {e.Message}; {active} keeps serving");
    }

    /// <summary>Returns to the previous version now (persisted; sessions move at their next run) and never reinstalls the current one.</summary>
    /// <returns>The version now active.</returns>
    /// <exception cref="InvalidOperationException">The bundled version is active: there is nothing to go back to.</exception>
    public string Rollback(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        gate.Wait();
        try
        {
            return RollbackCore(reason);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Applies the rollback policy: to the active version's recent runs (rolls back on a breach) and to the shadow
    /// candidate's recent shadow runs (rejects it on a breach).
    /// </summary>
    /// <returns>The reason when it rolled back or rejected a version, else <see langword="null"/>.</returns>
    public string? EvaluateHealth()
    {
        if (options.Rollback is not { } policy) return null;
        string? rejected = EvaluateShadow(policy);
        return EvaluateActive(policy) ?? rejected;
    }

    private string? EvaluateShadow(RollbackPolicy policy)
    {
        if (Shadow is not { } candidate || ShadowBreach(policy, candidate) is not { } reason) return null;
        if (!gate.Wait(0)) return null; // a check is under way; the next evaluation decides
        try
        {
            if (!ReferenceEquals(Shadow, candidate)) return null;
            RejectShadow(candidate, reason);
            return reason;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The shadow rule's verdict on <paramref name="candidate"/>'s window, or <see langword="null"/> when it holds (or too few runs).</summary>
    private string? ShadowBreach(RollbackPolicy policy, ActiveModel candidate)
    {
        if (policy.MaxShadowDisagreement is not { } max || shadowWindow.Generation != candidate.Generation) return null;
        var (runs, disagreed) = shadowWindow.Snapshot();
        if (runs < policy.MinRuns) return null;
        double share = disagreed / (double)runs;
        if (!(share > max)) return null;
        return string.Create(CultureInfo.InvariantCulture,
            $"shadow disagreement {share:P1} over its last {runs} shadow runs, above {max:P1} (outputs more than {options.ShadowTolerance:G} from {Current.Version}'s, or failed)");
    }

    /// <summary>Drops the shadow candidate and records it as rolled back, so neither channel installs it here again. Called with the gate held.</summary>
    private void RejectShadow(ActiveModel candidate, string reason)
    {
        lock (state)
        {
            state.RolledBack[candidate.Version] = reason;
            Persist();
        }
        if (ReferenceEquals(Shadow, candidate)) ClearShadow();
        log($"EdgeBuild: model '{model.Name}': shadow candidate {candidate.Version} rejected, it will not be installed: {reason}.");
        if (EdgeRuntimeMetrics.Updates.Enabled)
            EdgeRuntimeMetrics.Updates.Add(1, new KeyValuePair<string, object?>("edgebuild.model.name", model.Name),
                new KeyValuePair<string, object?>("edgebuild.update.outcome", "shadow_rejected"));
        Prune();
    }

    private string? EvaluateActive(RollbackPolicy policy)
    {
        var active = Current;
        lock (state)
            if (state.Active is null) return null; // the bundled model has nothing to go back to
        var (runs, errors, p99) = Health.Snapshot();
        if (runs < policy.MinRuns || !ReferenceEquals(Health.Version, active.Version)) return null;
        string? reason = null;
        double errorRate = errors / (double)runs;
        if (errorRate > policy.MaxErrorRate)
            reason = string.Create(CultureInfo.InvariantCulture, $"error rate {errorRate:P1} over the last {runs} runs, above {policy.MaxErrorRate:P1}");
        else if (policy.MaxP99Factor is { } factor && active.Measured is { } measured && p99 > factor * measured.P99Ms)
            reason = string.Create(CultureInfo.InvariantCulture,
                $"P99 {p99:F3} ms over the last {runs} runs, above {factor:G}x the package's measured P99 {measured.P99Ms:F3} ms");
        else if (policy.MaxPsi is { } maxPsi && active.Drift is { } drift)
        {
            foreach (var d in drift.Read())
            {
                if (d.Runs < policy.MinRuns || !(d.Psi > maxPsi)) continue;
                reason = string.Create(CultureInfo.InvariantCulture,
                    $"output '{d.Output}' drifted: PSI {d.Psi:F3} over the last {d.Runs} runs, above {maxPsi:G} (mean {d.Mean:G4}, std {d.Std:G4}; the package recorded {d.Recorded.Mean:G4}, {d.Recorded.Std:G4})");
                break;
            }
        }
        if (reason is null) return null;
        if (!gate.Wait(0)) return null; // an update or rollback is under way; the next evaluation decides
        try
        {
            if (!ReferenceEquals(Current, active)) return null;
            RollbackCore(reason);
            return reason;
        }
        finally
        {
            gate.Release();
        }
    }

    private string RollbackCore(string reason)
    {
        var active = Current;
        bool bundledActive;
        lock (state) bundledActive = state.Active is null;
        if (bundledActive)
            throw new InvalidOperationException($"model '{model.Name}': the bundled version {active.Version} is active; there is nothing to roll back to");
        ActiveModel? target = null;
        List<string> history;
        lock (state) history = [.. state.History];
        while (history.Count > 0 && target is null)
        {
            string candidate = history[^1];
            history.RemoveAt(history.Count - 1);
            if (candidate == bundled.Version && !Directory.Exists(Path.Combine(versionsDir, candidate))) target = bundled;
            else if (TryVerifyStaged(Path.Combine(versionsDir, candidate), out var manifest))
                target = Describe(candidate, Path.Combine(versionsDir, candidate), manifest!);
        }
        target ??= bundled;
        lock (state)
        {
            state.RolledBack[active.Version] = reason;
            state.History = history;
            state.Active = ReferenceEquals(target, bundled) ? null : target.Version;
            Persist();
        }
        Publish(target);
        log($"EdgeBuild: model '{model.Name}': rolled back from {active.Version} to {target.Version}: {reason}.");
        if (EdgeRuntimeMetrics.Updates.Enabled)
            EdgeRuntimeMetrics.Updates.Add(1, new KeyValuePair<string, object?>("edgebuild.model.name", model.Name),
                new KeyValuePair<string, object?>("edgebuild.update.outcome", "rolled_back"));
        return target.Version;
    }

    private async Task<(ChannelManifest Channel, string? ETag)?> FetchChannelAsync(Uri channelUri, bool useETag, CancellationToken ct)
    {
        if (channelUri.IsFile || !channelUri.IsAbsoluteUri)
        {
            string path = channelUri.IsAbsoluteUri ? channelUri.LocalPath : channelUri.OriginalString;
            byte[] bytes;
            try
            {
                bytes = await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw new ModelUpdateException(UpdateFailure.Unreachable, $"the channel file {path} cannot be read ({e.Message})", e);
            }
            string tag = Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();
            if (useETag && tag == state.ETag) return null;
            return (ChannelManifest.Parse(bytes, path, options.TrustedKeys), tag);
        }
        using var request = new HttpRequestMessage(HttpMethod.Get, channelUri);
        string? known;
        lock (state) known = useETag ? state.ETag : null;
        if (known is not null && EntityTagHeaderValue.TryParse(known, out var tagValue)) request.Headers.IfNoneMatch.Add(tagValue);
        using var response = await SendAsync(request, ct).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotModified) return null;
        if (!response.IsSuccessStatusCode)
            throw new ModelUpdateException(UpdateFailure.ServerError, $"{channelUri} answered {(int)response.StatusCode} {response.ReasonPhrase}");
        if (response.Content.Headers.ContentLength > 1 << 20)
            throw new ModelUpdateException(UpdateFailure.Malformed, $"{channelUri} is {response.Content.Headers.ContentLength} bytes, too large for a channel file");
        byte[] body = await ReadWithTimeoutAsync(response, ct).ConfigureAwait(false);
        return (ChannelManifest.Parse(body, channelUri.ToString(), options.TrustedKeys), response.Headers.ETag?.ToString());
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.RequestTimeout);
        try
        {
            return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new ModelUpdateException(UpdateFailure.Unreachable, $"{request.RequestUri} did not answer within {options.RequestTimeout.TotalSeconds:G} s", e);
        }
        catch (HttpRequestException e)
        {
            throw new ModelUpdateException(UpdateFailure.Unreachable, $"{request.RequestUri} cannot be reached ({e.Message})", e);
        }
    }

    private async Task<byte[]> ReadWithTimeoutAsync(HttpResponseMessage response, CancellationToken ct)
    {
        using var copy = new MemoryStream();
        await CopyAsync(response, copy, 1 << 20, response.RequestMessage?.RequestUri, ct).ConfigureAwait(false);
        return copy.ToArray();
    }

    /// <summary>Copies a response body, failing when the server stalls longer than the request time-out or sends more than <paramref name="limit"/>.</summary>
    private async Task<long> CopyAsync(HttpResponseMessage response, Stream target, long limit, Uri? uri, CancellationToken ct)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        long total = 0;
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            var buffer = new byte[1 << 16];
            while (true)
            {
                idle.CancelAfter(options.RequestTimeout);
                int n = await body.ReadAsync(buffer, idle.Token).ConfigureAwait(false);
                if (n == 0) return total;
                total += n;
                if (total > limit)
                    throw new ModelUpdateException(UpdateFailure.TooLarge, $"{uri} sends more than the {limit} bytes expected");
                try
                {
                    await target.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                }
                catch (IOException e)
                {
                    // Our disk, not the server: a full disk must not read as a download the server cut off.
                    throw new ModelUpdateException(UpdateFailure.StorageFailed, $"writing what {uri} sends failed after {total - n} bytes ({e.Message})", e);
                }
            }
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new ModelUpdateException(UpdateFailure.Incomplete, $"{uri} stalled for {options.RequestTimeout.TotalSeconds:G} s after {total} bytes; the download resumes at the next poll", e);
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            throw new ModelUpdateException(UpdateFailure.Incomplete, $"{uri} broke off after {total} bytes ({e.Message}); the download resumes at the next poll", e);
        }
    }

    /// <summary>Downloads the channel's package into <c>downloads/</c>, resuming a partial file of the same package with a Range request.</summary>
    private async Task<string> DownloadAsync(Uri channelUri, ChannelManifest channel, CancellationToken ct)
    {
        string partial = Path.Combine(downloadsDir, channel.Sha256 + ".partial");
        foreach (var stale in Directory.GetFiles(downloadsDir))
            if (stale != partial) TryDelete(stale);
        var packageUri = new Uri(channelUri.IsAbsoluteUri ? channelUri : new Uri(Path.GetFullPath(channelUri.OriginalString)), channel.Package);
        try
        {
            if (packageUri.IsFile)
            {
                using var source = new FileStream(packageUri.LocalPath, FileMode.Open, FileAccess.Read, FileShare.Read);
                if (source.Length != channel.Bytes)
                    throw new ModelUpdateException(UpdateFailure.HashMismatch, $"{packageUri.LocalPath} is {source.Length} bytes, the channel says {channel.Bytes}");
                using var target = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None);
                await source.CopyToAsync(target, ct).ConfigureAwait(false);
            }
            else
            {
                long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
                if (have > channel.Bytes) { TryDelete(partial); have = 0; }
                if (have < channel.Bytes)
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, packageUri);
                    if (have > 0) request.Headers.Range = new RangeHeaderValue(have, null);
                    using var response = await SendAsync(request, ct).ConfigureAwait(false);
                    if (!response.IsSuccessStatusCode)
                        throw new ModelUpdateException(UpdateFailure.ServerError, $"{packageUri} answered {(int)response.StatusCode} {response.ReasonPhrase}");
                    // 206: the rest of the file; 200: the server ignored the range, so the whole file comes again.
                    bool resumed = have > 0 && response.StatusCode == HttpStatusCode.PartialContent;
                    if (!resumed) have = 0;
                    using var target = new FileStream(partial, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None);
                    await CopyAsync(response, target, channel.Bytes - have, packageUri, ct).ConfigureAwait(false);
                    await target.FlushAsync(ct).ConfigureAwait(false);
                }
            }
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            throw new ModelUpdateException(UpdateFailure.StorageFailed, $"the download to {partial} failed ({e.Message})", e);
        }
        catch (FileNotFoundException e)
        {
            throw new ModelUpdateException(UpdateFailure.ServerError, $"{packageUri.LocalPath} is not there", e);
        }
        long length = new FileInfo(partial).Length;
        if (length < channel.Bytes)
            throw new ModelUpdateException(UpdateFailure.Incomplete, $"{packageUri} ended after {length} of {channel.Bytes} bytes; the download resumes at the next poll");
        string sha;
        using (var stream = File.OpenRead(partial)) sha = Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
        if (sha != channel.Sha256)
        {
            TryDelete(partial);
            throw new ModelUpdateException(UpdateFailure.HashMismatch, $"{packageUri} has sha256 {sha}, the channel says {channel.Sha256}");
        }
        return partial;
    }

    /// <summary>Verifies the package, extracts it into a staging folder, loads it once, then renames the folder into <c>versions/</c>.</summary>
    private void Stage(string package, ChannelManifest channel, string versionDir)
    {
        var verified = ModelPackage.Verify(package, options.TrustedKeys);
        var manifest = verified.Manifest;
        if (manifest.Version != channel.Version)
            throw new ModelUpdateException(UpdateFailure.Malformed, $"the channel says {channel.Version}, the signed package is {manifest.Version}");
        PackageInterface.Check(manifest, model, SemanticVersion.Runtime);
        // Staging folders start with '.': a kill before the rename leaves one, which the next start deletes unread.
        string staging = Path.Combine(versionsDir, "." + channel.Version + "." + Guid.NewGuid().ToString("N") + ".staging");
        try
        {
            verified.ExtractTo(staging);
            var staged = Describe(manifest.Version.ToString(), staging, manifest);
            try
            {
                EdgeSession.Load(staged.Description, options.ModelOptions, staged.Directory, staged.Version).Dispose();
            }
            catch (Exception e) when (e is not ModelUpdateException and not OutOfMemoryException)
            {
                throw new ModelUpdateException(UpdateFailure.LoadFailed, $"{manifest.Version} does not load ({EdgeSession.FirstLine(e.Message)})", e);
            }
            if (Directory.Exists(versionDir)) Directory.Delete(versionDir, recursive: true);
            Directory.Move(staging, versionDir);
        }
        catch (IOException e)
        {
            throw new ModelUpdateException(UpdateFailure.StorageFailed, $"staging {channel.Version} in {versionsDir} failed ({e.Message})", e);
        }
        finally
        {
            if (Directory.Exists(staging)) TryDeleteDirectory(staging);
        }
    }

    private ActiveModel Activate(string version, string versionDir, string? rollbackFrom)
    {
        if (!TryVerifyStaged(versionDir, out var manifest, out var problem))
            throw new ModelUpdateException(UpdateFailure.HashMismatch, $"the staged {version} no longer verifies ({problem})");
        var previous = Current;
        var next = Describe(version, versionDir, manifest!);
        lock (state)
        {
            if (rollbackFrom is null)
            {
                state.History.Remove(previous.Version);
                state.History.Add(previous.Version);
            }
            else state.History.Remove(version);
            state.Active = version;
            Persist();
        }
        Publish(next);
        Prune();
        return next;
    }

    /// <summary>Makes <paramref name="next"/> current: sessions compare generations at each run and move over at their next one.</summary>
    private void Publish(ActiveModel next)
    {
        var published = next with { Generation = Current.Generation + 1 };
        Health.Reset(published.Version);
        Volatile.Write(ref current, published);
    }

    private OutputDrift? NewDrift(string version, PackageManifest manifest) =>
        manifest.OutputStatistics is { } stats ? new OutputDrift(version, stats, options.Rollback?.Window ?? RollbackPolicy.DefaultWindow) : null;

    private ActiveModel Describe(string version, string versionDir, PackageManifest manifest)
    {
        var (description, directory) = ModelPackage.Describe(versionDir, manifest, model);
        return new ActiveModel(version, description, directory, Current?.Generation ?? 0, manifest.Measured, NewDrift(version, manifest));
    }

    /// <summary>The persisted active version if it still verifies, else the newest earlier one that does, else the bundled model.</summary>
    private ActiveModel Restore()
    {
        var candidates = new List<string>();
        lock (state)
        {
            if (state.Active is not null) candidates.Add(state.Active);
            candidates.AddRange(Enumerable.Reverse(state.History));
        }
        foreach (var version in candidates)
        {
            if (version == bundled.Version && !Directory.Exists(Path.Combine(versionsDir, version))) break;
            string dir = Path.Combine(versionsDir, version);
            if (TryVerifyStaged(dir, out var manifest, out var problem))
            {
                if (version != state.Active)
                {
                    log($"EdgeBuild: model '{model.Name}': {state.Active} cannot serve; {version} serves instead.");
                    lock (state)
                    {
                        state.Active = version;
                        state.History.Remove(version);
                        Persist();
                    }
                }
                var (description, directory) = ModelPackage.Describe(dir, manifest!, model);
                return new ActiveModel(version, description, directory, 1, manifest!.Measured, NewDrift(version, manifest));
            }
            log($"EdgeBuild: model '{model.Name}': staged version {version} does not verify ({problem}); it is skipped.");
        }
        if (state.Active is not null)
        {
            lock (state)
            {
                state.Active = null;
                Persist();
            }
        }
        return bundled;
    }

    private bool TryVerifyStaged(string dir, out PackageManifest? manifest) => TryVerifyStaged(dir, out manifest, out _);

    private bool TryVerifyStaged(string dir, out PackageManifest? manifest, out string? problem)
    {
        manifest = null;
        problem = null;
        if (!Directory.Exists(dir))
        {
            problem = "not staged";
            return false;
        }
        try
        {
            manifest = ModelPackage.VerifyExtracted(dir, options.TrustedKeys);
            PackageInterface.Check(manifest, model, SemanticVersion.Runtime);
            return true;
        }
        catch (ModelUpdateException e)
        {
            problem = e.Message;
            manifest = null;
            return false;
        }
    }

    /// <summary>Deletes staged versions beyond the active one and the last <see cref="ModelUpdaterOptions.KeepVersions"/> of its history.</summary>
    private void Prune()
    {
        HashSet<string> keep;
        lock (state)
        {
            keep = new HashSet<string>(state.History.Skip(Math.Max(0, state.History.Count - options.KeepVersions)), StringComparer.Ordinal);
            if (state.Active is not null) keep.Add(state.Active);
            state.History = state.History.Where(keep.Contains).ToList();
            if (Shadow is { } candidate) keep.Add(candidate.Version);
            Persist();
        }
        foreach (var dir in Directory.GetDirectories(versionsDir))
        {
            string name = Path.GetFileName(dir);
            if (!name.StartsWith('.') && !keep.Contains(name)) TryDeleteDirectory(dir);
        }
    }

    private void RemoveStagingLeftovers()
    {
        foreach (var dir in Directory.GetDirectories(versionsDir))
            if (Path.GetFileName(dir).StartsWith('.')) TryDeleteDirectory(dir);
        if (File.Exists(statePath + ".tmp")) TryDelete(statePath + ".tmp");
    }

    private void SaveETag(string? etag)
    {
        lock (state)
        {
            if (state.ETag == etag) return;
            state.ETag = etag;
            Persist();
        }
    }

    private void Persist()
    {
        try
        {
            state.Write(statePath);
        }
        catch (IOException e)
        {
            throw new ModelUpdateException(UpdateFailure.StorageFailed, $"{statePath} cannot be written ({e.Message})", e);
        }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static void TryDeleteDirectory(string path)
    {
        try { Directory.Delete(path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>Stops polling; sessions keep the version they run.</summary>
    public void Dispose()
    {
        EdgeRuntimeMetrics.Untrack(this);
        if (loop is not null)
        {
            loop.Cancel();
            try { loopTask?.Wait(TimeSpan.FromSeconds(10)); }
            catch (AggregateException) { }
            loop.Dispose();
            loop = null;
        }
        http.Dispose();
        gate.Dispose();
    }
}
