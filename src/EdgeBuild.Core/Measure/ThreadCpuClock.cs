using System.Runtime.InteropServices;

namespace EdgeBuild.Measure;

/// <summary>
/// CPU time of the calling thread (Linux <c>clock_gettime(CLOCK_THREAD_CPUTIME_ID)</c>). With one ONNX Runtime thread the
/// whole inference runs on the caller, so its CPU time is the latency without the time other processes held the core:
/// on a shared machine that is the part of the tail that belongs to the model.
/// </summary>
internal static partial class ThreadCpuClock
{
    private const int ClockThreadCpuTimeId = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec time);

    /// <summary>Whether the clock works here (Linux, 64-bit).</summary>
    public static bool Available { get; } = Probe();

    /// <summary>Nanoseconds of CPU time this thread has used.</summary>
    public static long NowNanoseconds()
    {
        ClockGetTime(ClockThreadCpuTimeId, out var t);
        return t.Seconds * 1_000_000_000L + t.Nanoseconds;
    }

    private static bool Probe()
    {
        if (!OperatingSystem.IsLinux() || IntPtr.Size != 8) return false;
        try
        {
            return ClockGetTime(ClockThreadCpuTimeId, out var t) == 0 && t.Seconds >= 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }
}
