#!/usr/bin/env bash
# Side-by-side GPU benchmark (issue 4): cnnengine and PyTorch on the same GPU,
# same data, same recipe, one after the other, in one call. Prints a markdown
# table (and writes it to --report).
#
#   tools/bench_gpu.sh --bin BUILD/cnnengine --data DIR [--report FILE] [--quick] [--parts abc]
#                      [--logs DIR] [--dataset fashion-mnist]
#
#   (a) the tutorial (batch 4, 2 epochs; --quick: 1 epoch on 10,000 images):
#       cnnengine eager, --graph and --fused-step, tools/pytorch_tutorial.py --device cuda
#   (b) SimpleCNN at batch 4, ms per step: cnnengine bench eager, --graph, --fused-step
#       (its log has the time of each fused phase; then with 16, 33 and 66 blocks);
#       at batch 256, images/s: cnnengine bench --graph (and with --no-fusion, the
#       cost of unfused ReLUs) vs tools/pytorch_bench.py
#       --dataset fashion-mnist: (a) on Fashion-MNIST (configs/fashion_mnist.json, the
#       same recipe on 60,000 grayscale images; --data is the folder of its IDX files)
#   (c) ResNet-18 (CIFAR) at batch 256, images/s: cnnengine bench (fp32, TF32, bf16,
#       fp16, each NCHW and --channels-last) vs PyTorch fp32, channels_last, and bf16 autocast
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=""; data=""; report=""; quick=0; parts=abc; logs=""; dataset=cifar10
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --report) report="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    --parts) parts="$2"; shift 2 ;;
    --logs) logs="$2"; shift 2 ;;
    --dataset) dataset="$2"; shift 2 ;;
    *) echo "bench_gpu: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] && [ -d "$data" ] || { echo "bench_gpu: needs --bin and --data" >&2; exit 2; }
case "$dataset" in
  cifar10) tutorial_config="$here/configs/simplecnn.json"; label=tutorial ;;
  fashion-mnist) tutorial_config="$here/configs/fashion_mnist.json"; label="fashion-mnist tutorial" ;;
  *) echo "bench_gpu: --dataset must be cifar10 or fashion-mnist" >&2; exit 2 ;;
esac
copy_logs=0
if [ -z "$logs" ]; then logs=$(mktemp -d); copy_logs=1; else mkdir -p "$logs"; fi
limit=(); [ $quick -eq 1 ] && limit=(--epochs 1 --train-limit 10000)
rows=()
# Each run under a limit of its own (one that hangs costs its minutes, not the
# call's), in this script's process group, so it dies with an outer timeout.
limited() { local secs=$1; shift; timeout --foreground -k 10 "$secs" "$@"; }
# The table, rewritten after every row: a call cut at its limit keeps the rows it finished.
table() {
  echo "## GPU benchmark, $(date -u +%F), $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null)"
  echo
  echo "| what | time or throughput | wall | accuracy / note |"
  echo "|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
}
row() {
  rows+=("| $1 | $2 | $3 | $4 |"); echo "== $1 | $2 | $3 | $4"
  [ -z "$report" ] || table > "$report"
}
secs() { awk '/^Epoch [0-9]+: [0-9]+ batches in/ {for (i=1;i<=NF;i++) if ($i=="s,") s+=$(i-1); n++} END {if (n) printf "%.2f s/epoch", s/n}' "$1"; }
acc() { grep -oE 'test images: [0-9.]+%' "$1" | tail -1 | grep -oE '[0-9.]+%'; }

# (a) the tutorial
for mode in eager graph fused; do
  [[ $parts == *a* ]] || break
  flag=(--no-graph); [ $mode = graph ] && flag=(--graph); [ $mode = fused ] && flag=(--fused-step)
  start=$(date +%s.%N)
  limited 150 "$bin" train "$tutorial_config" --device cuda --data "$data" "${limit[@]}" "${flag[@]}" \
    --out "$logs/tutorial_$mode.safetensors" > "$logs/tutorial_$mode.log" 2>&1
  rc=$?; wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  row "$label, cnnengine $mode" "$(secs "$logs/tutorial_$mode.log")" "wall $wall s, rc $rc" "$(acc "$logs/tutorial_$mode.log")"
done
if [[ $parts == *a* ]]; then
  start=$(date +%s.%N)
  PYTHONUNBUFFERED=1 limited 240 python3 "$here/tools/pytorch_tutorial.py" --device cuda --dataset "$dataset" \
    --data "$data" "${limit[@]}" > "$logs/tutorial_pytorch.log" 2>&1
  rc=$?; wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  row "$label, PyTorch $(python3 -c 'import torch; print(torch.__version__)')" \
    "$(secs "$logs/tutorial_pytorch.log")" "wall $wall s, rc $rc" "$(acc "$logs/tutorial_pytorch.log")"
fi

# (b), (c) throughput on synthetic batches
ips() { grep -oE '[0-9]+ images/s' "$1" | tail -1; }
if [[ $parts == *b* ]]; then  # the tutorial's batch of 4: the time of one step
  limited 90 "$bin" bench "$here/configs/simplecnn.json" --device cuda --batch-size 4 --steps 2000 --warmup 100 \
    --graph --fused-step > "$logs/bench_simplecnn_b4.log" 2>&1
  row "simplecnn batch 4, cnnengine step" \
    "$(grep -oE '^step \(forward.*: [0-9.]+ ms' "$logs/bench_simplecnn_b4.log" | grep -oE '[0-9.]+ ms') eager" \
    "graph $(grep -oE 'CUDA graph: [0-9.]+ ms' "$logs/bench_simplecnn_b4.log" | grep -oE '[0-9.]+ ms')" \
    "fused $(grep -oE '^fused step: [0-9.]+ ms' "$logs/bench_simplecnn_b4.log" | grep -oE '[0-9.]+ ms')"
  for blocks in 16 33 66; do  # fewer blocks: cheaper grid barriers, fewer threads per phase
    limited 90 "$bin" bench "$here/configs/simplecnn.json" --device cuda --batch-size 4 --steps 2000 \
      --warmup 100 --fused-step --fused-blocks $blocks > "$logs/bench_simplecnn_b4_blocks$blocks.log" 2>&1
    row "simplecnn batch 4, cnnengine fused, $blocks blocks" \
      "$(grep -oE '^fused step: [0-9.]+ ms' "$logs/bench_simplecnn_b4_blocks$blocks.log" | grep -oE '[0-9.]+ ms')" "" "bench --fused-blocks"
  done
  PYTHONUNBUFFERED=1 limited 90 python3 "$here/tools/pytorch_bench.py" --device cuda --batch 4 --steps 2000 \
    --warmup 100 > "$logs/bench_simplecnn_b4_pytorch.log" 2>&1
  row "simplecnn batch 4, PyTorch step" "$(grep -oE 'ms_per_step=[0-9.]+' "$logs/bench_simplecnn_b4_pytorch.log")" "" "pytorch_bench"
fi
models=(); [[ $parts == *b* ]] && models+=(simplecnn); [[ $parts == *c* ]] && models+=(resnet18)
for model in "${models[@]}"; do
  cfg="$here/configs/$model.json"
  limited 90 "$bin" bench "$cfg" --device cuda --batch-size 256 --steps 50 --warmup 10 --graph \
    > "$logs/bench_$model.log" 2>&1
  row "$model batch 256, cnnengine fp32" "$(grep -oE 'step \(forward.*' "$logs/bench_$model.log" | grep -oE '[0-9]+ images/s')" \
    "graph: $(grep -oE 'CUDA graph: .*' "$logs/bench_$model.log" | grep -oE '[0-9]+ images/s')" "bench"
  variants=(tf32 bf16 fp16)
  [ $model = resnet18 ] && variants+=(tf32-nhwc bf16-nhwc fp16-nhwc)  # --channels-last
  for precision in "${variants[@]}"; do
    flag=(--precision ${precision%-nhwc}); [ ${precision%-nhwc} = tf32 ] && flag=(--tf32)
    [[ $precision == *-nhwc ]] && flag+=(--channels-last)
    limited 90 "$bin" bench "$cfg" --device cuda --batch-size 256 --steps 50 --warmup 10 --graph "${flag[@]}" \
      > "$logs/bench_${model}_$precision.log" 2>&1
    row "$model batch 256, cnnengine $precision" \
      "$(grep -oE 'step \(forward.*' "$logs/bench_${model}_$precision.log" | grep -oE '[0-9]+ images/s')" \
      "graph: $(grep -oE 'CUDA graph: .*' "$logs/bench_${model}_$precision.log" | grep -oE '[0-9]+ images/s')" "bench"
  done
  if [ $model = simplecnn ]; then
    limited 90 "$bin" bench "$cfg" --device cuda --batch-size 256 --steps 50 --warmup 10 --graph --no-fusion \
      > "$logs/bench_${model}_unfused.log" 2>&1
    row "$model batch 256, cnnengine fp32 --no-fusion" \
      "$(grep -oE 'step \(forward.*' "$logs/bench_${model}_unfused.log" | grep -oE '[0-9]+ images/s')" \
      "graph: $(grep -oE 'CUDA graph: .*' "$logs/bench_${model}_unfused.log" | grep -oE '[0-9]+ images/s')" "bench"
  fi
  # PyTorch's default fp32 convolutions use TF32 tensor cores (cudnn.allow_tf32);
  # --no-tf32 is strict FP32 like cnnengine's fp32.
  for variant in "--no-tf32" "" "--channels-last" "--channels-last --amp bf16"; do
    limited 90 python3 "$here/tools/pytorch_bench.py" --model $model --batch 256 --steps 50 --warmup 10 $variant \
      > "$logs/pytorch_$model.log" 2>&1
    cat "$logs/pytorch_$model.log" >> "$logs/pytorch_${model}_all.log"
    row "$model batch 256, PyTorch ${variant:-fp32 (TF32 convolutions, the default)}" "$(grep -oE 'images_per_second=[0-9]+' "$logs/pytorch_$model.log")" "" "pytorch_bench"
  done
done

table | tee "${report:-/dev/null}"
[ -n "${OUT:-}" ] && [ $copy_logs -eq 1 ] && cp "$logs"/*.log "$OUT"/ 2>/dev/null
exit 0
