using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeBuild.Compile;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Quantization;
using EdgeBuild.Session;

namespace EdgeBuild.Targets.TensorRt;

/// <summary>
/// How the device builds the engine from the kit: trtexec's arguments (TensorRT's command-line builder, documented in
/// TensorRT's "Command-Line Programs" reference) for the explicit route (.trt.onnx) and, up to TensorRT 10, the implicit
/// route (float network + calibration cache); written as <c>Name.trt.json</c> and <c>Name.build-engine.sh</c>.
/// <paramref name="networkFile"/> is the explicit route's network: <c>Name.trt.onnx</c>, or the ONNX artifact when the kit's
/// network is byte for byte that file (Fp32), which is then not written twice.
/// </summary>
internal sealed class EngineRecipe(string name, string networkFile, TensorRtVersion version, Precision precision, TensorRtSettings settings,
    IReadOnlyList<InputProfile> profiles, IReadOnlyList<string> fp16Layers, IReadOnlyList<string> fp32Layers, bool implicitRoute,
    CalibrationTable? calibration, AccuracyReport? accuracy)
{
    public string EngineFile => name + ".engine";
    public string TimingCacheFile => name + ".timing.cache";

    private bool Int8 => precision is Precision.Int8 or Precision.Mixed;

    /// <summary>TensorRT 11 builds explicitly quantized networks strongly typed: the ONNX's types decide, precision flags are refused.</summary>
    private bool StronglyTyped => Int8 && version.Major >= 11;

    /// <summary>trtexec's arguments for the explicit (true) or implicit (false) route.</summary>
    public IReadOnlyList<string> Arguments(bool explicitRoute)
    {
        var a = new List<string> { $"--onnx={(explicitRoute ? networkFile : name + TensorRtTargetWriter.FloatNetworkSuffix)}", $"--saveEngine={EngineFile}" };
        if (!explicitRoute) a.Add($"--calib={name}{TensorRtTargetWriter.CacheSuffix}");
        if (StronglyTyped) a.Add("--stronglyTyped");
        else
        {
            if (Int8) a.Add("--int8");
            if (precision != Precision.Fp32) a.Add("--fp16");
            var layerPrecisions = fp16Layers.Select(l => l + ":fp16").Concat(fp32Layers.Select(l => l + ":fp32")).ToList();
            if (layerPrecisions.Count > 0)
            {
                a.Add("--layerPrecisions=" + string.Join(",", layerPrecisions));
                a.Add("--precisionConstraints=obey");
            }
        }
        if (profiles.Any(p => p.Dynamic))
        {
            a.Add("--minShapes=" + Shapes(p => p.Min));
            a.Add("--optShapes=" + Shapes(p => p.Opt));
            a.Add("--maxShapes=" + Shapes(p => p.Max));
        }
        a.Add(string.Create(CultureInfo.InvariantCulture, $"--memPoolSize=workspace:{settings.WorkspaceMiB}"));
        a.Add($"--timingCacheFile={TimingCacheFile}");
        if (settings.Compatibility is EnginePortability.Version or EnginePortability.VersionAndHardware) a.Add("--versionCompatible");
        if (settings.Compatibility is EnginePortability.Hardware or EnginePortability.VersionAndHardware) a.Add("--hardwareCompatibilityLevel=ampere+");
        return a;
    }

    // trtexec reads "name:AxBxC" per input, inputs separated by commas; a name with other characters is quoted ('in:0':1x3).
    private string Shapes(Func<InputProfile, long[]> pick) => string.Join(",", profiles.Select(p =>
        (IsPlain(p.Name) ? p.Name : "'" + p.Name + "'") + ":" + string.Join("x", pick(p).Select(d => d.ToString(CultureInfo.InvariantCulture)))));

    private static bool IsPlain(string s) => s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '/' or '-');

    /// <summary>The recipe as JSON (deterministic: fixed order, two-space indent, '\n').</summary>
    public byte[] ToJson(string toolVersion, IReadOnlyList<ManifestArtifact> files, IReadOnlyList<LayerSupport> layers)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, NewLine = "\n" }))
        {
            w.WriteStartObject();
            w.WriteNumber("schemaVersion", 1);
            w.WriteString("name", name);
            w.WriteStartObject("tool");
            w.WriteString("name", "edgebuild");
            w.WriteString("version", toolVersion);
            w.WriteEndObject();
            w.WriteString("tensorRtVersion", version.ToString());
            w.WriteString("precision", precision.ToString());
            w.WriteString("engine", EngineFile);
            w.WriteString("timingCache", TimingCacheFile);
            w.WriteNumber("workspaceMiB", settings.WorkspaceMiB);
            w.WriteString("compatibility", settings.Compatibility.ToString());
            w.WriteStartArray("inputs");
            foreach (var p in profiles)
            {
                w.WriteStartObject();
                w.WriteString("name", p.Name);
                WriteDims(w, "min", p.Min);
                WriteDims(w, "opt", p.Opt);
                WriteDims(w, "max", p.Max);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("layerPrecisions");
            foreach (var l in fp16Layers) w.WriteString(l, "fp16");
            foreach (var l in fp32Layers) w.WriteString(l, "fp32");
            w.WriteEndObject();
            if (calibration is not null)
            {
                w.WriteStartObject("calibration");
                w.WriteString("calibrator", calibration.Calibrator.ToString());
                w.WriteNumber("samples", calibration.Samples);
                w.WriteString("cacheHeader", CalibrationCache.Header(version));
                w.WriteEndObject();
            }
            // The .trt.onnx against FP32 on the held-out files, in ONNX Runtime on the build machine's CPU (not an engine's numbers).
            if (accuracy is not null)
            {
                w.WriteStartObject("accuracyOnCpu");
                w.WriteString("task", accuracy.Task.ToString());
                w.WriteString("metric", accuracy.Metric);
                w.WriteNumber("value", Math.Round(accuracy.Value, 6));
                w.WriteNumber("lossPercent", Math.Round(accuracy.LossPercent, 6));
                w.WriteNumber("samples", accuracy.Samples);
                w.WriteEndObject();
            }
            WriteRoute(w, "explicit", true);
            if (implicitRoute) WriteRoute(w, "implicit", false);
            else w.WriteNull("implicit");
            w.WriteStartArray("files");
            foreach (var f in files)
            {
                w.WriteStartObject();
                w.WriteString("path", f.Path);
                w.WriteString("sha256", f.Sha256);
                w.WriteNumber("bytes", f.Bytes);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNumber("unsupportedLayers", layers.Count(l => !l.Supported));
            w.WriteStartArray("layers");
            foreach (var l in layers)
            {
                w.WriteStartObject();
                w.WriteString("name", l.Layer);
                w.WriteString("op", l.OpType);
                w.WriteBoolean("supported", l.Supported);
                w.WriteString("precision", l.Precision);
                if (l.Reason is not null) w.WriteString("reason", l.Reason);
                if (l.Scope is not null) w.WriteString("scope", l.Scope);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return [.. buffer.ToArray(), (byte)'\n'];
    }

    private void WriteRoute(Utf8JsonWriter w, string property, bool explicitRoute)
    {
        w.WriteStartObject(property);
        w.WriteString("onnx", explicitRoute ? networkFile : name + TensorRtTargetWriter.FloatNetworkSuffix);
        w.WriteStartArray("trtexec");
        foreach (var arg in Arguments(explicitRoute)) w.WriteStringValue(arg);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteDims(Utf8JsonWriter w, string property, long[] dims)
    {
        w.WriteStartArray(property);
        foreach (var d in dims) w.WriteNumberValue(d);
        w.WriteEndArray();
    }

    /// <summary>A POSIX shell script that checks the kit's sha256 sums and runs trtexec; extra arguments are passed on.</summary>
    public byte[] ToScript(string toolVersion, IReadOnlyList<ManifestArtifact> files)
    {
        var s = new StringBuilder();
        s.Append("#!/bin/sh\n");
        s.Append($"# Builds the TensorRT {version} engine {EngineFile} from this kit on the device (written by edgebuild {toolVersion}; docs/tensorrt.md).\n");
        s.Append($"#   sh {name}{TensorRtTargetWriter.ScriptSuffix}              {(Int8 ? "explicit quantization" : "the float network")}: {networkFile}\n");
        if (implicitRoute)
            s.Append($"#   sh {name}{TensorRtTargetWriter.ScriptSuffix} --implicit   TensorRT <= 10 calibrator route: {name}{TensorRtTargetWriter.FloatNetworkSuffix} + {name}{TensorRtTargetWriter.CacheSuffix}\n");
        s.Append("# Further arguments go to trtexec; TRTEXEC=/path/to/trtexec chooses the binary.\n");
        s.Append("set -eu\n");
        s.Append("cd \"$(dirname \"$0\")\"\n");
        s.Append("mode=explicit\n");
        s.Append("if [ \"${1:-}\" = \"--implicit\" ]; then mode=implicit; shift; fi\n");
        s.Append("echo \"checking the kit against its sha256 sums\"\n");
        s.Append("sha256sum -c - <<'SUMS'\n");
        foreach (var f in files) s.Append(f.Sha256).Append("  ").Append(f.Path).Append('\n');
        s.Append("SUMS\n");
        s.Append("trtexec=\"${TRTEXEC:-$(command -v trtexec || true)}\"\n");
        s.Append("if [ -z \"$trtexec\" ] && [ -x /usr/src/tensorrt/bin/trtexec ]; then trtexec=/usr/src/tensorrt/bin/trtexec; fi\n");
        s.Append("if [ -z \"$trtexec\" ]; then echo \"trtexec not found: install TensorRT (JetPack puts it in /usr/src/tensorrt/bin) or set TRTEXEC\" >&2; exit 1; fi\n");
        s.Append("if [ \"$mode\" = explicit ]; then\n");
        s.Append("  set -- ").Append(string.Join(" ", Arguments(true).Select(Quote))).Append(" \"$@\"\n");
        s.Append("else\n");
        if (implicitRoute) s.Append("  set -- ").Append(string.Join(" ", Arguments(false).Select(Quote))).Append(" \"$@\"\n");
        else s.Append($"  echo \"this kit has no implicit route (it needs Precision Int8 or Mixed and TensorRT 10 or older; it targets {version}, {precision})\" >&2\n  exit 2\n");
        s.Append("fi\n");
        s.Append("echo \"$trtexec $*\"\n");
        s.Append("exec \"$trtexec\" \"$@\"\n");
        return Encoding.UTF8.GetBytes(s.ToString());
    }

    private static string Quote(string arg) => "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
