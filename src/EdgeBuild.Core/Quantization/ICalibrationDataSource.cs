namespace EdgeBuild.Quantization;

/// <summary>Supplies calibration samples: each maps model input names to tensors (batch 1 usually).</summary>
public interface ICalibrationDataSource
{
    int Count { get; }

    IEnumerable<IReadOnlyDictionary<string, EdgeBuild.Ir.Tensor>> Samples();
}
