#!/usr/bin/env bash
# Builds cnnengine with its tests and runs them all through ctest. The
# whole-program test trains on the real CIFAR-10: it is extracted from the
# shared copy beside the checkout when there is one (else that test skips,
# saying so). GPU tests skip on machines without a GPU.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CNNE_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCNNE_BUILD_TESTS=ON
cmake --build "$build" -j"$(nproc)"
shared=${CNNE_SHARED_DATA:-$root/../shared/data/cifar10}
if [ -z "${CNNE_TEST_DATA:-}" ]; then
  if [ -f "$shared/extract.sh" ]; then
    bash "$root/tools/fetch_data.sh" "$build/data"
    export CNNE_TEST_DATA="$build/data/cifar-10-batches-bin"
  elif [ -f "$root/data/cifar-10-batches-bin/test_batch.bin" ]; then
    export CNNE_TEST_DATA="$root/data/cifar-10-batches-bin"
  else
    echo "run_tests: no CIFAR-10 at $shared or ./data: the real-data test will skip"
  fi
fi
cd "$build"
ctest --output-on-failure -j"$(nproc)"
