using System.Globalization;
using System.Runtime.CompilerServices;

namespace EdgeBuild.Runtime;

/// <summary>
/// A read-only view of one output of a run: its values (row-major) and its actual dimensions, with indexers by
/// dimension. Generated result types hold one per output. A view over the session's output memory is valid until the
/// instance's next run or its disposal; copy what must live longer (<see cref="Span"/>.<c>ToArray()</c>).
/// </summary>
public readonly ref struct EdgeTensorView<T> where T : unmanaged
{
    /// <summary>A view of <paramref name="values"/> with <paramref name="dims"/> (their product is the values' length).</summary>
    /// <exception cref="ArgumentException">The dimensions' product is not the number of values.</exception>
    public EdgeTensorView(ReadOnlySpan<T> values, ReadOnlySpan<long> dims)
    {
        long count = 1;
        foreach (long d in dims) count *= d;
        if (count != values.Length)
            throw new ArgumentException($"dimensions with {count} elements over {values.Length} values", nameof(dims));
        Span = values;
        Dims = dims;
    }

    /// <summary>The values, row-major.</summary>
    public ReadOnlySpan<T> Span { get; }

    /// <summary>The actual dimensions (with symbolic ones resolved to this run's values).</summary>
    public ReadOnlySpan<long> Dims { get; }

    /// <summary>Number of dimensions.</summary>
    public int Rank => Dims.Length;

    /// <summary>Number of values.</summary>
    public int Length => Span.Length;

    /// <summary>Dimension <paramref name="axis"/>'s size.</summary>
    public int Dimension(int axis) => (int)Dims[axis];

    /// <summary>The value at flat (row-major) position <paramref name="index"/>; for rank 1 the value at <paramref name="index"/>.</summary>
    public T this[int index] => Span[index];

    /// <summary>The value at [<paramref name="i0"/>, <paramref name="i1"/>] of a rank-2 view.</summary>
    public T this[int i0, int i1]
    {
        get
        {
            RequireRank(2);
            return Span[Offset(i0, 0) * (int)Dims[1] + Offset(i1, 1)];
        }
    }

    /// <summary>The value at [<paramref name="i0"/>, <paramref name="i1"/>, <paramref name="i2"/>] of a rank-3 view.</summary>
    public T this[int i0, int i1, int i2]
    {
        get
        {
            RequireRank(3);
            return Span[(Offset(i0, 0) * (int)Dims[1] + Offset(i1, 1)) * (int)Dims[2] + Offset(i2, 2)];
        }
    }

    /// <summary>The value at [<paramref name="i0"/>, <paramref name="i1"/>, <paramref name="i2"/>, <paramref name="i3"/>] of a rank-4 view.</summary>
    public T this[int i0, int i1, int i2, int i3]
    {
        get
        {
            RequireRank(4);
            return Span[((Offset(i0, 0) * (int)Dims[1] + Offset(i1, 1)) * (int)Dims[2] + Offset(i2, 2)) * (int)Dims[3] + Offset(i3, 3)];
        }
    }

    /// <summary>Entry <paramref name="index"/> of the first dimension (one sample of a batch): a view of rank - 1.</summary>
    public EdgeTensorView<T> Slice(int index)
    {
        if (Rank == 0) throw new InvalidOperationException("a scalar has no first dimension to slice");
        int size = Length / Math.Max(1, (int)Dims[0]);
        return new EdgeTensorView<T>(Span.Slice(Offset(index, 0) * size, size), Dims[1..], trusted: true);
    }

    /// <summary>The shape as text: <c>[1,4420,2]</c>.</summary>
    public override string ToString() => "[" + string.Join(",", Dims.ToArray().Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";

    // Views the session makes over memory whose size it knows (no product to check).
    private EdgeTensorView(ReadOnlySpan<T> values, ReadOnlySpan<long> dims, bool trusted)
    {
        _ = trusted;
        Span = values;
        Dims = dims;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Offset(int index, int axis)
    {
        long size = Dims[axis];
        if ((ulong)(uint)index >= (ulong)size) ThrowIndex(index, axis, size);
        return index;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void RequireRank(int rank)
    {
        if (Dims.Length != rank) ThrowRank(rank);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowRank(int rank) => throw new InvalidOperationException($"a view of rank {Dims.Length} ({ToString()}) takes {Dims.Length} indices, not {rank}");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowIndex(int index, int axis, long size) =>
        throw new IndexOutOfRangeException($"index {index} on dimension {axis}, whose size is {size}");

    internal static EdgeTensorView<T> Over(ReadOnlySpan<T> values, ReadOnlySpan<long> dims) => new(values, dims, @trusted: true);
}
