// Dropout and elementwise multiply on the GPU; the mask comes from the same
// counter-based hash as the CPU reference (layers/dropout_mask.h).
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/launch.h"
#include "engine/ops.h"
#include "layers/dropout_mask.h"

namespace cnne::cuda {
namespace {

__global__ void dropout_kernel(float p, const uint64_t* step_key, uint64_t salt, const float* x,
                               float* mask, float* y, int64_t n) {
  const uint64_t key = dropout_key(*step_key, salt);
  const float keep_scale = 1.0f / (1.0f - p);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float m = dropout_uniform(key, static_cast<uint64_t>(i)) >= p ? keep_scale : 0.0f;
    mask[i] = m;
    y[i] = __fmul_rn(x[i], m);
  }
}

__global__ void multiply_kernel(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = __fmul_rn(a[i], b[i]);
}

}  // namespace

void dropout_forward(Context& ctx, float p, const uint64_t* step_key, uint64_t salt,
                     const Tensor& x, const Tensor& mask, const Tensor& y) {
  const int64_t n = x.numel();
  if (n == 0) return;
  dropout_kernel<<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(p, step_key, salt, x.f32(),
                                                                      mask.f32(), y.f32(), n);
  CNNE_CHECK_LAUNCH("dropout " + x.shape.str());
}

void multiply(Context& ctx, const Tensor& a, const Tensor& b, const Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  multiply_kernel<<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(a.f32(), b.f32(), out.f32(),
                                                                       n);
  CNNE_CHECK_LAUNCH("multiply " + out.shape.str());
}

}  // namespace cnne::cuda
