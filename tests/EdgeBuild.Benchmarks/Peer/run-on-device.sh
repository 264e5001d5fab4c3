#!/bin/bash
# The one device command of the peer table (docs/quantization.md, "Peer table: ONNX Runtime's quantize_static"):
#   bash tests/EdgeBuild.Benchmarks/Peer/run-on-device.sh .peer-kit
# runs quantize_static_peer.py on the kit and leaves in $OUT what comes back: peer-run.json and the peer models as
# peer-models.tar.gz.0, .1, ... (15 MiB pieces: the device returns at most 8 files of 16 MiB, 64 MiB together).
set -euo pipefail
kit=${1:-.peer-kit}
: "${OUT:?OUT (the folder whose files come back) is not set: run this through the device tool}"
work=$(mktemp -d)
export PYTHONUNBUFFERED=1
python3 -c 'import onnxruntime, onnx, numpy; print("onnxruntime", onnxruntime.__version__, "onnx", onnx.__version__, "numpy", numpy.__version__)'
python3 tests/EdgeBuild.Benchmarks/Peer/quantize_static_peer.py run "$kit" "$work/out" --deadline "${PEER_DEADLINE:-240}"
cp "$work/out/peer-run.json" "$OUT/"
tar -C "$work/out" -czf "$work/peer-models.tar.gz" .
size=$(stat -c %s "$work/peer-models.tar.gz")
# 7 pieces and peer-run.json are the 8 files; together under 64 MiB with room for the JSON.
if [ "$size" -gt $((60 * 1048576)) ]; then
  echo "error: $work/peer-models.tar.gz: $size bytes, more than the 60 MiB a device call returns. Export fewer models per kit (peer-table --export --models)." >&2
  exit 1
fi
split -b 15M -d -a 1 "$work/peer-models.tar.gz" "$OUT/peer-models.tar.gz."
ls -l "$OUT"
