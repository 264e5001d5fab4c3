using EdgeBuild.Ir;
using EdgeBuild.Onnx;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Quantization.Operators;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Quantization;

/// <summary>The smallest and largest value of each channel of one tensor over the calibration data.</summary>
/// <param name="Axis">The channel axis (negative: counted from the end).</param>
/// <param name="Min">Per channel, the smallest value seen.</param>
/// <param name="Max">Per channel, the largest value seen.</param>
public sealed record ChannelRanges(int Axis, float[] Min, float[] Max)
{
    /// <summary>
    /// How far the channels' ranges spread: the widest channel's range (0 included, as asymmetric uint8 quantization
    /// includes it) over the geometric mean of the ranges of the channels that are not constant zero. With one scale for
    /// the whole tensor a channel of range w gets 256 w / w_max of the 256 levels, so log2(Spread) is the number of bits
    /// the channels lose on average. 1 for balanced channels.
    /// </summary>
    public double Spread
    {
        get
        {
            var widths = Min.Zip(Max, (lo, hi) => (double)Math.Max(hi, 0f) - Math.Min(lo, 0f)).Where(w => w > 0).ToArray();
            if (widths.Length < 2) return 1;
            double meanLog = widths.Average(Math.Log);
            return widths.Max() / Math.Exp(meanLog);
        }
    }
}

/// <summary>
/// What the post-training rules measure on the float model, once, over the calibration data: for every Conv,
/// ConvTranspose, Gemm and MatMul with constant weights, the mean shift its int8 weights cause in its output, per
/// output channel (<see cref="BiasCorrection"/>); for every tensor feeding a per-channel affine and the affine's output,
/// per-channel ranges (<see cref="AffineInputPlacement"/>). A layer's shift is measured on the float model's own input to
/// it, so it does not depend on which other layers are quantized: one measurement serves every quantization of the
/// same float model (the Mixed and Auto searches), keyed by node name and tensor name.
/// </summary>
public sealed class PostTrainingStatistics
{
    private PostTrainingStatistics(int samples, IReadOnlyDictionary<string, float[]> biasShifts, IReadOnlyDictionary<string, ChannelRanges> channels)
    {
        Samples = samples;
        BiasShifts = biasShifts;
        Channels = channels;
    }

    /// <summary>How many calibration samples the statistics come from.</summary>
    public int Samples { get; }

    /// <summary>By layer (node name, or its first output's name): mean of (output with int8 weights - float output) per output channel.</summary>
    public IReadOnlyDictionary<string, float[]> BiasShifts { get; }

    /// <summary>By tensor name: per-channel ranges of the inputs and outputs of per-channel affines.</summary>
    public IReadOnlyDictionary<string, ChannelRanges> Channels { get; }

    /// <summary>Whether a static quantization with <paramref name="options"/> reads these statistics (the rules serve ONNX Runtime placement).</summary>
    internal static bool WantedBy(QuantizeOptions options) =>
        options is { Mode: QuantizationMode.Int8Static, Placement: QdqPlacement.OnnxRuntime } && (options.BiasCorrection || options.AffineInputPlacement);

    /// <summary>
    /// Runs <paramref name="model"/> (float, not changed) over <paramref name="data"/> in a pass of its own. A build that
    /// calibrates runs the <see cref="Collector"/> inside its calibration pass instead (<see cref="Calibration.CalibrationTable.Compute"/>).
    /// </summary>
    internal static PostTrainingStatistics Measure(Model model, ICalibrationDataSource data, int weightMax, bool biasShifts, bool channelRanges,
        Action<string>? progress, CancellationToken ct)
    {
        var collector = Collector.Prepare(model, weightMax, biasShifts, channelRanges);
        if (collector.Wanted.Count > 0)
        {
            progress?.Invoke(collector.Describe());
            using var capture = new TensorCapture(OnnxExporter.ToProto(collector.Model), TensorCapture.InputsOf(collector.Model), collector.Wanted);
            var names = capture.Outputs;
            int index = 0;
            foreach (var sample in data.Samples())
            {
                ct.ThrowIfCancellationRequested();
                collector.CollectInputs(sample);
                capture.Run(sample, index++, outputs => collector.Collect(names, outputs, ct), ct);
            }
        }
        return collector.Result();
    }

    /// <summary>
    /// The statistics as one pass over the data collects them. The weight error of a layer is computed as the layer
    /// itself applied to its float input with weights (int8 weights - float weights) and no bias, a copy of the layer
    /// beside it in a scratch copy of the model (<see cref="Model"/>): the exact shift, padding and strides included, by
    /// linearity of the layer in its weights. The pass runs that copy and hands every sample's inputs and the
    /// <see cref="Wanted"/> tensors here; it may fetch other tensors beside them, which are ignored.
    /// </summary>
    internal sealed class Collector
    {
        private readonly List<(string Layer, string Tensor, int Axis, long Channels)> deltas;
        private readonly Dictionary<string, int> ranges;
        private readonly List<string> inputRanges;
        private readonly Dictionary<string, double[]> sums;
        private readonly Dictionary<string, long[]> counts;
        private readonly Dictionary<string, int> axes;
        private readonly Dictionary<string, float[]> minima = new(StringComparer.Ordinal);
        private readonly Dictionary<string, float[]> maxima = new(StringComparer.Ordinal);
        private int samples;

        private Collector(Model model, List<(string Layer, string Tensor, int Axis, long Channels)> deltas, Dictionary<string, int> ranges)
        {
            Model = model;
            this.deltas = deltas;
            this.ranges = ranges;
            var inputNames = model.Graph.Inputs.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
            // Graph inputs feeding an affine come from the sample itself.
            inputRanges = ranges.Keys.Where(inputNames.Contains).ToList();
            Wanted = deltas.Select(d => d.Tensor).Concat(ranges.Keys.Where(r => !inputNames.Contains(r))).ToList();
            sums = deltas.ToDictionary(d => d.Tensor, d => new double[d.Channels], StringComparer.Ordinal);
            counts = deltas.ToDictionary(d => d.Tensor, _ => new long[1], StringComparer.Ordinal);
            axes = deltas.ToDictionary(d => d.Tensor, d => d.Axis, StringComparer.Ordinal);
            foreach (var (name, axis) in ranges) axes.TryAdd(name, axis);
        }

        /// <summary>The scratch copy to run: the float model plus one weight-error layer beside each measured layer.</summary>
        public Model Model { get; }

        /// <summary>The tensors of <see cref="Model"/> the pass must fetch (the weight-error outputs and the affines' tensors).</summary>
        public IReadOnlyList<string> Wanted { get; }

        /// <summary>A copy of <paramref name="model"/> with the weight-error layers added; <paramref name="model"/> is not changed.</summary>
        public static Collector Prepare(Model model, int weightMax, bool biasShifts, bool channelRanges)
        {
            var copy = OnnxImporter.Parse(OnnxExporter.ToBytes(model));
            var graph = copy.Graph;
            ShapeInference.Infer(copy);
            var deltas = new List<(string Layer, string Tensor, int Axis, long Channels)>();
            var ranges = new Dictionary<string, int>(StringComparer.Ordinal);
            // Layers are known by name; a name two nodes share (a malformed file) would hand one layer's shift to the other.
            var ambiguous = graph.Nodes.GroupBy(NodePatterns.NameOf).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
            foreach (var n in graph.Nodes.ToList())
            {
                if (biasShifts && !ambiguous.Contains(NodePatterns.NameOf(n)) && BiasCorrection.Layer(n) is { } layer)
                {
                    var w = n.Input(1)!.ConstantValue!;
                    var delta = WeightError(w, layer.WeightAxis, weightMax);
                    if (delta is null) continue;
                    var dw = graph.AddInitializer(graph.UniqueName(n.Input(1)!.Name + "_int8_error"), delta);
                    List<Value?> errorInputs = [n.Input(0), dw];
                    // Gemm's C is optional from opset 11 only, and a build calibrates the model before any opset conversion: a zero C.
                    if (n.OpType == "Gemm") errorInputs.Add(graph.AddInitializer(graph.UniqueName(n.Input(1)!.Name + "_int8_error_c"), Tensor.FromFloats([1], [0f])));
                    var copyNode = graph.AddNodeWithFreshOutputs(n.OpType, errorInputs, 1, NodePatterns.NameOf(n) + "_int8_error", n.Attributes.ToList(), named: false);
                    deltas.Add((NodePatterns.NameOf(n), copyNode.Output0.Name, layer.OutputAxis, layer.Channels));
                }
                if (channelRanges && AffineInputPlacement.Affine(n) is { } affine)
                {
                    ranges.TryAdd(affine.Input.Name, affine.Axis);
                    if (n.Outputs[0] is { } o) ranges.TryAdd(o.Name, affine.Axis);
                }
            }
            return new Collector(copy, deltas, ranges);
        }

        /// <summary>The progress line of a pass that collects these statistics.</summary>
        public string Describe() => $"measuring {deltas.Count} layers' int8 weight shifts and {ranges.Count} tensors' channel ranges";

        /// <summary>One sample's graph inputs (an affine may read one directly).</summary>
        public void CollectInputs(IReadOnlyDictionary<string, Tensor> sample)
        {
            foreach (var input in inputRanges)
                if (sample.TryGetValue(input, out var t) && t.ElementType == DataType.Float)
                    AddRange(input, ranges[input], t.AsSpan<float>(), t.Dims, minima, maxima);
        }

        /// <summary>One sample's fetched tensors (named by <paramref name="names"/>), in parallel; ends the sample.</summary>
        public void Collect(IReadOnlyList<string> names, IReadOnlyList<OrtValue> outputs, CancellationToken ct)
        {
            Parallel.For(0, outputs.Count, new ParallelOptions { CancellationToken = ct }, k =>
            {
                var value = outputs[k];
                string name = names[k];
                if (!axes.TryGetValue(name, out int axis) || value.OnnxType != OnnxValueType.ONNX_TYPE_TENSOR) return;
                var info = value.GetTensorTypeAndShape();
                if (info.ElementDataType != TensorElementType.Float) return;
                var values = value.GetTensorDataAsSpan<float>();
                if (sums.TryGetValue(name, out var sum)) AddSum(sum, counts[name], axis, values, info.Shape);
                // A weight-error tensor is never an affine's tensor: its name is fresh.
                else AddRange(name, axis, values, info.Shape, minima, maxima);
            });
            samples++;
        }

        /// <summary>The statistics of the samples collected so far.</summary>
        public PostTrainingStatistics Result()
        {
            var shifts = new Dictionary<string, float[]>(StringComparer.Ordinal);
            foreach (var d in deltas)
            {
                long perChannel = counts[d.Tensor][0];
                if (perChannel > 0) shifts[d.Layer] = sums[d.Tensor].Select(s => (float)(s / perChannel)).ToArray();
            }
            var channels = new Dictionary<string, ChannelRanges>(StringComparer.Ordinal);
            foreach (var (name, min) in minima) channels[name] = new ChannelRanges(ranges[name], min, maxima[name]);
            return new PostTrainingStatistics(Wanted.Count > 0 ? samples : 0, shifts, channels);
        }
    }

    /// <summary>The int8 weights (as the artifact will hold them, dequantized) minus the float ones; null when they are equal.</summary>
    private static Tensor? WeightError(Tensor w, int? axis, int weightMax)
    {
        var x = w.ToFloats();
        var error = new float[x.Length];
        float[] scales;
        long inner = 1, channels = 1;
        if (axis is int a)
        {
            scales = QuantMath.AbsMaxPerChannel(w, a).Select(m => QuantMath.WeightScaleWithin(m, weightMax)).ToArray();
            channels = w.Dims[a];
            for (int i = a + 1; i < w.Rank; i++) inner *= w.Dims[i];
        }
        else scales = [QuantMath.WeightScaleWithin(x.Select(v => Math.Abs((double)v)).DefaultIfEmpty(0).Max(), weightMax)];
        bool any = false;
        for (long i = 0; i < x.LongLength; i++)
        {
            float s = scales[axis is null ? 0 : i / inner % channels];
            error[i] = QuantMath.Quantize(x[i], s, 0, -weightMax, weightMax) * s - x[i];
            any |= error[i] != 0;
        }
        return any ? Tensor.FromFloats(w.Dims, error) : null;
    }

    /// <summary>For the channel axis of <paramref name="shape"/>: how many values of one channel lie in a row (the product of the later dims), and the channel count.</summary>
    private static (long Inner, long Channels) Layout(long[] shape, int axis)
    {
        int a = axis < 0 ? axis + shape.Length : axis;
        if (a < 0 || a >= shape.Length) return (0, 0);
        long inner = 1;
        for (int i = a + 1; i < shape.Length; i++) inner *= shape[i];
        return (inner, shape[a]);
    }

    // Channel by channel over contiguous runs of `inner` values: no division per element (ocr-det's maps are millions of values per sample).
    private static void AddSum(double[] sum, long[] count, int axis, ReadOnlySpan<float> values, long[] shape)
    {
        var (inner, channels) = Layout(shape, axis);
        if (channels != sum.Length || inner == 0) return;
        int run = (int)inner, block = (int)(inner * channels);
        for (int start = 0; start + block <= values.Length; start += block)
            for (int c = 0; c < channels; c++) sum[c] += SpanStatistics.Sum(values.Slice(start + c * run, run));
        count[0] += values.Length / channels;
    }

    private static void AddRange(string name, int axis, ReadOnlySpan<float> values, long[] shape, Dictionary<string, float[]> minima, Dictionary<string, float[]> maxima)
    {
        var (inner, channels) = Layout(shape, axis);
        if (channels <= 0 || inner == 0) return;
        float[]? min, max;
        // Each tensor is collected by one thread at a time; the dictionaries themselves are shared.
        lock (minima)
        {
            if (!minima.TryGetValue(name, out min))
            {
                minima[name] = min = Enumerable.Repeat(float.PositiveInfinity, (int)channels).ToArray();
                maxima[name] = Enumerable.Repeat(float.NegativeInfinity, (int)channels).ToArray();
            }
            max = maxima[name];
        }
        if (min.Length != channels) return;
        int run = (int)inner, block = (int)(inner * channels);
        for (int start = 0; start + block <= values.Length; start += block)
            for (int c = 0; c < channels; c++)
                foreach (float v in values.Slice(start + c * run, run))
                {
                    if (v < min[c]) min[c] = v;
                    if (v > max[c]) max[c] = v;
                }
    }
}
