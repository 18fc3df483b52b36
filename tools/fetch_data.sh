#!/usr/bin/env bash
# Puts CIFAR-10 (binary version) into DEST/cifar-10-batches-bin (default ./data)
# unless it is already there: from the project's shared copy when one sits
# beside the checkout (../shared/data/cifar10), else by downloading the
# original tarball from the University of Toronto (163 MB).
#
#   tools/fetch_data.sh [DEST]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$root/data}
url=https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
if [ -f "$dest/cifar-10-batches-bin/data_batch_5.bin" ] && [ -f "$dest/cifar-10-batches-bin/test_batch.bin" ]; then
  echo "fetch_data: CIFAR-10 already in $dest/cifar-10-batches-bin"
  exit 0
fi
mkdir -p "$dest"
shared=${CNNE_SHARED_DATA:-$root/../shared/data/cifar10}
if [ -x "$shared/extract.sh" ] || [ -f "$shared/extract.sh" ]; then
  sh "$shared/extract.sh" "$dest"
  exit 0
fi
echo "fetch_data: downloading $url"
if command -v curl > /dev/null; then curl -fL "$url" -o "$dest/cifar-10-binary.tar.gz"
else wget -O "$dest/cifar-10-binary.tar.gz" "$url"; fi
tar -xzf "$dest/cifar-10-binary.tar.gz" -C "$dest"
rm "$dest/cifar-10-binary.tar.gz"
echo "fetch_data: CIFAR-10 ready in $dest/cifar-10-batches-bin"
