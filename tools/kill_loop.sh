#!/usr/bin/env bash
# SIGKILL torture test for checkpoints (issue 6): starts a training run with
# frequent periodic checkpoints, kills it with SIGKILL at a random moment,
# checks that every checkpoint on disk is whole (`cnnengine inspect`), resumes
# from the main one, and repeats. At the end the run is completed by resuming
# and its weights must equal, bit for bit, those of an uninterrupted run.
#
#   tools/kill_loop.sh [--iterations N] [--build DIR] [--data DIR]
#
# Default data: a synthetic CIFAR-10 folder of 400 training images (made here).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
iterations=50
bin="$root/build/cnnengine"
data=""
while [ $# -gt 0 ]; do
  case "$1" in
    --iterations) iterations="$2"; shift 2 ;;
    --build) bin="$2/cnnengine"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    *) echo "kill_loop: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] || { echo "kill_loop: no $bin; build first" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "$data" ]; then
  data="$work/data"
  mkdir -p "$data"
  python3 "$root/tools/make_synthetic_cifar.py" "$data" 80
fi
common=(--device cpu --no-eval --deterministic --data "$data" --epochs 30 --log-every 1000
        --checkpoint-every-steps 5 --keep-checkpoints 2)
"$bin" train "${common[@]}" --out "$work/full.safetensors" > /dev/null
expected=$("$bin" inspect "$work/full.safetensors" | awk '/weights digest/ {print $3}')

ckpt="$work/run.safetensors"
kills=0
for i in $(seq 1 "$iterations"); do
  if [ -f "$ckpt" ]; then args=(train --resume "$ckpt" --device cpu --no-eval --data "$data")
  else args=(train "${common[@]}" --out "$ckpt"); fi
  "$bin" "${args[@]}" > /dev/null 2>&1 &
  pid=$!
  sleep "0.$((RANDOM % 9 + 1))"
  if kill -9 "$pid" 2> /dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2> /dev/null || true
  for f in "$ckpt" "${ckpt%.safetensors}".step-*.safetensors; do
    [ -f "$f" ] || continue
    if ! "$bin" inspect "$f" > "$work/inspect.log" 2>&1; then
      echo "kill_loop: iteration $i left a broken checkpoint $f:"; cat "$work/inspect.log"; exit 1
    fi
  done
  if [ -f "$ckpt" ] && "$bin" inspect "$ckpt" | grep -q '"status":"complete"'; then
    rm -f "$work"/run*  # finished between kills: start over
  fi
done
# Finish the run and compare with the uninterrupted one.
if [ -f "$ckpt" ]; then
  "$bin" train --resume "$ckpt" --device cpu --no-eval --data "$data" > /dev/null 2>&1 || true
else
  "$bin" train "${common[@]}" --out "$ckpt" > /dev/null
fi
got=$("$bin" inspect "$ckpt" | awk '/weights digest/ {print $3}')
echo "kill_loop: $iterations iterations, $kills SIGKILLs, every checkpoint whole"
if [ "$got" = "$expected" ]; then
  echo "kill_loop: resumed run equals the uninterrupted one (weights digest $got)"
else
  echo "kill_loop: MISMATCH: resumed $got, uninterrupted $expected"; exit 1
fi
