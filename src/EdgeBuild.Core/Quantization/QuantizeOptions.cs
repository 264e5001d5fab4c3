using EdgeBuild.Ir;

namespace EdgeBuild.Quantization;

/// <summary>The precision plan a model is quantized to.</summary>
public enum QuantizationMode
{
    /// <summary>Weights and activations in float16; the model's interface stays float32 (Casts at the boundary).</summary>
    Fp16,

    /// <summary>Int8 weights, activations quantized at run time (DynamicQuantizeLinear + ConvInteger/MatMulInteger); no calibration.</summary>
    Int8Dynamic,

    /// <summary>QDQ format: int8 weights and activations with ranges from calibration data.</summary>
    Int8Static,
}

/// <summary>How the range of an activation is chosen from the calibration data (ORT's calibrate.py methods).</summary>
public enum CalibratorKind
{
    /// <summary>The smallest and largest value seen (optionally a moving average over samples).</summary>
    MinMax,

    /// <summary>The given percentile of |x| over a 2048-bin histogram: outliers beyond it saturate.</summary>
    Percentile,

    /// <summary>The threshold minimizing the KL divergence between the histogram and its 128-level quantization (TensorRT).</summary>
    Entropy,
}

/// <summary>Where static quantization puts its Q/DQ pairs: the rules of the runtime that will fuse them.</summary>
public enum QdqPlacement
{
    /// <summary>ONNX Runtime's QDQ fusions (QLinearConv, QLinearAdd, ...): inputs and outputs of every quantizable op.</summary>
    OnnxRuntime,

    /// <summary>
    /// TensorRT's explicit-quantization rules: Q/DQ on the inputs of weighted layers (Conv, ConvTranspose, Gemm,
    /// MatMul) and pools, on both inputs of residual Adds, weights per output channel, biases left in float
    /// (TensorRT's DequantizeLinear takes 8-bit inputs only and fuses the bias itself). Use with symmetric activations.
    /// </summary>
    TensorRt,
}

/// <summary>Supplies calibration batches: each item maps model input names to tensors (batch 1 usually).</summary>
public interface ICalibrationDataSource
{
    int Count { get; }
    IEnumerable<IReadOnlyDictionary<string, Tensor>> Samples();
}

/// <summary>Settings of <see cref="ModelQuantizer.Quantize"/>.</summary>
public sealed record QuantizeOptions
{
    public QuantizationMode Mode { get; init; } = QuantizationMode.Int8Static;
    public CalibratorKind Calibrator { get; init; } = CalibratorKind.Percentile;

    /// <summary>For <see cref="CalibratorKind.Percentile"/>: the share of |x| (in percent) kept inside the range.</summary>
    public double Percentile { get; init; } = 99.999;

    /// <summary>MinMax with a moving average over samples (constant 0.01, as ORT) instead of the overall extremes.</summary>
    public bool MovingAverage { get; init; }

    /// <summary>
    /// Int8 activations with zero point 0 (TensorRT style). The default is asymmetric uint8, which ONNX Runtime's
    /// x86 kernels fuse (U8S8); with int8 activations ORT on x86 leaves the Q/DQ nodes unfused.
    /// </summary>
    public bool SymmetricActivations { get; init; }

    /// <summary>Which runtime's fusion rules place the Q/DQ pairs (static quantization).</summary>
    public QdqPlacement Placement { get; init; } = QdqPlacement.OnnxRuntime;

    /// <summary>
    /// Ranges calibrated beforehand (a build's shared <see cref="Calibration.CalibrationTable"/>), by tensor name: static
    /// quantization uses them instead of calibrating again, so every artifact of a build has the same scales. Data is
    /// then optional (it only feeds the SQNR measurement).
    /// </summary>
    public IReadOnlyDictionary<string, Calibration.TensorRange>? CalibratedRanges { get; init; }

    /// <summary>Glob patterns (<c>*</c>, <c>?</c>) on node names: matching nodes run in float16 instead of int8.</summary>
    public IReadOnlyList<string> KeepFp16 { get; init; } = [];

    /// <summary>Glob patterns (<c>*</c>, <c>?</c>) on node names: matching nodes stay float32.</summary>
    public IReadOnlyList<string> KeepFp32 { get; init; } = [];

    /// <summary>
    /// Unclipped value ranges of the float model's tensors over the calibration data, by name
    /// (<see cref="Calibration.CalibrationTable.Extremes"/>, or <see cref="Calibration.ValueExtremesCollector.Measure"/> where
    /// nothing else calibrates): the FP16 range rule (<see cref="Fp16RangeRule"/>) keeps in float32 the nodes whose tensors
    /// leave float16's range. Null: only constants are judged.
    /// </summary>
    public IReadOnlyDictionary<string, Calibration.ValueExtremes>? ValueExtremes { get; init; }

    /// <summary>The FP16 range rule (<see cref="Quantization.Fp16RangeRule"/>); off only to measure what it changes.</summary>
    public bool Fp16RangeRule { get; init; } = true;

    /// <summary>FP16: Cast nodes at the model boundary keep the inputs and outputs float32.</summary>
    public bool KeepIoFp32 { get; init; } = true;

    /// <summary>Int8Static needs at least this many calibration samples (EB3003 otherwise).</summary>
    public int MinCalibrationSamples { get; init; } = 1;

    /// <summary>
    /// Static INT8: subtract from each quantized Conv, ConvTranspose, Gemm and MatMul+Add bias the mean shift its int8
    /// weights cause in its output, measured per output channel on the calibration data (<see cref="BiasCorrection"/>).
    /// </summary>
    public bool BiasCorrection { get; init; } = true;

    /// <summary>
    /// Static INT8: leave float a tensor whose channels span orders of magnitude and that only feeds per-channel affines
    /// (BatchNormalization, Mul/Add by per-channel constants), so the Q/DQ pair lands after the affine
    /// (<see cref="Operators.AffineInputPlacement"/>).
    /// </summary>
    public bool AffineInputPlacement { get; init; } = true;

    /// <summary>
    /// Static INT8: cross-layer equalization of Conv -> Relu -> Conv pairs before quantizing (<see cref="Quantization.CrossLayerEqualization"/>).
    /// Off by default: measured, it has not been shown to help (docs/quantization-engine.md). It changes the activations
    /// between the pairs, so it applies only where the quantization calibrates itself (no <see cref="CalibratedRanges"/>).
    /// </summary>
    public bool CrossLayerEqualization { get; init; }

    /// <summary>
    /// Static INT8 with ONNX Runtime placement: activation equalization of per-channel affine -> Relu/LeakyRelu/PRelu ->
    /// Conv/Gemm/MatMul groups before quantizing (<see cref="Quantization.ActivationEqualization"/>), from the per-channel
    /// ranges <see cref="Statistics"/> holds (measured first when not given). Like cross-layer equalization it changes the
    /// activations it rescales, so it applies only where the quantization calibrates itself (no <see cref="CalibratedRanges"/>).
    /// </summary>
    public bool ActivationEqualization { get; init; }

    /// <summary>
    /// Statistics of the float model measured once on the calibration data for the two rules above (a build's first
    /// quantization reports them in <see cref="QuantizationReport.Statistics"/>): later quantizations of the same float
    /// model take them instead of running the data again, as <see cref="CalibratedRanges"/> does for ranges.
    /// </summary>
    public PostTrainingStatistics? Statistics { get; init; }
}

/// <summary>How one compute node (Conv, ConvTranspose, Gemm, MatMul) ended up.</summary>
/// <param name="Node">The node's name (its first output's name when it has none).</param>
/// <param name="OpType">Conv, ConvTranspose, Gemm or MatMul.</param>
/// <param name="Precision">Int8, Fp16 or Fp32.</param>
/// <param name="Sqnr">
/// Signal-to-quantization-noise ratio of the node's output in dB, 20 log10(|fp32| / |fp32 - quantized|), over
/// the first calibration samples; null without data, +infinity when the outputs are identical.
/// </param>
public sealed record LayerQuantization(string Node, string OpType, string Precision, double? Sqnr);

/// <summary>What <see cref="ModelQuantizer.Quantize"/> did.</summary>
/// <param name="Mode">The mode applied.</param>
/// <param name="QuantizedNodes">Nodes of the input model that run in the lower precision (folded activations included).</param>
/// <param name="KeptNodes">Nodes of the input model left in float32.</param>
/// <param name="Layers">Every compute node of the input model, in graph order.</param>
/// <param name="CalibrationTime">
/// Time spent running the model over the calibration data and choosing ranges (Int8Static). From a compile's quantize step
/// (<c>Session.QuantizeStep</c>), also the build's shared calibration the engine only received the ranges of: decoding
/// the calibration files and the calibration table's pass (or the FP16 range rule's pass).
/// </param>
/// <param name="TotalTime">Wall time of the whole call, SQNR measurement included; from a compile's quantize step, the whole step (calibration, searches, accuracy verdict).</param>
/// <param name="BytesBefore">Serialized size of the model before quantization.</param>
/// <param name="BytesAfter">Serialized size after.</param>
public sealed record QuantizationReport(
    QuantizationMode Mode,
    int QuantizedNodes,
    int KeptNodes,
    IReadOnlyList<LayerQuantization> Layers,
    TimeSpan CalibrationTime,
    TimeSpan TotalTime,
    long BytesBefore,
    long BytesAfter)
{
    /// <summary>The statistics the post-training rules used (null when no rule ran or there was no data): hand them to the next quantization of the same float model.</summary>
    public PostTrainingStatistics? Statistics { get; init; }

    /// <summary>Layers whose bias the correction changed, and those it created a bias for.</summary>
    public int BiasCorrected { get; init; }

    /// <summary>Affine -> activation -> reader groups that activation equalization rescaled.</summary>
    public int ActivationEqualized { get; init; }

    /// <summary>Tensors the affine-input placement kept float, by name.</summary>
    public IReadOnlyList<string> KeptFloatForPlacement { get; init; } = [];

    /// <summary>Nodes the FP16 range rule kept in float32 (Fp16, and KeepFp16 nodes in the int8 modes), each with the tensor, value and limit.</summary>
    public IReadOnlyList<Fp16RangeFinding> RangeKeptFp32 { get; init; } = [];
}
