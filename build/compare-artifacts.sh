#!/usr/bin/env bash
# Compiles one model with two builds of the edgebuild CLI and compares every artifact byte for byte (reports and
# manifests are left out: they record times). Used to show that a refactoring of the compile road changed no output.
# usage: build/compare-artifacts.sh OLD_EDGEBUILD_DLL NEW_EDGEBUILD_DLL MODEL.onnx [compile options...]
# prints one line per artifact ("same NAME" or "DIFF NAME"), the wall time and peak RSS of each compile; exit 1 on a difference.
set -euo pipefail
old=$1 new=$2 model=$3; shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
declare -A rc err
for side in old new; do
  dll=$old; [ "$side" = new ] && dll=$new
  mkdir -p "$work/$side"
  set +e
  /usr/bin/time -o "$work/$side.time" -f "$side: %e s, peak RSS %M KB" dotnet "$dll" compile "$model" --out "$work/$side" --no-measure -q "$@" 2> "$work/$side.err" > /dev/null
  rc[$side]=$?
  set -e
  cat "$work/$side.time"
  err[$side]=$(grep -m1 "error EB" "$work/$side.err" || true)
done
status=0
if [ "${rc[old]}" != 0 ] || [ "${rc[new]}" != 0 ]; then
  # A model a target cannot take fails on both sides with the same error, or the refactoring changed behaviour.
  if [ "${rc[old]}" = "${rc[new]}" ] && [ "${err[old]}" = "${err[new]}" ]; then echo "both failed: ${err[old]}"; exit 0; fi
  echo "DIFF exit codes old=${rc[old]} new=${rc[new]}: old '${err[old]}' new '${err[new]}'"; exit 1
fi
for f in "$work"/old/* "$work"/new/*; do
  name=$(basename "$f")
  case $name in *.edgemodel.json|report.*|*.options) continue ;; esac
  [ -e "$work/old/$name" ] && [ -e "$work/new/$name" ] || { echo "ONLY-ONE-SIDE $name"; status=1; continue; }
  [ "$f" = "$work/new/$name" ] && continue
  if cmp -s "$work/old/$name" "$work/new/$name"; then echo "same $name"; else echo "DIFF $name"; status=1; fi
done
exit $status
