using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeBuild.Compile;
using EdgeBuild.MSBuild.Tests.Support;
using EdgeBuild.Quantization.Calibration;
using EdgeBuild.Session;

namespace EdgeBuild.Tests.Support;

/// <summary>What an output folder holds after a fault.</summary>
public enum FolderState
{
    /// <summary>Exactly the previous good set (manifest, artifacts, reports).</summary>
    Old,
    /// <summary>Exactly a complete set of the compile that ran.</summary>
    New,
    /// <summary>No manifest, and a committed stage that the next compile applies (the apply was interrupted).</summary>
    ApplyPending,
    /// <summary>Anything else: a mix of sets, a manifest that does not match its files, an orphan file.</summary>
    Inconsistent,
}

/// <summary>
/// Fault experiments on the real <c>edgebuild</c> process (no xunit here: the Core tests and the benchmarks share it).
/// One small conv net, two compile settings (an Fp32 ONNX + TFLite + TensorRT set, and an Int8 ONNX + TFLite set), and
/// the exact file sets each writes when it runs undisturbed; after a SIGKILL or an overlapping compile the output folder
/// must hold one of those sets, byte for byte.
/// </summary>
public sealed class CompileFaults
{
    public const string Name = "Net";
    private readonly string root;
    private readonly string cli;

    /// <param name="root">An empty scratch folder.</param>
    /// <param name="cliDll">edgebuild.dll to run (default: the one beside this assembly).</param>
    public CompileFaults(string root, string? cliDll = null)
    {
        this.root = root;
        cli = cliDll ?? Path.Combine(AppContext.BaseDirectory, "edgebuild.dll");
        ModelPath = Path.Combine(root, "net.onnx");
        GateModels.WriteConvNet(ModelPath, size: 32, blocks: 3);
        string calibration = Path.Combine(root, "calibration");
        Directory.CreateDirectory(calibration);
        var random = new Random(5);
        for (int i = 0; i < 12; i++)
        {
            var data = new float[3 * 32 * 32];
            for (int j = 0; j < data.Length; j++) data[j] = (float)random.NextDouble();
            NpyFile.Write(Path.Combine(calibration, $"s{i:D2}.npy"), Ir.Tensor.FromFloats([1, 3, 32, 32], data));
        }
        Settings = new Dictionary<string, string[]>
        {
            ["fp32-onnx-tflite-tensorrt"] = ["--precision", "Fp32", "--targets", "Onnx;TFLite;TensorRT"],
            ["int8-onnx-tflite"] = ["--precision", "Int8", "--targets", "Onnx;TFLite", "--calibration", Path.Combine(calibration, "*.npy")],
        };
    }

    public string ModelPath { get; }

    /// <summary>The compile settings by name.</summary>
    public IReadOnlyDictionary<string, string[]> Settings { get; }

    /// <summary>The arguments of a compile of the model into <paramref name="outDir"/> with <paramref name="setting"/>.</summary>
    public string[] Arguments(string setting, string outDir) =>
        ["exec", cli, "compile", ModelPath, "--out", outDir, "--name", Name, "-q", "--measure-seconds", "0.5",
            "--measure-cache", Path.Combine(root, "measure-cache"), .. Settings[setting]];

    /// <summary>Starts <c>edgebuild compile</c> as its own process.</summary>
    public Process Start(string setting, string outDir)
    {
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet", Arguments(setting, outDir))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var p = Process.Start(psi)!;
        // Drained in the background so a full pipe never blocks the compiler.
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, e) => { if (e.Data is { } line) lock (p) Errors[p.Id] = (Errors.GetValueOrDefault(p.Id) ?? "") + line + "\n"; };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>What each started process printed on stderr, by process id.</summary>
    public Dictionary<int, string> Errors { get; } = [];

    /// <summary>Runs a compile to the end; returns its exit code and the time it took.</summary>
    public (int Exit, TimeSpan Elapsed, string Stderr) Run(string setting, string outDir)
    {
        var clock = Stopwatch.StartNew();
        using var p = Start(setting, outDir);
        p.WaitForExit();
        return (p.ExitCode, clock.Elapsed, Errors.GetValueOrDefault(p.Id) ?? "");
    }

    /// <summary>The files of an output folder (top level, EdgeBuild's own state folder left out): name to sha256.</summary>
    public static SortedDictionary<string, string> Snapshot(string outDir) =>
        new(Directory.EnumerateFiles(outDir).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))), StringComparer.Ordinal);

    /// <summary>Copies a folder's files (not its state folder) to <paramref name="to"/>, replacing what is there.</summary>
    public static void Restore(string from, string to)
    {
        if (Directory.Exists(to)) Directory.Delete(to, recursive: true);
        Directory.CreateDirectory(to);
        foreach (var f in Directory.EnumerateFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
    }

    /// <summary>
    /// Which set <paramref name="outDir"/> holds: one of <paramref name="sets"/> exactly (index), an interrupted apply, or
    /// an inconsistent state (with why). A manifest that does not list exactly the files beside it is inconsistent even
    /// when no reference set is given.
    /// </summary>
    public static (FolderState State, int Set, string Why) Classify(string outDir, IReadOnlyList<SortedDictionary<string, string>> sets, int oldSet = -1)
    {
        var now = Snapshot(outDir);
        string? manifestProblem = CheckManifest(outDir);
        for (int i = 0; i < sets.Count; i++)
            if (now.Count == sets[i].Count && now.All(kv => sets[i].TryGetValue(kv.Key, out var h) && h == kv.Value))
                return manifestProblem is null ? (i == oldSet ? FolderState.Old : FolderState.New, i, "") : (FolderState.Inconsistent, i, manifestProblem);
        string files = string.Join(", ", now.Select(kv => $"{kv.Key}:{kv.Value[..8]}"));
        if (!File.Exists(Path.Combine(outDir, Name + ModelManifest.FileSuffix)) &&
            File.Exists(Path.Combine(outDir, OutputFolder.StateDirectoryName, Name + ".stage", "commit.json")))
            return (FolderState.ApplyPending, -1, files);
        return (FolderState.Inconsistent, -1, (manifestProblem ?? "matches no complete set") + ": " + files);
    }

    /// <summary>
    /// Null when the folder's manifest (if any) lists artifacts whose files are present with their sha256, no file of
    /// the model is there that it does not list, and report.json (if any) describes artifacts of that manifest.
    /// </summary>
    public static string? CheckManifest(string outDir)
    {
        string manifestPath = Path.Combine(outDir, Name + ModelManifest.FileSuffix);
        var own = Directory.EnumerateFiles(outDir).Select(Path.GetFileName).Where(f => f!.StartsWith(Name + ".", StringComparison.Ordinal) && f != Name + ModelManifest.FileSuffix).ToHashSet();
        if (!File.Exists(manifestPath)) return own.Count == 0 ? null : $"no manifest, but {string.Join(", ", own)}";
        using var doc = JsonDocument.Parse(File.ReadAllBytes(manifestPath));
        var listed = new Dictionary<string, (string Sha, long Bytes)>();
        foreach (var a in doc.RootElement.GetProperty("artifacts").EnumerateArray())
            listed[a.GetProperty("path").GetString()!] = (a.GetProperty("sha256").GetString()!, a.GetProperty("bytes").GetInt64());
        foreach (var (path, (sha, _)) in listed)
        {
            string file = Path.Combine(outDir, path);
            if (!File.Exists(file)) return $"the manifest lists {path}, which is missing";
            if (!string.Equals(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file))), sha, StringComparison.OrdinalIgnoreCase))
                return $"{path} is not the file the manifest lists (sha256 differs)";
        }
        if (own.Except(listed.Keys).ToList() is { Count: > 0 } orphans) return $"not in the manifest: {string.Join(", ", orphans)}";
        string report = Path.Combine(outDir, EdgeBuild.Reports.ModelReport.JsonName);
        if (File.Exists(report))
        {
            using var r = JsonDocument.Parse(File.ReadAllBytes(report));
            var reported = r.RootElement.GetProperty("artifacts").EnumerateArray().Select(a => (a.GetProperty("path").GetString()!, a.GetProperty("bytes").GetInt64())).ToHashSet();
            // The report lists the model files (a kit's recipe and script have no figures), each as the manifest lists it.
            if (reported.Count == 0 || !reported.IsSubsetOf(listed.Select(kv => (kv.Key, kv.Value.Bytes))))
                return "report.json describes other artifacts than the manifest";
        }
        return null;
    }

    /// <summary>Kill experiment results.</summary>
    public sealed record KillCounts(int Kills, int Old, int New, int ApplyPending, int Inconsistent, int RecoveredInconsistent, IReadOnlyList<string> Problems);

    /// <summary>
    /// <paramref name="kills"/> times: restore the old set, start the new compile, SIGKILL it after a seeded random delay
    /// within its undisturbed run time, classify the folder; then take the folder's lock in this process (what the next
    /// compile does first: it finishes or discards the interrupted one) and classify again.
    /// </summary>
    public KillCounts Kills(int kills, int seed, string oldSetting, string newSetting, bool recover = true, Action<string>? log = null)
    {
        string oldDir = Path.Combine(root, "ref-old"), newDir = Path.Combine(root, "ref-new"), outDir = Path.Combine(root, "kill");
        var oldRun = Run(oldSetting, oldDir);
        if (oldRun.Exit != 0) throw new InvalidOperationException($"the reference compile failed: {oldRun.Stderr}");
        var newRun = Run(newSetting, newDir);
        if (newRun.Exit != 0) throw new InvalidOperationException($"the reference compile failed: {newRun.Stderr}");
        // Once more, timed with a warm measurement cache like the killed runs.
        newRun = Run(newSetting, newDir);
        var sets = new[] { Snapshot(oldDir), Snapshot(newDir) };
        log?.Invoke($"old set {sets[0].Count} files, new set {sets[1].Count} files; undisturbed new compile {newRun.Elapsed.TotalSeconds:F2} s");
        var random = new Random(seed);
        int old = 0, @new = 0, pending = 0, bad = 0, badAfter = 0;
        var problems = new List<string>();
        for (int k = 0; k < kills; k++)
        {
            Restore(oldDir, outDir);
            var delay = TimeSpan.FromMilliseconds(random.NextDouble() * newRun.Elapsed.TotalMilliseconds * 1.05);
            using (var p = Start(newSetting, outDir))
            {
                if (!p.WaitForExit(delay)) p.Kill();
                p.WaitForExit();
            }
            var (state, _, why) = Classify(outDir, sets, oldSet: 0);
            switch (state)
            {
                case FolderState.Old: old++; break;
                case FolderState.New: @new++; break;
                case FolderState.ApplyPending: pending++; break;
                default: bad++; problems.Add($"kill {k} at {delay.TotalMilliseconds:F0} ms: {why}"); break;
            }
            if (recover)
            {
                using (OutputFolder.Open(outDir, TimeSpan.FromSeconds(30))) { }
                var (after, _, whyAfter) = Classify(outDir, sets, oldSet: 0);
                if (after is not (FolderState.Old or FolderState.New)) { badAfter++; problems.Add($"kill {k} after recovery: {whyAfter}"); }
            }
            log?.Invoke($"kill {k,3} at {delay.TotalMilliseconds,6:F0} ms: {state}");
        }
        return new KillCounts(kills, old, @new, pending, bad, badAfter, problems);
    }

    /// <summary>Overlap experiment results: how each round ended.</summary>
    public sealed record OverlapCounts(int Rounds, int EndedFirstSetting, int EndedSecondSetting, int Mixed, int FailedExits, IReadOnlyList<string> Problems);

    /// <summary>
    /// <paramref name="rounds"/> times: two compiles with different settings into one folder, the second started after a
    /// seeded random delay; both must exit 0 and the folder must hold exactly one of the two complete sets.
    /// </summary>
    public OverlapCounts Overlaps(int rounds, int seed, string first, string second, Action<string>? log = null)
    {
        string aDir = Path.Combine(root, "ref-a"), bDir = Path.Combine(root, "ref-b"), outDir = Path.Combine(root, "overlap");
        var a = Run(first, aDir);
        var b = Run(second, bDir);
        if (a.Exit != 0 || b.Exit != 0) throw new InvalidOperationException($"a reference compile failed: {a.Stderr}{b.Stderr}");
        var sets = new[] { Snapshot(aDir), Snapshot(bDir) };
        var random = new Random(seed);
        int endA = 0, endB = 0, mixed = 0, failed = 0;
        var problems = new List<string>();
        for (int r = 0; r < rounds; r++)
        {
            if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
            var delay = TimeSpan.FromMilliseconds(random.NextDouble() * 600);
            using var pa = Start(first, outDir);
            Thread.Sleep(delay);
            using var pb = Start(second, outDir);
            pa.WaitForExit();
            pb.WaitForExit();
            if (pa.ExitCode != 0 || pb.ExitCode != 0)
            {
                failed++;
                problems.Add($"round {r}: exits {pa.ExitCode}, {pb.ExitCode}: {Errors.GetValueOrDefault(pa.Id)}{Errors.GetValueOrDefault(pb.Id)}");
            }
            var (state, set, why) = Classify(outDir, sets);
            if (state != FolderState.New) { mixed++; problems.Add($"round {r} (second started after {delay.TotalMilliseconds:F0} ms): {state}: {why}"); }
            else if (set == 0) endA++;
            else endB++;
            log?.Invoke($"round {r,3}, second after {delay.TotalMilliseconds,4:F0} ms: {(state == FolderState.New ? sets.Length > 1 && set == 0 ? first : second : state.ToString())}");
        }
        return new OverlapCounts(rounds, endA, endB, mixed, failed, problems);
    }
}
