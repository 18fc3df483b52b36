// SGD over the flat parameter arena, CPU reference. The order of operations
// is PyTorch's torch.optim.SGD (single-tensor path), in float:
//   p = p * decay_factor        (decoupled weight decay; 1 when off)
//   d = g + wd * p
//   buf = first ? d : momentum * buf + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf
//   p = p - lr * d
// The options are template parameters so that each variant is one branch-free,
// vectorizable loop (the optimizer touches every parameter every step).
#include "engine/ops.h"

namespace cnne::cpu {
namespace {

template <bool kDecay, bool kMomentum, bool kFirst, bool kNesterov>
void sgd_loop(const SgdHyper& h, float* __restrict p, const float* __restrict g,
              float* __restrict buf, int64_t n) {
  const float lr = h.lr, wd = h.weight_decay, mu = h.momentum, keep = 1.0f - h.dampening;
  const float decay = h.decay_factor;
  for (int64_t i = 0; i < n; ++i) {
    if (decay != 1.0f) p[i] = p[i] * decay;
    float d = g[i];
    if constexpr (kDecay) d = d + wd * p[i];
    if constexpr (kMomentum) {
      const float b = kFirst ? d : mu * buf[i] + keep * d;
      buf[i] = b;
      d = kNesterov ? d + mu * b : b;
    }
    p[i] = p[i] - lr * d;
  }
}

template <bool kDecay>
void sgd_dispatch(const SgdHyper& h, bool first, float* p, const float* g, float* buf, int64_t n) {
  if (h.momentum == 0.0f) return sgd_loop<kDecay, false, false, false>(h, p, g, buf, n);
  if (first)
    return h.nesterov ? sgd_loop<kDecay, true, true, true>(h, p, g, buf, n)
                      : sgd_loop<kDecay, true, true, false>(h, p, g, buf, n);
  return h.nesterov ? sgd_loop<kDecay, true, false, true>(h, p, g, buf, n)
                    : sgd_loop<kDecay, true, false, false>(h, p, g, buf, n);
}

}  // namespace

void sgd_update(Context& ctx, const SgdHyper* hyper, const LossScaleState* scaling,
                const Tensor& params, const Tensor& grads, const Tensor& momentum) {
  if (scaling && scaling->found_inf) return;
  const SgdHyper& h = *hyper;
  const bool first_step = scaling ? h.step - scaling->skipped == 1 : h.first_step != 0;
  // Elementwise: split over threads in ranges, the same bits on any count.
  ctx.parallel(params.numel(), kMinElementsPerPart, [&](int, int64_t begin, int64_t end) {
    float* p = params.f32() + begin;
    const float* g = grads.f32() + begin;
    float* buf = momentum.f32() + begin;
    if (h.weight_decay != 0.0f)
      sgd_dispatch<true>(h, first_step, p, g, buf, end - begin);
    else
      sgd_dispatch<false>(h, first_step, p, g, buf, end - begin);
  });
}

}  // namespace cnne::cpu
