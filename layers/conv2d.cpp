#include "layers/conv2d.h"

#include <array>
#include <initializer_list>

#include "engine/error.h"
#include "layers/init.h"

namespace cnne {
namespace {

std::string pair_text(int64_t a, int64_t b) {
  return "(" + std::to_string(a) + ", " + std::to_string(b) + ")";
}

// `padding`: an int, [h, w], or nn.Conv2d's strings: "valid" (0) and "same"
// (stride 1 only; dilation * (kernel - 1) / 2 on each side, so the window
// must span an odd number of pixels: PyTorch pads an even span unevenly,
// which cnnengine's symmetric padding cannot express).
// `mode` gets the string, or stays empty for numbers.
std::array<int64_t, 2> padding_of(JsonFields& f, std::array<int64_t, 2> kernel,
                                  std::array<int64_t, 2> stride, std::array<int64_t, 2> dilation,
                                  std::string& mode) {
  if (!f.has("padding") || !f.get_raw("padding").is_string())
    return f.get_int_pair("padding", {0, 0});
  mode = f.get_string("padding");
  if (mode == "valid") return {0, 0};
  if (mode != "same")
    throw ConfigError(
        f.error("padding", "must be an int, [h, w], \"same\" or \"valid\", got \"" + mode + "\""));
  if (stride[0] != 1 || stride[1] != 1)
    throw ConfigError(f.error("padding", "\"same\" needs stride 1 (as in PyTorch)"));
  std::array<int64_t, 2> pad{};
  for (int axis = 0; axis < 2; ++axis) {
    if (kernel[axis] < 1 || dilation[axis] < 1) continue;       // the constructor reports them
    const int64_t total = dilation[axis] * (kernel[axis] - 1);  // padding both sides together
    if (total % 2 != 0)
      throw ConfigError(f.error(
          "padding", "\"same\" with kernel_size " + std::to_string(kernel[axis]) +
                         " and dilation " + std::to_string(dilation[axis]) + " pads unevenly (" +
                         std::to_string(total) +
                         " pixels in all); cnnengine pads both sides equally, so dilation * "
                         "(kernel_size - 1) must be even"));
    pad[axis] = total / 2;
  }
  return pad;
}

}  // namespace

Conv2d::Conv2d(std::string name, const Options& options)
    : Layer(std::move(name)), options_(options) {
  const auto& o = options_;
  if (o.in_channels < 1) throw ConfigError(where() + ": in_channels must be >= 1");
  if (o.out_channels < 1) throw ConfigError(where() + ": out_channels must be >= 1");
  if (o.kernel_h < 1 || o.kernel_w < 1) throw ConfigError(where() + ": kernel_size must be >= 1");
  if (o.params.stride_h < 1 || o.params.stride_w < 1)
    throw ConfigError(where() + ": stride must be >= 1");
  if (o.params.pad_h < 0 || o.params.pad_w < 0)
    throw ConfigError(where() + ": padding must be >= 0");
  if (o.params.dilation_h < 1 || o.params.dilation_w < 1)
    throw ConfigError(where() + ": dilation must be >= 1");
  const int64_t g = o.params.groups;
  if (g < 1 || o.in_channels % g != 0 || o.out_channels % g != 0)
    throw ConfigError(where() + ": groups must be >= 1 and divide in_channels (" +
                      std::to_string(o.in_channels) + ") and out_channels (" +
                      std::to_string(o.out_channels) + "), got " + std::to_string(g));
}

std::unique_ptr<Layer> Conv2d::from_json(const std::string& name, JsonFields& f) {
  Options o;
  o.in_channels = f.get_int("in_channels");
  o.out_channels = f.get_int("out_channels");
  const auto kernel = f.get_int_pair("kernel_size", {0, 0});
  if (!f.has("kernel_size")) f.get_int("kernel_size");  // reports the missing key
  const auto stride = f.get_int_pair("stride", {1, 1});
  const auto dilation = f.get_int_pair("dilation", {1, 1});
  auto check_limit = [&](std::initializer_list<int64_t> values) {
    for (int64_t v : values)
      if (v > kMaxWindowValue)
        throw ConfigError(f.where() + ": kernel_size, stride, padding and dilation must be <= " +
                          std::to_string(kMaxWindowValue));
  };
  check_limit({kernel[0], kernel[1], stride[0], stride[1], dilation[0], dilation[1]});
  const auto padding = padding_of(f, kernel, stride, dilation, o.padding_mode);
  check_limit({padding[0], padding[1]});
  o.kernel_h = kernel[0];
  o.kernel_w = kernel[1];
  o.params.stride_h = static_cast<int>(stride[0]);
  o.params.stride_w = static_cast<int>(stride[1]);
  o.params.pad_h = static_cast<int>(padding[0]);
  o.params.pad_w = static_cast<int>(padding[1]);
  o.params.dilation_h = static_cast<int>(dilation[0]);
  o.params.dilation_w = static_cast<int>(dilation[1]);
  o.bias = f.get_bool("bias", true);
  const int64_t groups = f.get_int("groups", 1);
  if (groups < 1 || groups > kMaxWindowValue)
    throw ConfigError(f.where() + ": groups must be in 1.." + std::to_string(kMaxWindowValue));
  o.params.groups = static_cast<int>(groups);
  return std::make_unique<Conv2d>(name, o);
}

Shape Conv2d::weight_shape() const {
  return Shape{options_.out_channels, options_.in_channels / options_.params.groups,
               options_.kernel_h, options_.kernel_w};
}

Shape Conv2d::output_shape(const Shape& in) const {
  if (in.rank() != 4)
    throw ConfigError(where() + ": expects an input of shape (N, C, H, W), got " + in.str());
  if (in[1] != options_.in_channels)
    throw ConfigError(where() + ": in_channels is " + std::to_string(options_.in_channels) +
                      " but its input has " + std::to_string(in[1]) + " channels (shape " +
                      in.str() + ")");
  const Conv2dParams& cp = options_.params;
  const int64_t p =
      window_output_size(in[2], options_.kernel_h, cp.stride_h, cp.pad_h, cp.dilation_h);
  const int64_t q =
      window_output_size(in[3], options_.kernel_w, cp.stride_w, cp.pad_w, cp.dilation_w);
  if (p < 1 || q < 1)
    throw ConfigError(
        where() + ": input " + std::to_string(in[2]) + "x" + std::to_string(in[3]) +
        " with padding " + pair_text(cp.pad_h, cp.pad_w) + " is smaller than the kernel " +
        pair_text(options_.kernel_h, options_.kernel_w) +
        (cp.dilation_h != 1 || cp.dilation_w != 1
             ? " at dilation " + pair_text(cp.dilation_h, cp.dilation_w) + " (a window of " +
                   pair_text(cp.dilation_h * (options_.kernel_h - 1) + 1,
                             cp.dilation_w * (options_.kernel_w - 1) + 1) +
                   " pixels)"
             : ""));
  return Shape{in[0], options_.out_channels, p, q};
}

std::vector<ParamSpec> Conv2d::parameter_specs() const {
  std::vector<ParamSpec> specs{{"weight", weight_shape()}};
  if (options_.bias) specs.push_back({"bias", Shape{options_.out_channels}});
  return specs;
}

void Conv2d::initialize(Rng& rng, std::span<const Tensor> params) const {
  const int64_t fan_in =  // PyTorch's: the weight's dim 1 (C / groups) * R * S
      options_.in_channels / options_.params.groups * options_.kernel_h * options_.kernel_w;
  for (const Tensor& t : params) init_uniform_fan_in(rng, t, fan_in);
}

size_t Conv2d::workspace_bytes(Context& ctx, const Shape& in) const {
  // Planned in the layout the calls will have: NHWC when any of x, w, y has
  // more than one pixel per plane under channels-last (Note [channels last]).
  Conv2dParams p = options_.params;
  const Shape out = output_shape(in);
  p.channels_last =
      channels_last_ &&
      (in[2] * in[3] > 1 || options_.kernel_h * options_.kernel_w > 1 || out[2] * out[3] > 1);
  return ops::conv2d_workspace_bytes(ctx, p, in, weight_shape(), compute_dtype_);
}

std::vector<ParamSpec> Conv2d::scratch_specs(const Shape&) const {
  return working_weight_specs(weight_shape(), true);
}

void Conv2d::forward(Context& ctx, const Tensor& x, const Tensor& y) {
  const Tensor w = compute_weight(ctx, 0, true);
  ops::conv2d_forward(ctx, options_.params, x, w, options_.bias ? &params_[1] : nullptr,
                      activation_, y);
}

void Conv2d::backward(Context& ctx, const Tensor& x, const Tensor&, const Tensor& dy,
                      const Tensor* dx) {
  ops::conv2d_backward_filter(ctx, options_.params, x, dy, weight_grad_target(0));
  finish_weight_grad(ctx, 0);
  if (options_.bias) ops::conv2d_backward_bias(ctx, dy, grads_[1]);
  if (dx) ops::conv2d_backward_data(ctx, options_.params, compute_weight(ctx, 0, false), dy, *dx);
}

nlohmann::json Conv2d::to_json() const {
  const auto& o = options_;
  nlohmann::json j = {
      {"type", type()},
      {"name", name()},
      {"in_channels", o.in_channels},
      {"out_channels", o.out_channels},
      {"kernel_size", {o.kernel_h, o.kernel_w}},
      {"stride", {o.params.stride_h, o.params.stride_w}},
      {"padding", o.padding_mode.empty() ? nlohmann::json{o.params.pad_h, o.params.pad_w}
                                         : nlohmann::json(o.padding_mode)},
      {"bias", o.bias}};
  if (o.params.groups != 1) j["groups"] = o.params.groups;  // older configs have no key
  if (o.params.dilation_h != 1 || o.params.dilation_w != 1)
    j["dilation"] = {o.params.dilation_h, o.params.dilation_w};
  return j;
}

std::string Conv2d::repr() const {
  const auto& o = options_;
  std::string s = "Conv2d(" + std::to_string(o.in_channels) + ", " +
                  std::to_string(o.out_channels) +
                  ", kernel_size=" + pair_text(o.kernel_h, o.kernel_w) +
                  ", stride=" + pair_text(o.params.stride_h, o.params.stride_w);
  if (!o.padding_mode.empty())
    s += ", padding=" + o.padding_mode;  // as PyTorch prints a string padding
  else if (o.params.pad_h || o.params.pad_w)
    s += ", padding=" + pair_text(o.params.pad_h, o.params.pad_w);
  if (o.params.dilation_h != 1 || o.params.dilation_w != 1)
    s += ", dilation=" + pair_text(o.params.dilation_h, o.params.dilation_w);
  if (o.params.groups != 1) s += ", groups=" + std::to_string(o.params.groups);
  if (!o.bias) s += ", bias=False";
  return s + ")";
}

int64_t Conv2d::forward_flops(const Shape& in) const {
  const Shape out = output_shape(in);
  const int64_t macs = out.numel() * (options_.in_channels / options_.params.groups) *
                       options_.kernel_h * options_.kernel_w;
  return 2 * macs + (options_.bias ? out.numel() : 0);
}

}  // namespace cnne
