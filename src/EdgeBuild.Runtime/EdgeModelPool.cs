using System.Collections.Concurrent;

namespace EdgeBuild.Runtime;

/// <summary>
/// A thread-safe pool of model instances for servers (a generated class's <c>CreatePool</c> makes one). A model instance
/// is not thread-safe; the pool gives each run an instance of its own: <see cref="RunAsync{TResult}"/> waits asynchronously
/// while all are busy, runs the callback on the caller's thread with an idle instance, and takes the instance back.
/// Instances are created when first needed (never more than <see cref="Size"/>) and reused; each keeps its own bound memory,
/// so runs after warm-up allocate only what the callback and the returned task do.
/// </summary>
/// <typeparam name="TModel">The generated model class.</typeparam>
public sealed class EdgeModelPool<TModel> : IDisposable where TModel : class, IDisposable
{
    private readonly Func<TModel> create;
    private readonly ConcurrentBag<TModel> idle = new();
    private readonly SemaphoreSlim slots;
    private int disposed;

    /// <summary>A pool of at most <paramref name="size"/> instances made by <paramref name="create"/>; 0 for the processor count.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is negative.</exception>
    public EdgeModelPool(Func<TModel> create, int size = 0)
    {
        ArgumentNullException.ThrowIfNull(create);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        this.create = create;
        Size = size == 0 ? Environment.ProcessorCount : size;
        slots = new SemaphoreSlim(Size, Size);
    }

    /// <summary>The most instances, and so the most concurrent runs.</summary>
    public int Size { get; }

    /// <summary>
    /// Runs <paramref name="run"/> with an instance no other run uses meanwhile. The instance and any view it returns
    /// (a <c>Result</c>) must not escape the callback: copy out what you need.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting for an instance.</exception>
    public async ValueTask<TResult> RunAsync<TResult>(Func<TModel, TResult> run, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        TModel? model = null;
        try
        {
            if (!idle.TryTake(out model)) model = create();
            return run(model);
        }
        finally
        {
            if (model is not null)
            {
                // After Dispose, an instance coming back is freed instead of pooled.
                if (Volatile.Read(ref disposed) != 0) model.Dispose();
                else idle.Add(model);
            }
            slots.Release();
        }
    }

    /// <summary>Runs <paramref name="run"/> with an instance of its own (see <see cref="RunAsync{TResult}"/>).</summary>
    public async ValueTask RunAsync(Action<TModel> run, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        await RunAsync(model => { run(model); return true; }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Disposes the idle instances; busy ones are disposed as their runs end.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        while (idle.TryTake(out var model)) model.Dispose();
    }
}
