#!/usr/bin/env bash
# Runs cnnengine and its PyTorch peer (tools/pytorch_tutorial.py, the PyTorch CIFAR-10
# tutorial) one after the other on the CPU, with the same data, recipe (configs/
# simplecnn.json = the tutorial's) and thread count, and prints a markdown table.
#
# Usage: tools/bench_cpu_vs_pytorch.sh [--dataset SET] [--data DIR] [--threads N]
#                                      [--epochs N] [--train-limit N] [--build DIR]
#   --dataset SET      cifar10 (configs/simplecnn.json, the default) or fashion-mnist
#                      (configs/fashion_mnist.json; both programs take --dataset)
#   --data DIR         data folder (default: $CNNE_DATA, else ./data/cifar-10-batches-bin
#                      or, for fashion-mnist, /usr/share/datasets/fashion-mnist)
#   --threads N        CPU threads for both programs (default 1)
#   --epochs N         epochs for both programs (default 2)
#   --train-limit N    train on the first N images only (default 0 = all 50000)
#   --build DIR        cnnengine build folder (default ./build)
# Relative defaults are taken from the repository root; the PyTorch peer needs
# /usr/bin/python3 with torch and numpy (Debian: apt-get install python3-torch python3-numpy).
set -euo pipefail

usage() { sed -n '6,17p' "$0" | sed 's/^# \{0,1\}//'; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CALLER="$(pwd)"
PYTHON=/usr/bin/python3

# A user-given relative path is relative to where the script was started.
abspath() {
    case "$1" in
        /*) printf '%s' "$1" ;;
        *) if [ "$CALLER" = "$ROOT" ]; then printf '%s' "$1"; else printf '%s/%s' "$CALLER" "$1"; fi ;;
    esac
}

DATA="${CNNE_DATA:-}"
[ -n "$DATA" ] && DATA="$(abspath "$DATA")"
DATASET=cifar10
THREADS=1
EPOCHS=2
LIMIT=0
BUILD=build

need_value() { [ $# -ge 2 ] || { echo "error: $1 needs a value" >&2; usage >&2; exit 2; }; }
while [ $# -gt 0 ]; do
    case "$1" in
        --dataset) need_value "$@"; DATASET="$2"; shift 2 ;;
        --data) need_value "$@"; DATA="$(abspath "$2")"; shift 2 ;;
        --threads) need_value "$@"; THREADS="$2"; shift 2 ;;
        --epochs) need_value "$@"; EPOCHS="$2"; shift 2 ;;
        --train-limit) need_value "$@"; LIMIT="$2"; shift 2 ;;
        --build) need_value "$@"; BUILD="$(abspath "$2")"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "error: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

for pair in "threads:$THREADS" "epochs:$EPOCHS" "train-limit:$LIMIT"; do
    if ! [[ "${pair#*:}" =~ ^[0-9]+$ ]]; then
        echo "error: --${pair%%:*} must be a non-negative integer, got '${pair#*:}'" >&2
        exit 2
    fi
done
if [ "$THREADS" -lt 1 ] || [ "$EPOCHS" -lt 1 ]; then
    echo "error: --threads and --epochs must be at least 1" >&2
    exit 2
fi

case "$DATASET" in
    cifar10) CONFIG=configs/simplecnn.json; DATA="${DATA:-data/cifar-10-batches-bin}" ;;
    fashion-mnist) CONFIG=configs/fashion_mnist.json; DATA="${DATA:-/usr/share/datasets/fashion-mnist}" ;;
    *) echo "error: --dataset must be cifar10 or fashion-mnist, got '$DATASET'" >&2; exit 2 ;;
esac

cd "$ROOT"

CNNE="$BUILD/cnnengine"
if [ ! -x "$CNNE" ]; then
    echo "error: $CNNE not found; build cnnengine first, e.g.:" >&2
    echo "  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import torch, numpy' >/dev/null 2>&1; then
    echo "error: $PYTHON cannot import torch (and numpy), needed for the PyTorch peer." >&2
    echo "  Install Debian's CPU PyTorch: sudo apt-get install python3-torch python3-numpy" >&2
    exit 1
fi
if [ "$DATASET" = fashion-mnist ]; then
    if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ] && [ ! -f "$DATA/train-images-idx3-ubyte" ]; then
        echo "error: no Fashion-MNIST IDX files in $DATA (expected train-images-idx3-ubyte.gz, ...)" >&2
        echo "  install Debian's dataset-fashion-mnist, or pass --data DIR" >&2
        exit 1
    fi
elif [ ! -f "$DATA/data_batch_1.bin" ] && [ ! -f "$DATA/cifar-10-batches-bin/data_batch_1.bin" ]; then
    echo "error: no CIFAR-10 binary files in $DATA (expected data_batch_1..5.bin, test_batch.bin)" >&2
    echo "  get https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz and extract it, or pass --data DIR" >&2
    exit 1
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/bench_cpu_vs_pytorch.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

CNNE_CMD=("$CNNE" train "$CONFIG" --device cpu --threads "$THREADS"
          --data "$DATA" --epochs "$EPOCHS" --train-limit "$LIMIT"
          --out "$TMP/cnnengine.safetensors")
PEER_CMD=("$PYTHON" tools/pytorch_tutorial.py --dataset "$DATASET" --data "$DATA" --threads "$THREADS"
          --epochs "$EPOCHS" --train-limit "$LIMIT")
# The tutorial's DataLoader uses 2 worker processes; on a small machine they
# compete with the training for cores, so PyTorch is also run with the data
# loaded in-process (num_workers=0): its best case, the compute-only comparison.
PEER0_CMD=("${PEER_CMD[@]}" --workers 0)

show_cmd() { local q; q="$(printf '%q ' "$@")"; printf '%s' "${q% }"; }

# run NAME LOG CMD...: runs CMD with its output in LOG; on failure shows the log's end.
run() {
    local name="$1" log="$2"; shift 2
    echo "running $name ..." >&2
    local start end
    start=$(date +%s)
    if ! "$@" >"$log" 2>&1; then
        echo "error: $name failed; the end of its output:" >&2
        tail -n 30 "$log" >&2
        exit 1
    fi
    end=$(date +%s)
    echo "  done in $((end - start)) s" >&2
}

run cnnengine "$TMP/cnnengine.log" "${CNNE_CMD[@]}"
run "PyTorch peer" "$TMP/pytorch.log" env OMP_NUM_THREADS="$THREADS" "${PEER_CMD[@]}"
run "PyTorch peer, workers 0" "$TMP/pytorch0.log" env OMP_NUM_THREADS="$THREADS" "${PEER0_CMD[@]}"

# Mean seconds per epoch and mean images/s over the log's
# "Epoch E: B batches in S s, R images/s[, ...]" lines.
epoch_means() {
    awk '/^Epoch [0-9]+: [0-9]+ batches in / {
            for (i = 1; i <= NF; i++) {
                if ($i == "s,") s += $(i - 1)
                if ($i == "images/s" || $i == "images/s,") r += $(i - 1)
            }
            n++
         }
         END { if (n) printf "%.3f %.0f\n", s / n, r / n; else print "NA NA" }' "$1"
}
# The final "Accuracy of the network on the N test images: X%".
test_accuracy() {
    awk '/^Accuracy of the network on the [0-9]+ test images:/ { a = $NF; sub(/%$/, "", a) }
         END { if (a != "") printf "%.2f%%\n", a; else print "NA" }' "$1"
}

read -r CN_SEC CN_IPS < <(epoch_means "$TMP/cnnengine.log")
read -r PT_SEC PT_IPS < <(epoch_means "$TMP/pytorch.log")
read -r P0_SEC P0_IPS < <(epoch_means "$TMP/pytorch0.log")
P0_ACC="$(test_accuracy "$TMP/pytorch0.log")"
CN_ACC="$(test_accuracy "$TMP/cnnengine.log")"
PT_ACC="$(test_accuracy "$TMP/pytorch.log")"
PT_THREADS="$(awk '/^RESULT peer=pytorch/ { for (i = 1; i <= NF; i++) if ($i ~ /^threads=/) { sub(/^threads=/, "", $i); print $i } }' "$TMP/pytorch.log")"
PT_THREADS="${PT_THREADS:-$THREADS}"

if [ "$CN_SEC" = NA ] || [ "$PT_SEC" = NA ]; then
    echo "error: could not find the per-epoch timing lines in the logs" >&2
    exit 1
fi
ratio() { awk -v p="$1" -v c="$2" 'BEGIN { if (c > 0 && p != "NA") printf "%.2f", p / c; else print "NA" }'; }
SPEEDUP="$(ratio "$PT_SEC" "$CN_SEC")"
SPEEDUP0="$(ratio "$P0_SEC" "$CN_SEC")"

CPU_MODEL="$(lscpu 2>/dev/null | awk -F: '/^Model name/ { sub(/^[ \t]+/, "", $2); print $2; exit }')"
CPU_MODEL="${CPU_MODEL:-unknown}"
if [ "$LIMIT" -gt 0 ]; then TRAIN_DESC="first $LIMIT training images"; else TRAIN_DESC="all training images"; fi

echo "CPU benchmark ($DATASET), $(date -u +%F): nproc $(nproc), CPU $CPU_MODEL, $THREADS thread(s), $EPOCHS epoch(s), $TRAIN_DESC"
echo
echo "Commands (run from the repository root):"
echo "- cnnengine: \`$(show_cmd "${CNNE_CMD[@]}")\`"
echo "- PyTorch:   \`OMP_NUM_THREADS=$THREADS $(show_cmd "${PEER_CMD[@]}")\` (and again with \`--workers 0\`)"
echo
echo "| program | threads | s/epoch | images/s | test accuracy |"
echo "|---|---:|---:|---:|---:|"
printf '| cnnengine | %s | %.2f | %s | %s |\n' "$THREADS" "$CN_SEC" "$CN_IPS" "$CN_ACC"
printf '| PyTorch %s (tutorial) | %s | %.2f | %s | %s |\n' \
    "$("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null)" \
    "$PT_THREADS" "$PT_SEC" "$PT_IPS" "$PT_ACC"
printf '| PyTorch, DataLoader num_workers=0 | %s | %.2f | %s | %s |\n' \
    "$PT_THREADS" "$P0_SEC" "$P0_IPS" "$P0_ACC"
echo
echo "speedup (PyTorch s/epoch / cnnengine s/epoch): ${SPEEDUP}x as the tutorial runs it, ${SPEEDUP0}x against num_workers=0"
