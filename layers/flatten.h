#pragma once
// Flatten: (N, C, H, W) -> (N, C*H*W), PyTorch's x.view(-1, C*H*W). The output
// is the input's memory seen with another shape; no copy is made.
#include "engine/json_fields.h"
#include "layers/layer.h"

namespace cnne {

class Flatten : public Layer {
 public:
  explicit Flatten(std::string name) : Layer(std::move(name)) {}
  static std::unique_ptr<Layer> from_json(const std::string& name, JsonFields& fields);

  std::string type() const override { return "flatten"; }
  Shape output_shape(const Shape& in) const override;
  bool output_aliases_input() const override { return true; }
  void forward(Context& ctx, const Tensor& x, const Tensor& y) override;
  void backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                const Tensor* dx) override;
  nlohmann::json to_json() const override;
  std::string repr() const override { return "Flatten(start_dim=1, end_dim=-1)"; }
  int64_t forward_flops(const Shape&) const override { return 0; }
};

}  // namespace cnne
