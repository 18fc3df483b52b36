#!/usr/bin/env bash
# The device check (issue 3): verifies the GPU path on a machine with an NVIDIA
# GPU in one go, from a build made elsewhere (tools/device_bundle.sh) or here.
#
#   tools/device_check.sh [--build DIR] [--data DIR] [--report FILE] [--skip-peer] [--quick]
#                         [--bench]
#
# With no --build, it unpacks .device-data/bundle.tar.xz into /tmp/cnne-device;
# with no --data, it extracts the CIFAR-10 parts found in .device-data/ into
# /tmp/cnne-device/data (kept while the machine stays warm, so parts 2 and 3
# can follow in later calls) and uses what is there.
#
# Steps, each reported as PASS/FAIL/SKIP with its numbers:
#   1. environment: nvidia-smi, `cnnengine info`
#   2. the whole test suite (GPU-vs-CPU layer tables, whole-network K steps,
#      PyTorch fixtures on the GPU, no allocation inside steps)
#   3. compute-sanitizer memcheck and racecheck on short GPU training runs, and
#      a deterministic GPU run stopped and resumed against an uninterrupted one
#      and short bf16/fp16 runs (the tutorial, a ResNet-18 bf16 step)
#   4. the tutorial trained on the GPU on the CIFAR-10 found in --data
#      (all five training batches if present, else what is there)
#   5. the tutorial's PyTorch program on the same GPU, same data (--skip-peer skips)
#   6. with --bench: tools/bench_gpu.sh (eager and graph tutorial against PyTorch,
#      SimpleCNN and ResNet-18 images/s at batch 256 against PyTorch)
# The report (markdown) goes to --report (default $OUT/device_report.md when
# $OUT is set, else ./device_report.md). docs/DEVICE.md says how to run it.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
stage=/tmp/cnne-device
build=""
data=""
report="${OUT:+$OUT/device_report.md}"
report="${report:-$here/device_report.md}"
skip_peer=0
quick=0
bench=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --report) report="$2"; shift 2 ;;
    --skip-peer) skip_peer=1; shift ;;
    --quick) quick=1; shift ;;
    --bench) bench=1; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "device_check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$build" ]; then
  build="$stage/build"
  if [ -f "$here/.device-data/bundle.tar.xz" ]; then
    mkdir -p "$build" && tar -xJf "$here/.device-data/bundle.tar.xz" -C "$build"
  fi
fi
if [ -z "$data" ]; then
  mkdir -p "$stage/data"
  for part in "$here"/.device-data/cifar-10-batches-bin.*-of-3.tar.xz; do
    [ -f "$part" ] || continue
    xz -dc "$part" | tar -xf - -C "$stage/data" && echo "extracted $(basename "$part")"
  done
  [ -d "$stage/data/cifar-10-batches-bin" ] && data="$stage/data/cifar-10-batches-bin"
fi
bin="$build/cnnengine"
tests="$build/tests/cnne_tests"
[ -x "$bin" ] || { echo "device_check: $bin not found; run tools/device_bundle.sh first" >&2; exit 2; }
logs=$(mktemp -d)

# Libraries: the bundle's own (OpenBLAS & co.), then cuDNN/cuBLAS from CUDA or from PyTorch's wheels.
libpath="$build/lib"
for py in python3 /opt/torch/.venv/bin/python3; do
  site=$("$py" -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null) || continue
  for s in $site; do
    for sub in cudnn cublas cuda_runtime cu13; do
      for d in "$s/nvidia/$sub/lib" "$s/nvidia/$sub/lib64"; do
        [ -d "$d" ] && libpath="$libpath:$d"
      done
    done
  done
done
export PATH="$PATH:/usr/local/cuda/bin"
export LD_LIBRARY_PATH="$libpath:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"

results=()
note() { results+=("| $1 | $2 | $3 |"); echo "== $1: $2 $3"; }

{
  echo "# cnnengine device check"
  echo
  echo "- date: $(date -u '+%F %T UTC')"
  echo "- host: $(uname -n), $(nproc) CPU cores"
  echo "- GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'nvidia-smi unavailable')"
  echo "- commit: $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo
  echo '```'
  "$bin" info 2>&1
  echo '```'
} > "$logs/head.md"
cat "$logs/head.md"

# 2. tests (built elsewhere: tell them where this checkout and the binary are)
export CNNE_TEST_SOURCE_DIR="$here" CNNE_TEST_BINARY="$bin"
if [ -x "$tests" ]; then
  # A GPU test that skips ("no GPU: ...") found no usable GPU: that fails the
  # step. Tests that skip by design on a GPU machine are left out: the no-GPU
  # CLI message and the real-data CPU runs (minutes, and no data path is set).
  "$tests" --gtest_brief=1 --gtest_filter='-Cli.NoGpuMeansCudaIsRefusedClearly:EndToEnd.*' \
    > "$logs/tests.log" 2>&1
  rc=$?
  summary=$(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$logs/tests.log" | tr '\n' ' ')
  gpu_skipped=$(grep -c '^no GPU:' "$logs/tests.log" || true)
  if [ $rc -eq 0 ] && [ "${gpu_skipped:-0}" = 0 ]; then note "test suite" PASS "$summary"
  else note "test suite" FAIL "rc=$rc $summary (GPU tests skipped: ${gpu_skipped:-0})"; fi
  grep -E 'FAILED|Failure|worst element|gpu ' "$logs/tests.log" | head -40 > "$logs/test_failures.txt"
else
  note "test suite" SKIP "no $tests in the bundle"
fi

# 3. memcheck on a short run (on synthetic CIFAR-10 files when no data is here)
memdata="$data"
if [ -z "$memdata" ]; then
  memdata="$stage/synthetic"
  mkdir -p "$memdata"
  python3 "$here/tools/make_synthetic_cifar.py" "$memdata" 200
fi
if command -v compute-sanitizer > /dev/null; then
  compute-sanitizer --tool memcheck --leak-check full --error-exitcode 99 \
    "$bin" train --device cuda --data "$memdata" --epochs 1 --train-limit 400 \
    --test-limit 200 --log-every 50 --out "$logs/memcheck.safetensors" > "$logs/memcheck.log" 2>&1
  rc=$?
  errors=$(grep -E 'ERROR SUMMARY' "$logs/memcheck.log" | tail -1)
  if [ $rc -eq 0 ]; then note "memcheck (short training run)" PASS "$errors"
  else note "memcheck (short training run)" FAIL "rc=$rc $errors"; fi
else
  note "memcheck" SKIP "compute-sanitizer not on PATH"
fi

# 3b. racecheck (shared-memory races in the kernels) on a shorter run
if command -v compute-sanitizer > /dev/null; then
  compute-sanitizer --tool racecheck --error-exitcode 99 \
    "$bin" train --device cuda --data "$memdata" --epochs 1 --train-limit 40 --no-eval \
    --out "$logs/racecheck.safetensors" > "$logs/racecheck.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then note "racecheck (short run)" PASS "$(grep -m1 'RACECHECK SUMMARY' "$logs/racecheck.log")"
  else note "racecheck (short run)" FAIL "rc=$rc $(grep -m1 'RACECHECK SUMMARY' "$logs/racecheck.log")"; fi
fi

# 3c. exact resume on the GPU in deterministic mode: N steps == k steps + resume
common=(--device cuda --deterministic --no-eval --data "$memdata" --epochs 2 --train-limit 400)
"$bin" train "${common[@]}" --out "$logs/full.safetensors" > "$logs/resume.log" 2>&1 &&
  "$bin" train "${common[@]}" --stop-after-steps 77 --out "$logs/part.safetensors" >> "$logs/resume.log" 2>&1 &&
  "$bin" train --resume "$logs/part.safetensors" --device cuda --no-eval --data "$memdata" >> "$logs/resume.log" 2>&1
rc=$?
full=$("$bin" inspect "$logs/full.safetensors" 2>/dev/null | awk '/weights digest/ {print $3}')
part=$("$bin" inspect "$logs/part.safetensors" 2>/dev/null | awk '/weights digest/ {print $3}')
if [ $rc -eq 0 ] && [ -n "$full" ] && [ "$full" = "$part" ]; then
  note "deterministic resume on GPU" PASS "digest $full"
else
  note "deterministic resume on GPU" FAIL "rc=$rc full=$full resumed=$part"
fi

# 3d. mixed precision smoke runs (Note [mixed precision]): the tutorial in bf16
# and fp16, and ResNet-18's step (batch norm, residual adds) in bf16
for precision in bf16 fp16; do
  "$bin" train --device cuda --precision $precision --data "$memdata" --epochs 1 --train-limit 400 \
    --test-limit 200 --log-every 50 --out "$logs/$precision.safetensors" > "$logs/$precision.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then note "tutorial in $precision (short)" PASS "$(grep -oE 'test images: [0-9.]+%' "$logs/$precision.log" | tail -1)"
  else note "tutorial in $precision (short)" FAIL "rc=$rc $(tail -1 "$logs/$precision.log")"; fi
done
"$bin" bench "$here/configs/resnet18.json" --device cuda --precision bf16 --batch-size 64 --steps 5 \
  --warmup 2 --graph > "$logs/resnet_bf16.log" 2>&1
rc=$?
if [ $rc -eq 0 ]; then note "ResNet-18 bf16 step" PASS "$(grep -oE 'step \(forward.*' "$logs/resnet_bf16.log")"
else note "ResNet-18 bf16 step" FAIL "rc=$rc $(tail -1 "$logs/resnet_bf16.log")"; fi

# 4. the tutorial on the GPU
if [ -n "$data" ] && [ -f "$data/data_batch_1.bin" ]; then
  limit=()
  [ -f "$data/data_batch_5.bin" ] || [ -f "$data/cifar-10-batches-bin/data_batch_5.bin" ] || limit=(--train-limit 10000)
  [ $quick -eq 1 ] && limit=(--train-limit 10000)
  "$bin" train "$here/configs/simplecnn.json" --device cuda --data "$data" "${limit[@]}" \
    --out "$logs/tutorial_gpu.safetensors" > "$logs/tutorial_gpu.log" 2>&1
  rc=$?
  acc=$(grep -oE 'test images: [0-9.]+%' "$logs/tutorial_gpu.log" | tail -1)
  epochs=$(grep -E '^Epoch [0-9]+:' "$logs/tutorial_gpu.log" | tr '\n' ';')
  if [ $rc -eq 0 ]; then note "tutorial on GPU ${limit[*]}" PASS "$acc; $epochs"
  else note "tutorial on GPU" FAIL "rc=$rc $(tail -1 "$logs/tutorial_gpu.log")"; fi
  if [ $rc -eq 0 ]; then
    "$bin" eval --device cuda --checkpoint "$logs/tutorial_gpu.safetensors" --data "$data" \
      > "$logs/eval_gpu.log" 2>&1
    eacc=$(grep -oE 'test images: [0-9.]+%' "$logs/eval_gpu.log" | tail -1)
    if [ "$eacc" = "$acc" ]; then note "eval of the GPU checkpoint" PASS "$eacc"
    else note "eval of the GPU checkpoint" FAIL "eval '$eacc' vs train '$acc'"; fi
  fi
  # 5. the PyTorch peer, same GPU, same data
  if [ $skip_peer -eq 0 ]; then
    PYTHONUNBUFFERED=1 python3 "$here/tools/pytorch_tutorial.py" --device cuda --data "$data" \
      "${limit[@]}" > "$logs/pytorch_gpu.log" 2>&1
    rc=$?
    res=$(grep '^RESULT' "$logs/pytorch_gpu.log" | tail -1)
    if [ $rc -eq 0 ]; then note "PyTorch tutorial on GPU" PASS "$res"
    else note "PyTorch tutorial on GPU" FAIL "rc=$rc $(tail -1 "$logs/pytorch_gpu.log")"; fi
  fi
else
  note "tutorial on GPU" SKIP "no --data"
fi

# 6. side-by-side benchmark
if [ $bench -eq 1 ] && [ -n "$data" ]; then
  bench_args=(--bin "$bin" --data "$data" --report "$logs/bench.md")
  [ $quick -eq 1 ] && bench_args+=(--quick)
  "$here/tools/bench_gpu.sh" "${bench_args[@]}" > "$logs/bench.log" 2>&1
  note "GPU benchmark" DONE "see below"
fi

{
  cat "$logs/head.md"
  echo
  echo "| step | result | details |"
  echo "|---|---|---|"
  printf '%s\n' "${results[@]}"
  [ -s "$logs/bench.md" ] && { echo; cat "$logs/bench.md"; }
  if [ -s "$logs/test_failures.txt" ]; then
    echo; echo "Test failures:"; echo '```'; cat "$logs/test_failures.txt"; echo '```'
  fi
} > "$report"
[ -n "${OUT:-}" ] && cp "$logs"/*.log "$OUT"/ 2>/dev/null
echo
echo "report: $report"
printf '%s\n' "${results[@]}"
grep -q '| FAIL |' "$report" && exit 1
exit 0
