#pragma once
// How the GPU batch norm splits its per-channel reductions (batchnorm_cuda.cu):
// each channel's N*H*W values go to `splits` blocks, each writing two doubles
// of partial results into the context's workspace, which the layer reserves
// at setup (workspace_bytes). A smaller batch never needs more splits. The
// index and merge arithmetic is here, host- and device-callable, so the CPU
// tests check it (tests/batchnorm_partials_test.cpp).
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "engine/host_device.h"
#include "engine/tensor.h"

namespace cnne {

// Blocks per channel: about 1024 blocks in all, none with fewer than ~4096
// values. A channels-last block (Note [channels last]) takes a tile of 32
// channels side by side over its rows, so there are 32 times fewer blocks per
// split: the rows are split finer to keep about 1024 blocks, up to 128 splits
// (each block merges its channels' partials: that loop stays short).
inline int batchnorm_splits(int64_t n, int64_t c, int64_t hw, bool channels_last = false) {
  const int64_t blocks_per_split = channels_last ? (c + 31) / 32 : c;
  const int64_t values_per_row = channels_last ? std::min<int64_t>(c, 32) : 1;
  int64_t by_blocks = (1024 + blocks_per_split - 1) / blocks_per_split;
  if (channels_last) by_blocks = std::min<int64_t>(by_blocks, 128);
  const int64_t by_size = (n * hw * values_per_row + 4095) / 4096;
  return static_cast<int>(std::max<int64_t>(1, std::min(by_blocks, by_size)));
}

// Workspace bytes of the partials for input x (N, C, H, W) in either layout:
// (C, splits, 2) doubles.
inline size_t batchnorm_partial_bytes(const Shape& x) {
  const int splits = std::max(batchnorm_splits(x[0], x[1], x[2] * x[3], false),
                              batchnorm_splits(x[0], x[1], x[2] * x[3], true));
  return static_cast<size_t>(x[1]) * static_cast<size_t>(splits) * 2 * sizeof(double);
}

struct BatchNormDims {
  uint32_t c, hw;   // channels, values per (n, c) plane
  uint32_t values;  // N * H * W: the values of one channel
  int splits;       // blocks per channel
};

// The flat NCHW index of value j (0 .. N*H*W) of channel c.
CNNE_HOST_DEVICE inline int64_t batchnorm_index(const BatchNormDims& d, uint32_t c, uint32_t j) {
  const uint32_t n = j / d.hw, i = j - n * d.hw;
  return (int64_t(n) * d.c + c) * d.hw + i;
}

// Split s holds values [begin(s), begin(s + 1)) of its channel, in order.
CNNE_HOST_DEVICE inline uint32_t batchnorm_split_begin(const BatchNormDims& d, int s) {
  return static_cast<uint32_t>(uint64_t(d.values) * uint64_t(s) / uint64_t(d.splits));
}

// One block's partial: the mean and the sum of squared deviations (M2) of
// its `count` values, from the sum and the sum of squares of (value - shift).
// The shift (the channel's first value, the same for every block) keeps the
// sums small where the values sit far from zero: no catastrophic
// cancellation in sq - sum * sum / count.
CNNE_HOST_DEVICE inline void batchnorm_block_moments(double sum, double sq, double count,
                                                     double shift, double* partial /* [2] */) {
  const double mean = count > 0 ? sum / count : 0.0;
  partial[0] = shift + mean;
  partial[1] = count > 0 ? sq - sum * mean : 0.0;
}

// Channel c's mean and M2 from its blocks' partials (C, splits, 2), merged in
// split order (Chan, Golub and LeVeque's pairwise update, all in double).
CNNE_HOST_DEVICE inline void batchnorm_merge_moments(const BatchNormDims& d, const double* partial,
                                                     uint32_t c, double* mean_out, double* m2_out) {
  const double* p = partial + size_t(c) * d.splits * 2;
  double mean = 0;
  for (int k = 0; k < d.splits; ++k)
    mean += double(batchnorm_split_begin(d, k + 1) - batchnorm_split_begin(d, k)) * p[2 * k];
  mean /= double(d.values);
  double m2 = 0;
  for (int k = 0; k < d.splits; ++k) {
    const double delta = p[2 * k] - mean;
    m2 += p[2 * k + 1] +
          double(batchnorm_split_begin(d, k + 1) - batchnorm_split_begin(d, k)) * delta * delta;
  }
  *mean_out = mean;
  *m2_out = m2;
}

}  // namespace cnne
