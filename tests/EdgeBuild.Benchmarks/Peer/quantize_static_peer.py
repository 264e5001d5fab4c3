#!/usr/bin/env python3
"""The peer side of issue 13's peer table: ONNX Runtime's own static quantizer on the kit that
`peer-table --export` wrote (docs/quantization.md, "Peer table: ONNX Runtime's quantize_static").

    python3 quantize_static_peer.py run KIT_DIR OUT_DIR [--deadline SECONDS]

For each model of KIT_DIR/kit.json: unpack KIT_DIR/<id>.tar.gz (the optimized FP32 model our builds start from and
its calibration inputs, raw little-endian tensors), convert a model below opset 13 to 13 (per-channel QDQ needs it),
run quant_pre_process, then quantize_static with QDQ, per-channel weights and everything else at its defaults, and
write OUT_DIR/models/<id>.qdq.onnx. OUT_DIR/peer-run.json says what
ran: versions, the options, seconds and the error of each model. Each model runs in a child process with a time limit
(four at a time), so one model that fails or hangs is a row with its error, not the end of the run.
"""
import argparse
import concurrent.futures
import inspect
import json
import os
import platform
import subprocess
import sys
import tarfile
import time

RUN_FORMAT = "edgebuild-peer-run/1"
KIT_FORMAT = "edgebuild-peer-kit/1"


def quantize_one(kit_dir, model, out_dir, work):
    """Runs in the child process: pre-process, calibrate and quantize one model; returns its row."""
    import numpy as np
    import onnx
    import onnx.version_converter
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tarfile.open(os.path.join(kit_dir, model["archive"]), "r:gz") as archive:
        archive.extractall(work, filter="data")

    samples = [{t["name"]: np.fromfile(os.path.join(work, t["file"]), dtype=np.dtype(t["dtype"]).newbyteorder("<"))
                .reshape(t["shape"]) for t in sample} for sample in model["calibration"]]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(samples)

        def get_next(self):
            return next(self.items, None)

    row = {"preProcessError": None, "opsetConverted": None}
    source = os.path.join(work, "model.onnx")
    # quantize_static with per_channel=True raises "Per-Channel support with QDQ format requires onnx opset version 13
    # or above." (qdq_quantizer.py); ONNX's version converter is the fix its users apply, so a model below 13 gets it.
    fp32 = onnx.load(source)
    opset = next(o.version for o in fp32.opset_import if o.domain in ("", "ai.onnx"))
    if opset < 13:
        converted = os.path.join(work, "model-opset13.onnx")
        onnx.save(onnx.version_converter.convert_version(fp32, 13), converted)
        source = converted
        row["opsetConverted"] = f"{opset} -> 13"
    # quantize_static warns "Please consider to run pre-processing before quantization" on a model without
    # quant_pre_process's metadata, and ORT's quantization example (onnxruntime-inference-examples,
    # quantization/image_classification/cpu/ReadMe.md) runs it first: a user following the docs runs it, so we do.
    # Where it fails, the user would quantize the model as it is: so do we, and the row says why.
    pre = os.path.join(work, "model-pre.onnx")
    try:
        quant_pre_process(source, pre)
        source = pre
    except Exception as e:  # noqa: BLE001 - any failure of the pre-processing is reported, not fatal
        row["preProcessError"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"

    # quantize_static's defaults (onnxruntime/python/tools/quantization/quantize.py as read at microsoft/onnxruntime
    # e434a68; peer-run.json records the installed version's own, from its signature): QuantFormat.QDQ,
    # activation_type=QInt8, weight_type=QInt8 ("recommended ... QDQ format from 1.11 with activation_type = QInt8 and
    # weight_type = QInt8"), calibrate_method=MinMax, reduce_range=False. Only per_channel is set (issue 13: "QDQ,
    # per-channel, its default calibrator"); the QDQ format is named although it is the default.
    os.makedirs(os.path.join(out_dir, "models"), exist_ok=True)
    target = os.path.join(out_dir, "models", model["id"] + ".qdq.onnx")
    quantize_static(source, target, Reader(), quant_format=QuantFormat.QDQ, per_channel=True)
    row["peer"] = "models/" + model["id"] + ".qdq.onnx"
    return row


def options_used():
    """quantize_static's parameters with the values this run passes or leaves at the installed version's defaults."""
    from onnxruntime.quantization import quantize_static
    used = {name: repr(p.default) for name, p in inspect.signature(quantize_static).parameters.items()
            if p.default is not inspect.Parameter.empty}
    used.update(quant_format="QuantFormat.QDQ", per_channel="True")
    return used


def run(kit_dir, out_dir, deadline, per_model, workers):
    import numpy
    import onnx
    import onnxruntime

    with open(os.path.join(kit_dir, "kit.json"), encoding="utf-8") as f:
        kit = json.load(f)
    if kit.get("format") != KIT_FORMAT:
        sys.exit(f"error: {kit_dir}/kit.json: format {kit.get('format')!r}, expected {KIT_FORMAT}. Export the kit again.")
    os.makedirs(out_dir, exist_ok=True)
    report = {
        "format": RUN_FORMAT,
        "kitFormat": kit["format"], "heldOut": kit["heldOut"], "calibration": kit["calibration"],
        "onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__, "numpy": numpy.__version__,
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
        "quantizeStatic": options_used(), "preProcess": "quant_pre_process(input, output) at its defaults",
        "leftOutOfKit": kit.get("leftOut", []), "workers": workers, "models": [],
    }
    start = time.monotonic()

    def quantize(model):
        row = {"id": model["id"], "fp32Sha256": model["sha256"], "calibrationSha256": model["calibrationSha256"],
               "peer": None, "seconds": None, "error": None, "preProcessError": None, "opsetConverted": None}
        left = deadline - (time.monotonic() - start)
        if left < 10:
            row["error"] = f"not run: the script's {deadline:.0f} s were spent on the models before it"
            return row
        t0 = time.monotonic()
        child = [sys.executable, os.path.abspath(__file__), "one", kit_dir, model["id"], out_dir]
        try:
            done = subprocess.run(child, capture_output=True, text=True, timeout=min(per_model, left))
            if done.returncode == 0:
                row.update(json.loads(done.stdout.strip().splitlines()[-1]))
            else:
                lines = [l for l in done.stderr.strip().splitlines() if l.strip()]
                row["error"] = lines[-1] if lines else f"exit code {done.returncode}"
        except subprocess.TimeoutExpired:
            row["error"] = f"timed out after {min(per_model, left):.0f} s"
        row["seconds"] = round(time.monotonic() - t0, 2)
        return row

    # A few models at a time: pre-processing and opset conversion are single-threaded Python, and the device has 16
    # cores; a row's seconds are therefore wall time beside other models, not alone.
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(quantize, m) for m in kit["models"]]:
            row = future.result()
            print(f"{row['id']}: {row['error'] or 'quantized'} ({row['seconds']} s)", flush=True)
            report["models"].append(row)
            # Written after every model, so a run killed at the device's limit still says what it did.
            with open(os.path.join(out_dir, "peer-run.json"), "w", encoding="utf-8") as f:
                json.dump(report, f, indent=2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="verb", required=True)
    r = sub.add_parser("run")
    r.add_argument("kit")
    r.add_argument("out")
    r.add_argument("--deadline", type=float, default=240, help="seconds for all models together")
    r.add_argument("--per-model", type=float, default=120, help="seconds one model may take")
    r.add_argument("--workers", type=int, default=4, help="models quantized at once")
    one = sub.add_parser("one")
    one.add_argument("kit")
    one.add_argument("id")
    one.add_argument("out")
    args = parser.parse_args()
    if args.verb == "run":
        run(args.kit, args.out, args.deadline, args.per_model, args.workers)
        return
    import tempfile
    with open(os.path.join(args.kit, "kit.json"), encoding="utf-8") as f:
        model = next(m for m in json.load(f)["models"] if m["id"] == args.id)
    with tempfile.TemporaryDirectory(prefix="peer-") as work:
        row = quantize_one(args.kit, model, args.out, work)
    print(json.dumps(row))


if __name__ == "__main__":
    main()
