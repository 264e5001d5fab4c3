namespace EdgeBuild.Runtime.Updates;

/// <summary>
/// The shadow candidate's last runs (agreed with the live version or not), in a fixed ring that every sampled
/// <c>Run</c> writes without locking or allocating; the rollback policy's <see cref="RollbackPolicy.MaxShadowDisagreement"/>
/// reads it. Runs of an earlier candidate that finish after a switch carry its generation and are dropped.
/// </summary>
internal sealed class ShadowWindow
{
    private readonly bool[] agreed;
    private long count;
    private int generation;

    internal ShadowWindow(int window) => agreed = new bool[window];

    /// <summary>The candidate being observed (its <see cref="ActiveModel.Generation"/>; 0: none).</summary>
    internal int Generation => Volatile.Read(ref generation);

    internal void Record(int runGeneration, bool runAgreed)
    {
        if (runGeneration != Volatile.Read(ref generation)) return;
        long i = Interlocked.Increment(ref count) - 1;
        agreed[(int)(i % agreed.Length)] = runAgreed;
    }

    internal void Reset(int candidateGeneration)
    {
        Volatile.Write(ref generation, candidateGeneration);
        Interlocked.Exchange(ref count, 0);
    }

    /// <summary>Shadow runs in the window, and how many disagreed (a failed candidate run counts as a disagreement).</summary>
    internal (int Runs, int Disagreed) Snapshot()
    {
        int n = (int)Math.Min(Interlocked.Read(ref count), agreed.Length);
        int disagreed = 0;
        for (int i = 0; i < n; i++)
            if (!agreed[i]) disagreed++;
        return (n, disagreed);
    }
}
