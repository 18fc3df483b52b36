#!/usr/bin/env bash
# Times one training step on the CPU, cnnengine (`cnnengine bench`) against
# PyTorch (tools/pytorch_bench.py), back to back for each thread count, model
# and batch size, and prints a markdown table. Both time the same step on a
# synthetic batch (forward, cross-entropy, backward, SGD momentum update), no
# data loading on either side.
#
# Usage: tools/bench_cpu_step.sh [--threads "1 2"] [--build DIR] [--quick]
#   --threads LIST   thread counts (default "1 2"); both programs get the same
#   --build DIR      cnnengine build folder (default ./build)
#   --quick          fewer steps (a smoke test of the script, not a measurement)
set -euo pipefail

usage() { sed -n '8,11p' "$0" | sed 's/^# \{0,1\}//'; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON=/usr/bin/python3
THREADS="1 2"
BUILD="$ROOT/build"
QUICK=0
while [ $# -gt 0 ]; do
    case "$1" in
        --threads) [ $# -ge 2 ] || { usage >&2; exit 2; }; THREADS="$2"; shift 2 ;;
        --build) [ $# -ge 2 ] || { usage >&2; exit 2; }; BUILD="$2"; shift 2 ;;
        --quick) QUICK=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "error: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
for t in $THREADS; do
    [[ "$t" =~ ^[1-9][0-9]*$ ]] || { echo "error: --threads takes positive integers, got '$t'" >&2; exit 2; }
done
CNNE="$BUILD/cnnengine"
[ -x "$CNNE" ] || { echo "error: $CNNE not found; build cnnengine first" >&2; exit 1; }
"$PYTHON" -c 'import torch' >/dev/null 2>&1 ||
    { echo "error: $PYTHON cannot import torch (apt-get install python3-torch)" >&2; exit 1; }
cd "$ROOT"

# model config batch steps
CASES=("simplecnn configs/simplecnn.json 4 2000"
       "simplecnn configs/simplecnn.json 64 100"
       "simplecnn configs/simplecnn.json 256 30"
       "resnet18 configs/resnet18.json 8 4")

echo "CPU step benchmark, $(date -u +%F): nproc $(nproc), $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)," \
     "$("$CNNE" info | sed -n 's/^BLAS kernels: //p'), PyTorch $("$PYTHON" -c 'import torch; print(torch.__version__)')"
echo
echo "| model | batch | threads | cnnengine ms/step | PyTorch ms/step | faster |"
echo "|---|---:|---:|---:|---:|---|"
for t in $THREADS; do
    for c in "${CASES[@]}"; do
        read -r model config batch steps <<<"$c"
        warmup=$((steps / 10 + 1))
        [ "$QUICK" = 1 ] && steps=2 && warmup=1
        ours="$("$CNNE" bench "$config" --device cpu --threads "$t" --batch-size "$batch" \
                 --steps "$steps" --warmup "$warmup" | sed -n 's/^step (.*): \([0-9.]*\) ms.*/\1/p')"
        peer="$(OMP_NUM_THREADS="$t" "$PYTHON" tools/pytorch_bench.py --device cpu --model "$model" \
                 --batch "$batch" --steps "$steps" --warmup "$warmup" --threads "$t" |
                 sed -n 's/.*ms_per_step=\([0-9.]*\).*/\1/p')"
        verdict="$(awk -v a="$ours" -v b="$peer" 'BEGIN {
            if (a == "" || b == "") print "n/a"; else if (a <= b) printf "cnnengine %.2fx", b / a;
            else printf "PyTorch %.2fx", a / b }')"
        echo "| $model | $batch | $t | ${ours:-failed} | ${peer:-failed} | $verdict |"
    done
done
