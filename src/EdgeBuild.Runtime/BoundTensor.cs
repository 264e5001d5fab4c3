using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeBuild.Runtime;

/// <summary>
/// One input or output of a session: native memory, the OrtValue over it and its place in the
/// session's IO binding. Rebound only when its dimensions change, so steady-state runs allocate nothing.
/// </summary>
internal sealed unsafe class BoundTensor : IDisposable
{
    private NativeBuffer? buffer;
    private OrtValue? value;

    public BoundTensor(EdgeTensorSpec spec, bool isInput)
    {
        Spec = spec;
        IsInput = isInput;
        ElementSize = EdgeElementTypes.Size(spec.ElementType);
        if (ElementSize == 0)
            throw new NotSupportedException($"{Kind} '{spec.Name}': element type {spec.ElementType} cannot be bound to a span");
    }

    public EdgeTensorSpec Spec { get; }
    public bool IsInput { get; }
    public int ElementSize { get; }
    public string Kind => IsInput ? "input" : "output";

    /// <summary>The dimensions it is bound with; empty until bound.</summary>
    public long[] Dims { get; private set; } = [];

    /// <summary>Elements in the bound tensor; -1 until bound.</summary>
    public int Length { get; private set; } = -1;

    public void* Data => buffer!.Pointer;

    /// <summary>Binds the tensor with <paramref name="dims"/> unless it is already bound with them.</summary>
    public void Bind(OrtIoBinding binding, long[] dims, int length)
    {
        if (Length >= 0 && dims.AsSpan().SequenceEqual(Dims)) return;
        long bytes = (long)length * ElementSize;
        // Grow only: shrinking dims reuse the memory.
        var newBuffer = buffer is null || buffer.Bytes < bytes ? new NativeBuffer(bytes) : null;
        var target = newBuffer ?? buffer!;
        OrtValue? newValue = null;
        try
        {
            newValue = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, (TensorElementType)(int)Spec.ElementType,
                dims, (IntPtr)target.Pointer, bytes);
            if (IsInput) binding.BindInput(Spec.Name, newValue);
            else binding.BindOutput(Spec.Name, newValue);
        }
        catch
        {
            newValue?.Dispose();
            newBuffer?.Dispose();
            throw;
        }
        value?.Dispose();
        if (newBuffer is not null)
        {
            buffer?.Dispose();
            buffer = newBuffer;
        }
        value = newValue;
        Dims = dims;
        Length = length;
    }

    public void Dispose()
    {
        value?.Dispose();
        value = null;
        buffer?.Dispose();
        buffer = null;
        Length = -1;
    }
}
