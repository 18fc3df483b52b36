#include "layers/avgpool2d.h"

#include "engine/error.h"
#include "layers/pool_options.h"

namespace cnne {

AvgPool2d::AvgPool2d(std::string name, const Pool2dParams& params)
    : Layer(std::move(name)), params_(params) {
  check_pool_params(params_, where());
}

std::unique_ptr<Layer> AvgPool2d::from_json(const std::string& name, JsonFields& f) {
  return std::make_unique<AvgPool2d>(name, read_pool_params(f));
}

Shape AvgPool2d::output_shape(const Shape& in) const {
  return pooled_shape(params_, in, where());
}

void AvgPool2d::forward(Context& ctx, const Tensor& x, const Tensor& y) {
  ops::avgpool2d_forward(ctx, params_, x, y);
}

void AvgPool2d::backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                         const Tensor* dx) {
  if (dx) ops::avgpool2d_backward(ctx, params_, x, y, dy, *dx);
}

nlohmann::json AvgPool2d::to_json() const {
  return pool_params_json(params_, type(), name());
}

std::string AvgPool2d::repr() const {
  return "AvgPool2d(kernel_size=" + int_or_pair(params_.kernel_h, params_.kernel_w) +
         ", stride=" + int_or_pair(params_.stride_h, params_.stride_w) +
         ", padding=" + int_or_pair(params_.pad_h, params_.pad_w) + ")";
}

int64_t AvgPool2d::forward_flops(const Shape& in) const {
  return output_shape(in).numel() * params_.kernel_h * params_.kernel_w;
}

std::unique_ptr<Layer> GlobalAvgPool2d::from_json(const std::string& name, JsonFields&) {
  return std::make_unique<GlobalAvgPool2d>(name);
}

Shape GlobalAvgPool2d::output_shape(const Shape& in) const {
  if (in.rank() != 4)
    throw ConfigError(where() + ": expects an input of shape (N, C, H, W), got " + in.str());
  return Shape{in[0], in[1], 1, 1};
}

void GlobalAvgPool2d::forward(Context& ctx, const Tensor& x, const Tensor& y) {
  ops::global_avgpool_forward(ctx, x, y);
}

void GlobalAvgPool2d::backward(Context& ctx, const Tensor&, const Tensor&, const Tensor& dy,
                               const Tensor* dx) {
  if (dx) ops::global_avgpool_backward(ctx, dy, *dx);
}

nlohmann::json GlobalAvgPool2d::to_json() const {
  return {{"type", type()}, {"name", name()}};
}

}  // namespace cnne
