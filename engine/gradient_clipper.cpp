#include "engine/gradient_clipper.h"

#include <cmath>
#include <string>

#include "engine/error.h"
#include "engine/ops.h"

namespace cnne {

GradientClipper::GradientClipper(Context& ctx, double max_norm)
    : ctx_(ctx),
      max_norm_(static_cast<float>(max_norm)),
      state_(ctx.device(), sizeof(float) * static_cast<size_t>(kNormPartials + 2)) {
  if (!(max_norm > 0) || !std::isfinite(max_norm_))
    throw Error("GradientClipper: max_norm must be a positive finite number, got " +
                std::to_string(max_norm));
  std::vector<float> initial(static_cast<size_t>(kNormPartials + 2), 0.0f);  // partials 0
  initial[static_cast<size_t>(kNormPartials)] = -1.0f;                       // no norm yet
  copy_tensor(Tensor(initial.data(), Shape{kNormPartials + 2}),
              Tensor(static_cast<float*>(state_.data()), Shape{kNormPartials + 2}, ctx.device()));
}

Tensor GradientClipper::partials() const {
  return Tensor(static_cast<float*>(state_.data()), Shape{kNormPartials}, ctx_.device());
}

Tensor GradientClipper::norm_coef() const {
  return Tensor(static_cast<float*>(state_.data()) + kNormPartials, Shape{2}, ctx_.device());
}

void GradientClipper::clip(const Tensor& grads,
                           const std::vector<std::pair<int64_t, int64_t>>& ranges) {
  const std::vector<std::pair<int64_t, int64_t>> all{{0, grads.numel()}};
  const auto& parts = ranges.empty() ? all : ranges;
  for (const auto& [begin, end] : parts)
    ops::sum_squares(ctx_, grads.slice(begin, end), partials());
  ops::clip_coefficient(ctx_, partials(), max_norm_, norm_coef());
  const float* coef = norm_coef().f32() + 1;  // on the device
  for (const auto& [begin, end] : parts) ops::scale_by(ctx_, coef, grads.slice(begin, end));
}

double GradientClipper::last_norm() const {
  ctx_.synchronize();
  float host[2];
  copy_tensor(norm_coef(), Tensor(host, Shape{2}));
  return host[0];
}

}  // namespace cnne
