// Adam / AdamW over the flat parameter arena, CPU reference, in PyTorch's
// order of operations (see AdamHyper in engine/ops.h).
#include <cmath>

#include "engine/ops.h"

namespace cnne::cpu {

namespace {

void adam_range(const AdamHyper& h, float* __restrict p, const float* __restrict g,
                float* __restrict m, float* __restrict v, int64_t n) {
  const float neg_step = -h.step_size;
  for (int64_t i = 0; i < n; ++i) {
    float param = p[i] * h.decay_factor;
    const float grad = g[i] + h.weight_decay * param;
    m[i] = m[i] * h.beta1 + grad * h.one_minus_beta1;
    v[i] = v[i] * h.beta2 + (h.one_minus_beta2 * grad) * grad;
    const float denom = std::sqrt(v[i]) / h.bias_correction2_sqrt + h.eps;
    p[i] = param + (neg_step * m[i]) / denom;
  }
}

}  // namespace

void adam_update(Context& ctx, const AdamHyper* hyper, const LossScaleState* scaling,
                 const Tensor& params, const Tensor& grads, const Tensor& exp_avg,
                 const Tensor& exp_avg_sq) {
  if (scaling && scaling->found_inf) return;
  AdamHyper h = *hyper;
  if (scaling && scaling->skipped > 0)  // Note [skipped steps]: fewer steps counted
    adam_bias_corrections(h.lr, h.beta1_d, h.beta2_d, h.step - scaling->skipped, &h.step_size,
                          &h.bias_correction2_sqrt);
  // Elementwise: split over threads in ranges, the same bits on any count.
  ctx.parallel(params.numel(), kMinElementsPerPart, [&](int, int64_t begin, int64_t end) {
    adam_range(h, params.f32() + begin, grads.f32() + begin, exp_avg.f32() + begin,
               exp_avg_sq.f32() + begin, end - begin);
  });
}

}  // namespace cnne::cpu
