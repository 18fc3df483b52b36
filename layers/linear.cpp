#include "layers/linear.h"

#include "engine/error.h"
#include "engine/ops.h"
#include "layers/init.h"

namespace cnne {

Linear::Linear(std::string name, int64_t in_features, int64_t out_features, bool bias)
    : Layer(std::move(name)), in_features_(in_features), out_features_(out_features), bias_(bias) {
  if (in_features_ < 1) throw ConfigError(where() + ": in_features must be >= 1");
  if (out_features_ < 1) throw ConfigError(where() + ": out_features must be >= 1");
}

std::unique_ptr<Layer> Linear::from_json(const std::string& name, JsonFields& f) {
  const int64_t in = f.get_int("in_features");
  const int64_t out = f.get_int("out_features");
  return std::make_unique<Linear>(name, in, out, f.get_bool("bias", true));
}

Shape Linear::output_shape(const Shape& in) const {
  if (in.rank() != 2)
    throw ConfigError(where() + ": expects an input of shape (N, " + std::to_string(in_features_) +
                      "), got " + in.str() + "; put a flatten layer before it");
  if (in[1] != in_features_)
    throw ConfigError(where() + ": in_features is " + std::to_string(in_features_) +
                      " but its input has " + std::to_string(in[1]) + " features (shape " +
                      in.str() + ")");
  return Shape{in[0], out_features_};
}

std::vector<ParamSpec> Linear::parameter_specs() const {
  std::vector<ParamSpec> specs{{"weight", Shape{out_features_, in_features_}}};
  if (bias_) specs.push_back({"bias", Shape{out_features_}});
  return specs;
}

void Linear::initialize(Rng& rng, std::span<const Tensor> params) const {
  for (const Tensor& t : params) init_uniform_fan_in(rng, t, in_features_);
}

std::vector<ParamSpec> Linear::scratch_specs(const Shape&) const {
  return working_weight_specs(parameter_specs()[0].shape, false);
}

void Linear::forward(Context& ctx, const Tensor& x, const Tensor& y) {
  const Tensor w = compute_weight(ctx, 0, true);
  ops::linear_forward(ctx, x, w, bias_ ? &params_[1] : nullptr, activation_, y);
}

void Linear::backward(Context& ctx, const Tensor& x, const Tensor&, const Tensor& dy,
                      const Tensor* dx) {
  ops::linear_backward_weight(ctx, x, dy, grads_[0]);  // F32 even from 16-bit x and dy
  if (bias_) ops::linear_backward_bias(ctx, dy, grads_[1]);
  if (dx) ops::linear_backward_data(ctx, compute_weight(ctx, 0, false), dy, *dx);
}

nlohmann::json Linear::to_json() const {
  return {{"type", type()},
          {"name", name()},
          {"in_features", in_features_},
          {"out_features", out_features_},
          {"bias", bias_}};
}

std::string Linear::repr() const {
  return "Linear(in_features=" + std::to_string(in_features_) +
         ", out_features=" + std::to_string(out_features_) +
         ", bias=" + (bias_ ? "True" : "False") + ")";
}

int64_t Linear::forward_flops(const Shape& in) const {
  return 2 * in[0] * in_features_ * out_features_ + (bias_ ? in[0] * out_features_ : 0);
}

}  // namespace cnne
