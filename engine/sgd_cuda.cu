// SGD over the flat parameter arena on the GPU: one kernel, the CPU
// reference's order of operations (engine/sgd_cpu.cpp).
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/launch.h"
#include "engine/ops.h"
#include "engine/sgd_kernel.cuh"

namespace cnne::cuda {

void sgd_update(Context& ctx, const SgdHyper* h, const LossScaleState* scaling,
                const Tensor& params, const Tensor& grads, const Tensor& momentum) {
  const int64_t n = params.numel();
  if (n == 0) return;
  sgd_kernel<<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(params.f32(), grads.f32(),
                                                                  momentum.f32(), n, h, scaling);
  CNNE_CHECK_LAUNCH("sgd_update of " + std::to_string(n) + " parameters");
}

}  // namespace cnne::cuda
