#!/usr/bin/env bash
# Installs the Debian packages cnnengine's build and tests need (and
# dataset-fashion-mnist, 31 MB: the second real data set, for its real-data
# test and configs/fashion_mnist.json). Idempotent:
# does nothing when they are all present. CUDA (nvcc, cuDNN, cuBLAS) is not
# installed here: when /usr/local/cuda has them the GPU path is built too,
# otherwise the CPU path alone.
#
#   tools/setup.sh            build + test dependencies
#   tools/setup.sh --peer     also python3-torch and python3-numpy, for the
#                             PyTorch side of tools/bench_cpu_vs_pytorch.sh
set -euo pipefail
packages=(cmake g++ make pkg-config libgtest-dev nlohmann-json3-dev libopenblas-dev zlib1g-dev xz-utils
          dataset-fashion-mnist)
[ "${1:-}" = "--peer" ] && packages+=(python3-torch python3-numpy)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present (${packages[*]})"
  exit 0
fi
sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)
echo "setup: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
