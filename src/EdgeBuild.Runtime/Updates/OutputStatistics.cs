using System.Globalization;

namespace EdgeBuild.Runtime.Updates;

/// <summary>
/// What one output looked like on the build's held-out data (<c>edgebuild package --holdout</c>): every element of every
/// sample pooled, their mean and standard deviation, and a histogram. For a float output, and an integer one with more
/// than <see cref="MaxCategories"/> distinct values, the histogram's bin edges are the data's deciles; for an integer or
/// bool output with fewer (labels, class ids), one bin per value seen (<see cref="Categories"/>) plus one for any other.
/// Devices compare their own outputs with it by the population stability index (<see cref="Psi"/>).
/// </summary>
/// <param name="Output">The output's ONNX name.</param>
/// <param name="Count">Finite values the statistics were computed from.</param>
/// <param name="Mean">Their mean.</param>
/// <param name="Std">Their standard deviation (population).</param>
/// <param name="BinEdges">
/// Ascending, distinct upper bounds: value v falls in the first bin i with v &lt;= BinEdges[i], else in the last bin
/// (BinEdges.Count + 1 bins in all). Empty when <see cref="Categories"/> bins the values.
/// </param>
/// <param name="BinFractions">The share of the held-out values in each bin (sums to 1).</param>
public sealed record OutputStatistics(string Output, long Count, double Mean, double Std, IReadOnlyList<double> BinEdges, IReadOnlyList<double> BinFractions)
{
    /// <summary>
    /// The values an integer output took on the held-out data, ascending (bool: 0, 1): value v falls in bin i when
    /// v = Categories[i], else in the last bin (Categories.Count + 1 bins in all; the held-out share of the last is 0, so
    /// a label the held-out data never gave weighs heavily in the PSI). <see langword="null"/>: bins by <see cref="BinEdges"/>.
    /// </summary>
    public IReadOnlyList<long>? Categories { get; init; }

    /// <summary>
    /// The most distinct values an integer output may take on the held-out data and still get one bin each. Labels and
    /// class ids of a classifier stay under it; beyond it (a count, a pixel value, a thousand-class id) bins so thin that a
    /// few hundred runs leave most empty would make the PSI noise, so such an output is binned by deciles like a float one.
    /// </summary>
    public const int MaxCategories = 64;

    /// <summary>
    /// Bins the held-out histogram aims at: deciles, the common choice for PSI (fewer bins hide a shift, more leave bins
    /// nearly empty on a few hundred values). Ties (a ReLU's zeros, a saturated softmax) merge bins.
    /// </summary>
    public const int TargetBins = 10;

    /// <summary>
    /// The floor a bin's share gets before the logarithm: an empty bin on either side would make PSI infinite. 1e-4 is
    /// below any share a window of a few hundred values can resolve.
    /// </summary>
    public const double FractionFloor = 1e-4;

    /// <summary>Statistics of <paramref name="values"/> (non-finite ones skipped), binned by deciles.</summary>
    /// <exception cref="ArgumentException">No finite value.</exception>
    public static OutputStatistics Compute(string output, IEnumerable<float> values) =>
        Deciles(output, values.Where(float.IsFinite).Select(v => (double)v).ToArray());

    /// <summary>
    /// Statistics of an integer or bool output's <paramref name="values"/> (bool as 0 and 1): one bin per distinct value
    /// when there are at most <see cref="MaxCategories"/>, else deciles as for a float output.
    /// </summary>
    /// <exception cref="ArgumentException">No value.</exception>
    public static OutputStatistics ComputeIntegers(string output, IEnumerable<long> values)
    {
        var all = values.ToArray();
        if (all.Length == 0) throw new ArgumentException($"output '{output}' has no value to take statistics of", nameof(values));
        var counts = new SortedDictionary<long, long>();
        foreach (long v in all)
        {
            counts.TryGetValue(v, out long c);
            counts[v] = c + 1;
            if (counts.Count > MaxCategories) return Deciles(output, all.Select(x => (double)x).ToArray());
        }
        double mean = all.Average(v => (double)v);
        double variance = all.Sum(v => (v - mean) * (v - mean)) / all.Length;
        var fractions = counts.Values.Select(c => c / (double)all.Length).Append(0).ToArray();
        return new OutputStatistics(output, all.Length, mean, Math.Sqrt(variance), [], fractions) { Categories = [.. counts.Keys] };
    }

    private static OutputStatistics Deciles(string output, double[] finite)
    {
        if (finite.Length == 0) throw new ArgumentException($"output '{output}' has no finite value to take statistics of", nameof(finite));
        Array.Sort(finite);
        double mean = finite.Average();
        double variance = finite.Sum(v => (v - mean) * (v - mean)) / finite.Length;
        var edges = new List<double>();
        for (int k = 1; k < TargetBins; k++)
        {
            double edge = finite[Math.Min(finite.Length - 1, (int)Math.Ceiling(k * finite.Length / (double)TargetBins) - 1)];
            if (edges.Count == 0 || edge > edges[^1]) edges.Add(edge);
        }
        var counts = new long[edges.Count + 1];
        foreach (double v in finite) counts[Bin(edges, v)]++;
        var fractions = counts.Select(c => c / (double)finite.Length).ToArray();
        return new OutputStatistics(output, finite.Length, mean, Math.Sqrt(variance), edges, fractions);
    }

    /// <summary>The bin of an integer <paramref name="value"/> among ascending <paramref name="categories"/>: its index, else the last bin.</summary>
    public static int Category(ReadOnlySpan<long> categories, long value)
    {
        int i = categories.BinarySearch(value);
        return i >= 0 ? i : categories.Length;
    }

    /// <summary>The bin of <paramref name="value"/>: the first edge it does not exceed, else the last bin.</summary>
    public static int Bin(IReadOnlyList<double> edges, double value)
    {
        int lo = 0, hi = edges.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (value <= edges[mid]) hi = mid;
            else lo = mid + 1;
        }
        return lo;
    }

    /// <summary>
    /// The population stability index of observed bin counts against <see cref="BinFractions"/>:
    /// sum over bins of (observed - expected) x ln(observed / expected), shares floored at <see cref="FractionFloor"/>.
    /// About 0 for the same distribution; 0.1 to 0.25 is commonly read as a moderate shift, above 0.25 a large one.
    /// </summary>
    public double Psi(ReadOnlySpan<long> observedCounts)
    {
        if (observedCounts.Length != BinFractions.Count)
            throw new ArgumentException($"{observedCounts.Length} bins observed, the statistics have {BinFractions.Count}", nameof(observedCounts));
        long total = 0;
        foreach (long c in observedCounts) total += c;
        if (total == 0) return 0;
        double psi = 0;
        for (int i = 0; i < observedCounts.Length; i++)
        {
            double observed = Math.Max(observedCounts[i] / (double)total, FractionFloor);
            double expected = Math.Max(BinFractions[i], FractionFloor);
            psi += (observed - expected) * Math.Log(observed / expected);
        }
        return psi;
    }

    /// <summary>Checks what <c>package.json</c> says before a device relies on it.</summary>
    /// <exception cref="FormatException">Edges not ascending, shares not one per bin or not summing to 1.</exception>
    internal void Validate()
    {
        if (Count <= 0) throw new FormatException($"output statistics of '{Output}' count {Count} values");
        if (Categories is { } categories)
        {
            if (BinEdges.Count != 0) throw new FormatException($"output statistics of '{Output}' have both categories and bin edges");
            if (categories.Count is 0 or > MaxCategories) throw new FormatException($"output statistics of '{Output}' have {categories.Count} categories, not 1 to {MaxCategories}");
            for (int i = 1; i < categories.Count; i++)
                if (categories[i] <= categories[i - 1]) throw new FormatException($"output statistics of '{Output}': categories are not ascending");
            if (BinFractions.Count != categories.Count + 1)
                throw new FormatException($"output statistics of '{Output}': {BinFractions.Count} shares for {categories.Count} categories and the rest");
        }
        for (int i = 1; i < BinEdges.Count; i++)
            if (!(BinEdges[i] > BinEdges[i - 1])) throw new FormatException($"output statistics of '{Output}': bin edges are not ascending");
        if (Categories is null && BinFractions.Count != BinEdges.Count + 1) throw new FormatException($"output statistics of '{Output}': {BinFractions.Count} shares for {BinEdges.Count + 1} bins");
        double sum = BinFractions.Sum();
        if (BinFractions.Any(f => f is < 0 or > 1) || Math.Abs(sum - 1) > 1e-6)
            throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"output statistics of '{Output}': bin shares sum to {sum:G6}, not 1"));
    }
}
