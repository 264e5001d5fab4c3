using System.Runtime.InteropServices;

namespace EdgeBuild.Runtime;

/// <summary>
/// Tensor memory outside the GC heap, 64-byte aligned (what ONNX Runtime's CPU kernels like). A
/// SafeHandle, so the memory is freed even when the owner is never disposed.
/// </summary>
internal sealed unsafe class NativeBuffer : SafeHandle
{
    private const int Alignment = 64;

    public NativeBuffer(long bytes) : base(IntPtr.Zero, ownsHandle: true)
    {
        // A zero-element tensor still needs a valid pointer.
        Bytes = Math.Max(bytes, 1);
        SetHandle((IntPtr)NativeMemory.AlignedAlloc((nuint)Bytes, Alignment));
        NativeMemory.Clear((void*)handle, (nuint)Bytes);
    }

    /// <summary>The capacity in bytes.</summary>
    public long Bytes { get; }

    public void* Pointer => (void*)handle;

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMemory.AlignedFree((void*)handle);
        return true;
    }
}
