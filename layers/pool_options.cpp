#include "layers/pool_options.h"

#include "engine/error.h"
#include "layers/layer.h"

namespace cnne {

std::string int_or_pair(int64_t a, int64_t b) {
  if (a == b) return std::to_string(a);
  return "(" + std::to_string(a) + ", " + std::to_string(b) + ")";
}

Pool2dParams read_pool_params(JsonFields& f) {
  if (!f.has("kernel_size")) f.get_int("kernel_size");  // reports the missing key
  const auto kernel = f.get_int_pair("kernel_size", {0, 0});
  const auto stride = f.get_int_pair("stride", kernel);  // PyTorch: stride defaults to kernel
  const auto padding = f.get_int_pair("padding", {0, 0});
  for (int64_t v : {kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1]})
    if (v > kMaxWindowValue || v < -kMaxWindowValue)
      throw ConfigError(f.where() + ": kernel_size, stride and padding must be <= " +
                        std::to_string(kMaxWindowValue));
  Pool2dParams p;
  p.kernel_h = static_cast<int>(kernel[0]);
  p.kernel_w = static_cast<int>(kernel[1]);
  p.stride_h = static_cast<int>(stride[0]);
  p.stride_w = static_cast<int>(stride[1]);
  p.pad_h = static_cast<int>(padding[0]);
  p.pad_w = static_cast<int>(padding[1]);
  return p;
}

void check_pool_params(const Pool2dParams& p, const std::string& where) {
  if (p.kernel_h < 1 || p.kernel_w < 1) throw ConfigError(where + ": kernel_size must be >= 1");
  if (p.stride_h < 1 || p.stride_w < 1) throw ConfigError(where + ": stride must be >= 1");
  if (p.pad_h < 0 || p.pad_w < 0 || 2 * p.pad_h > p.kernel_h || 2 * p.pad_w > p.kernel_w)
    throw ConfigError(where + ": padding must be between 0 and half the kernel size");
}

Shape pooled_shape(const Pool2dParams& p, const Shape& in, const std::string& where) {
  if (in.rank() != 4)
    throw ConfigError(where + ": expects an input of shape (N, C, H, W), got " + in.str());
  const int64_t ph = window_output_size(in[2], p.kernel_h, p.stride_h, p.pad_h);
  const int64_t qw = window_output_size(in[3], p.kernel_w, p.stride_w, p.pad_w);
  if (ph < 1 || qw < 1)
    throw ConfigError(where + ": input " + std::to_string(in[2]) + "x" + std::to_string(in[3]) +
                      " is smaller than the pooling window " + int_or_pair(p.kernel_h, p.kernel_w));
  return Shape{in[0], in[1], ph, qw};
}

nlohmann::json pool_params_json(const Pool2dParams& p, const std::string& type,
                                const std::string& name) {
  return {{"type", type},
          {"name", name},
          {"kernel_size", {p.kernel_h, p.kernel_w}},
          {"stride", {p.stride_h, p.stride_w}},
          {"padding", {p.pad_h, p.pad_w}}};
}

}  // namespace cnne
