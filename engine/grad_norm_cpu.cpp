// Gradient clipping, CPU reference: the sum of squares in double, PyTorch's
// coefficient in float.
#include <cmath>
#include <string>

#include "engine/error.h"
#include "engine/ops.h"

namespace cnne::cpu {

void sum_squares(Context&, const Tensor& grads, const Tensor& partials) {
  if (partials.numel() != kNormPartials)
    throw Error("sum_squares: partials of " + partials.shape.str() + ", expected (" +
                std::to_string(kNormPartials) + ")");
  const float* g = grads.f32();
  double s = 0;
  for (int64_t i = 0; i < grads.numel(); ++i) s += double(g[i]) * double(g[i]);
  partials.f32()[0] = static_cast<float>(double(partials.f32()[0]) + s);
}

void clip_coefficient(Context&, const Tensor& partials, float max_norm, const Tensor& norm_coef) {
  if (partials.numel() != kNormPartials || norm_coef.numel() != 2)
    throw Error("clip_coefficient: partials " + partials.shape.str() + " and norm_coef " +
                norm_coef.shape.str() + ", expected (" + std::to_string(kNormPartials) +
                ") and (2)");
  float* p = partials.f32();
  double s = 0;
  for (int64_t i = 0; i < kNormPartials; ++i) {
    s += p[i];
    p[i] = 0.0f;
  }
  const float norm = static_cast<float>(std::sqrt(s));
  const float coef = max_norm / (norm + 1e-6f);
  norm_coef.f32()[0] = norm;
  norm_coef.f32()[1] = coef >= 1.0f ? 1.0f : coef;  // NaN stays NaN, as torch.clamp keeps it
}

void scale_by(Context&, const float* factor, const Tensor& grads) {
  float* g = grads.f32();
  const float f = *factor;
  for (int64_t i = 0; i < grads.numel(); ++i) g[i] *= f;
}

}  // namespace cnne::cpu
