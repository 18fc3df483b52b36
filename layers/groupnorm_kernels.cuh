#pragma once
// GroupNorm's kernels, launched by layers/groupnorm_cuda.cu and run on CPU
// threads by the emulated-kernel tests (Note [kernel emulation] in
// cuda/emulator.h). The unnamed namespace gives each file that includes this
// its own copy.
//
// The statistics and dx take one block per (n, group): its (C / G) * H * W
// values are the block's alone, so the block reduces them in a fixed order
// (block_sum_pair) and needs no workspace and no second pass over partials.
// dgamma and dbeta sum each channel over N * H * W: batch norm's walks
// (layers/batchnorm_kernels.cuh) with one split, a block per channel (NCHW)
// or per tile of 32 channels (channels-last). The arithmetic is the CPU
// reference's (groupnorm_cpu.cpp): statistics and sums in double,
// y = x * scale + shift in float with scale and shift rounded from double.
#include <cstdint>

#include "cuda/block_sum.cuh"
#include "cuda/device_api.cuh"
#include "cuda/element.cuh"
#include "engine/host_device.h"
#include "layers/batchnorm_kernels.cuh"
#include "layers/relu_math.h"

namespace cnne::cuda {
namespace {

constexpr int kGnThreads = 256;

struct GroupNormDims {
  uint32_t c, groups, per_group, hw;  // channels, groups, C / groups, H * W
  CNNE_HOST_DEVICE uint32_t values() const { return per_group * hw; }  // of one (n, group)
};

// Value j (0 .. per_group * HW) of group g of image n: NCHW walks the
// group's planes one after the other (they are contiguous); channels-last
// walks pixel by pixel, the group's channels of a pixel side by side.
template <bool kNhwc>
__device__ __forceinline__ int64_t gn_index(const GroupNormDims& d, uint32_t n, uint32_t g,
                                            uint32_t j) {
  if (kNhwc) {
    const uint32_t pixel = j / d.per_group, k = j - pixel * d.per_group;
    return (int64_t(n) * d.hw + pixel) * d.c + g * d.per_group + k;
  }
  return (int64_t(n) * d.c + g * d.per_group) * d.hw + j;
}
template <bool kNhwc>
__device__ __forceinline__ uint32_t gn_channel(const GroupNormDims& d, uint32_t g, uint32_t j) {
  return g * d.per_group + (kNhwc ? j % d.per_group : j / d.hw);
}

// Forward: block ng = n * groups + g. Shifted sums (by the group's first
// value, as batch norm's blocks) give the mean and the biased variance; the
// block saves them and writes y = act(x * scale + shift).
template <bool kNhwc, class T, bool kRelu>
__global__ void __launch_bounds__(kGnThreads)
    gn_forward_kernel(const T* x, T* y,                       // (N, C, H, W), layout kNhwc
                      const float* gamma, const float* beta,  // (C), or null: 1 and 0
                      float* save_mean, float* save_rstd,     // (N, groups)
                      float eps, GroupNormDims d) {
  const uint32_t ng = blockIdx.x, n = ng / d.groups, g = ng - n * d.groups;
  const uint32_t m = d.values();
  const double first = to_float(x[gn_index<kNhwc>(d, n, g, 0)]);
  double sum = 0, sq = 0;
  for (uint32_t j = threadIdx.x; j < m; j += kGnThreads) {
    const double v = to_float(x[gn_index<kNhwc>(d, n, g, j)]) - first;
    sum += v;
    sq += v * v;
  }
  block_sum_pair<kGnThreads>(sum, sq);
  __shared__ double stats[2];  // mean, rstd
  if (threadIdx.x == 0) {
    const double shifted_mean = sum / m;
    const double var = fmax(sq / m - shifted_mean * shifted_mean, 0.0);
    stats[0] = first + shifted_mean;
    stats[1] = 1.0 / sqrt(var + double(eps));
    save_mean[ng] = static_cast<float>(stats[0]);
    save_rstd[ng] = static_cast<float>(stats[1]);
  }
  __syncthreads();
  const double mean = stats[0], rstd = stats[1];
  for (uint32_t j = threadIdx.x; j < m; j += kGnThreads) {
    const uint32_t c = gn_channel<kNhwc>(d, g, j);
    const double gain = rstd * (gamma ? double(gamma[c]) : 1.0);
    const auto scale = static_cast<float>(gain);
    const auto shift = static_cast<float>((beta ? double(beta[c]) : 0.0) - mean * gain);
    const int64_t i = gn_index<kNhwc>(d, n, g, j);
    y[i] = normalized<T, kRelu>(x[i], scale, shift);
  }
}

// Backward dx: block ng sums g = dy * gamma[c] and g * xhat over its values,
// then writes dx = rstd * (g - mean(g) - xhat * mean(g * xhat)).
template <bool kNhwc, class T>
__global__ void __launch_bounds__(kGnThreads)
    gn_backward_dx_kernel(const T* x, const T* dy, T* dx,  // (N, C, H, W), layout kNhwc
                          const float* gamma,              // (C), or null
                          const float* save_mean, const float* save_rstd,  // (N, groups)
                          GroupNormDims d) {
  const uint32_t ng = blockIdx.x, n = ng / d.groups, g = ng - n * d.groups;
  const uint32_t m = d.values();
  const double mean = save_mean[ng], rstd = save_rstd[ng];
  double sum_g = 0, sum_g_xhat = 0;
  for (uint32_t j = threadIdx.x; j < m; j += kGnThreads) {
    const int64_t i = gn_index<kNhwc>(d, n, g, j);
    const double grad = to_float(dy[i]) * (gamma ? double(gamma[gn_channel<kNhwc>(d, g, j)]) : 1.0);
    sum_g += grad;
    sum_g_xhat += grad * (to_float(x[i]) - mean) * rstd;
  }
  block_sum_pair<kGnThreads>(sum_g, sum_g_xhat);
  __shared__ double means[2];  // of g and of g * xhat
  if (threadIdx.x == 0) {
    means[0] = sum_g / m;
    means[1] = sum_g_xhat / m;
  }
  __syncthreads();
  const double mean_g = means[0], mean_g_xhat = means[1];
  for (uint32_t j = threadIdx.x; j < m; j += kGnThreads) {
    const int64_t i = gn_index<kNhwc>(d, n, g, j);
    const double gain = gamma ? double(gamma[gn_channel<kNhwc>(d, g, j)]) : 1.0;
    const double xhat = (to_float(x[i]) - mean) * rstd;
    dx[i] = from_float<T>(
        static_cast<float>(rstd * (to_float(dy[i]) * gain - mean_g - xhat * mean_g_xhat)));
  }
}

// Backward dgamma, dbeta: channel c's sums of dy * xhat and dy over its
// N * H * W values (d.values, one split), xhat from the statistics of the
// value's (n, c / per_group).
template <class Walk, class T>
__global__ void __launch_bounds__(kBnThreads)
    gn_param_grads_kernel(const T* x, const T* dy,  // (N, C, H, W) in Walk's layout
                          const float* save_mean, const float* save_rstd,  // (N, groups)
                          float* dgamma, float* dbeta,                     // (C)
                          BnDims d, uint32_t groups, uint32_t per_group) {
  const uint32_t c = Walk::channel();
  const bool active = c < d.c;
  double sum_dy = 0, sum_dy_xhat = 0;
  if (active) {
    const uint32_t g = c / per_group;
    for (uint32_t j = Walk::first(); j < d.values; j += Walk::kStride) {
      const int64_t i = Walk::at(d, c, j);
      const uint32_t stat = (j / d.hw) * groups + g;
      const double grad = to_float(dy[i]);
      sum_dy += grad;
      sum_dy_xhat += grad * (to_float(x[i]) - double(save_mean[stat])) * double(save_rstd[stat]);
    }
  }
  Walk::sum(sum_dy, sum_dy_xhat);
  if (Walk::leader() && active) {
    dgamma[c] = static_cast<float>(sum_dy_xhat);
    dbeta[c] = static_cast<float>(sum_dy);
  }
}

}  // namespace
}  // namespace cnne::cuda
