#pragma once
// How the GPU batch norm splits its per-channel reductions (batchnorm_cuda.cu):
// each channel's N*H*W values go to `splits` blocks, each writing two doubles
// of partial results into the context's workspace, which the layer reserves
// at setup (workspace_bytes). A smaller batch never needs more splits.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "engine/tensor.h"

namespace cnne {

// Blocks per channel: about 1024 blocks in all, none with fewer than ~4096 values.
inline int batchnorm_splits(int64_t n, int64_t c, int64_t hw) {
  const int64_t by_blocks = (1024 + c - 1) / c;
  const int64_t by_size = (n * hw + 4095) / 4096;
  return static_cast<int>(std::max<int64_t>(1, std::min(by_blocks, by_size)));
}

// Workspace bytes of the partials for input x (N, C, H, W): (C, splits, 2) doubles.
inline size_t batchnorm_partial_bytes(const Shape& x) {
  const int splits = batchnorm_splits(x[0], x[1], x[2] * x[3]);
  return static_cast<size_t>(x[1]) * static_cast<size_t>(splits) * 2 * sizeof(double);
}

}  // namespace cnne
