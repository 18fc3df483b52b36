#include "layers/dropout.h"

#include <cstdio>

#include "engine/error.h"
#include "engine/ops.h"
#include "layers/dropout_mask.h"

namespace cnne {

Dropout::Dropout(std::string name, double p, bool per_channel)
    : Layer(std::move(name)), p_(p), per_channel_(per_channel) {
  if (!(p_ >= 0 && p_ < 1)) throw ConfigError(where() + ": p must be in [0, 1)");
}

std::unique_ptr<Layer> Dropout::from_json(const std::string& name, JsonFields& f) {
  return std::make_unique<Dropout>(name, f.get_number("p", 0.5));
}

std::unique_ptr<Layer> Dropout::from_json_2d(const std::string& name, JsonFields& f) {
  return std::make_unique<Dropout>(name, f.get_number("p", 0.5), true);
}

Shape Dropout::output_shape(const Shape& in) const {
  if (per_channel_ && in.rank() != 4)
    throw ConfigError(where() + ": expects (N, C, H, W) feature maps, got " + in.str() +
                      "; use dropout on features");
  return in;
}

std::vector<ParamSpec> Dropout::scratch_specs(const Shape& in) const {
  return {{"mask", Shape{in.numel()}, compute_dtype_}};  // (N * ...) at the largest batch
}

Tensor Dropout::mask_for(const Shape& shape) const {
  Tensor used = scratch_[0];  // the first numel(shape) elements of the mask
  used.shape = shape;
  if (shape.numel() > scratch_[0].numel()) throw Error(where() + ": batch larger than planned");
  return used;
}

void Dropout::forward(Context& ctx, const Tensor& x, const Tensor& y) {
  if (!training() || p_ == 0) {
    ops::axpby(ctx, 1.0f, x, 0.0f, y);
    return;
  }
  const Tensor used = mask_for(x.shape);
  if (!step_key_) throw Error(where() + ": training needs a step key (Network::bind_step_key)");
  ops::dropout_forward(ctx, static_cast<float>(p_), dropout_keep_scale(p_), step_key_, salt_,
                       per_channel_, x, used, y);
}

void Dropout::backward(Context& ctx, const Tensor&, const Tensor&, const Tensor& dy,
                       const Tensor* dx) {
  if (!dx) return;
  if (!training() || p_ == 0) {
    ops::axpby(ctx, 1.0f, dy, 0.0f, *dx);
    return;
  }
  ops::multiply(ctx, dy, mask_for(dy.shape), dropout_keep_scale(p_), *dx);
}

nlohmann::json Dropout::to_json() const {
  return {{"type", type()}, {"name", name()}, {"p", p_}};
}

std::string Dropout::repr() const {
  char text[64];
  std::snprintf(text, sizeof text, "%s(p=%g, inplace=False)",
                per_channel_ ? "Dropout2d" : "Dropout", p_);
  return text;
}

}  // namespace cnne
