// Adam / AdamW over the flat parameter arena on the GPU: one kernel, the CPU
// reference's order of operations without FMA contraction.
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/launch.h"
#include "engine/adam_kernel.cuh"
#include "engine/ops.h"

namespace cnne::cuda {

void adam_update(Context& ctx, const AdamHyper* h, const LossScaleState* scaling,
                 const Tensor& params, const Tensor& grads, const Tensor& exp_avg,
                 const Tensor& exp_avg_sq, const Tensor* max_exp_avg_sq) {
  const int64_t n = params.numel();
  if (n == 0) return;
  adam_kernel<<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(
      params.f32(), grads.f32(), exp_avg.f32(), exp_avg_sq.f32(),
      max_exp_avg_sq ? max_exp_avg_sq->f32() : nullptr, n, h, scaling);
  CNNE_CHECK_LAUNCH("adam_update of " + std::to_string(n) + " parameters");
}

}  // namespace cnne::cuda
