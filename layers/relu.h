#pragma once
// ReLU: y = max(x, 0), any shape.
#include "engine/json_fields.h"
#include "layers/layer.h"

namespace cnne {

class ReLU : public Layer {
 public:
  explicit ReLU(std::string name) : Layer(std::move(name)) {}
  static std::unique_ptr<Layer> from_json(const std::string& name, JsonFields& fields);

  std::string type() const override { return "relu"; }
  bool supports_channels_last() const override { return true; }
  Shape output_shape(const Shape& in) const override { return in; }
  void forward(Context& ctx, const Tensor& x, const Tensor& y) override;
  void backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                const Tensor* dx) override;
  nlohmann::json to_json() const override;
  std::string repr() const override { return "ReLU()"; }
  int64_t forward_flops(const Shape& in) const override { return in.numel(); }
};

}  // namespace cnne
