namespace EdgeBuild.Runtime.Updates;

/// <summary>Why a package was not installed; the updater keeps serving the version it has.</summary>
public enum UpdateFailure
{
    /// <summary>The package or channel file is not in the documented format.</summary>
    Malformed,
    /// <summary>The COSE signature does not verify, or it is missing.</summary>
    BadSignature,
    /// <summary>The signature's key is none of the pinned trusted keys.</summary>
    UntrustedKey,
    /// <summary>A file's sha256 or size differs from what the signed package manifest (or the channel) records.</summary>
    HashMismatch,
    /// <summary>The package is for another model.</summary>
    WrongModel,
    /// <summary>The package's inputs or outputs differ from the generated class's.</summary>
    InterfaceMismatch,
    /// <summary>The package needs a newer EdgeBuild runtime.</summary>
    NeedsNewerRuntime,
    /// <summary>The offered version is older than the active one and the channel does not mark it as a rollback.</summary>
    Downgrade,
    /// <summary>The version was rolled back on this device before and is not installed again.</summary>
    PreviouslyRolledBack,
    /// <summary>The package is larger than the updater's size limit.</summary>
    TooLarge,
    /// <summary>The download ended early (it resumes at the next poll).</summary>
    Incomplete,
    /// <summary>The server answered with an error status.</summary>
    ServerError,
    /// <summary>The server did not answer in time, or the connection failed.</summary>
    Unreachable,
    /// <summary>The staged model does not load (ONNX Runtime rejected it).</summary>
    LoadFailed,
    /// <summary>Writing the staged version failed (disk full, permissions).</summary>
    StorageFailed,
    /// <summary>A signed channel file older (by its sequence) than one this device accepted before: a replay.</summary>
    StaleChannel,
    /// <summary>The channel file names another channel than the file it was fetched as.</summary>
    WrongChannel,
}

/// <summary>A package the updater refused or could not fetch; <see cref="Reason"/> says which check failed.</summary>
public sealed class ModelUpdateException : Exception
{
    public ModelUpdateException(UpdateFailure reason, string message, Exception? inner = null) : base(message, inner) => Reason = reason;

    /// <summary>Which check failed.</summary>
    public UpdateFailure Reason { get; }
}
