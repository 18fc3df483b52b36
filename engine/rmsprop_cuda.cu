// RMSprop over the flat parameter arena on the GPU: one kernel, the CPU
// reference's order of operations and fused multiply-adds, nothing else contracted.
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/launch.h"
#include "engine/ops.h"
#include "engine/rmsprop_kernel.cuh"

namespace cnne::cuda {

void rmsprop_update(Context& ctx, const RmspropHyper* h, const LossScaleState* scaling,
                    const Tensor& params, const Tensor& grads, const Tensor& square_avg,
                    const Tensor* momentum_buffer, const Tensor* grad_avg) {
  const int64_t n = params.numel();
  if (n == 0) return;
  rmsprop_kernel<<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(
      params.f32(), grads.f32(), square_avg.f32(),
      momentum_buffer ? momentum_buffer->f32() : nullptr, grad_avg ? grad_avg->f32() : nullptr, n,
      h, scaling);
  CNNE_CHECK_LAUNCH("rmsprop_update of " + std::to_string(n) + " parameters");
}

}  // namespace cnne::cuda
