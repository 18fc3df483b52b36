#!/usr/bin/env bash
# Builds what tools/device_check.sh runs on a GPU machine, here, on a machine
# without a GPU: an sm_90 Release build in build-device/ (the CLI and the test
# binary, GoogleTest and OpenBLAS linked in statically), packed as
# .device-data/bundle.tar.xz (about 6 MB), with BUNDLE naming the commit it
# was built from (device_check.sh's report prints it beside the tree's).
# CUDA's own libraries (cudart, cuBLAS, cuDNN) come from the GPU machine.
#
#   tools/device_bundle.sh [--arch 90] [--data PART...] [--stage] [--fashion]
#
# --data copies CIFAR-10 parts (1, 2, 3) from ../shared/data/cifar10 into
# .device-data/ too. Carry .device-data (ignored by git) with the device tool;
# tools/device_check.sh unpacks both there. 46 MB a part: one part per call.
# --stage also puts parts 2 and 3 into .device-data-2/ and .device-data-3/,
# to carry in the calls that follow (tools/device_check.sh's header says how),
# each with a copy of the bundle, so a call that finds the machine cold still
# has the binaries.
# --fashion puts the bundle and Fashion-MNIST's four .gz files (31 MB, from
# Debian's dataset-fashion-mnist) into .device-data-fashion/: a call of its
# own that needs no other folder (device_check.sh --only ...,fashion).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
arch=90
parts=()
stage=0
fashion=0
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch="$2"; shift 2 ;;
    --stage) stage=1; shift ;;
    --fashion) fashion=1; shift ;;
    --data) shift; while [ $# -gt 0 ] && [[ "$1" =~ ^[123]$ ]]; do parts+=("$1"); shift; done ;;
    *) echo "device_bundle: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
fashion_src=/usr/share/datasets/fashion-mnist
if [ $fashion -eq 1 ] && [ ! -f "$fashion_src/train-images-idx3-ubyte.gz" ]; then
  echo "device_bundle: no $fashion_src (apt-get install dataset-fashion-mnist)" >&2
  exit 1
fi
cmake -S "$here" -B "$here/build-device" -DCMAKE_BUILD_TYPE=Release -DCNNE_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$arch" -DCNNE_STATIC_OPENBLAS=ON -DCNNE_NATIVE=OFF > /dev/null
cmake --build "$here/build-device" -j"$(nproc)"
rm -rf "$here/.device-data"
mkdir -p "$here/.device-data"
git -C "$here" describe --always --dirty --abbrev=12 > "$here/build-device/BUNDLE"
tar -cJf "$here/.device-data/bundle.tar.xz" -C "$here/build-device" BUNDLE cnnengine tests/cnne_tests
if [ ${#parts[@]} -gt 0 ]; then
  for p in "${parts[@]}"; do
    cp "$here/../shared/data/cifar10/cifar-10-batches-bin.$p-of-3.tar.xz" "$here/.device-data/"
  done
  cp "$here/../shared/data/cifar10/SHA256SUMS" "$here/.device-data/"
fi
rm -rf "$here/.device-data-2" "$here/.device-data-3"
if [ $stage -eq 1 ]; then
  for p in 2 3; do
    mkdir -p "$here/.device-data-$p"
    cp "$here/../shared/data/cifar10/cifar-10-batches-bin.$p-of-3.tar.xz" "$here/.device-data-$p/"
    cp "$here/.device-data/bundle.tar.xz" "$here/.device-data-$p/"
  done
fi
rm -rf "$here/.device-data-fashion"
if [ $fashion -eq 1 ]; then
  mkdir -p "$here/.device-data-fashion/fashion-mnist"
  cp "$here/.device-data/bundle.tar.xz" "$here/.device-data-fashion/"
  cp "$fashion_src"/*-ubyte.gz "$here/.device-data-fashion/fashion-mnist/"
fi
du -sh "$here"/.device-data*/*
# The device tool carries at most 64 MiB a call, the working tree included.
tree_kb=$(git -C "$here" ls-files -z | xargs -0 du -ck 2>/dev/null | tail -1 | cut -f1)
for d in "$here"/.device-data*; do
  kb=$(( $(du -sk "$d" | cut -f1) + tree_kb ))
  [ $kb -le $((64 * 1024)) ] || echo "device_bundle: WARNING: $(basename "$d") + the tree is $((kb / 1024)) MiB, over the 64 MiB a call carries" >&2
done
