namespace EdgeBuild.Quantization.Calibration;

/// <summary>
/// The smallest and largest value over all samples; with <c>movingAverage</c>, each sample's extremes are blended
/// in with constant 0.01 (ORT's MinMaxCalibrater, moving_average=True, averaging_constant=0.01), which damps a
/// single extreme sample.
/// </summary>
public sealed class MinMaxCalibrator(bool movingAverage = false, double averagingConstant = 0.01) : Calibrator<MinMaxCalibrator.State>
{
    public sealed class State
    {
        public bool Seen;
        public double Min, Max;
    }

    public override CalibratorKind Kind => CalibratorKind.MinMax;

    protected override State NewState() => new();

    protected override void Update(State state, ReadOnlySpan<float> values)
    {
        var (min, max) = SpanStatistics.FiniteMinMax(values);
        Update(state, values, min, max);
    }

    protected override void Update(State state, ReadOnlySpan<float> values, float finiteMin, float finiteMax)
    {
        if (values.Length == 0) return;
        var (min, max) = Extremes(finiteMin, finiteMax);
        if (!state.Seen)
        {
            (state.Min, state.Max, state.Seen) = (min, max, true);
        }
        else if (movingAverage)
        {
            state.Min += averagingConstant * (min - state.Min);
            state.Max += averagingConstant * (max - state.Max);
        }
        else
        {
            state.Min = Math.Min(state.Min, min);
            state.Max = Math.Max(state.Max, max);
        }
    }

    protected override TensorRange RangeOf(State state) => state.Seen ? new((float)state.Min, (float)state.Max) : default;

    /// <summary>Smallest and largest finite value (NaN and infinities are ignored: they would make every scale useless).</summary>
    internal static (float Min, float Max) Extremes(ReadOnlySpan<float> values)
    {
        var (min, max) = SpanStatistics.FiniteMinMax(values);
        return Extremes(min, max);
    }

    /// <summary>The finite extremes a pass measured, as a range: (0, 0) when no value was finite.</summary>
    internal static (float Min, float Max) Extremes(float finiteMin, float finiteMax) => finiteMin > finiteMax ? (0f, 0f) : (finiteMin, finiteMax);
}
