#!/usr/bin/env bash
# The device check (issue 3): verifies the GPU path on a machine with an NVIDIA
# GPU in one go, from a build made elsewhere (tools/device_bundle.sh) or here.
#
#   tools/device_check.sh [--build DIR] [--data DIR] [--report FILE] [--skip-peer] [--quick]
#                         [--bench] [--bench-parts abc] [--only STEP,...]
#
# With no --build, it unpacks .device-data/bundle.tar.xz into /tmp/cnne-device
# (or uses the one unpacked there by an earlier call on this warm machine);
# with no --data, it extracts the CIFAR-10 parts found in .device-data*/ into
# /tmp/cnne-device/data (kept while the machine stays warm, so parts 2 and 3
# can follow in later calls, within 30 s of each other) and uses what is there.
# The whole check with all of CIFAR-10 (docs/DEVICE.md), three calls:
#   run(tools/device_check.sh --only tests,precision,resume,bench,sanitize,profile --bench-parts bc,
#       carry [.device-data])                      # the bundle and part 1
#   run(tools/device_check.sh --only extract, carry [.device-data-2])
#   run(tools/device_check.sh --only bench,resnet --bench-parts a, carry [.device-data-3])
#
# Steps, each reported as PASS/FAIL/SKIP with its numbers:
#   1. environment: nvidia-smi, `cnnengine info`
#   2. the whole test suite (GPU-vs-CPU layer tables, whole-network K steps,
#      PyTorch fixtures on the GPU, no allocation inside steps)
#   3. the tutorial trained on the GPU on the CIFAR-10 found in --data
#      (all five training batches if present, else what is there; --quick:
#      10,000 images), its checkpoint evaluated, and the tutorial's PyTorch
#      program on the same GPU, same data (--skip-peer skips it)
#   4. short bf16/fp16 runs (the tutorial, a ResNet-18 bf16 step)
#   5. a deterministic GPU run stopped and resumed against an uninterrupted one
#   6. with --bench: tools/bench_gpu.sh (the tutorial eager, graph and fused against
#      PyTorch; a batch-4 step; SimpleCNN and ResNet-18 images/s at batch 256, NCHW and
#      channels-last, against PyTorch; --bench-parts picks its parts a, b, c)
#   7. compute-sanitizer memcheck and racecheck on short GPU training runs and
#      on the GPU-vs-CPU tests of the hand-written kernels
#   8. (only when named) resnet: configs/resnet18_bf16.json trained on the
#      data found (the issue 5 accuracy run; needs all five training batches)
#   9. (only when named) fashion: the tutorial's recipe on all of Fashion-MNIST
#      (configs/fashion_mnist.json: 60,000 images, 15,000 batch-4 steps an epoch,
#      2 epochs) eager, graph and fused against the tutorial's PyTorch program on
#      the same GPU: bench_gpu.sh part a on a whole data set in one call, from
#      the 35 MB of .device-data-fashion/ (tools/device_bundle.sh --fashion)
# --only runs the named steps alone: tests, tutorial, precision, resume, bench,
# sanitize, profile (the ncu and nsys commands of docs/PROFILING.md), resnet, fashion;
# `--only extract` just unpacks what .device-data holds
# (to feed CIFAR-10 parts 2 and 3 in calls of their own while the machine is warm).
# Each step has a time limit; the report and a tarball of the logs are
# rewritten after every step, so a call cut short still returns them.
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
only=""
bench_parts=abc
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --report) report="$2"; shift 2 ;;
    --skip-peer) skip_peer=1; shift ;;
    --quick) quick=1; shift ;;
    --bench) bench=1; shift ;;
    --only) only=",$2,"; shift 2 ;;
    --bench-parts) bench_parts="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "device_check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for step in ${only//,/ }; do
  case "$step" in
    tests|tutorial|precision|resume|bench|sanitize|profile|resnet|fashion|extract) ;;
    *) echo "device_check: --only: unknown step '$step' (tests, tutorial, precision, resume, bench, sanitize, profile, resnet, fashion, extract)" >&2; exit 2 ;;
  esac
done
[[ "$bench_parts" =~ ^[abc]+$ ]] || { echo "device_check: --bench-parts '$bench_parts': expected letters of abc" >&2; exit 2; }
if [ -z "$build" ]; then
  build="$stage/build"
  # .device-data/ or .device-data-fashion/ carries it
  for bundle in "$here"/.device-data*/bundle.tar.xz; do
    [ -f "$bundle" ] || continue
    mkdir -p "$build" && tar -xJf "$bundle" -C "$build"
    break
  done
fi
if [ -z "$data" ]; then
  mkdir -p "$stage/data"
  # Parts may come in .device-data/ or in folders of their own (.device-data-2/,
  # .device-data-3/: tools/device_bundle.sh --stage), one call each; a part
  # already extracted on this warm machine is not extracted again.
  for part in "$here"/.device-data*/cifar-10-batches-bin.*-of-3.tar.xz; do
    [ -f "$part" ] || continue
    marker="$stage/data/.extracted-$(basename "$part")"
    [ -f "$marker" ] && continue
    xz -dc "$part" | tar -xf - -C "$stage/data" && touch "$marker" && echo "extracted $(basename "$part")"
  done
  [ -d "$stage/data/cifar-10-batches-bin" ] && data="$stage/data/cifar-10-batches-bin"
fi
# want STEP: whether this call runs STEP
want() {
  if [ -n "$only" ]; then [[ "$only" == *",$1,"* ]]; return; fi
  case "$1" in resnet|profile|fashion) return 1 ;; bench) [ $bench -eq 1 ] ;; *) return 0 ;; esac
}
if [ "$only" = ",extract," ]; then
  ls -la "$stage/data/cifar-10-batches-bin" 2>/dev/null
  exit 0
fi
bin="$build/cnnengine"
tests="$build/tests/cnne_tests"
if [ ! -x "$bin" ]; then  # say so in the report too: it is what comes back
  msg="device_check: $bin not found: no .device-data*/bundle.tar.xz carried (tools/device_bundle.sh), and none unpacked on this machine"
  echo "$msg" >&2
  printf '# cnnengine device check\n\nFAIL: %s\n' "$msg" > "$report"
  exit 2
fi
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
# Each step's result goes into the report at once, and the logs into
# $OUT/device_logs.tar.gz: a call stopped at its time limit still returns
# what ran before.
write_report() {
  {
    cat "$logs/head.md"
    echo
    echo "| step | result | details |"
    echo "|---|---|---|"
    printf '%s\n' "${results[@]}"
    [ -s "$logs/bench.md" ] && { echo; cat "$logs/bench.md"; }
    [ -s "$logs/bench_fashion.md" ] && { echo; cat "$logs/bench_fashion.md"; }
    if [ -s "$logs/test_failures.txt" ]; then
      echo; echo "Test failures:"; echo '```'; cat "$logs/test_failures.txt"; echo '```'
    fi
  } > "$report"
  # (checkpoints stay out: ResNet-18's alone would pass the size a file may come back with)
  [ -n "${OUT:-}" ] && tar -czf "$OUT/device_logs.tar.gz" --exclude='*.safetensors' -C "$logs" . 2>/dev/null
  return 0
}
note() { results+=("| $1 | $2 | $3 |"); echo "== $1: $2 $3 ($(date -u +%T))"; write_report; }
# Every step runs under a time limit (seconds), so one hang costs one step.
limited() { local secs=$1; shift; timeout -k 10 "$secs" "$@"; }

{
  echo "# cnnengine device check"
  echo
  echo "- date: $(date -u '+%F %T UTC')"
  echo "- host: $(uname -n), $(nproc) CPU cores"
  echo "- GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'nvidia-smi unavailable')"
  tree=$(git -C "$here" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
  built=$(cat "$build/BUNDLE" 2>/dev/null || echo "unknown (no BUNDLE)")
  echo "- tree: $tree; binaries built from: $built"
  [ "$tree" = "$built" ] || echo "- **WARNING: the binaries are not the tree's commit** (rebuild with tools/device_bundle.sh)"
  echo
  echo '```'
  "$bin" info 2>&1
  echo '```'
} > "$logs/head.md"
cat "$logs/head.md"
write_report  # a call that hangs in its first step still returns the header

# 2. tests (built elsewhere: tell them where this checkout and the binary are)
export CNNE_TEST_SOURCE_DIR="$here" CNNE_TEST_BINARY="$bin"
if ! want tests; then :
elif [ -x "$tests" ]; then
  # A GPU test that skips ("no GPU: ...") found no usable GPU: that fails the
  # step. Tests that skip by design on a GPU machine are left out: the no-GPU
  # CLI message and the real-data CPU runs (minutes, and no data path is set);
  # so are the kernel emulation's, which run our kernels on CPU threads in
  # every CPU test run (Note [kernel emulation]) and would spend device time
  # testing no GPU.
  # A test that crashes the binary is named, left out, and the rest run again.
  excluded='Cli.NoGpuMeansCudaIsRefusedClearly:EndToEnd.*:KernelEmulator.*:EmulatedKernels.*'
  crashed=""
  : > "$logs/tests.log"
  # The GPU tests of code that has never run on a GPU (the fused step's
  # cooperative kernel, channels-last, gradient clipping's reduction, the
  # weight average under a graph, mixed batches and their loss, the other
  # activations, grouped convolutions, concat, group norm, mul, prelu) go first, in a process of
  # their own with a short limit: a kernel that hangs or breaks the context
  # costs 90 s and leaves the rest of the suite to run.
  first='FusedStepGpu.*:ChannelsLastGpu.*:GpuVsCpu.Grayscale*:GpuVsCpu.Clipped*:GpuVsCpu.Averaged*'
  first+=':GpuVsCpu.Mixed*:GpuVsCpu.Activations:GpuVsCpu.Conv2d:ConcatGpu.*'
  first+=':GpuVsCpu.BatchNormAvgPoolsAndDropout:GradientAccumulation.*OnTheGpu:Swa.*OnTheGpu'
  first+=':GpuVsCpu.AugmentationPolicies*:GpuVsCpu.RandomErasing*:GpuVsCpu.GroupNorm*:MulGpu.*:GpuVsCpu.PReLU'
  limited 90 "$tests" --gtest_filter="$first" > "$logs/tests_first.log" 2>&1
  rc_first=$?
  cat "$logs/tests_first.log" >> "$logs/tests.log"
  if ! grep -q '^\[==========\] .* ran\.' "$logs/tests_first.log"; then
    last=$(grep -oE '^\[ RUN      \] [A-Za-z0-9_./]+' "$logs/tests_first.log" | tail -1 | awk '{print $NF}')
    crashed="$crashed ${last:-$first}(rc=$rc_first)"
  fi
  excluded="$excluded:$first"
  for attempt in 1 2 3 4; do
    limited 300 "$tests" --gtest_filter="-$excluded" > "$logs/tests_$attempt.log" 2>&1
    rc=$?
    cat "$logs/tests_$attempt.log" >> "$logs/tests.log"
    grep -q '^\[==========\] .* ran\.' "$logs/tests_$attempt.log" && break
    last=$(grep -oE '^\[ RUN      \] [A-Za-z0-9_./]+' "$logs/tests_$attempt.log" | tail -1 | awk '{print $NF}')
    [ -n "$last" ] || break
    crashed="$crashed $last(rc=$rc)"
    # the next attempt runs only what has not finished: not the crash, not what passed or failed
    finished=$(grep -oE '^\[ +(OK|FAILED) +\] [A-Za-z0-9_./]+' "$logs/tests_$attempt.log" | awk '{print $NF}' | tr '\n' ':')
    excluded="$excluded:$last:${finished%:}"
  done
  summary=$(grep -E '^\[  (PASSED|FAILED|SKIPPED)  ?\] [0-9]+ tests?' "$logs/tests.log" | tr '\n' ' ')
  gpu_skipped=$(grep -c '^no GPU:' "$logs/tests.log" || true)
  if [ $rc -eq 0 ] && [ $rc_first -eq 0 ] && [ -z "$crashed" ] && [ "${gpu_skipped:-0}" = 0 ]; then note "test suite" PASS "$summary"
  else note "test suite" FAIL "rc=$rc (first batch rc=$rc_first) $summary (GPU tests skipped: ${gpu_skipped:-0}; crashed:${crashed:- none})"; fi
  grep -E '^\[  FAILED  \]|Failure$|worst element|gpu |Expected|Which is|actual|error' "$logs/tests.log" \
    | head -60 > "$logs/test_failures.txt"
  write_report
else
  note "test suite" SKIP "no $tests in the bundle"
fi

# Short runs use synthetic CIFAR-10 files when no data is here.
memdata="$data"
if [ -z "$memdata" ]; then
  memdata="$stage/synthetic"
  mkdir -p "$memdata"
  python3 "$here/tools/make_synthetic_cifar.py" "$memdata" 200
fi

# 3. the tutorial on the GPU, its checkpoint evaluated, and the PyTorch peer
if ! want tutorial; then :
elif [ -n "$data" ] && [ -f "$data/data_batch_1.bin" ]; then
  limit=()
  [ -f "$data/data_batch_5.bin" ] || [ -f "$data/cifar-10-batches-bin/data_batch_5.bin" ] || limit=(--train-limit 10000)
  [ $quick -eq 1 ] && limit=(--train-limit 10000)
  limited 240 "$bin" train "$here/configs/simplecnn.json" --device cuda --data "$data" "${limit[@]}" \
    --out "$logs/tutorial_gpu.safetensors" --metrics "$logs/tutorial_gpu.jsonl" \
    > "$logs/tutorial_gpu.log" 2>&1
  rc=$?
  acc=$(grep -oE 'test images: [0-9.]+%' "$logs/tutorial_gpu.log" | tail -1)
  epochs=$(grep -E '^Epoch [0-9]+:' "$logs/tutorial_gpu.log" | tr '\n' ';')
  if [ $rc -eq 0 ]; then note "tutorial on GPU ${limit[*]}" PASS "$acc; $epochs"
  else note "tutorial on GPU" FAIL "rc=$rc $(tail -1 "$logs/tutorial_gpu.log")"; fi
  if [ $rc -eq 0 ]; then
    limited 60 "$bin" eval --device cuda --checkpoint "$logs/tutorial_gpu.safetensors" --data "$data" \
      > "$logs/eval_gpu.log" 2>&1
    eacc=$(grep -oE 'test images: [0-9.]+%' "$logs/eval_gpu.log" | tail -1)
    if [ "$eacc" = "$acc" ]; then note "eval of the GPU checkpoint" PASS "$eacc"
    else note "eval of the GPU checkpoint" FAIL "eval '$eacc' vs train '$acc'"; fi
  fi
  if [ $skip_peer -eq 0 ]; then
    PYTHONUNBUFFERED=1 limited 240 python3 "$here/tools/pytorch_tutorial.py" --device cuda --data "$data" \
      "${limit[@]}" > "$logs/pytorch_gpu.log" 2>&1
    rc=$?
    res=$(grep '^RESULT' "$logs/pytorch_gpu.log" | tail -1)
    epochs=$(grep -E '^Epoch [0-9]+:' "$logs/pytorch_gpu.log" | tr '\n' ';')
    if [ $rc -eq 0 ]; then note "PyTorch tutorial on GPU" PASS "$res; $epochs"
    else note "PyTorch tutorial on GPU" FAIL "rc=$rc $(tail -1 "$logs/pytorch_gpu.log")"; fi
  fi
else
  note "tutorial on GPU" SKIP "no --data"
fi

# 4. mixed precision smoke runs (Note [mixed precision]): the tutorial in bf16
# and fp16, and ResNet-18's step (batch norm, residual adds) in bf16
for precision in bf16 fp16 tf32; do
  want precision || break
  flag=(--precision $precision); [ $precision = tf32 ] && flag=(--tf32)
  limited 90 "$bin" train --device cuda "${flag[@]}" --data "$memdata" --epochs 1 --train-limit 400 \
    --test-limit 200 --log-every 50 --out "$logs/$precision.safetensors" > "$logs/$precision.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then note "tutorial in $precision (short)" PASS "$(grep -oE 'test images: [0-9.]+%' "$logs/$precision.log" | tail -1)"
  else note "tutorial in $precision (short)" FAIL "rc=$rc $(tail -1 "$logs/$precision.log")"; fi
done
if want precision; then
  limited 90 "$bin" bench "$here/configs/resnet18.json" --device cuda --precision bf16 --batch-size 64 \
    --steps 5 --warmup 2 --graph > "$logs/resnet_bf16.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then note "ResNet-18 bf16 step" PASS "$(grep -oE 'step \(forward.*' "$logs/resnet_bf16.log")"
  else note "ResNet-18 bf16 step" FAIL "rc=$rc $(tail -1 "$logs/resnet_bf16.log")"; fi
fi

# 5. exact resume on the GPU in deterministic mode: N steps == k steps + resume
if want resume; then
  common=(--device cuda --deterministic --no-eval --data "$memdata" --epochs 2 --train-limit 400)
  limited 60 "$bin" train "${common[@]}" --out "$logs/full.safetensors" > "$logs/resume.log" 2>&1 &&
    limited 60 "$bin" train "${common[@]}" --stop-after-steps 77 --out "$logs/part.safetensors" >> "$logs/resume.log" 2>&1 &&
    limited 60 "$bin" train --resume "$logs/part.safetensors" --device cuda --no-eval --data "$memdata" >> "$logs/resume.log" 2>&1
  rc=$?
  full=$("$bin" inspect "$logs/full.safetensors" 2>/dev/null | awk '/weights digest/ {print $3}')
  part=$("$bin" inspect "$logs/part.safetensors" 2>/dev/null | awk '/weights digest/ {print $3}')
  if [ $rc -eq 0 ] && [ -n "$full" ] && [ "$full" = "$part" ]; then
    note "deterministic resume on GPU" PASS "digest $full"
  else
    note "deterministic resume on GPU" FAIL "rc=$rc full=$full resumed=$part"
  fi
fi

# 6. side-by-side benchmark
# (parts b and c time synthetic batches: without data they still run)
parts_here=$bench_parts
[ -n "$data" ] || parts_here=${bench_parts//a/}
if want bench && [ -n "$parts_here" ]; then
  bench_args=(--bin "$bin" --data "${data:-$memdata}" --report "$logs/bench.md" --logs "$logs/bench")
  [ $quick -eq 1 ] && bench_args+=(--quick)
  bench_args+=(--parts "$parts_here")
  limited 400 "$here/tools/bench_gpu.sh" "${bench_args[@]}" > "$logs/bench.log" 2>&1
  rc=$?
  [ $rc -eq 0 ] && note "GPU benchmark (parts $parts_here)" DONE "see below" ||
    note "GPU benchmark (parts $parts_here)" FAIL "rc=$rc (124: cut at its limit); the rows it finished are below"
fi
if want bench && [ "$parts_here" != "$bench_parts" ]; then
  note "GPU benchmark part a (the tutorial)" SKIP "no CIFAR-10 data here"
fi

# 6b. the tutorial's workload on all of Fashion-MNIST, against PyTorch (one call)
if want fashion; then
  fashion=""
  for d in "$here"/.device-data*/fashion-mnist /usr/share/datasets/fashion-mnist; do
    [ -f "$d/train-images-idx3-ubyte.gz" ] && { fashion="$d"; break; }
  done
  if [ -n "$fashion" ]; then
    limited 420 "$here/tools/bench_gpu.sh" --bin "$bin" --data "$fashion" --dataset fashion-mnist \
      --parts a --report "$logs/bench_fashion.md" --logs "$logs/bench_fashion" > "$logs/bench_fashion.log" 2>&1
    note "Fashion-MNIST tutorial recipe, cnnengine vs PyTorch" DONE "see below"
  else
    note "Fashion-MNIST" SKIP "no .device-data*/fashion-mnist/ (tools/device_bundle.sh --fashion)"
  fi
fi

# 7. compute-sanitizer memcheck and racecheck on short runs (slow: last)
if ! want sanitize; then :
elif command -v compute-sanitizer > /dev/null; then
  limited 150 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 99 \
    "$bin" train --device cuda --data "$memdata" --epochs 1 --train-limit 100 \
    --test-limit 100 --log-every 50 --out "$logs/memcheck.safetensors" > "$logs/memcheck.log" 2>&1
  rc=$?
  errors=$(grep -E 'ERROR SUMMARY' "$logs/memcheck.log" | tail -1)
  if [ $rc -eq 0 ]; then note "memcheck (short training run)" PASS "$errors"
  else note "memcheck (short training run)" FAIL "rc=$rc $errors $(grep -m3 -E '^=+ +(Invalid|Program hit|Error)' "$logs/memcheck.log" | tr '\n' ' ')"; fi
  # (racecheck of a whole training run: 44 s on an H200; the kernel tests below cover
  # the kernels with shared memory)
  # the hand-written kernels (batch norm, pooling, bias, dropout...) through their GPU-vs-CPU tests
  if [ -x "$tests" ]; then
    # (racecheck checks shared memory, which the fused kernel does not use: memcheck only)
    kernel_tests='GpuVsCpu.BatchNorm*:GpuVsCpu.GroupNorm*:MulGpu.*:GpuVsCpu.PReLU:GpuVsCpu.MaxPool2d:GpuVsCpu.Linear:GpuVsCpu.Conv2d'
    for tool in memcheck racecheck; do
      filter=$kernel_tests; [ $tool = memcheck ] && filter="$filter:FusedStepGpu.TheKernel*"
      limited 150 compute-sanitizer --tool $tool --error-exitcode 99 "$tests" --gtest_filter="$filter" \
        > "$logs/${tool}_kernels.log" 2>&1
      rc=$?
      if [ $rc -eq 0 ]; then note "$tool (kernel tests)" PASS "$(grep -m1 -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$logs/${tool}_kernels.log")"
      else note "$tool (kernel tests)" FAIL "rc=$rc $(grep -m1 -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$logs/${tool}_kernels.log")"; fi
    done
  fi
else
  note "memcheck" SKIP "compute-sanitizer not on PATH"
fi

# 7b. the profiler commands of docs/PROFILING.md, on a short run (issue 4)
if want profile; then
  ncu_bin=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  if [ -n "$ncu_bin" ]; then
    limited 120 "$ncu_bin" --profile-from-start off --nvtx --nvtx-include "conv2/" --clock-control none \
      "$bin" train --device cuda --no-graph --data "$memdata" --epochs 1 --train-limit 400 --no-eval \
      --profile-steps 50:50 --out "$logs/profile.safetensors" > "$logs/ncu.log" 2>&1
    rc=$?
    kernels=$(grep -cE '^  [A-Za-z_].*\(.*\)x\(.*\)' "$logs/ncu.log")
    if [ $rc -eq 0 ] && [ "$kernels" -gt 0 ]; then note "ncu --nvtx (conv2's kernels, step 50)" PASS "$kernels kernels profiled"
    else note "ncu --nvtx (conv2's kernels, step 50)" FAIL "rc=$rc, $kernels kernels; $(grep -m1 -E '==ERROR==|==WARNING==' "$logs/ncu.log")"; fi
  else
    note "ncu" SKIP "not found"
  fi
  # (Nsight Compute's own host/target-linux-x64/nsys was seen writing a .qdstrm
  # it could not make a report of, /work/.library/device/KINDS.md: not tried)
  nsys_bin=$(command -v nsys || ls /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -1)
  if [ -z "$nsys_bin" ]; then
    note "nsys" SKIP "no Nsight Systems (nsys not on PATH, no /opt/nvidia/nsight-systems)"
  else
    limited 120 "$nsys_bin" profile --capture-range=cudaProfilerApi --capture-range-end=stop \
      --trace=cuda,nvtx -o "$logs/cnne_steps" --force-overwrite true \
      "$bin" train --device cuda --no-graph --data "$memdata" --epochs 1 --train-limit 400 --no-eval \
      --profile-steps 50:60 --out "$logs/profile.safetensors" > "$logs/nsys.log" 2>&1
    rc=$?
    limited 60 "$nsys_bin" stats --report nvtx_sum "$logs/cnne_steps.nsys-rep" >> "$logs/nsys.log" 2>&1
    rc2=$?
    rm -f "$logs"/cnne_steps.*
    if [ $rc -eq 0 ] && [ $rc2 -eq 0 ]; then note "nsys (steps 50-60)" PASS "$nsys_bin; nvtx_sum in nsys.log"
    else note "nsys (steps 50-60)" FAIL "$nsys_bin: profile rc=$rc, stats rc=$rc2; $(tail -1 "$logs/nsys.log")"; fi
  fi
fi

# 8. ResNet-18 on CIFAR-10 (issue 5): the short bf16 recipe, timed, with its test accuracy
if want resnet; then
  missing=""
  for f in test_batch.bin data_batch_{1,2,3,4,5}.bin; do
    [ -n "$data" ] && [ -f "$data/$f" ] || missing="$missing $f"
  done
  if [ -z "$missing" ]; then
    start=$(date +%s)
    # (the checkpoint, 45 MB, stays on the machine: $logs comes back without it)
    limited 420 "$bin" train "$here/configs/resnet18_bf16.json" --device cuda --data "$data" \
      --out "$stage/resnet18_bf16.safetensors" --metrics "$logs/resnet18_train.jsonl" \
      > "$logs/resnet18_train.log" 2>&1
    rc=$?
    acc=$(grep -oE 'test images: [0-9.]+%' "$logs/resnet18_train.log" | tail -1)
    epochs=$(grep -oE '^Epoch [0-9]+:' "$logs/resnet18_train.log" | sort -u | wc -l)
    if [ $rc -eq 0 ]; then note "ResNet-18 bf16 training" PASS "$acc after $epochs epochs, wall $(( $(date +%s) - start )) s"
    else note "ResNet-18 bf16 training" FAIL "rc=$rc after $epochs epochs, $(tail -1 "$logs/resnet18_train.log")"; fi
  else
    note "ResNet-18 bf16 training" SKIP "missing in --data '${data:-none}':$missing"
  fi
fi

write_report
echo
echo "report: $report"
printf '%s\n' "${results[@]}"
grep -q '| FAIL |' "$report" && exit 1
exit 0
