namespace EdgeBuild.Diagnostics;

/// <summary>
/// Every user-facing diagnostic, in one table (documented in docs/diagnostics.md, which a test keeps in
/// step with this file). Ranges: EB1xxx input and ONNX IO, EB2xxx graph and passes, EB3xxx quantization,
/// EB4xxx target writers, EB5xxx measurement and budgets, EB6xxx MSBuild, EB7xxx model packages and channels, EB8xxx target devices over SSH, EB9xxx tool-level
/// failures (internal errors, bad command lines), EBG0xx generator.
/// Codes are never reused or renumbered.
/// </summary>
public static class DiagnosticCodes
{
    public static readonly DiagnosticDescriptor FileNotFound = new("EB1000", "Model file not found",
        "Check the path; relative paths are taken from the current directory.");
    public static readonly DiagnosticDescriptor EmptyFile = new("EB1001", "Model file is empty",
        "The file has no bytes; re-export the model.");
    public static readonly DiagnosticDescriptor NotOnnx = new("EB1002", "Not a valid ONNX protobuf",
        "The file is not an ONNX ModelProto (random bytes, a truncated download, or another format); re-export or re-download it.");
    public static readonly DiagnosticDescriptor NoGraph = new("EB1003", "Model has no graph",
        "An ONNX model must contain a graph; re-export the model.");
    public static readonly DiagnosticDescriptor UnsupportedIrVersion = new("EB1004", "Unsupported IR version",
        "EdgeBuild reads ONNX IR versions 3 to 10; convert the model with a current exporter.");
    public static readonly DiagnosticDescriptor GraphCycle = new("EB1005", "Graph has a cycle",
        "ONNX graphs must be acyclic; the named nodes depend on each other. Fix the exporter or the model.");
    public static readonly DiagnosticDescriptor UndefinedValue = new("EB1006", "Input that nothing produces",
        "A node or graph output names a value that is neither a graph input, an initializer nor a node output; the model is corrupt or was edited by hand.");
    public static readonly DiagnosticDescriptor ExternalDataOutsideModel = new("EB1007", "External data path leaves the model folder",
        "External data must use a relative path inside the model's folder, without control characters; it is checked after every symbolic link is followed, so a link leading out of the folder is refused too. Move the data file next to the model.");
    public static readonly DiagnosticDescriptor ExternalDataMissing = new("EB1008", "External data file missing or too short",
        "Copy the external data file(s) next to the model, as they were when it was exported.");
    public static readonly DiagnosticDescriptor TensorTooLarge = new("EB1009", "Tensor too large or inconsistent",
        "A tensor declares more elements than it holds, or more than EdgeBuild accepts (2^34); the model is corrupt.");
    public static readonly DiagnosticDescriptor UnknownDomain = new("EB1010", "Operator from an undeclared domain",
        "Every node's domain must appear in the model's opset_import; add the import or fix the exporter.");
    public static readonly DiagnosticDescriptor DuplicateValue = new("EB1011", "Value defined twice",
        "ONNX graphs are in SSA form: each value name may be produced once. Fix the exporter or the model.");
    public static readonly DiagnosticDescriptor InvalidTensor = new("EB1012", "Malformed tensor",
        "A tensor's data does not match its type or dims; re-export the model.");
    public static readonly DiagnosticDescriptor WriteFailed = new("EB1013", "Cannot write output file",
        "Check that the output folder exists and is writable.");

    public static readonly DiagnosticDescriptor ComputeCeilingExceeded = new("EB1014", "Model needs more computation than the ceiling",
        "One inference of the model (often a MatMul or Conv of a huge constant shape) would take more multiply-adds than EdgeBuild runs at build time for calibration, accuracy or measurement (EDGEBUILD_MAX_GMACS, default 100); fix the shape in the model, or raise the ceiling if the model really is that large.");
    public static readonly DiagnosticDescriptor OutputFolderLocked = new("EB1020", "Output folder in use by another compile",
        "Another edgebuild process is writing the same output folder and did not finish in time; wait for it (or stop it), or give each compile its own output folder.");

    public static readonly DiagnosticDescriptor UnknownPass = new("EB2001", "Unknown pass name",
        "Run 'edgebuild optimize --help' for the list of passes.");
    public static readonly DiagnosticDescriptor OpsetConversionUnsupported = new("EB2002", "Cannot convert operator to the target opset",
        "EdgeBuild has no conversion rule for this operator between these opsets; export the model at the target opset.");
    public static readonly DiagnosticDescriptor VerifierFailed = new("EB2003", "Internal: graph invalid after a pass",
        "This is a bug in EdgeBuild; please report it with the model and the pass list. Skip the pass with --passes to work around it.");

    public static readonly DiagnosticDescriptor MemoryCeilingExceeded = new("EB2004", "Model needs more memory than the ceiling",
        "A tensor of the model (often a ConstantOfShape, Expand or Tile of a huge shape) would take more memory than EdgeBuild allows one tensor while it runs the model (EDGEBUILD_MAX_TENSOR_MB, default 2048); fix the shape in the model, or raise the ceiling if the machine has the memory.");

    // Retired when quantization landed (every Precision compiles); kept so the code is never reused.
    public static readonly DiagnosticDescriptor PrecisionNotAvailable = new("EB3001", "Precision not available (retired)",
        "No longer reported: every Precision value compiles. Kept in the table so the code is never reused.");
    public static readonly DiagnosticDescriptor CalibrationFileMissing = new("EB3002", "Calibration file not found",
        "Each calibration file must exist; check the Calibration glob or list.");
    public static readonly DiagnosticDescriptor NotEnoughCalibrationSamples = new("EB3003", "Not enough calibration samples",
        "Int8 static quantization measures activation ranges on calibration data; supply at least the required number of samples (about 100 representative inputs is typical), or use Int8Dynamic or Fp16, which need none.");
    public static readonly DiagnosticDescriptor CalibrationDataMismatch = new("EB3004", "Calibration data does not fit the model",
        "Every calibration sample must provide each model input with the model's element type and shape; check the preprocessing (size, layout, channels) against the model's inputs.");
    public static readonly DiagnosticDescriptor InvalidQuantizeOption = new("EB3005", "Invalid quantization option",
        "Check the quantization options: Percentile must be in (0, 100], MinCalibrationSamples at least 1.");

    public static readonly DiagnosticDescriptor CalibrationInputNotImage = new("EB3006", "Model input is not an image",
        "Image calibration needs a model input shaped [N,C,H,W] or [N,H,W,C] with 1 or 3 channels and fixed H and W; calibrate this model with .npy tensors instead.");
    public static readonly DiagnosticDescriptor CalibrationFileUnreadable = new("EB3007", "Calibration file unreadable",
        "Calibration files must be images SkiaSharp can decode (jpg, png, bmp, gif, webp) or .npy arrays matching the model input; remove or replace the file.");
    public static readonly DiagnosticDescriptor CalibrationNoMatch = new("EB3008", "Calibration pattern matched nothing",
        "Check the folder and the pattern: `*` and `?` match within one name, `**` any folders below; a folder gives its .jpg, .jpeg, .png, .bmp, .gif, .webp, .npy and .npz files.");

    public static readonly DiagnosticDescriptor AccuracyBudgetExceeded = new("EB3009", "Accuracy budget exceeded",
        "The quantized model loses more than MaxAccuracyLoss against FP32 on the held-out photos, with 95 % confidence (the whole interval is over it); use Precision=\"Mixed\" to return sensitive layers to FP32, keep layers with KeepFp16/KeepFp32, try another Calibrator, or raise the budget.");
    public static readonly DiagnosticDescriptor NotEnoughHeldOutSamples = new("EB3010", "Not enough held-out samples to judge accuracy",
        "MaxAccuracyLoss is judged on held-out samples the quantizer never calibrated on, and an interval needs at least 30 of them; give Evaluation files (--eval), or enough Calibration files that every 4th held out makes 30, or remove MaxAccuracyLoss.");
    public static readonly DiagnosticDescriptor AccuracyUnproven = new("EB3011", "Accuracy verdict unproven (warning)",
        "The 95 % interval of the loss (or of an output's SQNR or cosine) contains its limit, so the held-out samples can neither confirm nor refute it; add the number of held-out samples the message names, or widen the limit.");
    public static readonly DiagnosticDescriptor OutputCollapsed = new("EB3012", "Quantized outputs far from FP32",
        "An output's SQNR or cosine against FP32 is under its floor (MinSqnrDb, default 20 dB; MinCosine, default 0.99) with 95 % confidence: quantization broke the model even if few top-1 answers changed. Use Precision=\"Mixed\" with MaxAccuracyLoss, KeepFp32 for the worst layers, another Calibrator, or lower the floor knowingly.");
    public static readonly DiagnosticDescriptor DegenerateReference = new("EB3013", "FP32 reference looks degenerate (warning)",
        "The FP32 model's own outputs on the held-out samples are NaN, constant, saturated or implausible (hundreds of detections), so comparing the quantized model with it proves little; the preprocessing (Mean, Std, Scale, ChannelOrder, Layout) probably does not match the model's training.");

    public static readonly DiagnosticDescriptor ModelNotRunnable = new("EB3014", "Model cannot be run for calibration",
        "Static quantization runs the model in ONNX Runtime on the calibration data, and ONNX Runtime refused to load it (an attribute or type it does not accept); check the model with 'edgebuild bench' or onnx.checker, or use Fp16 or Int8Dynamic, which do not run it.");
    public static readonly DiagnosticDescriptor QuantizedNonFiniteOutput = new("EB3015", "Quantized model gives infinite or NaN outputs",
        "The Fp16, Int8, Int8Dynamic or Mixed model's output is infinite or NaN on an input where the float32 model's is finite: a tensor left float16's range (past 65504, or a small positive value rounded to 0 before a Log or a division), or an INT8 tensor rounded such a value to 0. For Fp16 give Calibration files that reach such inputs (the FP16 range rule then keeps those layers in float32); for INT8 give held-out files with MaxAccuracyLoss so Mixed returns those layers to FP32, or KeepFp32 them; or use Precision=\"Fp32\".");
    public static readonly DiagnosticDescriptor SourceAlreadyQuantized = new("EB3016", "Model is quantized already",
        "EdgeBuild quantizes float32 models and labels every artifact by the precision it made; a model with QuantizeLinear/DequantizeLinear, QLinear* or *Integer nodes already has its exporter's quantization. Give the float32 export of the model (before quantization).");
    public static readonly DiagnosticDescriptor SourceIsFloat16 = new("EB3017", "Model is float16",
        "Quantization calibrates a float32 model and compares against it, and Precision=\"Fp32\" would label float16 arithmetic float32. Give the float32 export of the model, or set Precision=\"Fp16\" to ship this one as it is.");

    // Retired when the last writer (TFLite, TensorRT) landed: every Targets value has a writer; kept so the code is never reused.
    public static readonly DiagnosticDescriptor TargetNotAvailable = new("EB4001", "Target not available (retired)",
        "No longer reported: every Targets value (Onnx, TensorRT, TFLite) has a writer. Kept in the table so the code is never reused.");
    public static readonly DiagnosticDescriptor TfliteUnsupportedOperator = new("EB4101", "Operator TFLite cannot express",
        "The TFLite writer has no mapping for the listed nodes (op and node name); nothing was written. docs/tflite.md lists the supported ops; change the model or use Targets=\"Onnx\".");
    public static readonly DiagnosticDescriptor TfliteDynamicShape = new("EB4102", "Dynamic dims in a TFLite build",
        "A .tflite file runs at the shape stored in it: fix every dynamic input dim with --shape NAME=1,3,480,640 (Shapes=\"NAME=1,3,480,640\" in MSBuild).");
    public static readonly DiagnosticDescriptor TfliteInt64Overflow = new("EB4103", "int64 value outside int32 in a TFLite build",
        "TFLite computes ONNX int64 tensors in int32; a constant that does not fit cannot be converted. Keep the model's integer values within int32.");
    public static readonly DiagnosticDescriptor TflitePrecisionNotSupported = new("EB4104", "Precision not available for TFLite",
        "The TFLite writer writes Fp32, Fp16, Int8 (full-integer) and Mixed (Int8 with the layers the accuracy budget keeps in float); Int8Dynamic has no TFLite form: use one of those.");
    public static readonly DiagnosticDescriptor InvalidShapeOption = new("EB4105", "Input shape option does not fit the model",
        "Each --shape / Shapes entry is NAME=D1,D2,... naming a model input, with as many positive dims as the input has and the input's fixed dims unchanged.");
    public static readonly DiagnosticDescriptor TfliteShapeOutOfRange = new("EB4106", "Tensor shape a TFLite file cannot hold",
        "TFLite stores dims and element counts as 32-bit integers; a tensor of the model has a dim or an element count outside that range. Fix the shapes in the model (or the --shape option).");
    public static readonly DiagnosticDescriptor TensorRtLayerUnsupported = new("EB4201", "Layer not supported by TensorRT",
        "TensorRTStrict is on and the named layers have no TensorRT implementation in the chosen TensorRTVersion (docs/tensorrt.md lists the table); replace them in the model, target a TensorRT version that has them, or set TensorRTStrict=false to write the kit with a warning.");
    public static readonly DiagnosticDescriptor InvalidTensorRtOption = new("EB4202", "Invalid TensorRT option",
        "Check TensorRTVersion (8.x, 10.x or 11.x), TensorRTProfile (symbol=min:opt:max or input[axis]=min:opt:max, 1 <= min <= opt <= max), TensorRTWorkspaceMiB (a positive number) and TensorRTCompatibility (TensorRT 8.6 and later) against docs/tensorrt.md.");
    public static readonly DiagnosticDescriptor TensorRtNoDynamicInt8 = new("EB4203", "TensorRT has no dynamic INT8",
        "TensorRT quantizes with calibrated scales only; use Precision=Int8 (or Mixed) with Calibration images, or Fp16/Fp32, for the TensorRT target.");

    // Measurement, budgets and baselines (docs/measurement.md). EB5006, EB5007, EB5009, EB5014 to EB5018 and EB5021 to EB5024 are warnings.
    public static readonly DiagnosticDescriptor MeasurementFailed = new("EB5001", "Artifact cannot be measured",
        "ONNX Runtime could not load or run the artifact for measurement; check it with 'edgebuild bench', or build with EdgeBuildMeasure=false (--no-measure) to skip measurement.");
    public static readonly DiagnosticDescriptor LatencyBudgetExceeded = new("EB5002", "Latency budget exceeded",
        "The P99 latency is above LatencyBudgetMs with 95 % confidence; try a lower Precision (Int8, Int8Dynamic), a smaller input, more threads on the device, or raise the budget.");
    public static readonly DiagnosticDescriptor FpsBudgetNotMet = new("EB5003", "Frame-rate budget not met",
        "Single-stream frames per second are below MinFps with 95 % confidence; try a lower Precision (Int8, Int8Dynamic), a smaller input, or lower the budget.");
    public static readonly DiagnosticDescriptor MemoryBudgetExceeded = new("EB5004", "Memory budget exceeded",
        "The memory the model needs while running is above MaxMemoryMB; try Precision Fp16 or Int8 (smaller weights), a smaller input, or raise the budget.");
    public static readonly DiagnosticDescriptor SizeBudgetExceeded = new("EB5005", "Size budget exceeded",
        "The artifact is larger than MaxSizeMB; try Precision Fp16 (half) or Int8 (a quarter), or raise the budget.");
    public static readonly DiagnosticDescriptor NearBudget = new("EB5006", "Close to a budget (warning)",
        "A measured value is within 10 % of its budget, or its confidence interval contains the budget: the next change may break the build. Look at the figures in the report.");
    public static readonly DiagnosticDescriptor CannotMeasureHere = new("EB5007", "Budget cannot be measured on this machine (warning)",
        "This machine cannot run the artifact (its runtime or its execution provider is missing here), so its budgets were not checked; check them on a machine or device that runs it.");
    public static readonly DiagnosticDescriptor MeasurementShapeUnknown = new("EB5008", "Budget at an unknown input size",
        "An input has a dim other than its batch that the model leaves free (a height, a width, a sequence length), so a latency, fps or memory budget would be judged at a size nobody runs; give the size it runs at with the EdgeModel item's Shapes metadata (or --shape NAME=1,3,640,640 on the CLI).");
    public static readonly DiagnosticDescriptor MeasuredAtSizeOne = new("EB5009", "Measured with free dims at 1 (warning)",
        "An input has a dim the model leaves free and no Shapes fixes it, so the figures are for size 1 in that dim, which may be far from the real one; give the size it runs at with the EdgeModel item's Shapes metadata (or --shape on the CLI).");
    public static readonly DiagnosticDescriptor BaselineCorrupt = new("EB5010", "Baseline file unreadable",
        "The .edgebaseline.json file is not a baseline EdgeBuild can read (edited by hand, a merge conflict, truncated); restore it from version control or run 'edgebuild baseline update'.");
    public static readonly DiagnosticDescriptor BaselineOtherModel = new("EB5011", "Baseline is for another model",
        "The baseline's inputs and outputs do not match this model's, so it was recorded for a different model; run 'edgebuild baseline update' for this model and commit the file.");
    public static readonly DiagnosticDescriptor Regression = new("EB5012", "Regression against the baseline",
        "A metric is worse than the committed baseline by more than its tolerance; find the change that caused it, or if it is intended run 'edgebuild baseline update' and commit the file.");
    public static readonly DiagnosticDescriptor BaselineModelChanged = new("EB5014", "Baseline recorded for another version of the model (warning)",
        "The model file changed since the baseline was recorded; its metrics were compared anyway. When the change is intended, run 'edgebuild baseline update' and commit the file.");
    public static readonly DiagnosticDescriptor BaselineOtherMachine = new("EB5015", "Baseline from another machine (warning)",
        "The baseline was measured on another machine, so only normalized figures (reference units) were compared; run 'edgebuild baseline update' on this machine for absolute comparisons.");
    public static readonly DiagnosticDescriptor PossibleRegression = new("EB5016", "Possible regression (warning)",
        "A metric is past its tolerance against the baseline, but within the measurement's confidence interval, so it is not reported as an error; measure again (edgebuild bench) to confirm.");
    public static readonly DiagnosticDescriptor BaselineMissingArtifact = new("EB5017", "Baseline has no entry for this artifact (warning)",
        "The baseline lists no artifact with this target, precision and execution provider (the options changed since it was recorded), so nothing was compared; run 'edgebuild baseline update' and commit the file.");
    public static readonly DiagnosticDescriptor BudgetsNotMeasured = new("EB5018", "Budgets not checked: measurement off (warning)",
        "Measurement is switched off (EdgeBuildMeasure=false or --no-measure), so the latency, fps, memory and size budgets and the regression tolerances set on the item were not checked; switch measurement on to enforce them, or remove them.");
    public static readonly DiagnosticDescriptor ArtifactsDiffer = new("EB5020", "Artifacts cannot be compared",
        "edgebuild compare runs both artifacts on the same inputs, so their inputs must have the same names, element types and shapes; compare artifacts of the same model.");
    public static readonly DiagnosticDescriptor TolerancesWithoutBaseline = new("EB5021", "Regression tolerances not checked: no baseline (warning)",
        "LatencyTolerancePercent, AccuracyTolerancePoints or SizeTolerancePercent is set, but there is no baseline file to compare with, so nothing was checked; run 'edgebuild baseline update' (or EdgeBuildUpdateBaseline=true) and commit the file, or remove the tolerances.");
    public static readonly DiagnosticDescriptor FloorsNotJudged = new("EB5022", "Accuracy floors not checked: no held-out samples (warning)",
        "MinSqnrDb or MinCosine is set, but the quantized artifact was never compared with FP32 (no Evaluation or Calibration files to hold out, or a target that only calibrates), so the floor was not checked; give Evaluation files (--eval) or Calibration files, or remove the floor.");
    public static readonly DiagnosticDescriptor QuantizedSlowerThanFp32 = new("EB5024", "Quantized artifact slower than FP32 (warning)",
        "The Int8, Mixed, Int8Dynamic or Fp16 ONNX artifact ran slower than the optimized FP32 model on this machine, raced interleaved on one thread beyond the A/A band of two FP32 sessions: the precision costs accuracy and buys no speed here (per-tensor boundaries, kernels without a fast integer path on this CPU). Use Precision=\"Auto\", which keeps INT8 only where it is faster and ships FP32 otherwise, or Precision=\"Fp32\".");
    public static readonly DiagnosticDescriptor AccuracyToleranceNotChecked = new("EB5023", "Accuracy tolerance not checked: no loss to compare (warning)",
        "AccuracyTolerancePoints is set, but this build or the baseline has no accuracy loss against FP32 (an Fp32 artifact, or no held-out samples), so the accuracy was not compared; build a quantized artifact with Evaluation files, update the baseline, or remove the tolerance.");

    public static readonly DiagnosticDescriptor InvalidCompileOption = new("EB6001", "Invalid EdgeModel option",
        "Check the EdgeModel item's metadata (or the edgebuild compile option) against docs/msbuild.md.");
    public static readonly DiagnosticDescriptor EdgeModelNotFound = new("EB6002", "EdgeModel file not found",
        "The Include path of an EdgeModel item is taken relative to the project file; check the path and that the model file is present.");
    public static readonly DiagnosticDescriptor CalibrationMatchedNothing = new("EB6003", "Calibration pattern matched no files",
        "A wildcard in the Calibration metadata (relative to the project file) matched no file; check the pattern and that the calibration images are present.");
    public static readonly DiagnosticDescriptor ToolFailedWithoutDiagnostic = new("EB6004", "edgebuild failed without a diagnostic",
        "The compiler process failed but printed no EBnnnn line; build with -v:d to see its output, and report it with the model.");
    public static readonly DiagnosticDescriptor DuplicateClassName = new("EB6005", "Two EdgeModel items have the same ClassName",
        "Each EdgeModel item compiles to its own class and artifact file; give one of them another ClassName.");
    public static readonly DiagnosticDescriptor ToolNotFound = new("EB6006", "edgebuild compiler not found",
        "Restore the EdgeBuild package, or point EdgeBuildToolPath at edgebuild.dll (in this repository: build src/EdgeBuild.Cli first).");
    public static readonly DiagnosticDescriptor RuntimeNotReferenced = new("EB6007", "EdgeBuild.Runtime not referenced",
        "The classes the EdgeBuild source generator writes call EdgeBuild.Runtime; add a PackageReference to EdgeBuild.Runtime (the same version as EdgeBuild) to the project.");
    public static readonly DiagnosticDescriptor PortableAppWithoutOnnxRuntimeNative = new("EB6008", "Portable app without an ONNX Runtime native library",
        "EdgeBuild.Runtime brings ONNX Runtime's library per RuntimeIdentifier; set RuntimeIdentifier, add the EdgeBuild package (it gives a portable app its copies), or reference Microsoft.ML.OnnxRuntime.");
    public static readonly DiagnosticDescriptor NoOnnxRuntimeNativeForRid = new("EB6009", "No ONNX Runtime native library for the RuntimeIdentifier",
        "EdgeBuild.Runtime carries ONNX Runtime's CPU library for win-x64, win-arm64, linux-x64, linux-arm64 and osx-arm64; build for one of those, or reference an ONNX Runtime package that has a library for the platform.");

    public static readonly DiagnosticDescriptor PackageFolderInvalid = new("EB7001", "Not a compiled model folder",
        "Pass the folder edgebuild compile (or the build) wrote: exactly one <Name>.edgemodel.json and the artifacts it lists.");
    public static readonly DiagnosticDescriptor PackageVersionInvalid = new("EB7002", "Invalid package version",
        "Use MAJOR.MINOR.PATCH, three numbers (1.2.0).");
    public static readonly DiagnosticDescriptor PackageArtifactChanged = new("EB7003", "Artifact differs from its manifest",
        "An artifact's sha256 or size is not what the manifest records; recompile the model so both come from the same build.");
    public static readonly DiagnosticDescriptor SigningKeyInvalid = new("EB7004", "Key file unreadable or not ECDSA P-256",
        "Use a key 'edgebuild keygen' wrote: the private key (.pem) to sign, the public key (.pub) to verify.");
    public static readonly DiagnosticDescriptor PackageVerificationFailed = new("EB7005", "Package does not verify",
        "Do not deploy it: rebuild and re-sign the package with a trusted key, or check that the right public key was given.");
    public static readonly DiagnosticDescriptor KeyFileExists = new("EB7006", "Key file already exists",
        "keygen never overwrites a key; choose another output name or delete the old key deliberately.");
    public static readonly DiagnosticDescriptor ChannelNameInvalid = new("EB7007", "Invalid channel",
        "A channel name is lower-case letters, digits and '-' (stable, canary, beta-2): it becomes the file name <channel>.json; --percent is 0 to 100.");
    public static readonly DiagnosticDescriptor HoldoutUnusable = new("EB7008", "Held-out data gives no output statistics",
        "--holdout (PackageHoldout) runs the package's ONNX artifact on the files: give images or .npy/.npz samples the model reads, for a model with an ONNX artifact and at least one float32, integer or bool output.");

    public static readonly DiagnosticDescriptor DeviceInvalid = new("EB8001", "Invalid device name or address",
        "A device name is letters, digits, '-', '_' and '.'; its address is ssh://user@host[:port]; an identity is a private key file the OpenSSH client can read. See docs/devices.md.");
    public static readonly DiagnosticDescriptor DeviceUnknown = new("EB8002", "Unknown device",
        "Add it with 'edgebuild device add NAME ssh://user@host[:port]'; 'edgebuild device list' shows the devices this user has.");
    public static readonly DiagnosticDescriptor DeviceUnreachable = new("EB8003", "Device unreachable",
        "Check that the device is on, on the network and runs an SSH server on that port ('ssh -p PORT user@host' from this machine); EdgeBuild gives up after the connect timeout (5 s).");
    public static readonly DiagnosticDescriptor DeviceAuthenticationFailed = new("EB8004", "Device refused the login",
        "EdgeBuild logs in with keys only (BatchMode, no passwords): add the public key to the device's ~/.ssh/authorized_keys, or name the private key with 'edgebuild device add NAME URL --identity KEY', or load it into ssh-agent.");
    public static readonly DiagnosticDescriptor DeviceHostKeyMismatch = new("EB8005", "Device's host key does not match known_hosts",
        "The device presented another host key than the one recorded on first contact: if the device was reinstalled, remove the old key with 'ssh-keygen -R HOST'; otherwise do not connect.");
    public static readonly DiagnosticDescriptor DeviceNoRunner = new("EB8006", "No measuring runner for the device",
        "The runner is the edgebuild CLI with ONNX Runtime's native library for the device's architecture (linux-x64, linux-arm64); publish one with 'dotnet publish src/EdgeBuild.Cli -r linux-arm64 --self-contained' and pass its folder with --runner, or install the .NET 10 runtime on the device for the framework-dependent runner.");
    public static readonly DiagnosticDescriptor DeviceDiskFull = new("EB8007", "Not enough disk space on the device",
        "The runner and the artifact are cached on the device (~/.cache/edgebuild-runner by default); free space there, remove old runners from that folder, or give the device another cache folder with 'edgebuild device add NAME URL --cache-dir DIR'.");
    public static readonly DiagnosticDescriptor DeviceRunnerFailed = new("EB8008", "Measuring runner failed on the device",
        "The runner exited with an error or printed no result; the message ends with its last lines. Run the same bench on the device by hand to see all of its output.");
    public static readonly DiagnosticDescriptor DeviceConfigUnreadable = new("EB8009", "Device list unreadable",
        "The user's device list (devices.json under $EDGEBUILD_CONFIG_HOME or ~/.config/edgebuild) is not valid JSON; fix it or delete it and add the devices again.");
    public static readonly DiagnosticDescriptor DeviceNoTensorRt = new("EB8010", "No TensorRT on the device",
        "Building an engine on the device needs TensorRT's trtexec there (on the PATH of a non-interactive login, or JetPack's /usr/src/tensorrt/bin/trtexec); install TensorRT or JetPack on the device.");
    public static readonly DiagnosticDescriptor DeviceEngineBuildFailed = new("EB8011", "TensorRT engine build failed on the device",
        "The kit's build-engine.sh exited with an error or wrote no engine; the message ends with its last lines (trtexec's own). Run 'sh NAME.build-engine.sh' in the kit folder on the device to see all of it.");
    public static readonly DiagnosticDescriptor NoTensorRtKit = new("EB8012", "No TensorRT kit in the folder",
        "Give the output folder of a compile with Targets including TensorRT (it holds NAME.build-engine.sh and the files it checks); with several kits there, name one with --name.");

    public static readonly DiagnosticDescriptor InternalError = new("EB9001", "Internal error",
        "This is a bug in EdgeBuild; please report it with the command line and the model. Set EDGEBUILD_DEBUG=1 for a stack trace.");
    public static readonly DiagnosticDescriptor InvalidArgument = new("EB9002", "Invalid command-line argument",
        "Run 'edgebuild --help' for the options.");

    /// <summary>Every descriptor, in code order (for the docs table and its test).</summary>
    public static IReadOnlyList<DiagnosticDescriptor> All { get; } =
        typeof(DiagnosticCodes).GetFields()
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => (DiagnosticDescriptor)f.GetValue(null)!)
            .OrderBy(d => d.Code, StringComparer.Ordinal)
            .ToList();
}
