#include "layers/pool2d.h"

#include "layers/pool_options.h"

namespace cnne {

void Pool2d::check() const {
  check_pool_params(params_, where());
}

Shape Pool2d::output_shape(const Shape& in) const {
  return pooled_shape(params_, in, where());
}

nlohmann::json Pool2d::to_json() const {
  return pool_params_json(params_, type(), name());
}

int64_t Pool2d::forward_flops(const Shape& in) const {
  return output_shape(in).numel() * params_.kernel_h * params_.kernel_w;
}

std::string Pool2d::window_repr() const {
  return "kernel_size=" + int_or_pair(params_.kernel_h, params_.kernel_w) +
         ", stride=" + int_or_pair(params_.stride_h, params_.stride_w) +
         ", padding=" + int_or_pair(params_.pad_h, params_.pad_w);
}

std::unique_ptr<Layer> MaxPool2d::from_json(const std::string& name, JsonFields& f) {
  return std::make_unique<MaxPool2d>(name, read_pool_params(f));
}

void MaxPool2d::forward(Context& ctx, const Tensor& x, const Tensor& y) {
  ops::maxpool2d_forward(ctx, params_, x, y);
}

void MaxPool2d::backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                         const Tensor* dx) {
  if (dx) ops::maxpool2d_backward(ctx, params_, x, y, dy, *dx);
}

std::string MaxPool2d::repr() const {
  return "MaxPool2d(" + window_repr() + ", dilation=1, ceil_mode=False)";
}

std::unique_ptr<Layer> AvgPool2d::from_json(const std::string& name, JsonFields& f) {
  Pool2dParams p = read_pool_params(f);
  p.count_include_pad = f.get_bool("count_include_pad", true);
  return std::make_unique<AvgPool2d>(name, p);
}

nlohmann::json AvgPool2d::to_json() const {
  nlohmann::json j = Pool2d::to_json();
  if (!params_.count_include_pad) j["count_include_pad"] = false;  // older configs have no key
  return j;
}

void AvgPool2d::forward(Context& ctx, const Tensor& x, const Tensor& y) {
  ops::avgpool2d_forward(ctx, params_, x, y);
}

void AvgPool2d::backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                         const Tensor* dx) {
  if (dx) ops::avgpool2d_backward(ctx, params_, x, y, dy, *dx);
}

std::string AvgPool2d::repr() const {
  return "AvgPool2d(" + window_repr() + ")";
}

}  // namespace cnne
