// Gradient clipping on the GPU: the sum of squares, the clip coefficient and
// the scaling, each reading its inputs from device memory so a captured CUDA
// graph clips every step (engine/grad_norm_kernels.cuh).
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/launch.h"
#include "engine/error.h"
#include "engine/grad_norm_kernels.cuh"
#include "engine/ops.h"

namespace cnne::cuda {

void sum_squares(Context& ctx, const Tensor& grads, const Tensor& partials) {
  if (partials.numel() != kNormPartials)
    throw Error("sum_squares: partials of " + partials.shape.str() + ", expected (" +
                std::to_string(kNormPartials) + ")");
  const int64_t n = grads.numel();
  if (n == 0) return;
  sum_squares_kernel<<<sum_squares_blocks(n), kNormThreads, 0, ctx.cuda().stream()>>>(
      grads.f32(), n, partials.f32());
  CNNE_CHECK_LAUNCH("sum_squares " + grads.shape.str());
}

void clip_coefficient(Context& ctx, const Tensor& partials, float max_norm,
                      const Tensor& norm_coef) {
  if (partials.numel() != kNormPartials || norm_coef.numel() != 2)
    throw Error("clip_coefficient: partials " + partials.shape.str() + " and norm_coef " +
                norm_coef.shape.str() + ", expected (" + std::to_string(kNormPartials) +
                ") and (2)");
  clip_coefficient_kernel<<<1, kNormThreads, 0, ctx.cuda().stream()>>>(partials.f32(), max_norm,
                                                                       norm_coef.f32());
  CNNE_CHECK_LAUNCH("clip_coefficient");
}

void scale_by(Context& ctx, const float* factor, const Tensor& grads) {
  const int64_t n = grads.numel();
  if (n == 0) return;
  scale_by_kernel<<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(factor, grads.f32(), n);
  CNNE_CHECK_LAUNCH("scale_by " + grads.shape.str());
}

}  // namespace cnne::cuda
