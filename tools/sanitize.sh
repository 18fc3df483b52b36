#!/usr/bin/env bash
# Builds the CPU path with sanitizers and runs tests under them. Any report
# fails the run (-fno-sanitize-recover=all; ASan aborts on errors, TSan exits
# non-zero). Warnings are not errors here: GCC 12 reports false
# maybe-uninitialized warnings in std::regex and std::function under the
# sanitizers.
#
#   tools/sanitize.sh            AddressSanitizer + UndefinedBehaviorSanitizer
#                                (LeakSanitizer included), the whole suite, in
#                                build-asan/; the real-data test runs when
#                                CNNE_TEST_DATA or ./data has CIFAR-10
#   tools/sanitize.sh --thread   ThreadSanitizer, the tests of the CPU threads
#                                (Note [CPU threads]; grouped convolutions on
#                                3 threads among them), the CLI run on
#                                3 threads, and our GPU kernels under the
#                                kernel emulation (Note [kernel emulation]:
#                                a race between the threads of a kernel is a
#                                report), in build-tsan/
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=address,undefined
build="$root/build-asan"
case "${1:-}" in
  "") ;;
  --thread) mode=thread; build="$root/build-tsan" ;;
  *) echo "usage: tools/sanitize.sh [--thread]" >&2; exit 2 ;;
esac
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCNNE_CUDA=OFF \
  -DCNNE_SANITIZE="$mode" -DCNNE_NATIVE=OFF -DCNNE_WARNINGS_AS_ERRORS=OFF > /dev/null
cmake --build "$build" -j"$(nproc)"
if [ "$mode" = thread ]; then
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  exec "$build/tests/cnne_tests" --gtest_filter='ThreadPool.*:CpuThreads.*:MaxPoolCases.*:GroupedConv.*:DilatedConv.*:Conv2dVariants.*:KernelEmulator.*:EmulatedKernels.*'
fi
if [ -z "${CNNE_TEST_DATA:-}" ] && [ -f "$root/data/cifar-10-batches-bin/test_batch.bin" ]; then
  export CNNE_TEST_DATA="$root/data/cifar-10-batches-bin"
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 1800
