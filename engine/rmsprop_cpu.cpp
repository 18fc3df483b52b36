// RMSprop over the flat parameter arena, CPU reference, in the order of
// operations of PyTorch's torch.optim.RMSprop (single-tensor path; see
// RmspropHyper in engine/ops.h, and Note [optimizer fused multiply-adds] there
// for where it rounds once). Momentum and centering are template parameters,
// so each variant is one branch-free loop.
#include <cmath>

#include "engine/ops.h"

namespace cnne::cpu {
namespace {

template <bool kMomentum, bool kCentered>
void rmsprop_range(bool decay, const RmspropHyper& h, float* __restrict p,
                   const float* __restrict g, float* __restrict square_avg, float* __restrict buf,
                   float* __restrict grad_avg, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float grad = decay ? std::fma(p[i], h.weight_decay, g[i]) : g[i];
    const float sq = std::fma(h.one_minus_alpha * grad, grad, square_avg[i] * h.alpha);
    square_avg[i] = sq;
    float avg;
    if constexpr (kCentered) {
      const float ga = std::fma(grad, h.one_minus_alpha, grad_avg[i] * h.alpha);
      grad_avg[i] = ga;
      avg = std::sqrt(std::fma(-ga, ga, sq)) + h.eps;
    } else {
      avg = std::sqrt(sq) + h.eps;
    }
    if constexpr (kMomentum) {
      const float b = buf[i] * h.momentum + grad / avg;
      buf[i] = b;
      p[i] = std::fma(b, h.neg_lr, p[i]);
    } else {
      p[i] = p[i] + (h.neg_lr * grad) / avg;
    }
  }
}

}  // namespace

void rmsprop_update(Context& ctx, const RmspropHyper* hyper, const LossScaleState* scaling,
                    const Tensor& params, const Tensor& grads, const Tensor& square_avg,
                    const Tensor* momentum_buffer, const Tensor* grad_avg) {
  if (scaling && scaling->found_inf) return;  // a step dynamic loss scaling skips
  const RmspropHyper h = *hyper;
  // PyTorch applies momentum while it is > 0 (a cycled momentum always is).
  const bool momentum = momentum_buffer && h.momentum > 0.0f;
  const bool decay = h.weight_decay != 0.0f;  // PyTorch adds the term only then
  ctx.parallel(params.numel(), kMinElementsPerPart, [&](int, int64_t begin, int64_t end) {
    float* p = params.f32() + begin;
    const float* g = grads.f32() + begin;
    float* sq = square_avg.f32() + begin;
    float* buf = momentum_buffer ? momentum_buffer->f32() + begin : nullptr;
    float* ga = grad_avg ? grad_avg->f32() + begin : nullptr;
    const int64_t n = end - begin;
    if (momentum)
      grad_avg ? rmsprop_range<true, true>(decay, h, p, g, sq, buf, ga, n)
               : rmsprop_range<true, false>(decay, h, p, g, sq, buf, ga, n);
    else
      grad_avg ? rmsprop_range<false, true>(decay, h, p, g, sq, buf, ga, n)
               : rmsprop_range<false, false>(decay, h, p, g, sq, buf, ga, n);
  });
}

}  // namespace cnne::cpu
