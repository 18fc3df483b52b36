#pragma once
// Add: y = x0 + x1, the join of a residual connection. Two inputs of the same
// shape, named in the config's "inputs".
#include "engine/json_fields.h"
#include "layers/layer.h"

namespace cnne {

class Add : public Layer {
 public:
  explicit Add(std::string name) : Layer(std::move(name)) {}
  static std::unique_ptr<Layer> from_json(const std::string& name, JsonFields& fields);

  std::string type() const override { return "add"; }
  bool supports_channels_last() const override { return true; }
  // Its backward reads only dy: the ReLU after a residual join can be fused.
  bool can_fuse_relu() const override { return true; }
  size_t input_count() const override { return 2; }
  Shape output_shape_of(std::span<const Shape> in) const override;
  void forward_of(Context& ctx, std::span<const Tensor> xs, const Tensor& y) override;
  void backward_of(Context& ctx, std::span<const Tensor> xs, const Tensor& y, const Tensor& dy,
                   std::span<const Tensor* const> dxs) override;
  nlohmann::json to_json() const override;
  std::string repr() const override { return "Add()"; }
  int64_t forward_flops(const Shape& in) const override { return in.numel(); }
};

}  // namespace cnne
