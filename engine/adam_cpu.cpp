// Adam / AdamW over the flat parameter arena, CPU reference, in PyTorch's
// order of operations (see AdamHyper in engine/ops.h).
#include <cmath>

#include "engine/ops.h"

namespace cnne::cpu {

void adam_update(Context&, const AdamHyper* hyper, const int32_t* skip, const Tensor& params,
                 const Tensor& grads, const Tensor& exp_avg, const Tensor& exp_avg_sq) {
  if (skip && *skip) return;
  const AdamHyper& h = *hyper;
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
