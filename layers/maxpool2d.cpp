#include "layers/maxpool2d.h"

#include "engine/error.h"

namespace cnne {
namespace {

// PyTorch prints an int when both sides agree, a tuple otherwise.
std::string int_or_pair(int64_t a, int64_t b) {
  if (a == b) return std::to_string(a);
  return "(" + std::to_string(a) + ", " + std::to_string(b) + ")";
}

}  // namespace

MaxPool2d::MaxPool2d(std::string name, const Pool2dParams& params)
    : Layer(std::move(name)), params_(params) {
  const auto& p = params_;
  if (p.kernel_h < 1 || p.kernel_w < 1) throw ConfigError(where() + ": kernel_size must be >= 1");
  if (p.stride_h < 1 || p.stride_w < 1) throw ConfigError(where() + ": stride must be >= 1");
  if (p.pad_h < 0 || p.pad_w < 0 || 2 * p.pad_h > p.kernel_h || 2 * p.pad_w > p.kernel_w)
    throw ConfigError(where() + ": padding must be between 0 and half the kernel size");
}

std::unique_ptr<Layer> MaxPool2d::from_json(const std::string& name, JsonFields& f) {
  if (!f.has("kernel_size")) f.get_int("kernel_size");  // reports the missing key
  const auto kernel = f.get_int_pair("kernel_size", {0, 0});
  const auto stride = f.get_int_pair("stride", kernel);  // PyTorch: stride defaults to kernel
  const auto padding = f.get_int_pair("padding", {0, 0});
  for (int64_t v : {kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1]})
    if (v > kMaxWindowValue)
      throw ConfigError(f.where() + ": kernel_size, stride and padding must be <= " +
                        std::to_string(kMaxWindowValue));
  Pool2dParams p;
  p.kernel_h = static_cast<int>(kernel[0]);
  p.kernel_w = static_cast<int>(kernel[1]);
  p.stride_h = static_cast<int>(stride[0]);
  p.stride_w = static_cast<int>(stride[1]);
  p.pad_h = static_cast<int>(padding[0]);
  p.pad_w = static_cast<int>(padding[1]);
  return std::make_unique<MaxPool2d>(name, p);
}

Shape MaxPool2d::output_shape(const Shape& in) const {
  if (in.rank() != 4)
    throw ConfigError(where() + ": expects an input of shape (N, C, H, W), got " + in.str());
  const int64_t p = window_output_size(in[2], params_.kernel_h, params_.stride_h, params_.pad_h);
  const int64_t q = window_output_size(in[3], params_.kernel_w, params_.stride_w, params_.pad_w);
  if (p < 1 || q < 1)
    throw ConfigError(where() + ": input " + std::to_string(in[2]) + "x" + std::to_string(in[3]) +
                      " is smaller than the pooling window " +
                      int_or_pair(params_.kernel_h, params_.kernel_w));
  return Shape{in[0], in[1], p, q};
}

void MaxPool2d::forward(Context& ctx, const Tensor& x, const Tensor& y) {
  ops::maxpool2d_forward(ctx, params_, x, y);
}

void MaxPool2d::backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                         const Tensor* dx) {
  if (dx) ops::maxpool2d_backward(ctx, params_, x, y, dy, *dx);
}

nlohmann::json MaxPool2d::to_json() const {
  return {{"type", type()},
          {"name", name()},
          {"kernel_size", {params_.kernel_h, params_.kernel_w}},
          {"stride", {params_.stride_h, params_.stride_w}},
          {"padding", {params_.pad_h, params_.pad_w}}};
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
