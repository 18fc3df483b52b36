#include "layers/maxpool2d.h"

#include "engine/error.h"
#include "layers/pool_options.h"

namespace cnne {

MaxPool2d::MaxPool2d(std::string name, const Pool2dParams& params)
    : Layer(std::move(name)), params_(params) {
  check_pool_params(params_, where());
}

std::unique_ptr<Layer> MaxPool2d::from_json(const std::string& name, JsonFields& f) {
  return std::make_unique<MaxPool2d>(name, read_pool_params(f));
}

Shape MaxPool2d::output_shape(const Shape& in) const {
  return pooled_shape(params_, in, where());
}

void MaxPool2d::forward(Context& ctx, const Tensor& x, const Tensor& y) {
  ops::maxpool2d_forward(ctx, params_, x, y);
}

void MaxPool2d::backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                         const Tensor* dx) {
  if (dx) ops::maxpool2d_backward(ctx, params_, x, y, dy, *dx);
}

nlohmann::json MaxPool2d::to_json() const {
  return pool_params_json(params_, type(), name());
}

std::string MaxPool2d::repr() const {
  return "MaxPool2d(kernel_size=" + int_or_pair(params_.kernel_h, params_.kernel_w) +
         ", stride=" + int_or_pair(params_.stride_h, params_.stride_w) +
         ", padding=" + int_or_pair(params_.pad_h, params_.pad_w) +
         ", dilation=1, ceil_mode=False)";
}

int64_t MaxPool2d::forward_flops(const Shape& in) const {
  // one comparison per window element
  return output_shape(in).numel() * params_.kernel_h * params_.kernel_w;
}

}  // namespace cnne
