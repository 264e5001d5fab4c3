namespace EdgeBuild.Runtime;

// Zero-copy access to the bound tensors, for the generated image Run, result types and batched Run: the caller writes an
// input in place and reads outputs where ONNX Runtime wrote them. Kept apart from the run and update logic.
public sealed unsafe partial class EdgeSession
{
    /// <summary>
    /// Input <paramref name="index"/>'s bound memory, to write in place (after <see cref="Begin()"/>, before <see cref="Run"/>).
    /// Valid until the next <c>Begin</c> or <see cref="Dispose"/>.
    /// </summary>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> is not the tensor's element type.</exception>
    public Span<T> InputSpan<T>(int index) where T : unmanaged
    {
        var t = model.Inputs[index];
        Check(t, EdgeElementTypes.Of<T>(), t.Length);
        return new Span<T>(t.Data, t.Length);
    }

    /// <summary>
    /// A view of output <paramref name="index"/> as the last <see cref="Run"/> wrote it, with its actual dimensions.
    /// Valid until the next <c>Begin</c> or <see cref="Dispose"/>.
    /// </summary>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> is not the tensor's element type.</exception>
    public EdgeTensorView<T> OutputView<T>(int index) where T : unmanaged
    {
        var t = model.Outputs[index];
        Check(t, EdgeElementTypes.Of<T>(), t.Length);
        return EdgeTensorView<T>.Over(new ReadOnlySpan<T>(t.Data, t.Length), t.Dims);
    }

    /// <summary>The dimensions output <paramref name="index"/> is bound with (symbolic ones resolved).</summary>
    public ReadOnlySpan<long> OutputDims(int index)
    {
        ThrowIfDisposed();
        if (!bound) throw NotBound();
        return model.Outputs[index].Dims;
    }
}
