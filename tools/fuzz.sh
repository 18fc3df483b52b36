#!/usr/bin/env bash
# Fuzzes the readers of untrusted input with libFuzzer (+ AddressSanitizer and
# UndefinedBehaviorSanitizer): the config parser, the CIFAR-10 reader, the IDX
# reader (Fashion-MNIST, MNIST) and the checkpoint readers (safetensors,
# torch.save). Needs clang and libclang-rt-14-dev (Debian).
#
#   tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 600 s, all five
#
# Seeds come from tests/fuzz/corpus/<target>/; the growing corpus lives in
# build-fuzz/. Any crashing input is copied into tests/fuzz/corpus/<target>/
# (commit it: tests/fuzz_regression_test.cpp then replays it in every build)
# and the script exits non-zero.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config cifar idx checkpoint torch image)
build="$root/build-fuzz"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCNNE_CUDA=OFF -DCNNE_BUILD_TESTS=OFF -DCNNE_FUZZ=ON -DCNNE_NATIVE=OFF > /dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"
status=0
for t in "${targets[@]}"; do
  work="$build/corpus-$t"
  artifacts="$build/artifacts-$t/"
  mkdir -p "$work" "$artifacts"
  echo "fuzz_$t: ${seconds}s"
  if ! "$build/tests/fuzz/fuzz_$t" "$work" "$root/tests/fuzz/corpus/$t" \
      -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$artifacts" -print_final_stats=1 > "$build/fuzz_$t.log" 2>&1; then
    status=1
    echo "fuzz_$t FOUND A CRASH: $(grep -m1 -E 'ERROR|SUMMARY' "$build/fuzz_$t.log")"
    cp "$artifacts"/* "$root/tests/fuzz/corpus/$t/"
  fi
  grep -E '^stat::number_of_executed_runs|^stat::new_units_added|Done [0-9]+ runs' \
    "$build/fuzz_$t.log" | tr '\n' ' '
  echo
done
exit $status
