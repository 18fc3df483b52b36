// Adagrad over the flat parameter arena, CPU reference, in the order of
// operations of PyTorch's torch.optim.Adagrad (single-tensor path; see
// AdagradHyper in engine/ops.h and Note [optimizer fused multiply-adds]).
#include <cmath>

#include "engine/ops.h"

namespace cnne::cpu {

void adagrad_update(Context& ctx, const AdagradHyper* hyper, const LossScaleState* scaling,
                    const Tensor& params, const Tensor& grads, const Tensor& sum) {
  if (scaling && scaling->found_inf) return;  // a step dynamic loss scaling skips
  AdagradHyper h = *hyper;
  if (scaling && scaling->skipped > 0)  // Note [skipped steps]: fewer steps counted
    h.neg_clr = adagrad_neg_clr(h.lr, h.lr_decay, h.step - scaling->skipped);
  const bool decay = h.weight_decay != 0.0f;  // PyTorch adds the term only then
  ctx.parallel(params.numel(), kMinElementsPerPart, [&](int, int64_t begin, int64_t end) {
    float* __restrict p = params.f32() + begin;
    const float* __restrict g = grads.f32() + begin;
    float* __restrict s = sum.f32() + begin;
    for (int64_t i = 0, n = end - begin; i < n; ++i) {
      const float grad = decay ? std::fma(p[i], h.weight_decay, g[i]) : g[i];
      s[i] = std::fma(grad, grad, s[i]);
      p[i] = p[i] + (h.neg_clr * grad) / (std::sqrt(s[i]) + h.eps);
    }
  });
}

}  // namespace cnne::cpu
