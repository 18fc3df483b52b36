#pragma once
// Mul: y = a * b, PyTorch's `x * s`: two inputs of the same shape, or an
// (N, C, H, W) map and a gate of one value per (n, c), (N, C, 1, 1) or (N, C),
// broadcast over H and W, named in either order in the config's "inputs":
// the rescaling of squeeze-and-excitation (Hu et al. 2018: global average
// pool, a bottleneck, sigmoid, then this) and of gated units. Its backward
// gives each input dy times the other, a gate's summed over H and W.
#include "engine/json_fields.h"
#include "layers/layer.h"

namespace cnne {

class Mul : public Layer {
 public:
  explicit Mul(std::string name) : Layer(std::move(name)) {}
  static std::unique_ptr<Layer> from_json(const std::string& name, JsonFields& fields);

  std::string type() const override { return "mul"; }
  bool supports_channels_last() const override { return true; }
  size_t input_count() const override { return 2; }
  Shape output_shape_of(std::span<const Shape> in) const override;
  void forward_of(Context& ctx, std::span<const Tensor> xs, const Tensor& y) override;
  void backward_of(Context& ctx, std::span<const Tensor> xs, const Tensor& y, const Tensor& dy,
                   std::span<const Tensor* const> dxs) override;
  nlohmann::json to_json() const override;
  std::string repr() const override { return "Mul()"; }
  int64_t forward_flops(const Shape& in) const override { return in.numel(); }
  int64_t forward_flops_of(std::span<const Shape> in) const override;

  // Which of the two inputs is the map (the other the gate, or its equal):
  // the one of more elements, the first when they have as many.
  static size_t map_input(const Shape& a, const Shape& b) { return b.numel() > a.numel() ? 1 : 0; }
};

}  // namespace cnne
