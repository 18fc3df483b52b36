#pragma once
// BatchNorm2d's kernels, launched by layers/batchnorm_cuda.cu (which says how
// the work is split) and run on CPU threads by the emulated-kernel tests
// (Note [kernel emulation] in cuda/emulator.h). The unnamed namespace gives
// each file that includes this its own copy.
#include <cstdint>

#include "cuda/block_sum.cuh"
#include "cuda/device_api.cuh"
#include "cuda/element.cuh"
#include "layers/batchnorm_partials.h"
#include "layers/relu_math.h"

namespace cnne::cuda {
namespace {

constexpr int kBnThreads = 256;

using BnDims = BatchNormDims;

// Sums a and b over the block, in a fixed order; thread 0 gets the totals.
__device__ void block_sum(double& a, double& b) {
  block_sum_pair<kBnThreads>(a, b);
}

// How the blocks of the grid (channel group, split s) walk their values; the
// kernels below are written once over it.
//
// NCHW: one channel per block (blockIdx.x); its 256 threads stride over the
// split's values j = n*HW + hw of that channel.
struct NchwWalk {
  static constexpr int kChannels = 1;  // channels per block
  __device__ static uint32_t slot() { return 0; }
  __device__ static uint32_t channel() { return blockIdx.x; }
  __device__ static uint32_t first() { return threadIdx.x; }
  static constexpr uint32_t kStride = kBnThreads;
  __device__ static int64_t at(const BnDims& d, uint32_t c, uint32_t j) {
    return batchnorm_index(d, c, j);
  }
  __device__ static bool leader() { return threadIdx.x == 0; }  // holds block_sum's totals
  __device__ static void sum(double& a, double& b) { block_sum(a, b); }
  static dim3 grid(const BnDims& d) { return dim3(d.c, static_cast<unsigned>(d.splits)); }
};

// NHWC (Note [channels last]): row j = n*HW + hw holds value j of every
// channel, contiguous, so the splits (rows [begin(s), begin(s + 1))), the
// partials (C, splits, 2) and the merges are those of NCHW. A block takes a
// tile of 32 channels of one split: lane l (threadIdx.x % 32) is channel
// tile*32 + l and row group g (threadIdx.x / 32) takes rows begin + g,
// begin + g + 8, ..., so a warp reads 32 consecutive channels of one row
// (coalesced) where one block per channel would stride by C.
struct NhwcWalk {
  static constexpr int kChannels = 32;
  static constexpr int kRowGroups = kBnThreads / kChannels;
  __device__ static uint32_t slot() { return threadIdx.x % kChannels; }
  __device__ static uint32_t channel() { return blockIdx.x * kChannels + slot(); }
  __device__ static uint32_t first() { return threadIdx.x / kChannels; }
  static constexpr uint32_t kStride = kRowGroups;
  __device__ static int64_t at(const BnDims& d, uint32_t c, uint32_t j) {
    return int64_t(j) * d.c + c;
  }
  __device__ static bool leader() { return threadIdx.x < kChannels; }  // row group 0
  // Sums each lane's a and b over the row groups, in order g = 0..7; row group
  // 0 gets its lane's totals. Every thread must call it.
  __device__ static void sum(double& a, double& b) {
    __shared__ double shared[2][kRowGroups][kChannels];
    const uint32_t lane = slot(), g = first();
    shared[0][g][lane] = a;
    shared[1][g][lane] = b;
    __syncthreads();
    if (g == 0) {
      a = b = 0;
      for (int k = 0; k < kRowGroups; ++k) {
        a += shared[0][k][lane];
        b += shared[1][k][lane];
      }
    }
  }
  static dim3 grid(const BnDims& d) {
    return dim3((d.c + kChannels - 1) / kChannels, static_cast<unsigned>(d.splits));
  }
};

// y = x * scale + shift in float, as the CPU reference rounds it, then the fused ReLU.
template <class T, bool kRelu>
__device__ __forceinline__ T normalized(T x, float scale, float shift) {
  const float v = __fadd_rn(__fmul_rn(to_float(x), scale), shift);
  return from_float<T>(kRelu ? relu_value(v) : v);
}

// Forward, pass 1: each block's count-free mean and sum of squared deviations.
template <class Walk, class T>
__global__ void __launch_bounds__(kBnThreads)
    bn_stats_kernel(const T* x,       // (N, C, H, W) in Walk's layout
                    double* partial,  // (C, splits, 2): mean, M2 of each block's values
                    BnDims d) {
  const uint32_t c = Walk::channel();
  const int s = blockIdx.y;
  const bool active = c < d.c;
  const uint32_t begin = batchnorm_split_begin(d, s), end = batchnorm_split_begin(d, s + 1);
  double shift = 0, sum = 0, sq = 0;
  if (active) {
    shift = to_float(x[Walk::at(d, c, 0)]);  // batchnorm_block_moments
    for (uint32_t j = begin + Walk::first(); j < end; j += Walk::kStride) {
      const double v = to_float(x[Walk::at(d, c, j)]) - shift;
      sum += v;
      sq += v * v;
    }
  }
  Walk::sum(sum, sq);
  if (Walk::leader() && active)
    batchnorm_block_moments(sum, sq, end - begin, shift, partial + (size_t(c) * d.splits + s) * 2);
}

// Forward, pass 2: merges each channel's partials (Chan et al., in split
// order), saves the statistics, updates the running ones (the split-0 block)
// and writes y = x * scale + shift.
template <class Walk, class T, bool kRelu>
__global__ void __launch_bounds__(kBnThreads)
    bn_forward_kernel(const T* x, T* y,                         // (N, C, H, W) in Walk's layout
                      const double* partial,                    // (C, splits, 2)
                      const float* gamma, const float* beta,    // (C)
                      float* running_mean, float* running_var,  // (C)
                      float* save_mean, float* save_invstd,     // (C)
                      float momentum, float eps, BnDims d) {
  const uint32_t c = Walk::channel();
  const int s = blockIdx.y;
  const bool active = c < d.c;
  __shared__ float scale_shift[2][Walk::kChannels];
  if (Walk::leader() && active) {
    const double count = d.values;
    double mean = 0, m2 = 0;
    batchnorm_merge_moments(d, partial, c, &mean, &m2);
    const double var = m2 / count;
    const double invstd = 1.0 / sqrt(var + double(eps));
    scale_shift[0][Walk::slot()] = static_cast<float>(invstd * gamma[c]);
    scale_shift[1][Walk::slot()] = static_cast<float>(beta[c] - mean * invstd * gamma[c]);
    if (s == 0) {
      save_mean[c] = static_cast<float>(mean);
      save_invstd[c] = static_cast<float>(invstd);
      const double unbiased = count > 1 ? m2 / (count - 1) : var;
      running_mean[c] = static_cast<float>((1.0 - momentum) * running_mean[c] + momentum * mean);
      running_var[c] = static_cast<float>((1.0 - momentum) * running_var[c] + momentum * unbiased);
    }
  }
  __syncthreads();
  if (!active) return;
  const float scale = scale_shift[0][Walk::slot()], shift = scale_shift[1][Walk::slot()];
  const uint32_t end = batchnorm_split_begin(d, s + 1);
  for (uint32_t j = batchnorm_split_begin(d, s) + Walk::first(); j < end; j += Walk::kStride) {
    const int64_t i = Walk::at(d, c, j);
    y[i] = normalized<T, kRelu>(x[i], scale, shift);
  }
}

// Inference: the running statistics, the CPU reference's arithmetic.
template <class Walk, class T, bool kRelu>
__global__ void __launch_bounds__(kBnThreads)
    bn_inference_kernel(const T* x, T* y,                       // (N, C, H, W) in Walk's layout
                        const float* gamma, const float* beta,  // (C)
                        const float* running_mean, const float* running_var,  // (C)
                        float eps, BnDims d) {
  const uint32_t c = Walk::channel();
  const int s = blockIdx.y;
  if (c >= d.c) return;
  const double invstd = 1.0 / sqrt(double(running_var[c]) + eps);
  const auto scale = static_cast<float>(invstd * gamma[c]);
  const auto shift = static_cast<float>(beta[c] - running_mean[c] * invstd * gamma[c]);
  const uint32_t end = batchnorm_split_begin(d, s + 1);
  for (uint32_t j = batchnorm_split_begin(d, s) + Walk::first(); j < end; j += Walk::kStride) {
    const int64_t i = Walk::at(d, c, j);
    y[i] = normalized<T, kRelu>(x[i], scale, shift);
  }
}

// Backward, pass 1: each block's sum(dy) and sum(dy * xhat).
template <class Walk, class T>
__global__ void __launch_bounds__(kBnThreads)
    bn_backward_sums_kernel(const T* x, const T* dy,  // (N, C, H, W) in Walk's layout
                            const float* save_mean, const float* save_invstd,  // (C)
                            double* partial,  // (C, splits, 2): sum dy, sum dy * xhat
                            BnDims d) {
  const uint32_t c = Walk::channel();
  const int s = blockIdx.y;
  const bool active = c < d.c;
  const uint32_t begin = batchnorm_split_begin(d, s), end = batchnorm_split_begin(d, s + 1);
  double sum_dy = 0, sum_dy_xhat = 0;
  if (active) {
    const double mean = save_mean[c], invstd = save_invstd[c];
    for (uint32_t j = begin + Walk::first(); j < end; j += Walk::kStride) {
      const int64_t i = Walk::at(d, c, j);
      const double g = to_float(dy[i]);
      sum_dy += g;
      sum_dy_xhat += g * (to_float(x[i]) - mean) * invstd;
    }
  }
  Walk::sum(sum_dy, sum_dy_xhat);
  if (Walk::leader() && active) {
    partial[(size_t(c) * d.splits + s) * 2] = sum_dy;
    partial[(size_t(c) * d.splits + s) * 2 + 1] = sum_dy_xhat;
  }
}

// Backward, pass 2: merges the sums, writes dgamma and dbeta (the split-0
// block) and dx = gamma * invstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat)).
template <class Walk, class T>
__global__ void __launch_bounds__(kBnThreads)
    bn_backward_kernel(const T* x, const T* dy, T* dx,  // (N, C, H, W) in Walk's layout
                       const float* gamma,              // (C)
                       const float* save_mean, const float* save_invstd,  // (C)
                       const double* partial,                             // (C, splits, 2)
                       float* dgamma, float* dbeta,                       // (C)
                       BnDims d) {
  const uint32_t c = Walk::channel();
  const int s = blockIdx.y;
  const bool active = c < d.c;
  __shared__ double sums[2][Walk::kChannels];
  if (Walk::leader() && active) {
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int k = 0; k < d.splits; ++k) {
      sum_dy += partial[(size_t(c) * d.splits + k) * 2];
      sum_dy_xhat += partial[(size_t(c) * d.splits + k) * 2 + 1];
    }
    sums[0][Walk::slot()] = sum_dy;
    sums[1][Walk::slot()] = sum_dy_xhat;
    if (s == 0) {
      dgamma[c] = static_cast<float>(sum_dy_xhat);
      dbeta[c] = static_cast<float>(sum_dy);
    }
  }
  __syncthreads();
  if (!active) return;
  const double sum_dy = sums[0][Walk::slot()], sum_dy_xhat = sums[1][Walk::slot()];
  const double count = d.values, mean = save_mean[c], invstd = save_invstd[c];
  const double k_scale = gamma[c] * invstd / count;
  const uint32_t end = batchnorm_split_begin(d, s + 1);
  for (uint32_t j = batchnorm_split_begin(d, s) + Walk::first(); j < end; j += Walk::kStride) {
    const int64_t i = Walk::at(d, c, j);
    const double xhat = (to_float(x[i]) - mean) * invstd;
    dx[i] = from_float<T>(
        static_cast<float>(k_scale * (count * to_float(dy[i]) - sum_dy - xhat * sum_dy_xhat)));
  }
}

}  // namespace
}  // namespace cnne::cuda
