using System.Collections.Concurrent;
using EdgeBuild.Diagnostics;

namespace EdgeBuild.Quantization.Calibration;

/// <summary>The range [Min, Max] a calibrator chose for one tensor.</summary>
public readonly record struct TensorRange(float Min, float Max);

/// <summary>
/// One calibration method (after ORT's calibrate.py: one abstract calibrator, one class per method, one factory).
/// It is shown every sample's values of every tensor, then gives each tensor a range. Calls for different
/// tensors may come from different threads at once; calls for one tensor never overlap.
/// </summary>
public abstract class Calibrator
{
    public abstract CalibratorKind Kind { get; }

    /// <summary>Adds one sample's values of <paramref name="tensor"/>.</summary>
    public abstract void Collect(string tensor, ReadOnlySpan<float> values);

    /// <summary>
    /// Adds one sample's values of <paramref name="tensor"/> whose smallest and largest finite value the caller measured
    /// already (<c>SpanStatistics.FiniteExtremes</c>; +inf and -inf when none is finite), so the values are read once fewer.
    /// </summary>
    public virtual void Collect(string tensor, ReadOnlySpan<float> values, float finiteMin, float finiteMax) => Collect(tensor, values);

    /// <summary>The range of every tensor seen.</summary>
    public abstract IReadOnlyDictionary<string, TensorRange> ComputeRanges();
}

/// <summary>A calibrator keeping one statistics object per tensor.</summary>
public abstract class Calibrator<TState> : Calibrator where TState : class
{
    private readonly ConcurrentDictionary<string, TState> states = new(StringComparer.Ordinal);

    protected abstract TState NewState();
    protected abstract void Update(TState state, ReadOnlySpan<float> values);
    protected abstract TensorRange RangeOf(TState state);

    /// <summary>As <see cref="Update(TState, ReadOnlySpan{float})"/>, with the values' finite extremes measured by the caller.</summary>
    protected virtual void Update(TState state, ReadOnlySpan<float> values, float finiteMin, float finiteMax) => Update(state, values);

    public override void Collect(string tensor, ReadOnlySpan<float> values) => Update(states.GetOrAdd(tensor, _ => NewState()), values);

    public override void Collect(string tensor, ReadOnlySpan<float> values, float finiteMin, float finiteMax) =>
        Update(states.GetOrAdd(tensor, _ => NewState()), values, finiteMin, finiteMax);

    public override IReadOnlyDictionary<string, TensorRange> ComputeRanges()
    {
        // Threshold searches cost milliseconds per tensor; tensors are independent.
        var all = states.ToArray();
        var ranges = new TensorRange[all.Length];
        Parallel.For(0, all.Length, i => ranges[i] = RangeOf(all[i].Value));
        var result = new Dictionary<string, TensorRange>(StringComparer.Ordinal);
        for (int i = 0; i < all.Length; i++) result[all[i].Key] = ranges[i];
        return result;
    }
}

/// <summary>Makes the calibrator an options record asks for.</summary>
public static class CalibratorFactory
{
    public static Calibrator Create(QuantizeOptions options) => options.Calibrator switch
    {
        CalibratorKind.MinMax => new MinMaxCalibrator(options.MovingAverage),
        CalibratorKind.Percentile => new PercentileCalibrator(options.Percentile),
        CalibratorKind.Entropy => new EntropyCalibrator(unsignedWhenNonNegative: !options.SymmetricActivations),
        _ => throw new EdgeBuildException(DiagnosticCodes.InvalidQuantizeOption, "Calibrator", $"unknown calibrator {options.Calibrator}"),
    };
}
