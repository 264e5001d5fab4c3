namespace EdgeBuild.Runtime.Updates;

/// <summary>
/// Output drift of one active version against the statistics its package recorded on held-out data: per float, integer
/// or bool output, the mean, standard deviation and population stability index of what the device's runs produced over the recent
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

    /// <summary>A recorder for a session's outputs, or <see langword="null"/> when no output it can read has statistics.</summary>
    internal DriftRecorder? Attach(BoundTensor[] outputs)
    {
        var tracked = new List<(int Index, OutputStatistics Stats)>();
        for (int i = 0; i < outputs.Length; i++)
        {
            var type = outputs[i].Spec.ElementType;
            if (type != EdgeElementType.Float32 && !DriftRecorder.IsInteger(type)) continue;
            var stats = Statistics.Outputs.FirstOrDefault(s => string.Equals(s.Output, outputs[i].Spec.Name, StringComparison.Ordinal));
            // Categories describe integer values; on a float output they would be the statistics of another model.
            if (stats is not null && (stats.Categories is null || type != EdgeElementType.Float32)) tracked.Add((i, stats));
        }
        if (tracked.Count == 0) return null;
        var recorder = new DriftRecorder(this, tracked, Window, [.. tracked.Select(t => outputs[t.Index].Spec.ElementType)]);
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
    private readonly long[]?[] categories; // per tracked output: its categories, or null when it bins by edges
    private readonly EdgeElementType[] types;
    private readonly long[][][] counts; // [half][tracked output][bin]
    private readonly double[][] sums;
    private readonly double[][] sumSquares;
    private readonly long[][] values;
    private readonly long[] runs = new long[2];
    private readonly int window;
    private int current;

    public DriftRecorder(OutputDrift owner, List<(int Index, OutputStatistics Stats)> tracked, int window, EdgeElementType[] types)
    {
        this.owner = owner;
        this.window = window;
        this.types = types;
        outputIndex = tracked.Select(t => t.Index).ToArray();
        stats = tracked.Select(t => t.Stats).ToArray();
        edges = tracked.Select(t => t.Stats.BinEdges.ToArray()).ToArray();
        categories = tracked.Select(t => t.Stats.Categories?.ToArray()).ToArray();
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
            var e = edges[k];
            var c = categories[k];
            var bins = counts[half][k];
            double sum = 0, squares = 0;
            long n = 0;
            switch (types[k])
            {
                case EdgeElementType.Float32: TallyFloats(new ReadOnlySpan<float>(t.Data, t.Length), e, bins, ref sum, ref squares, ref n); break;
                case EdgeElementType.Int64: Tally(new ReadOnlySpan<long>(t.Data, t.Length), e, c, bins, ref sum, ref squares, ref n); break;
                case EdgeElementType.Int32: Tally(new ReadOnlySpan<int>(t.Data, t.Length), e, c, bins, ref sum, ref squares, ref n); break;
                case EdgeElementType.Int16: Tally(new ReadOnlySpan<short>(t.Data, t.Length), e, c, bins, ref sum, ref squares, ref n); break;
                case EdgeElementType.Int8: Tally(new ReadOnlySpan<sbyte>(t.Data, t.Length), e, c, bins, ref sum, ref squares, ref n); break;
                // ONNX stores a bool in one byte, 0 or 1: the same values the package recorded.
                case EdgeElementType.UInt8 or EdgeElementType.Bool: Tally(new ReadOnlySpan<byte>(t.Data, t.Length), e, c, bins, ref sum, ref squares, ref n); break;
                case EdgeElementType.UInt16: Tally(new ReadOnlySpan<ushort>(t.Data, t.Length), e, c, bins, ref sum, ref squares, ref n); break;
                case EdgeElementType.UInt32: Tally(new ReadOnlySpan<uint>(t.Data, t.Length), e, c, bins, ref sum, ref squares, ref n); break;
                case EdgeElementType.UInt64: Tally(new ReadOnlySpan<ulong>(t.Data, t.Length), e, c, bins, ref sum, ref squares, ref n); break;
            }
            sums[half][k] += sum;
            sumSquares[half][k] += squares;
            values[half][k] += n;
        }
        runs[half]++;
    }

    /// <summary>The element types whose values <see cref="Record"/> reads as integers (bool as 0 and 1).</summary>
    public static bool IsInteger(EdgeElementType type) => type is EdgeElementType.Int64 or EdgeElementType.Int32 or EdgeElementType.Int16
        or EdgeElementType.Int8 or EdgeElementType.UInt8 or EdgeElementType.Bool or EdgeElementType.UInt16 or EdgeElementType.UInt32 or EdgeElementType.UInt64;

    private static void TallyFloats(ReadOnlySpan<float> data, double[] edges, long[] bins, ref double sum, ref double squares, ref long n)
    {
        foreach (float v in data)
        {
            if (!float.IsFinite(v)) continue;
            sum += v;
            squares += (double)v * v;
            n++;
            bins[EdgeBin(edges, v)]++;
        }
    }

    /// <summary>Integer values into their category's bin, or (more distinct values than categories allow) by edges as doubles.</summary>
    private static void Tally<T>(ReadOnlySpan<T> data, double[] edges, long[]? categories, long[] bins, ref double sum, ref double squares, ref long n)
        where T : unmanaged, System.Numerics.IBinaryInteger<T>
    {
        foreach (T x in data)
        {
            // As the packager widened them (Tensor.ToInt64s): uint64 above long.MaxValue wraps the same way on both sides.
            long v = long.CreateTruncating(x);
            sum += v;
            squares += (double)v * v;
            bins[categories is null ? EdgeBin(edges, v) : OutputStatistics.Category(categories, v)]++;
        }
        n += data.Length;
    }

    private static int EdgeBin(double[] e, double v)
    {
        int lo = 0, hi = e.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (v <= e[mid]) hi = mid;
            else lo = mid + 1;
        }
        return lo;
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
