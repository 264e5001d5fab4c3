using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.ML.OnnxRuntime;

namespace EdgeBuild.Measure;

/// <summary>
/// What a measurement was taken on: CPU model, logical cores, the ISA flags that change which kernels ONNX Runtime
/// picks, the ONNX Runtime version and the execution provider. <see cref="Id"/> hashes exactly these fields, so two
/// measurements with the same Id are comparable in absolute terms; otherwise only their normalized figures are.
/// </summary>
public sealed record MachineFingerprint(string CpuModel, int LogicalCores, IReadOnlyList<string> IsaFlags, string OrtVersion,
    string ExecutionProvider, string Os, string Architecture)
{
    /// <summary>
    /// The flags MLAS (ONNX Runtime's CPU kernels) dispatches on, x86 and Arm: a machine with AVX-512 VNNI runs INT8
    /// through other kernels than one with AVX2 only, so they belong in the identity of a measurement.
    /// </summary>
    public static readonly IReadOnlyList<string> KernelFlags =
    [
        "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
        "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16", "asimd", "asimddp", "fphp", "asimdhp", "i8mm", "bf16", "sve", "sve2", "sme",
    ];

    /// <summary>A short hash of every field: equal Ids mean absolute figures compare.</summary>
    public string Id
    {
        get
        {
            string text = string.Join("|", CpuModel, LogicalCores, string.Join(",", IsaFlags), OrtVersion, ExecutionProvider, Os, Architecture);
            return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16].ToLowerInvariant();
        }
    }

    /// <summary>One line for logs and reports.</summary>
    public string Describe() =>
        $"{CpuModel}, {LogicalCores} logical cores, {(IsaFlags.Count == 0 ? "no ISA flags read" : string.Join(" ", IsaFlags))}; ONNX Runtime {OrtVersion}, {ExecutionProvider}; {Os} {Architecture}";

    private static MachineFingerprint? current;
    private static readonly Lock Gate = new();

    /// <summary>This machine, read once per process (/proc/cpuinfo on Linux; the OS description elsewhere).</summary>
    public static MachineFingerprint Current(string executionProvider = "CPUExecutionProvider")
    {
        lock (Gate)
        {
            current ??= Read("CPUExecutionProvider");
        }
        return current with { ExecutionProvider = executionProvider };
    }

    private static MachineFingerprint Read(string executionProvider)
    {
        string cpu = RuntimeInformation.ProcessArchitecture.ToString();
        var flags = new List<string>();
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    int colon = line.IndexOf(':');
                    if (colon < 0) continue;
                    string key = line[..colon].Trim(), value = line[(colon + 1)..].Trim();
                    if ((key is "model name" or "Hardware" or "CPU part") && cpu == RuntimeInformation.ProcessArchitecture.ToString() && value.Length > 0) cpu = value;
                    if (key is "flags" or "Features" && flags.Count == 0)
                    {
                        var present = value.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
                        flags.AddRange(KernelFlags.Where(present.Contains));
                    }
                }
            }
        }
        catch (IOException)
        {
            // No cpuinfo (containers can hide it): the fingerprint says so through an empty flag list.
        }
        catch (UnauthorizedAccessException)
        {
        }
        return new MachineFingerprint(cpu, Environment.ProcessorCount, flags, OrtEnv.Instance().GetVersionString(), executionProvider,
            RuntimeInformation.OSDescription.Split('#')[0].Trim(), RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant());
    }
}
