using System.Text.Json;
using EdgeBuild.Diagnostics;
using EdgeBuild.Onnx;

namespace EdgeBuild.Compile;

/// <summary>
/// A compile's hold on its output folder: one compile at a time (a lock), and its outputs replaced as one set.
/// <para>
/// The lock is <c>.edgebuild/lock</c> in the folder, opened without sharing (on Unix .NET takes an <c>flock</c> on it):
/// the kernel releases it when the process ends, killed or not, so it never goes stale. A holder that leaves nothing
/// pending deletes it (and <c>.edgebuild/</c>, and the folder when it created it and nothing is in it) so a compile leaves
/// no trace: first it marks the file retired, so a waiter that opened the old file before the delete and locks it
/// after sees the mark and opens the path again instead of holding a lock nobody else can see.
/// </para>
/// <para>
/// A set is written into a private staging folder (<c>.edgebuild/NAME.stage/</c>, same file system, so a rename moves
/// a file into place atomically) and committed by writing <c>commit.json</c> there: the files to move in and the
/// files of the old set to remove. Before that file exists, a kill leaves the old set untouched (the stage is
/// discarded by the next compile); once it exists, the set is applied, and the next compile finishes an interrupted
/// apply. The apply removes the old manifest first and moves the new one in last, so a manifest that a reader (MSBuild,
/// the source generator, <c>edgebuild report</c>) finds always lists exactly the files beside it; while an apply is
/// interrupted there is no manifest, which MSBuild takes as "not built" and compiles again, completing the apply.
/// </para>
/// </summary>
public sealed class OutputFolder : IDisposable
{
    /// <summary>The folder inside an output folder that holds the lock and the staging folders.</summary>
    public const string StateDirectoryName = ".edgebuild";
    public const string LockFileName = "lock";
    private const string StageSuffix = ".stage";
    private const string CommitFileName = "commit.json";

    /// <summary>How long a compile waits for another one writing the same folder before EB1020.</summary>
    public static TimeSpan DefaultLockTimeout { get; } = TimeSpan.FromMinutes(10);

    private readonly FileStream lockStream;
    private readonly bool createdDirectory;
    private bool released;
    private static readonly byte[] RetiredMark = "retired"u8.ToArray();

    // Windows: sharing Delete only lets the holder delete the file while others still cannot open it; Unix: no sharing is the flock.
    private static FileShare LockShare => OperatingSystem.IsWindows() ? FileShare.Delete : FileShare.None;

    /// <summary>Tests: called before each step of a commit (journal, each delete and move), to stop it there as a kill would.</summary>
    internal static readonly AsyncLocal<Action?> BeforeStep = new();

    private OutputFolder(string directory, FileStream lockStream, bool createdDirectory)
    {
        Directory = directory;
        this.lockStream = lockStream;
        this.createdDirectory = createdDirectory;
    }

    /// <summary>The output folder (full path).</summary>
    public string Directory { get; }

    private string StateDirectory => Path.Combine(Directory, StateDirectoryName);

    /// <summary>
    /// Creates <paramref name="directory"/> if needed, takes its lock (waiting up to <paramref name="timeout"/> for another
    /// compile to finish, then EB1020), and finishes or discards what an interrupted compile left staged.
    /// </summary>
    public static OutputFolder Open(string directory, TimeSpan timeout, Action<string>? progress = null)
    {
        string full = Path.GetFullPath(directory);
        string state = Path.Combine(full, StateDirectoryName);
        string lockPath = Path.Combine(state, LockFileName);
        if (File.Exists(full)) throw new EdgeBuildException(DiagnosticCodes.WriteFailed, directory, "is a file; the output must be a folder");
        bool created = !System.IO.Directory.Exists(full);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        bool told = false;
        while (true)
        {
            FileStream stream;
            try
            {
                System.IO.Directory.CreateDirectory(state);
                stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, LockShare);
            }
            catch (UnauthorizedAccessException e) when (!OperatingSystem.IsWindows() || clock.Elapsed >= timeout)
            {
                throw new EdgeBuildException(DiagnosticCodes.WriteFailed, directory, $"cannot create the output folder's lock file ({e.Message})", e);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Windows: a lock file its last holder is deleting cannot be opened (access denied) until it is gone.
                // A held lock, a folder deleted by the last holder between our two calls, a transient error: all retried until the timeout.
                if (clock.Elapsed >= timeout)
                    throw new EdgeBuildException(DiagnosticCodes.OutputFolderLocked, directory,
                        $"another edgebuild process has held this folder's lock ({StateDirectoryName}/{LockFileName}) for {timeout.TotalSeconds:0.#} s ({e.Message})");
                if (!told)
                {
                    progress?.Invoke($"waiting for another edgebuild process writing {directory} (up to {timeout.TotalSeconds:0.#} s)");
                    told = true;
                }
                Thread.Sleep(TimeSpan.FromMilliseconds(Math.Min(100, Math.Max(1, (timeout - clock.Elapsed).TotalMilliseconds))));
                continue;
            }
            if (stream.Length > 0)
            {
                stream.Dispose(); // retired and deleted by its last holder: the path now names a new file
                continue;
            }
            var folder = new OutputFolder(full, stream, created);
            try { folder.Recover(progress); }
            catch
            {
                folder.Dispose();
                throw;
            }
            return folder;
        }
    }

    /// <summary>Starts a new set of <paramref name="name"/>'s outputs: an empty staging folder to write into.</summary>
    public StagedOutputs Stage(string name)
    {
        string stage = Path.Combine(StateDirectory, name + StageSuffix);
        DeleteDirectory(stage);
        System.IO.Directory.CreateDirectory(stage);
        return new StagedOutputs(this, stage);
    }

    /// <summary>
    /// Moves the staged files named in <paramref name="files"/> into the folder as one set (then <paramref name="manifest"/>,
    /// if any, last) and deletes <paramref name="remove"/> (the old set's files that the new one does not replace).
    /// </summary>
    internal void Commit(string stage, IReadOnlyList<string> files, string? manifest, IReadOnlyList<string> remove)
    {
        var journal = new CommitJournal(manifest, files.ToList(), remove.Where(r => !files.Contains(r) && r != manifest).Distinct().ToList());
        foreach (var f in journal.Files.Concat(journal.Remove).Append(journal.Manifest ?? "x"))
            if (!IsPlainFileName(f)) throw new ArgumentException($"'{f}' is not a file name", nameof(files));
        BeforeStep.Value?.Invoke();
        AtomicFile.WriteAllBytes(Path.Combine(stage, CommitFileName), JsonSerializer.SerializeToUtf8Bytes(journal));
        Apply(stage, journal);
    }

    /// <summary>Finishes every committed stage in the folder and deletes every uncommitted one (their compile was killed).</summary>
    private void Recover(Action<string>? progress)
    {
        foreach (string stage in System.IO.Directory.EnumerateDirectories(StateDirectory, "*" + StageSuffix))
        {
            var journal = ReadJournal(Path.Combine(stage, CommitFileName));
            if (journal is null)
                progress?.Invoke($"discarding the unfinished outputs of an interrupted compile ({Path.GetFileName(stage)}); the previous outputs stay");
            else
            {
                progress?.Invoke($"completing the outputs of an interrupted compile ({Path.GetFileName(stage)})");
                Apply(stage, journal);
            }
            DeleteDirectory(stage);
        }
    }

    /// <summary>
    /// The apply, safe to repeat after a kill at any point: the old manifest goes first (only while the new one is still
    /// staged: once moved it is the new set's), then the old set's other files, then the new files, the manifest last.
    /// </summary>
    private void Apply(string stage, CommitJournal journal)
    {
        var step = BeforeStep.Value ?? (() => { });
        string? stagedManifest = journal.Manifest is { } m ? Path.Combine(stage, m) : null;
        step();
        if (stagedManifest is not null && File.Exists(stagedManifest)) File.Delete(Path.Combine(Directory, journal.Manifest!));
        foreach (var f in journal.Remove)
        {
            step();
            File.Delete(Path.Combine(Directory, f));
        }
        foreach (var f in journal.Files)
        {
            step();
            string from = Path.Combine(stage, f);
            if (File.Exists(from)) File.Move(from, Path.Combine(Directory, f), overwrite: true);
        }
        step();
        if (stagedManifest is not null && File.Exists(stagedManifest)) File.Move(stagedManifest, Path.Combine(Directory, journal.Manifest!), overwrite: true);
        step();
        DeleteDirectory(stage);
    }

    private static CommitJournal? ReadJournal(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            var journal = JsonSerializer.Deserialize<CommitJournal>(File.ReadAllBytes(path));
            // AtomicFile renames a complete journal into place, so an unreadable one was not written by a compile.
            return journal is not null && journal.Files.Concat(journal.Remove).Append(journal.Manifest ?? "x").All(IsPlainFileName) ? journal : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool IsPlainFileName(string f) =>
        f.Length > 0 && f != "." && f != ".." && f.IndexOfAny(['/', '\\', '\0']) < 0 && Path.GetFileName(f) == f;

    internal static void DeleteDirectory(string path)
    {
        if (System.IO.Directory.Exists(path)) System.IO.Directory.Delete(path, recursive: true);
    }

    /// <summary>
    /// Releases the lock. With nothing pending (a commit that failed half-way stays for the next compile), the lock file,
    /// the state folder and a folder this compile created and left empty are deleted first (see the class remarks).
    /// </summary>
    public void Dispose()
    {
        if (released) return;
        released = true;
        try
        {
            if (!System.IO.Directory.EnumerateFileSystemEntries(StateDirectory).Any(e => Path.GetFileName(e) != LockFileName))
            {
                lockStream.Write(RetiredMark);
                lockStream.Flush();
                try { File.Delete(Path.Combine(StateDirectory, LockFileName)); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    lockStream.SetLength(0); // still in place, so still the lock: not retired
                    return;
                }
                System.IO.Directory.Delete(StateDirectory);
                if (createdDirectory && !System.IO.Directory.EnumerateFileSystemEntries(Directory).Any()) System.IO.Directory.Delete(Directory);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A waiter created its lock file or folder in between: it is theirs now.
        }
        finally
        {
            lockStream.Dispose();
        }
    }

    private sealed record CommitJournal(string? Manifest, List<string> Files, List<string> Remove);
}

/// <summary>One compile's outputs being written: files go into <see cref="Directory"/> and reach the output folder only by <see cref="Commit"/>.</summary>
public sealed class StagedOutputs : IDisposable
{
    private readonly OutputFolder folder;
    private bool committed;

    internal StagedOutputs(OutputFolder folder, string directory)
    {
        this.folder = folder;
        Directory = directory;
    }

    /// <summary>Whether <see cref="Commit"/> was called (it may have failed half-way; the next compile then finishes it).</summary>
    public bool IsCommitted => committed;

    /// <summary>The staging folder: write the new set here.</summary>
    public string Directory { get; }

    /// <summary>Replaces the old set with the staged <paramref name="files"/> and <paramref name="manifest"/> (see <see cref="OutputFolder"/>).</summary>
    public void Commit(IReadOnlyList<string> files, string? manifest, IReadOnlyList<string> remove)
    {
        if (committed) throw new InvalidOperationException("this set is already committed");
        committed = true;
        try { folder.Commit(Directory, files, manifest, remove); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EdgeBuildException(DiagnosticCodes.WriteFailed, folder.Directory, $"cannot move the new outputs into place ({e.Message}); the next compile finishes or discards them", e);
        }
    }

    /// <summary>Discards what was staged and not committed (a commit that failed half-way stays for the next compile to finish).</summary>
    public void Dispose()
    {
        if (committed) return;
        try { OutputFolder.DeleteDirectory(Directory); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
