namespace EdgeBuild.Runtime.Updates;

/// <summary>
/// Output drift of one active version against the statistics its package recorded on held-out data: per float output,
/// the mean, standard deviation and population stability index of what the device's runs produced over the recent
/// window. Each session running the version records into its own <see cref="DriftRecorder"/> (no locks, no allocation
/// on Run); a reading sums them.
/// </summary>
public sealed class OutputDrift
{
    private readonly List<DriftRecorder> recorders = [];

    internal OutputDrift(string version, PackageOutputStatistics statistics, int window)
    {
        Version = version;
        Statistics = statistics;
        Window = window;
    }

    /// <summary>The version observed.</summary>
    public string Version { get; }

    /// <summary>What the package recorded on held-out data.</summary>
    public PackageOutputStatistics Statistics { get; }

    /// <summary>
    /// Runs per half-window: each session keeps the current half and the one before, so a reading covers between
    /// <see cref="Window"/> and twice as many of the latest runs per session.
    /// </summary>
    public int Window { get; }

    /// <summary>A recorder for a session's outputs, or <see langword="null"/> when no float output has statistics.</summary>
    internal DriftRecorder? Attach(BoundTensor[] outputs)
    {
        var tracked = new List<(int Index, OutputStatistics Stats)>();
        for (int i = 0; i < outputs.Length; i++)
        {
            if (outputs[i].Spec.ElementType != EdgeElementType.Float32) continue;
            var stats = Statistics.Outputs.FirstOrDefault(s => string.Equals(s.Output, outputs[i].Spec.Name, StringComparison.Ordinal));
            if (stats is not null) tracked.Add((i, stats));
        }
        if (tracked.Count == 0) return null;
        var recorder = new DriftRecorder(this, tracked, Window);
        lock (recorders) recorders.Add(recorder);
        return recorder;
    }

    internal void Detach(DriftRecorder recorder)
    {
        lock (recorders) recorders.Remove(recorder);
    }

    /// <summary>Each tracked output's drift over the recent runs of every session of this version.</summary>
    public IReadOnlyList<OutputDriftReading> Read()
    {
        DriftRecorder[] live;
        lock (recorders) live = [.. recorders];
        var readings = new List<OutputDriftReading>(Statistics.Outputs.Count);
        foreach (var stats in Statistics.Outputs)
        {
            var counts = new long[stats.BinFractions.Count];
            long runs = 0, values = 0;
            double sum = 0, sumSquares = 0;
            foreach (var r in live)
                if (r.AddTo(stats, counts, ref values, ref sum, ref sumSquares, out long recorderRuns)) runs += recorderRuns;
            if (runs == 0 || values == 0) continue;
            double mean = sum / values;
            double std = Math.Sqrt(Math.Max(0, sumSquares / values - mean * mean));
            readings.Add(new OutputDriftReading(stats.Output, runs, values, mean, std, stats.Psi(counts), stats));
        }
        return readings;
    }
}

/// <summary>One output's drift: runs and values observed, their mean and std, and the PSI against what the package recorded.</summary>
public sealed record OutputDriftReading(string Output, long Runs, long Values, double Mean, double Std, double Psi, OutputStatistics Recorded);

/// <summary>
/// One session's histogram of its outputs, in two halves: the current one fills, and once it holds a window's runs it
/// becomes the previous one and the older is cleared for reuse (a sliding window without per-run memory). Written only
/// by the session's thread; read by others without locks, so a reading may miss the last run or see a half being cleared.
/// </summary>
internal sealed unsafe class DriftRecorder
{
    private readonly OutputDrift owner;
    private readonly int[] outputIndex;
    private readonly OutputStatistics[] stats;
    private readonly double[][] edges;
    private readonly long[][][] counts; // [half][tracked output][bin]
    private readonly double[][] sums;
    private readonly double[][] sumSquares;
    private readonly long[][] values;
    private readonly long[] runs = new long[2];
    private readonly int window;
    private int current;

    public DriftRecorder(OutputDrift owner, List<(int Index, OutputStatistics Stats)> tracked, int window)
    {
        this.owner = owner;
        this.window = window;
        outputIndex = tracked.Select(t => t.Index).ToArray();
        stats = tracked.Select(t => t.Stats).ToArray();
        edges = tracked.Select(t => t.Stats.BinEdges.ToArray()).ToArray();
        counts = [.. Enumerable.Range(0, 2).Select(_ => stats.Select(s => new long[s.BinFractions.Count]).ToArray())];
        sums = [new double[stats.Length], new double[stats.Length]];
        sumSquares = [new double[stats.Length], new double[stats.Length]];
        values = [new long[stats.Length], new long[stats.Length]];
    }

    /// <summary>Adds one successful run's outputs.</summary>
    public void Record(BoundTensor[] outputs)
    {
        int half = current;
        if (runs[half] >= window)
        {
            half ^= 1;
            foreach (var c in counts[half]) Array.Clear(c);
            Array.Clear(sums[half]);
            Array.Clear(sumSquares[half]);
            Array.Clear(values[half]);
            runs[half] = 0;
            current = half;
        }
        for (int k = 0; k < outputIndex.Length; k++)
        {
            var t = outputs[outputIndex[k]];
            var data = new ReadOnlySpan<float>(t.Data, t.Length);
            var e = edges[k];
            var bins = counts[half][k];
            double sum = 0, squares = 0;
            long n = 0;
            foreach (float v in data)
            {
                if (!float.IsFinite(v)) continue;
                sum += v;
                squares += (double)v * v;
                n++;
                int lo = 0, hi = e.Length;
                while (lo < hi)
                {
                    int mid = (lo + hi) >> 1;
                    if (v <= e[mid]) hi = mid;
                    else lo = mid + 1;
                }
                bins[lo]++;
            }
            sums[half][k] += sum;
            sumSquares[half][k] += squares;
            values[half][k] += n;
        }
        runs[half]++;
    }

    /// <summary>Adds both halves of <paramref name="output"/>'s histogram and moments into the totals.</summary>
    public bool AddTo(OutputStatistics output, long[] total, ref long valueCount, ref double sum, ref double squares, out long runCount)
    {
        runCount = 0;
        int k = Array.IndexOf(stats, output);
        if (k < 0) return false;
        for (int half = 0; half < 2; half++)
        {
            var bins = counts[half][k];
            for (int b = 0; b < bins.Length; b++) total[b] += Volatile.Read(ref bins[b]);
            sum += sums[half][k];
            squares += sumSquares[half][k];
            valueCount += values[half][k];
            runCount += runs[half];
        }
        return true;
    }

    public void Detach() => owner.Detach(this);
}
