using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace EdgeBuild.Measure;

/// <summary>What ONNX Runtime's CPU arena of a session holds: bytes reserved from the system and the most ever in use.</summary>
public sealed record ArenaFigures(double AllocatedMB, double MaxInUseMB, long Allocations);

/// <summary>
/// ONNX Runtime's allocator statistics (C API <c>AllocatorGetStats</c>, "TotalAllocated", "MaxInUse", "NumAllocs") for a
/// session's CPU arena. The C# API of ONNX Runtime 1.31 does not bind that function, so the function pointer is read from
/// the managed library's copy of the C API table (<c>NativeMethods.api_</c>, the same table every C# call goes through)
/// and the allocator's native handle from <c>OrtAllocator.Pointer</c>. The package version is pinned
/// (Directory.Packages.props); if either is missing in another version the figures are absent and the note says why,
/// and nothing native is called.
/// </summary>
internal static unsafe class OrtArenaStatistics
{
    private static readonly Lazy<(IntPtr GetStats, IntPtr GetPairs, IntPtr ReleasePairs, IntPtr ReleaseStatus, PropertyInfo? Pointer)> Api = new(Resolve);

    /// <summary>The arena's figures, or null with <paramref name="note"/> saying why not.</summary>
    public static ArenaFigures? Read(InferenceSession session, out string note)
    {
        var api = Api.Value;
        if (api.GetStats == IntPtr.Zero || api.GetPairs == IntPtr.Zero || api.ReleasePairs == IntPtr.Zero || api.ReleaseStatus == IntPtr.Zero || api.Pointer is null)
        {
            note = "ONNX Runtime's arena statistics are not reachable from this ONNX Runtime C# build";
            return null;
        }
        try
        {
            using var allocator = new OrtAllocator(session, OrtMemoryInfo.DefaultInstance);
            var handle = (IntPtr)api.Pointer.GetValue(allocator)!;
            var getStats = (delegate* unmanaged<IntPtr, IntPtr*, IntPtr>)api.GetStats;
            var getPairs = (delegate* unmanaged<IntPtr, IntPtr*, IntPtr*, nuint*, void>)api.GetPairs;
            var releasePairs = (delegate* unmanaged<IntPtr, void>)api.ReleasePairs;
            var releaseStatus = (delegate* unmanaged<IntPtr, void>)api.ReleaseStatus;
            IntPtr pairs;
            IntPtr status = getStats(handle, &pairs);
            if (status != IntPtr.Zero)
            {
                releaseStatus(status);
                note = "the session's CPU allocator keeps no statistics (no arena)";
                return null;
            }
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            try
            {
                IntPtr keys, vals;
                nuint count;
                getPairs(pairs, &keys, &vals, &count);
                for (int i = 0; i < (int)count; i++)
                    values[Marshal.PtrToStringUTF8(((IntPtr*)keys)[i]) ?? ""] = Marshal.PtrToStringUTF8(((IntPtr*)vals)[i]) ?? "";
            }
            finally
            {
                releasePairs(pairs);
            }
            long Get(string key) => values.TryGetValue(key, out var v) && long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) ? n : 0;
            note = "ONNX Runtime's CPU arena (AllocatorGetStats): bytes reserved and the most in use; weights are outside it";
            return new ArenaFigures(Get("TotalAllocated") / 1048576.0, Get("MaxInUse") / 1048576.0, Get("NumAllocs"));
        }
        catch (OnnxRuntimeException e)
        {
            note = "ONNX Runtime gave no allocator for the session: " + e.Message.Split('\n')[0].Trim();
            return null;
        }
    }

    private static (IntPtr, IntPtr, IntPtr, IntPtr, PropertyInfo?) Resolve()
    {
        try
        {
            var assembly = typeof(InferenceSession).Assembly;
            var apiType = assembly.GetType("Microsoft.ML.OnnxRuntime.OrtApi");
            var table = assembly.GetType("Microsoft.ML.OnnxRuntime.NativeMethods")?.GetField("api_", BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)?.GetValue(null);
            var pointer = typeof(OrtAllocator).GetProperty("Pointer", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);
            if (apiType is null || table is null || pointer?.PropertyType != typeof(IntPtr)) return default;
            IntPtr Field(string name) => apiType.GetField(name)?.GetValue(table) is IntPtr p ? p : IntPtr.Zero;
            return (Field("AllocatorGetStats"), Field("GetKeyValuePairs"), Field("ReleaseKeyValuePairs"), Field("ReleaseStatus"), pointer);
        }
        catch (Exception e) when (e is TargetInvocationException or MemberAccessException or TypeLoadException or InvalidOperationException)
        {
            return default;
        }
    }
}
