#pragma once
// GlobalAvgPool2d: nn.AdaptiveAvgPool2d(1), (N, C, H, W) -> (N, C, 1, 1).
#include "engine/json_fields.h"
#include "layers/layer.h"

namespace cnne {

class GlobalAvgPool2d : public Layer {
 public:
  explicit GlobalAvgPool2d(std::string name) : Layer(std::move(name)) {}
  static std::unique_ptr<Layer> from_json(const std::string& name, JsonFields& fields);

  std::string type() const override { return "global_avgpool2d"; }
  bool supports_channels_last() const override { return true; }
  Shape output_shape(const Shape& in) const override;
  void forward(Context& ctx, const Tensor& x, const Tensor& y) override;
  void backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                const Tensor* dx) override;
  nlohmann::json to_json() const override;
  std::string repr() const override { return "AdaptiveAvgPool2d(output_size=(1, 1))"; }
  int64_t forward_flops(const Shape& in) const override { return in.numel(); }
};

}  // namespace cnne
