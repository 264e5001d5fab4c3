using System.Globalization;
using EdgeBuild.Measure;
using EdgeBuild.Onnx;
using EdgeBuild.Passes;
using EdgeBuild.Quantization;
using EdgeBuild.Session;

namespace EdgeBuild.Tests.Support;

/// <summary>
/// A real model as the benchmarks that judge Precision=Auto see it (auto-table, peer-table): its task, the optimized
/// FP32 model every quantization starts from (input shapes fixed first for the zoo's models), and its held-out and
/// calibration inputs. Held-out photos come from the model's own photo groups first, then the other groups (any photo is
/// a valid input for agreement with FP32); calibration photos are the next ones, never held out. The zoo's models
/// (MODELS-zoo.md) take what <see cref="ZooModelInputs"/> makes, the first inputs held out, the next ones calibrating.
/// </summary>
public sealed record BenchmarkModel(string Id, TaskKind Task, byte[] Fp32, ICalibrationDataSource HeldOut, ICalibrationDataSource Calibration)
{
    /// <summary>The task metric each photo model is judged by (the zoo's come with theirs).</summary>
    private static readonly Dictionary<string, TaskKind> Tasks = new()
    {
        ["eye-state"] = TaskKind.Classification,
        ["ocr-angle-cls"] = TaskKind.Classification,
        ["face-detect-rfb320"] = TaskKind.Detection,
        ["face-landmark68"] = TaskKind.Regression,
        ["face-embedding"] = TaskKind.Embedding,
        ["resnet18-features"] = TaskKind.Embedding,
        ["ocr-det-ppocrv4"] = TaskKind.Regression,
        ["blazeface-front128"] = TaskKind.Generic,
        ["blazeface-back256"] = TaskKind.Generic,
        ["resnet18-preprocess"] = TaskKind.Generic,
    };

    /// <summary>Every model with a meaningful calibration input: the photo models (the resnet18 preprocessing graph is only the trunk's feeder) and the zoo's.</summary>
    public static IReadOnlyList<string> AllIds { get; } = [.. RealModelSpec.All.Where(s => s.Id != "resnet18-preprocess").Select(s => s.Id), .. ZooModelInputs.Ids];

    /// <summary>The task metric a photo model is judged by.</summary>
    public static TaskKind TaskOf(string id) => Tasks.GetValueOrDefault(id, TaskKind.Generic);

    /// <summary>Loads, splits and optimizes <paramref name="id"/> from the test data folder <paramref name="data"/>.</summary>
    public static BenchmarkModel Load(string id, string data, int heldOutCount, int calibrationCount)
    {
        var model = OnnxImporter.Load(Path.Combine(data, "models", id + ".onnx"));
        ICalibrationDataSource heldOut, calibration;
        TaskKind task;
        if (ZooModelInputs.Ids.Contains(id))
        {
            var zoo = ZooModelInputs.Build(id, data);
            task = zoo.Task;
            InputShapes.Apply(model, zoo.Shapes);
            heldOut = new SampleList(zoo.Inputs.Take(heldOutCount).ToList());
            calibration = new SampleList(zoo.Inputs.Skip(heldOutCount).Take(calibrationCount).ToList());
        }
        else
        {
            task = TaskOf(id);
            var spec = RealModelSpec.Get(id);
            var groups = spec.PhotoGroups.Concat(Directory.GetDirectories(Path.Combine(data, "photos")).Select(Path.GetFileName)
                .Where(g => g is not null && !spec.PhotoGroups.Contains(g!)).Order(StringComparer.Ordinal)!);
            var photos = groups.SelectMany(g => Directory.GetFiles(Path.Combine(data, "photos", g!)).Order(StringComparer.Ordinal)).ToList();
            heldOut = new RealModelSamples(spec, photos.Take(heldOutCount), data);
            calibration = new RealModelSamples(spec, photos.Skip(heldOutCount).Take(calibrationCount), data);
        }
        OptimizationPipeline.Run(model, new OptimizeOptions(), OptimizationPipeline.DefaultPasses);
        return new BenchmarkModel(id, task, OnnxExporter.ToBytes(model), heldOut, calibration);
    }

    /// <summary>The gate's verdict on <paramref name="accuracy"/> as a build with this budget and these floors would judge it.</summary>
    public AccuracyJudgement Judge(string artifact, AccuracyReport accuracy, double budget, OutputFloors floors) =>
        AccuracyGate.Judge(Id, artifact, accuracy, budget, floors, null);

    /// <summary>Precision=Auto on this model as a build runs it (static INT8 options, this budget and floors).</summary>
    public AutoPrecisionResult Auto(double budget, OutputFloors floors, Action<string>? progress = null) =>
        AutoPrecisionSearch.Run(Fp32, new QuantizeOptions { Mode = QuantizationMode.Int8Static }, Calibration, HeldOut, Task, budget,
            a => Judge("Auto", a, budget, floors), progress);

    /// <summary>"0.549 [0.543, 0.562]": a contestant's P50 ratio to the race's reference with its 95 % interval.</summary>
    public static string Ratio(RaceResult r) => string.Create(CultureInfo.InvariantCulture, $"{r.Ratio:F3} [{r.RatioLow:F3}, {r.RatioHigh:F3}]");

    /// <summary>"[0.992, 1.009]": the race's A/A band.</summary>
    public static string Band(RaceReport race) => string.Create(CultureInfo.InvariantCulture, $"[{race.NoiseLow:F3}, {race.NoiseHigh:F3}]");

    /// <summary>"0.195 [0.167, 0.226] (metric, 40 samples)": the loss against FP32 with its 95 % interval.</summary>
    public static string Loss(AccuracyReport a, string? metric = null) =>
        string.Create(CultureInfo.InvariantCulture, $"{a.LossPercent:F3} [{a.Loss.Low:F3}, {a.Loss.High:F3}] ({metric ?? a.Metric}, {a.Samples} samples)");
}
