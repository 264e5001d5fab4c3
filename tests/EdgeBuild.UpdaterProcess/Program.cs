// One device's updater in its own process, for the tests that SIGKILL it mid-update and start it again:
//
//   EdgeBuild.UpdaterProcess CHANNEL TRUSTED_PUB STATE_DIR BUNDLED_DIR check|serve
//
// CHANNEL: the channel file's http(s) URL or path.
// check: one CheckAsync (prints "update: <outcome>"), then one run; serve: only the run. The run prints
// "active <version> y0=<first output>" for ScaleNet (x float [1,4] -> y float [1,4], y = x * k), the test model whose
// versions differ in k, so the line says which version computed it. Exit 0 after the run; a failed run throws.
using System.Globalization;
using EdgeBuild.Runtime;
using EdgeBuild.Runtime.Updates;

if (args.Length != 5 || args[4] is not ("check" or "serve"))
{
    Console.Error.WriteLine("usage: EdgeBuild.UpdaterProcess CHANNEL TRUSTED_PUB STATE_DIR BUNDLED_DIR check|serve");
    return 2;
}
var description = new EdgeModelDescription("ScaleNet",
    [new EdgeTensorSpec("x", "x", EdgeElementType.Float32, [1, 4], null)],
    [new EdgeTensorSpec("y", "y", EdgeElementType.Float32, [1, 4], null)],
    [], [new EdgeArtifact("ScaleNet.onnx", "Onnx", "Fp32")], ExecutionProvider.Cpu);
using var trusted = PackageSignature.ReadKey(File.ReadAllText(args[1]));
var modelOptions = new EdgeModelOptions { ModelDirectory = args[3] };
using var updater = new ModelUpdater(description, new ModelUpdaterOptions
{
    // An http(s) URL (the tests' server) or a local channel file.
    Channel = Uri.TryCreate(args[0], UriKind.Absolute, out var url) && url.Scheme is "http" or "https" ? url : new Uri(Path.GetFullPath(args[0])),
    TrustedKeys = [trusted],
    StateDirectory = args[2],
    ModelOptions = modelOptions,
    Log = line => Console.WriteLine(line),
});
if (args[4] == "check")
{
    var result = await updater.CheckAsync();
    Console.WriteLine($"update: {result.Outcome}");
}
using var session = EdgeSession.Create(description, new EdgeModelOptions { ModelDirectory = args[3], Updates = updater });
session.Begin();
session.SetInput<float>(0, [1, 2, 3, 4]);
session.Run();
var y = new float[4];
session.GetOutput<float>(0, y);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"active {session.ModelVersion} y0={y[0]}"));
return 0;
