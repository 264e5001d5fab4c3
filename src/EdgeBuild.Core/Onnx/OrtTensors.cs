using EdgeBuild.Ir;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = EdgeBuild.Ir.Tensor;

namespace EdgeBuild.Onnx;

/// <summary>Conversions between ONNX Runtime values and IR tensors (same element type numbering).</summary>
public static class OrtTensors
{
    /// <summary>An IR tensor holding a copy of <paramref name="value"/>'s data; null for non-tensors.</summary>
    public static Tensor? ToTensor(OrtValue value)
    {
        if (value.OnnxType != OnnxValueType.ONNX_TYPE_TENSOR) return null;
        var info = value.GetTensorTypeAndShape();
        var type = (DataType)(int)info.ElementDataType;
        long[] dims = info.Shape;
        if (type == DataType.String)
            return Tensor.FromStrings(dims, value.GetStringTensorAsArray().Select(s => System.Text.Encoding.UTF8.GetBytes(s)).ToArray());
        return Tensor.FromRaw(type, dims, value.GetTensorMutableRawData().ToArray());
    }

    /// <summary>An OrtValue over a copy of <paramref name="tensor"/>'s data (the caller disposes it).</summary>
    public static OrtValue ToOrtValue(Tensor tensor)
    {
        if (tensor.ElementType == DataType.String)
            return OrtValue.CreateFromStringTensor(new DenseTensor<string>(
                tensor.Strings!.Select(s => System.Text.Encoding.UTF8.GetString(s)).ToArray(), tensor.Dims.Select(d => (int)d).ToArray()));
        var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, (TensorElementType)(int)tensor.ElementType, tensor.Dims);
        tensor.Raw.CopyTo(value.GetTensorMutableRawData());
        return value;
    }
}
