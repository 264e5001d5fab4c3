using System.Runtime.InteropServices;

namespace EdgeBuild.Measure;

/// <summary>
/// Hands memory the process has freed back to the system, so that what a measurement allocates next shows as resident
/// growth whatever the process did before (see the memory probe in <see cref="ModelBenchmark"/>).
/// </summary>
internal static partial class FreedMemory
{
    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    public static void ReturnToSystem()
    {
        // Aggressive decommits the GC's free regions; compacting leaves them whole.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            // glibc keeps freed native blocks (ONNX Runtime's arenas of earlier sessions) in its heaps; malloc_trim
            // releases every whole free page of every arena, not only the top of the main heap.
            MallocTrim(0);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // Not glibc (musl has no malloc_trim): freed native pages stay resident and the figure can read low.
        }
    }
}
