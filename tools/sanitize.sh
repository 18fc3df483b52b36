#!/usr/bin/env bash
# Builds the CPU path with AddressSanitizer + UndefinedBehaviorSanitizer
# (LeakSanitizer included) and runs the whole test suite under them. Any
# report fails the run (-fno-sanitize-recover=all; ASan aborts on errors).
# Warnings are not errors here: GCC 12 reports false maybe-uninitialized
# warnings in std::regex and std::function under the sanitizers.
#
#   tools/sanitize.sh            (build-asan/; the real-data test runs when
#                                 CNNE_TEST_DATA or ./data has CIFAR-10)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-asan"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCNNE_CUDA=OFF \
  -DCNNE_SANITIZE=address,undefined -DCNNE_NATIVE=OFF -DCNNE_WARNINGS_AS_ERRORS=OFF > /dev/null
cmake --build "$build" -j"$(nproc)"
if [ -z "${CNNE_TEST_DATA:-}" ] && [ -f "$root/data/cifar-10-batches-bin/test_batch.bin" ]; then
  export CNNE_TEST_DATA="$root/data/cifar-10-batches-bin"
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 1800
