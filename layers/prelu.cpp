#include "layers/prelu.h"

#include <cmath>

#include "engine/error.h"
#include "engine/ops.h"

namespace cnne {

PReLU::PReLU(std::string name, int64_t num_parameters, double init)
    : Layer(std::move(name)), num_parameters_(num_parameters), init_(init) {
  if (num_parameters_ < 1 || num_parameters_ > (int64_t{1} << 24))
    throw ConfigError(where() +
                      ": num_parameters must be in 1..16777216 (1: one slope for all "
                      "channels; C: one per channel)");
  if (!std::isfinite(init_) || std::fabs(init_) > 1e6)
    throw ConfigError(where() + ": init must be a finite number (|value| <= 1e6)");
}

std::unique_ptr<Layer> PReLU::from_json(const std::string& name, JsonFields& f) {
  const int64_t count = f.get_int("num_parameters", 1);
  return std::make_unique<PReLU>(name, count, f.get_number("init", 0.25));
}

Shape PReLU::output_shape(const Shape& in) const {
  if (in.rank() != 2 && in.rank() != 4)
    throw ConfigError(where() + ": expects an input of shape (N, C, H, W) or (N, C), got " +
                      in.str());
  if (num_parameters_ != 1 && in[1] != num_parameters_)
    throw ConfigError(where() + ": num_parameters is " + std::to_string(num_parameters_) +
                      " but its input has " + std::to_string(in[1]) + " channels (shape " +
                      in.str() + "); it must be 1 or the channel count");
  return in;
}

std::vector<ParamSpec> PReLU::parameter_specs() const {
  return {{"weight", Shape{num_parameters_}}};
}

void PReLU::initialize(Rng&, std::span<const Tensor> params) const {
  for (int64_t i = 0; i < num_parameters_; ++i) params[0].f32()[i] = static_cast<float>(init_);
}

void PReLU::forward(Context& ctx, const Tensor& x, const Tensor& y) {
  ops::prelu_forward(ctx, x, params_[0], y);
}

void PReLU::backward(Context& ctx, const Tensor& x, const Tensor&, const Tensor& dy,
                     const Tensor* dx) {
  ops::prelu_backward(ctx, x, params_[0], dy, dx, grads_[0]);
}

nlohmann::json PReLU::to_json() const {
  return {{"type", type()}, {"name", name()}, {"num_parameters", num_parameters_}, {"init", init_}};
}

std::string PReLU::repr() const {
  return "PReLU(num_parameters=" + std::to_string(num_parameters_) + ")";
}

}  // namespace cnne
