#pragma once
// The kernels of gradient clipping (engine/gradient_clipper.h), launched by
// engine/grad_norm_cuda.cu and run on CPU threads by the emulated-kernel tests
// (Note [kernel emulation] in cuda/emulator.h). The sum of squares goes
// through a fixed tree (a block's threads, then the kNormPartials slots), never
// atomics, so a run's norms are the same on every replay and under
// --deterministic.
#include <cstdint>

#include "cuda/device_api.cuh"
#include "cuda/launch.h"
#include "engine/ops.h"

namespace cnne::cuda {
namespace {

// The threads of both kernels' blocks, a power of two; the partials' count
// is a multiple of it, so one block of the second kernel covers them.
constexpr int kNormThreads = 256;
static_assert(kNormPartials % kNormThreads == 0, "one block sums the partials");

// Adds, in place, the sums of `sums` (kNormThreads) to sums[0] in a fixed tree.
__device__ __forceinline__ void tree_sum(float* sums) {
  for (int half = kNormThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half)
      sums[threadIdx.x] = __fadd_rn(sums[threadIdx.x], sums[threadIdx.x + half]);
    __syncthreads();
  }
}

// Block b adds its grid-stride share of the squares of g (n) to partials[b];
// gridDim.x <= kNormPartials, blockDim.x == kNormThreads.
__global__ void sum_squares_kernel(const float* g, int64_t n, float* partials) {
  __shared__ float sums[kNormThreads];
  float s = 0.0f;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    s = __fadd_rn(s, __fmul_rn(g[i], g[i]));
  sums[threadIdx.x] = s;
  __syncthreads();
  tree_sum(sums);
  if (threadIdx.x == 0) partials[blockIdx.x] = __fadd_rn(partials[blockIdx.x], sums[0]);
}

// One block of kNormThreads: norm_coef = {norm, min(1, max_norm / (norm + 1e-6))}
// from the partials (kNormPartials), which it then zeroes for the next step.
__global__ void clip_coefficient_kernel(float* partials, float max_norm, float* norm_coef) {
  __shared__ float sums[kNormThreads];
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < kNormPartials; i += kNormThreads) {
    s = __fadd_rn(s, partials[i]);
    partials[i] = 0.0f;
  }
  sums[threadIdx.x] = s;
  __syncthreads();
  tree_sum(sums);
  if (threadIdx.x == 0) {
    const float norm = __fsqrt_rn(sums[0]);
    const float coef = __fdiv_rn(max_norm, __fadd_rn(norm, 1e-6f));
    norm_coef[0] = norm;
    norm_coef[1] = coef >= 1.0f ? 1.0f : coef;  // NaN stays NaN, as torch.clamp keeps it
  }
}

__global__ void scale_by_kernel(const float* factor, float* g, int64_t n) {
  const float f = *factor;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    g[i] = __fmul_rn(g[i], f);
}

// The grid of sum_squares_kernel over n elements: one block per kNormThreads
// elements, at most kNormPartials.
inline unsigned sum_squares_blocks(int64_t n) {
  const int64_t b = (n + kNormThreads - 1) / kNormThreads;
  return static_cast<unsigned>(b < kNormPartials ? (b > 0 ? b : 1) : kNormPartials);
}

}  // namespace
}  // namespace cnne::cuda
