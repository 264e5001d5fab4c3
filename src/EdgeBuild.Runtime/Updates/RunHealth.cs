namespace EdgeBuild.Runtime.Updates;

/// <summary>
/// The last runs of the active version (duration and failure), in a fixed ring that every <c>Run</c> writes without
/// locking or allocating; the rollback policy reads it. Slots written concurrently may mix two runs' values, which
/// moves a percentile by one sample at most.
/// </summary>
public sealed class RunHealth
{
    private readonly double[] seconds;
    private readonly bool[] failed;
    private long count;
    private string version;

    internal RunHealth(int window, string version)
    {
        seconds = new double[window];
        failed = new bool[window];
        this.version = version;
    }

    /// <summary>The version being observed.</summary>
    public string Version => Volatile.Read(ref version);

    internal void Record(string runVersion, double runSeconds, bool runFailed)
    {
        // A run of the old version that finishes after the switch says nothing about the new one.
        if (!ReferenceEquals(runVersion, Volatile.Read(ref version))) return;
        long i = Interlocked.Increment(ref count) - 1;
        int slot = (int)(i % seconds.Length);
        seconds[slot] = runSeconds;
        failed[slot] = runFailed;
    }

    internal void Reset(string newVersion)
    {
        Volatile.Write(ref version, newVersion);
        Interlocked.Exchange(ref count, 0);
    }

    /// <summary>The window's run count, failures, and P99 of the successful runs' durations (ms; 0 when none).</summary>
    public (int Runs, int Errors, double P99Ms) Snapshot()
    {
        int n = (int)Math.Min(Interlocked.Read(ref count), seconds.Length);
        var ok = new List<double>(n);
        int errors = 0;
        for (int i = 0; i < n; i++)
        {
            if (failed[i]) errors++;
            else ok.Add(seconds[i] * 1000);
        }
        if (ok.Count == 0) return (n, errors, 0);
        ok.Sort();
        // Nearest rank: the smallest value at or above 99 % of the samples.
        int rank = (int)Math.Ceiling(0.99 * ok.Count) - 1;
        return (n, errors, ok[Math.Clamp(rank, 0, ok.Count - 1)]);
    }
}
