// Adam / AdamW over the flat parameter arena, CPU reference, in PyTorch's
// order of operations (see AdamHyper in engine/ops.h).
#include <cmath>

#include "engine/ops.h"

namespace cnne::cpu {

void adam_update(Context&, const AdamHyper* hyper, const LossScaleState* scaling,
                 const Tensor& params, const Tensor& grads, const Tensor& exp_avg,
                 const Tensor& exp_avg_sq) {
  if (scaling && scaling->found_inf) return;
  AdamHyper h = *hyper;
  if (scaling && scaling->skipped > 0)  // Note [skipped steps]: fewer steps counted
    adam_bias_corrections(h.lr, h.beta1_d, h.beta2_d, h.step - scaling->skipped, &h.step_size,
                          &h.bias_correction2_sqrt);
  float* __restrict p = params.f32();
  const float* __restrict g = grads.f32();
  float* __restrict m = exp_avg.f32();
  float* __restrict v = exp_avg_sq.f32();
  const int64_t n = params.numel();
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

}  // namespace cnne::cpu
