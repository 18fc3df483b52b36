#!/usr/bin/env bash
# The main job: builds cnnengine (Release) and trains the PyTorch tutorial's
# SimpleCNN on CIFAR-10 with the built-in tutorial config, on the GPU when one
# is usable, else on the CPU. Extra arguments go to `cnnengine train`.
#
#   tools/train_tutorial.sh [--device cpu] [--epochs N] ...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$root/build" -j"$(nproc)" --target cnnengine
if [ -z "${CNNE_DATA:-}" ]; then
  bash "$root/tools/fetch_data.sh" "$root/data"
  export CNNE_DATA="$root/data/cifar-10-batches-bin"
fi
cd "$root"
exec "$root/build/cnnengine" train "$@"
