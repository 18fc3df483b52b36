// Adagrad over the flat parameter arena on the GPU: one kernel, the CPU
// reference's order of operations and fused multiply-adds, nothing else contracted.
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/launch.h"
#include "engine/adagrad_kernel.cuh"
#include "engine/ops.h"

namespace cnne::cuda {

void adagrad_update(Context& ctx, const AdagradHyper* h, const LossScaleState* scaling,
                    const Tensor& params, const Tensor& grads, const Tensor& sum) {
  const int64_t n = params.numel();
  if (n == 0) return;
  adagrad_kernel<<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(params.f32(), grads.f32(),
                                                                      sum.f32(), n, h, scaling);
  CNNE_CHECK_LAUNCH("adagrad_update of " + std::to_string(n) + " parameters");
}

}  // namespace cnne::cuda
