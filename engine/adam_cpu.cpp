// Adam / AdamW (and their AMSGrad variant) over the flat parameter arena, CPU
// reference, in PyTorch's order of operations (see AdamHyper in engine/ops.h).
#include <cmath>

#include "engine/ops.h"

namespace cnne::cpu {

namespace {

// vmax null: Adam; else AMSGrad, whose denominator is the running maximum of v.
template <bool kAmsgrad>
void adam_range(const AdamHyper& h, float* __restrict p, const float* __restrict g,
                float* __restrict m, float* __restrict v, float* __restrict vmax, int64_t n) {
  const float neg_step = -h.step_size;
  for (int64_t i = 0; i < n; ++i) {
    float param = p[i] * h.decay_factor;
    const float grad = g[i] + h.weight_decay * param;
    m[i] = m[i] * h.beta1 + grad * h.one_minus_beta1;
    v[i] = v[i] * h.beta2 + (h.one_minus_beta2 * grad) * grad;
    float second = v[i];
    if constexpr (kAmsgrad) second = vmax[i] = nan_max(vmax[i], v[i]);
    const float denom = std::sqrt(second) / h.bias_correction2_sqrt + h.eps;
    p[i] = param + (neg_step * m[i]) / denom;
  }
}

}  // namespace

void adam_update(Context& ctx, const AdamHyper* hyper, const LossScaleState* scaling,
                 const Tensor& params, const Tensor& grads, const Tensor& exp_avg,
                 const Tensor& exp_avg_sq, const Tensor* max_exp_avg_sq) {
  if (scaling && scaling->found_inf) return;
  AdamHyper h = *hyper;
  if (scaling && scaling->skipped > 0)  // Note [skipped steps]: fewer steps counted
    adam_bias_corrections(h.lr, h.beta1_d, h.beta2_d, h.step - scaling->skipped, &h.step_size,
                          &h.bias_correction2_sqrt);
  // Elementwise: split over threads in ranges, the same bits on any count.
  ctx.parallel(params.numel(), kMinElementsPerPart, [&](int, int64_t begin, int64_t end) {
    float* p = params.f32() + begin;
    const float* g = grads.f32() + begin;
    float* m = exp_avg.f32() + begin;
    float* v = exp_avg_sq.f32() + begin;
    if (max_exp_avg_sq)
      adam_range<true>(h, p, g, m, v, max_exp_avg_sq->f32() + begin, end - begin);
    else
      adam_range<false>(h, p, g, m, v, nullptr, end - begin);
  });
}

}  // namespace cnne::cpu
